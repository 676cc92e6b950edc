"""The Dagster UI end to end (slow): `dagster dev -w workspace.yaml` as the README starts it, on 127.0.0.1
with a temporary DAGSTER_HOME — webserver and daemon — driven through GraphQL and headless Chromium."""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster_graphql import DagsterGraphQLClient

from fraud_pipeline.core import schemas
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import _free_port
from fraud_pipeline_tests.defs.test_automation import DAILY_ASSETS
from fraud_pipeline_tests.defs.test_cli import PROJECT, SMALL_WORLD, cli_environment

pytestmark = pytest.mark.slow

GROUPS = ["entities", "events", "fraud", "landing", "reports"]
ENTITIES = [spec.name for spec in schemas.ENTITY_TABLES]
CHROMIUM = "/usr/bin/chromium"
# Chromium on a machine with no network beyond loopback (see .ci/run).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_ENV = "FRAUD_PIPELINE_SCREENSHOTS"  # a folder: also save the pictures there (docs/)
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    store = ObjectStore(root_url=str(folder / "data"))
    port = _free_port()
    env = cli_environment(folder, SMALL_WORLD, store.root_url)
    dev = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
                            "-h", "127.0.0.1", "-p", str(port)], cwd=PROJECT, env=env, start_new_session=True,
                           stdout=open(folder / "dev.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
            break
        except OSError:
            assert dev.poll() is None and time.monotonic() < deadline, (folder / "dev.log").read_text()[-3000:]
            time.sleep(1)
    yield {"port": port, "store": store, "client": DagsterGraphQLClient("127.0.0.1", port_number=port)}
    os.killpg(dev.pid, signal.SIGTERM)
    try:
        dev.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(dev.pid, signal.SIGKILL)


def _wait(client: DagsterGraphQLClient, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while (status := client.get_run_status(run_id).value) not in FINISHED:
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(1)
    return status


MATERIALIZATION = """query($key: AssetKeyInput!, $partition: String!) { assetOrError(assetKey: $key) {
  ... on Asset { assetMaterializations(partitions: [$partition]) { partition runId metadataEntries {
    label ... on IntMetadataEntry { intValue } ... on PathMetadataEntry { path } ... on TextMetadataEntry { text }
  } } } } }"""


def test_a_partition_run_launched_through_graphql_writes_the_day_and_shows_its_metadata(ui):
    client, store = ui["client"], ui["store"]
    entities = client.submit_job_execution("__ASSET_JOB", asset_selection=ENTITIES)
    assert _wait(client, entities) == "SUCCESS"

    run_id = client.submit_job_execution("daily_job", tags={"dagster/partition": "2026-01-02"})
    assert _wait(client, run_id) == "SUCCESS"

    for layer, table in [("events", "card_transactions"), ("events", "new_accounts"), ("fraud", "fraud_episodes"),
                         ("landing", "web_visits"), ("reports", "anomaly_manifest")]:
        assert store.read_manifest(layer, table, "2026-01-02") is not None, (layer, table)
    manifest = store.read_manifest("events", "card_transactions", "2026-01-02")
    result = client._execute(MATERIALIZATION, {"key": {"path": ["card_transactions"]}, "partition": "2026-01-02"})
    [materialization] = result["assetOrError"]["assetMaterializations"]
    metadata = {e["label"]: e.get("intValue") or e.get("path") or e.get("text") for e in materialization["metadataEntries"]}
    assert materialization["runId"] == run_id
    assert metadata["dagster/row_count"] == manifest["rows"] > 1000
    assert metadata["dagster/uri"] == store.uri("events", "card_transactions", "2026-01-02")
    assert metadata["scenario_hash"] == manifest["scenario_hash"]


BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status runs(limit: 50) { runId status } } } }"""


def test_the_daemon_runs_a_backfill_of_the_graph_as_several_runs_in_dependency_order(ui):
    """What "Materialize all…" over a range does in the UI: the daemon launches each run once its inputs have
    landed — the entities, the plan, then the days of each daily asset as one single-run range."""
    client, store = ui["client"], ui["store"]
    days = ["2026-01-03", "2026-01-04", "2026-01-05"]
    selection = ([{"assetKey": {"path": [name]}, "partitions": {"range": {"start": days[0], "end": days[-1]}}}
                  for name in sorted(DAILY_ASSETS)] + [{"assetKey": {"path": [name]}} for name in [*ENTITIES, "anomaly_schedule"]])
    launched = client._execute(BACKFILL, {"params": {"partitionsByAssets": selection}})
    backfill = launched["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill

    deadline = time.monotonic() + 600
    while True:
        state = client._execute(BACKFILL_STATUS, {"id": backfill["backfillId"]})["partitionBackfillOrError"]
        if state["status"] != "REQUESTED" and all(run["status"] in FINISHED for run in state["runs"]):
            break
        assert time.monotonic() < deadline, state
        time.sleep(2)
    assert state["status"] == "COMPLETED_SUCCESS", state
    assert len(state["runs"]) >= 3 and all(run["status"] == "SUCCESS" for run in state["runs"])
    for layer, table in [("events", "web_visits"), ("fraud", "fraud_transactions"), ("landing", "card_transactions"),
                         ("reports", "anomaly_manifest")]:
        assert all(store.read_manifest(layer, table, day) for day in days), (layer, table)
    assert store.read_manifest("reports", "anomaly_schedule") is not None


def _calendar_run(client: DagsterGraphQLClient) -> None:
    """Everything over the 21 days in one run, as the README's main command (so every page has data)."""
    run_id = client.submit_job_execution("scenario_job", tags={"dagster/asset_partition_range_start": "2026-01-01",
                                                               "dagster/asset_partition_range_end": "2026-01-21"})
    assert _wait(client, run_id, timeout=600) == "SUCCESS"


def test_the_ui_pages_show_the_groups_per_partition_metadata_and_the_timeline(ui, tmp_path):
    """Headless Chromium on the pages the README shows: the collapsed lineage (every group, left to right), a
    group expanded, an asset's partition with its own metadata, and the timeline's asset page."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)"
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    _calendar_run(ui["client"])
    base = f"http://127.0.0.1:{ui['port']}"
    pictures = {}
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})

        def show(path: str, name: str, *visible: str, height: int = 900) -> None:
            page.set_viewport_size({"width": 1600, "height": height})
            page.goto(base + path, wait_until="networkidle")
            try:  # the "Join the Dagster community" dialog, shown on a first visit
                page.get_by_role("button", name="Skip").click(timeout=3000)
            except playwright.TimeoutError:
                pass
            for text in visible:
                page.get_by_text(text, exact=True).last.wait_for(state="visible", timeout=30000)
            page.wait_for_timeout(4000)  # the graph's layout and the metadata settle after the data arrives
            pictures[name] = tmp_path / f"{name}.png"
            page.screenshot(path=str(pictures[name]))

        show("/asset-groups", "asset_graph", *GROUPS)
        assert page.get_by_text("Global asset lineage").is_visible()
        boxes = {group: page.get_by_text(group, exact=True).last.bounding_box()["x"] for group in GROUPS}
        assert sorted(boxes, key=boxes.get) == GROUPS  # the story reads left to right
        show("/locations/fraud_pipeline/asset-groups/landing", "asset_graph_landing", "anomaly_manifest",
             height=1500)  # the group's seven assets and their neighbours
        show("/assets/card_transactions?view=partitions&partition=2026-01-15", "asset_partition")
        show("/assets/anomaly_timeline", "anomaly_timeline_page")
        browser.close()
    for picture in pictures.values():
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    if os.environ.get(SCREENSHOT_ENV):  # a folder: docs/
        for name, picture in pictures.items():
            shutil.copyfile(picture, Path(os.environ[SCREENSHOT_ENV]) / f"ui_{name}.png" if name != "asset_graph"
                            else Path(os.environ[SCREENSHOT_ENV]) / "asset_graph.png")
