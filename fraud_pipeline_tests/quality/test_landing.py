"""The landing and anomaly assets in Dagster: eight files a day in three formats, byte-identical however
runs are split, a plan a user edits in a file, the schedule and the timeline picture."""

import hashlib
import shutil
import struct
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import SCENARIO_ENV, load_scenario
from fraud_pipeline_tests.conftest import SMALL_POPULATION, layer_tree, scaled
from fraud_pipeline_tests.engine.test_events import _run

LANDING = ["card_transactions", "web_visits", "applications", "new_accounts", "new_account_transactions"]
TINY = {"population": SMALL_POPULATION, "card_transactions": {"per_day": 2000}, "web_funnel": {"visitors_per_day": 600}}
# the daily landing assets (the group also holds the baseline profile and the plan, built once upstream)
LANDING_SELECTION = dg.AssetSelection.groups("landing") - dg.AssetSelection.assets("baseline_profile", "anomaly_schedule")


def _days(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture(scope="module")
def tiny(scenario):
    return scaled(scenario, **TINY)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, tiny):
    """Entities, 16 days of events and fraud, and the baseline profile: what landing days 15–16 read."""
    root = tmp_path_factory.mktemp("upstream") / "data"
    store = ObjectStore(root_url=str(root))
    definitions = build_definitions(tiny)
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _run(definitions, store, dg.AssetSelection.groups("events", "fraud"),
                tags=_days("2026-01-01", "2026-01-16")).success
    assert _run(definitions, store, dg.AssetSelection.assets("baseline_profile", "anomaly_schedule")).success
    return root


def _copy(upstream, tmp_path, name: str) -> ObjectStore:
    shutil.copytree(upstream, tmp_path / name)
    return ObjectStore(root_url=str(tmp_path / name))


def _copy_as(upstream, tmp_path, name: str, tiny, variant) -> ObjectStore:
    """A copy of the upstream store for `variant`, a scenario that differs from `tiny` only in its anomalies (plan,
    landing format): those shape the landing files and their manifest alone, so its entities, days, carried state
    and baseline profile are tiny's, byte for byte. The copy is relabelled with the variant's hash (a root holds
    one scenario) instead of regenerating 16 days, and its plan table is rebuilt."""
    assert variant.model_dump(exclude={"anomalies", "storage"}) == tiny.model_dump(exclude={"anomalies", "storage"})
    store = _copy(upstream, tmp_path, name)
    for manifest in Path(store.root_url, "_manifests").rglob("*.json"):
        manifest.write_text(manifest.read_text().replace(tiny.content_hash, variant.content_hash))
    assert _run(build_definitions(variant), store, dg.AssetSelection.assets("anomaly_schedule")).success
    return store


def _landing_tree(store: ObjectStore) -> dict[str, bytes]:
    return layer_tree(store, "landing")


@pytest.mark.parametrize("fmt", ["parquet", "ndjson", "csv"])
def test_landing_days_are_eight_files_each_and_identical_however_runs_are_split(upstream, tmp_path, tiny, fmt):
    variant = scaled(tiny, anomalies={"landing_format": fmt})
    definitions = build_definitions(variant)
    together = _copy_as(upstream, tmp_path, "together", tiny, variant)
    result = _run(definitions, together, LANDING_SELECTION, tags=_days("2026-01-15", "2026-01-16"))
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.description
    apart = _copy_as(upstream, tmp_path, "apart", tiny, variant)
    for day in ("2026-01-16", "2026-01-15", "2026-01-16"):  # out of order, and one day twice
        assert _run(definitions, apart, LANDING_SELECTION, partition_key=day).success
    tree = _landing_tree(together)
    assert tree == _landing_tree(apart)
    for table in LANDING:
        names = sorted(p.rsplit("/", 1)[1] for p in tree if p.startswith(f"/landing/{table}/date=2026-01-16/"))
        assert names == [f"batch-{b}.{fmt}" for b in range(8)]  # only the data files: the manifest is apart
        assert f"/_manifests/landing/{table}/date=2026-01-16.json" in tree
    # Each file holds exactly its batch.
    cards = together.read_table("landing", "card_transactions", partition="2026-01-16")
    manifest = together.read_manifest("landing", "card_transactions", partition="2026-01-16")
    assert [f["rows"] for f in manifest["files"]] == [
        pc.sum(pc.equal(cards["batch"], b)).as_py() or 0 for b in range(8)]


def test_the_three_formats_hold_the_same_rows(upstream, tmp_path, tiny):
    tables = {}
    for fmt in ("parquet", "ndjson", "csv"):
        variant = scaled(tiny, anomalies={"landing_format": fmt})
        store = _copy_as(upstream, tmp_path, fmt, tiny, variant)
        assert _run(build_definitions(variant), store, LANDING_SELECTION, partition_key="2026-01-16").success
        tables[fmt] = {name: store.read_table("landing", name, partition="2026-01-16") for name in LANDING}
    for name in LANDING:
        assert tables["parquet"][name].num_rows > 0
        assert tables["ndjson"][name].equals(tables["parquet"][name]), name
        assert tables["csv"][name].equals(tables["parquet"][name]), name


def test_a_plan_edited_in_the_scenario_file_needs_no_code(upstream, tmp_path, tiny):
    """A user adds a null burst on a card-transaction column on day 16, batch 2, retunes one entry and drops another."""
    plan_file = tmp_path / "my_scenario.yaml"
    plan_file.write_text("""
population: {customers: 400, accounts: 500, devices: 480, beneficiaries: 600, merchants: 100, atms: 40,
             online_merchants: 40, foreign_merchants: 60, foreign_atms: 20}
card_transactions: {per_day: 2000}
web_funnel: {visitors_per_day: 600}
anomalies:
  plan:
    missing_merchants: {days: [2], batch: 2, type: null_burst, table: card_transactions, column: merchant_id,
                        share: 0.3}
    campaign_nulls: {share: 0.5}
    under_age: null
""")
    edited = load_scenario({SCENARIO_ENV: str(plan_file)})
    assert "under_age" not in edited.anomalies.plan and edited.anomalies.plan["campaign_nulls"].share == 0.5
    assert edited.anomalies.plan["campaign_nulls"].batch == 1  # retuned key by key, the rest kept
    store = _copy_as(upstream, tmp_path, "edited", tiny, edited)
    assert _run(build_definitions(edited), store, LANDING_SELECTION, partition_key="2026-01-16").success

    manifest = store.read_table("reports", "anomaly_manifest", partition="2026-01-16").to_pandas().set_index("anomaly_id")
    assert "20260116-b2-under_age" not in manifest.index
    row = manifest.loc["20260116-b2-missing_merchants"]
    cards = store.read_table("landing", "card_transactions", partition="2026-01-16").to_pandas()
    batch = cards[cards["batch"] == 2]
    labelled = batch[batch["anomaly_id"] == "20260116-b2-missing_merchants"]
    assert row["rows_affected"] == len(labelled) > 0
    assert labelled["merchant_id"].isna().all()
    assert len(labelled) == round(0.3 * len(batch))
    assert row["metric"] == "null_rate.merchant_id" and row["observed"] == pytest.approx(batch["merchant_id"].isna().mean())
    assert row["observed"] > row["baseline"] + 0.25
    assert manifest.loc["20260116-b1-campaign_nulls", "expected"] == pytest.approx(0.5)


def test_the_schedule_and_the_timeline_show_in_the_ui(upstream, tmp_path, tiny):
    store = _copy(upstream, tmp_path, "ui")
    definitions = build_definitions(tiny)
    schedule = store.read_table("reports", "anomaly_schedule").to_pandas()
    every_day = [e for e in tiny.anomalies.plan.values() if e.days == "every"]
    once = [e for e in tiny.anomalies.plan.values() if e.days != "every"]
    assert len(schedule) == 7 * len(every_day) + sum(len(e.days) for e in once)
    assert sorted(schedule["day"].astype(str).unique()) == [f"2026-01-{d}" for d in range(15, 22)]
    assert _run(definitions, store, LANDING_SELECTION, tags=_days("2026-01-15", "2026-01-16")).success
    result = _run(definitions, store, dg.AssetSelection.assets("anomaly_timeline"))
    [materialization] = result.asset_materializations_for_node("anomaly_timeline")
    metadata = materialization.metadata
    assert metadata["days"].value == 2 and len(metadata["days_missing"].value) == 19  # only 15–16 have landed
    assert metadata["timeline"].value.startswith("![anomaly timeline](data:image/png;base64,")
    picture = store.filesystem().cat_file(store.path("reports", "anomaly_timeline") + "/timeline.png")
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = store.read_manifest("reports", "anomaly_timeline")  # published like a table: complete, this scenario's
    assert (manifest["scenario_hash"], manifest["format"], manifest["files"][0]["path"]) == (
        tiny.content_hash, "png", "timeline.png")
    assert manifest["files"][0]["sha256"] == hashlib.sha256(picture).hexdigest()
    assert metadata["dagster/uri"].value == store.uri("reports", "anomaly_timeline") + "/timeline.png"
    width, height = struct.unpack(">II", picture[16:24])
    assert width > 2 * 8 * 8 and height > 10 * 84  # 8 pixels per batch; a panel per watched metric


def test_the_readme_gate_example_runs_on_real_output(upstream, tmp_path, tiny, monkeypatch, capsys):
    store = _copy(upstream, tmp_path / "project", "data")
    assert _run(build_definitions(tiny), store, LANDING_SELECTION, tags=_days("2026-01-15", "2026-01-16")).success
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("## Scoring a data-quality gate", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path / "project")
    exec(compile(example, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "caught 2 of 2 null bursts, 0 false alarms"
