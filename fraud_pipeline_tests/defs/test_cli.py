"""The command a user and CI run: `dagster asset materialize`, as a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.dataset as ds
import pytest

from fraud_pipeline.core import schemas
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import SCENARIO_ENV, load_scenario
from fraud_pipeline.scenario.base import STORAGE_URL_ENV
from fraud_pipeline_tests.conftest import run_resources

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
ENTITY_NAMES = [spec.name for spec in schemas.ENTITY_TABLES]
SCENARIO_RUN = ("--select", "*", "--partition-range", "2026-01-01...2026-01-21")  # the README's main command
SMALL_WORLD = """
population: {customers: 300, accounts: 400, devices: 250, beneficiaries: 500, merchants: 80, atms: 20}
card_transactions: {per_day: 1500}
web_funnel: {visitors_per_day: 400}
"""


def cli_environment(folder: Path, scenario_text: str, storage_url: str) -> dict:
    """What a user sets: a scenario file, a storage root, a DAGSTER_HOME of its own (in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario_file = folder / "scenario.yaml"
    scenario_file.write_text(scenario_text)
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    return {**os.environ, "DAGSTER_HOME": str(home), SCENARIO_ENV: str(scenario_file), STORAGE_URL_ENV: storage_url}


def materialize_command(*selection: str) -> list[str]:
    return [DAGSTER, "asset", "materialize", "-m", "fraud_pipeline.definitions", *selection]


def data_tree(store: ObjectStore) -> dict[str, bytes]:
    """Every stored file under the root except the writer locks, by path below the root."""
    fs = store.filesystem()
    root = store.path("x", "y").rsplit("/", 2)[0]
    return {path.removeprefix(root): fs.cat_file(path) for path in fs.find(root) if "/.locks/" not in path}


def checks_in(*groups: str) -> int:
    """How many asset checks the assets of `groups` declare (one evaluation each per run)."""
    graph = build_definitions(load_scenario({})).resolve_asset_graph()
    return len([key for key in graph.asset_check_keys
                if graph.get(key.asset_key).group_name in groups])


def run_together(*runs: tuple[dict, tuple]) -> None:
    """Independent runs (separate stores), side by side; each must succeed."""
    started = [subprocess.Popen(materialize_command(*selection), cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for env, selection in runs]
    for run in started:
        _, errors = run.communicate(timeout=900)
        assert run.returncode == 0, errors[-3000:]


def run_cli(env: dict, *selection: str) -> subprocess.CompletedProcess:
    return subprocess.run(materialize_command(*selection), cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=600)


def _materialize(tmp_path: Path, scenario_text: str, storage_url: str, *selection: str):
    return run_cli(cli_environment(tmp_path, scenario_text, storage_url), *(selection or ("--select", "group:entities")))


def test_cli_materialises_every_entity_table_with_manifests_and_passing_checks(tmp_path):
    root = tmp_path / "data"
    run = _materialize(tmp_path, SMALL_WORLD, str(root))

    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert log.count("ASSET_CHECK_EVALUATION") == checks_in("entities") > 2 * len(ENTITY_NAMES)
    assert "failed" not in " ".join(line for line in log.splitlines() if "ASSET_CHECK_EVALUATION" in line)
    store = ObjectStore(root_url=str(root))
    for name in ENTITY_NAMES:
        manifest = json.loads((root / "_manifests" / "entities" / f"{name}.json").read_text())
        assert manifest["rows"] == store.read_table("entities", name).num_rows > 0
    assert store.read_table("entities", "customers").num_rows == 300

    # Another process, another way of running: the same scenario gives the same bytes.
    in_process = ObjectStore(root_url=str(tmp_path / "in_process"))
    definitions = build_definitions(load_scenario({SCENARIO_ENV: str(tmp_path / "scenario.yaml")}))
    assert dg.materialize([*definitions.assets], selection=dg.AssetSelection.groups("entities"),
                          resources=run_resources(in_process),
                          instance=dg.DagsterInstance.ephemeral()).success
    assert _tree(root) == _tree(tmp_path / "in_process")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_cli_materialises_to_s3_on_the_loopback_server(tmp_path, s3_url):
    run = _materialize(tmp_path, SMALL_WORLD, s3_url)

    assert run.returncode == 0, run.stderr[-3000:]
    store = ObjectStore(root_url=s3_url)
    assert store.read_table("entities", "accounts").num_rows == 400
    assert all(store.read_manifest("entities", name) for name in ENTITY_NAMES)
    assert "testing-secret" not in run.stdout + run.stderr


def test_a_bad_scenario_stops_the_code_location_and_writes_nothing(tmp_path):
    root = tmp_path / "data"
    run = _materialize(tmp_path, SMALL_WORLD + "customers: {kyc_level: {low: 0.5, high: 0.6}}\n", str(root))

    assert run.returncode != 0
    assert "customers.kyc_level: shares must sum to 1 (got 1.1)" in run.stderr
    assert not root.exists()


def test_cli_materialises_a_3_day_range_in_one_run_and_a_day_alone_rewrites_it_identically(tmp_path):
    root = tmp_path / "data"
    assert _materialize(tmp_path, SMALL_WORLD, str(root)).returncode == 0
    events = ("--select", "group:events")
    run = _materialize(tmp_path, SMALL_WORLD, str(root), *events, "--partition-range", "2026-01-01...2026-01-03")

    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert log.count("RUN_SUCCESS") == 1  # one run for the whole range
    checks = [line for line in log.splitlines() if "ASSET_CHECK_EVALUATION" in line]
    assert len(checks) == checks_in("events") and all("passed" in line for line in checks)
    days = ("2026-01-01", "2026-01-02", "2026-01-03")
    for table in ("card_transactions", "web_visits", "applications", "new_accounts", "new_account_transactions"):
        for day in days:
            assert (root / "_manifests" / "events" / table / f"date={day}.json").exists(), (table, day)
    before = _tree(root / "events")

    again = _materialize(tmp_path, SMALL_WORLD, str(root), *events, "--partition", "2026-01-02")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _tree(root / "events") == before


def test_a_second_scenario_in_the_same_root_is_refused_and_in_its_own_root_runs(tmp_path):
    """The newcomer's sequence: the default-style scenario's entities and days in data/, then `my_scenario.yaml`'s
    entities into the same data/ (it used to overwrite them, and the next day then crashed in the generators), then
    a day of the first scenario; and the README's remedy, the second scenario in a folder of its own."""
    root = tmp_path / "data"
    first = cli_environment(tmp_path / "first", SMALL_WORLD, str(root))
    assert run_cli(first, "--select", "group:entities or group:events", "--partition-range",
                   "2026-01-01...2026-01-02").returncode == 0
    mine = cli_environment(tmp_path / "mine", SMALL_WORLD + "seed: 7\ncustomers: {age: {min: 21, max: 70}}\n",
                           str(root))
    hashes = [load_scenario(env).content_hash for env in (first, mine)]
    before = _tree(root)

    refused = run_cli(mine, "--select", "group:entities")
    assert refused.returncode != 0
    log = refused.stdout + refused.stderr
    assert "ScenarioMismatch" in log and "IndexError" not in log
    assert f"holds the tables of scenario {hashes[0]} (stored); this run's scenario is {hashes[1]}" in log
    assert "FRAUD_PIPELINE_STORAGE_URL=" in log and f"rebuild everything with this scenario: delete the folder {root}" in log
    assert "ASSET_MATERIALIZATION" not in log and _tree(root) == before  # nothing written

    again = run_cli(first, "--select", "card_transactions", "--partition", "2026-01-03")
    assert again.returncode == 0, again.stderr[-3000:]
    own = run_cli({**mine, STORAGE_URL_ENV: str(tmp_path / "data_my_scenario")}, "--select", "group:entities")
    assert own.returncode == 0, own.stderr[-3000:]
    assert ObjectStore(root_url=str(tmp_path / "data_my_scenario")).stored_scenario() == hashes[1]
    assert ObjectStore(root_url=str(root)).stored_scenario() == hashes[0]


def test_every_group_materialises_on_its_own_in_the_order_of_the_lineage(tmp_path):
    """`--select group:<name>` for each group, left to right as the collapsed lineage shows them, each one run:
    no group spans a multi-asset it cannot subset, and each writes exactly its own tables."""
    store = ObjectStore(root_url=str(tmp_path / "data"))
    env = cli_environment(tmp_path, SMALL_WORLD, store.root_url)
    graph = build_definitions(load_scenario({SCENARIO_ENV: str(tmp_path / "scenario.yaml")})).resolve_asset_graph()
    days = [f"2026-01-{d:02d}" for d in range(1, 22)]
    for group in ("entities", "events", "fraud", "landing", "reports"):
        run = run_cli(env, "--select", f"group:{group}", "--partition-range", f"{days[0]}...{days[-1]}")
        assert run.returncode == 0 and run.stderr.count("RUN_SUCCESS") == 1, (group, run.stderr[-3000:])
        assets = sorted(key.to_user_string() for key in graph.get_all_asset_keys()
                        if graph.get(key).group_name == group)
        materialised = {line.split("Materialized value ")[1].split(".")[0] for line in run.stderr.splitlines()
                        if "ASSET_MATERIALIZATION" in line and "Materialized value " in line}
        assert sorted(materialised) == assets, group
    for layer, table in (("fraud", "fraud_transactions"), ("landing", "web_visits"), ("reports", "anomaly_manifest")):
        assert all(store.read_manifest(layer, table, partition=day) for day in days), table
    assert store.read_manifest("reports", "detection_scorecard")
    assert "| `events/card_transactions`" in (tmp_path / "data" / "DATASET.md").read_text()


def test_workspace_yaml_loads_the_code_location():
    run = subprocess.run([DAGSTER, "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Validation successful for code location fraud_pipeline" in run.stdout + run.stderr


def test_dg_check_defs_loads_the_project_from_pyproject():
    """The `dg` CLI finds the project through [tool.dg] and loads every definition."""
    run = subprocess.run([str(Path(sys.executable).with_name("dg")), "check", "defs"], cwd=PROJECT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "All definitions loaded successfully." in run.stdout + run.stderr


def test_the_default_scenario_on_s3_is_file_for_file_a_local_run_and_reads_back_as_a_hive_dataset(tmp_path, s3_url):
    """The README's main command (entities and 21 days, everything) to an s3:// root on the loopback server
    and to a local folder, at the same time: same files, same bytes; pyarrow discovers the date partitions."""
    local = ObjectStore(root_url=str(tmp_path / "local" / "data"))
    run_together((cli_environment(tmp_path / "s3", "{}", s3_url), SCENARIO_RUN),
                 (cli_environment(tmp_path / "local", "{}", local.root_url), SCENARIO_RUN))

    remote = ObjectStore(root_url=s3_url)
    on_s3, on_disk = data_tree(remote), data_tree(local)
    assert sorted(on_s3) == sorted(on_disk)
    assert [path for path in on_s3 if on_s3[path] != on_disk[path]] == []
    # the entities; the bank's world (stored once); 21 tables a day (8 events, 4 fraud — its rows, episodes,
    # laundering cases and the bank's reports —, 6 landing, the anomaly manifest, the carried state and the overnight
    # credits between blocks); the baseline profile, the anomaly plan and the detection and AML scorecards; the
    # timeline and scorecard pictures; and the record of the root's one scenario
    assert sum(path.startswith("/_manifests/") for path in on_s3) == len(ENTITY_NAMES) + 1 + 21 * 21 + 4 + 2 + 1
    assert remote.stored_scenario() == load_scenario({}).content_hash

    for layer, table in [("events", "card_transactions"), ("landing", "web_visits")]:
        dataset = ds.dataset(remote.path(layer, table), filesystem=remote.filesystem(), format="parquet",
                             partitioning="hive")
        stored = dataset.to_table()
        assert stored.num_rows == sum(remote.read_manifest(layer, table, f"2026-01-{d:02d}")["rows"]
                                      for d in range(1, 22))
        assert sorted(str(day) for day in stored["date"].unique().to_pylist()) == [f"2026-01-{d:02d}" for d in range(1, 22)]
