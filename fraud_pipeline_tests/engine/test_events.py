"""The daily assets in Dagster: one calendar, single-run ranges, byte-identical partitions, the baseline profile."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.definitions import build_definitions, defs
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.life.funnel import STAGES
from fraud_pipeline_tests.conftest import layer_tree, scaled, run_resources

DAILY = ["card_transactions", "account_balances", "card_events", "customer_events", *STAGES]
FRAUD = ["fraud_transactions", "fraud_episodes"]
PROFILED = ["card_transactions", "customer_events", *STAGES]


@pytest.fixture(scope="module")
def tiny(small_scenario):
    """A small world with a small daily volume, so whole baselines run in seconds."""
    return scaled(small_scenario, card_transactions={"per_day": 2000}, web_funnel={"visitors_per_day": 600})


def _run(definitions, store, selection, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(definitions.assets, selection=selection,
                          resources=run_resources(store), instance=dg.DagsterInstance.ephemeral(), **kwargs)


def _range(definitions, store, first: str, last: str, *groups: str) -> dg.ExecuteInProcessResult:
    """The groups' assets (default: events) over first … last in one run."""
    return _run(definitions, store, dg.AssetSelection.groups(*(groups or ("events",))),
                tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})


def _events_tree(store: ObjectStore) -> dict[str, bytes]:
    return layer_tree(store, "events")


@pytest.fixture
def with_entities(tmp_path, tiny):
    def make(name: str) -> ObjectStore:
        store = ObjectStore(root_url=str(tmp_path / name))
        assert _run(build_definitions(tiny), store, dg.AssetSelection.groups("entities")).success
        return store
    return make


def test_every_daily_asset_shares_one_open_ended_calendar_from_the_start_date():
    graph = defs.resolve_asset_graph()
    partitions = {graph.get(dg.AssetKey(name)).partitions_def for name in DAILY + FRAUD}
    assert len(partitions) == 1
    [calendar] = partitions
    assert calendar.start.date() == date(2026, 1, 1) and calendar.end is None
    assert calendar.timezone == "Africa/Johannesburg"
    for name in DAILY + FRAUD:
        assert graph.get(dg.AssetKey(name)).backfill_policy == dg.BackfillPolicy.single_run()


def test_the_baseline_profile_depends_on_exactly_the_first_14_days():
    graph = defs.resolve_asset_graph()
    child = dg.AssetKey("baseline_profile")
    expected = [str(date(2026, 1, 1) + timedelta(days=i)) for i in range(BASELINE_DAYS)]
    for name in PROFILED:
        mapping = graph.get_partition_mapping(child, dg.AssetKey(name))
        assert isinstance(mapping, dg.SpecificPartitionsPartitionMapping)
        assert list(mapping.partition_keys) == expected


def test_a_range_run_and_day_by_day_runs_write_identical_bytes(with_entities, tiny):
    definitions = build_definitions(tiny)
    in_one_run, day_by_day = with_entities("range"), with_entities("days")

    result = _range(definitions, in_one_run, "2026-01-01", "2026-01-04")
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    for day in ["2026-01-04", "2026-01-02", "2026-01-03", "2026-01-01"]:  # any order, one run each
        assert _run(definitions, day_by_day, dg.AssetSelection.groups("events"), partition_key=day).success

    tree = _events_tree(in_one_run)
    assert tree == _events_tree(day_by_day)
    assert sum(path.startswith("/_manifests/events/") for path in tree) == 4 * len(DAILY)

    # re-running a day leaves it unchanged
    assert _run(definitions, in_one_run, dg.AssetSelection.groups("events"), partition_key="2026-01-03").success
    assert _events_tree(in_one_run) == tree


def test_fraud_in_one_run_equals_fraud_day_by_day_in_any_order(with_entities, tiny):
    definitions = build_definitions(tiny)
    in_one_run, day_by_day = with_entities("range"), with_entities("days")
    for store in (in_one_run, day_by_day):
        assert _range(definitions, store, "2026-01-01", "2026-01-04").success
    fraud = dg.AssetSelection.groups("fraud")
    result = _run(definitions, in_one_run, fraud, tags={"dagster/asset_partition_range_start": "2026-01-01",
                                                        "dagster/asset_partition_range_end": "2026-01-04"})
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    for day in ["2026-01-03", "2026-01-01", "2026-01-04", "2026-01-02"]:
        assert _run(definitions, day_by_day, fraud, partition_key=day).success

    assert layer_tree(in_one_run, "fraud") == layer_tree(day_by_day, "fraud")
    assert len(layer_tree(in_one_run, "fraud")) == 4 * 4 * 2  # four days of four tables, a file and a manifest each


def test_no_partition_holds_a_row_of_another_day(with_entities, tiny):
    store = with_entities("data")
    assert _range(build_definitions(tiny), store, "2026-01-01", "2026-01-03").success
    for name in PROFILED:
        for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
            arrival = store.read_table("events", name, partition=day)["arrival_time"].to_pandas()
            assert (arrival.dt.strftime("%Y-%m-%d") == day).all(), (name, day)


def _materializations(result: dg.ExecuteInProcessResult, asset: str) -> list:
    return [m for node in ("bank_day", "web_funnel") for m in result.asset_materializations_for_node(node)
            if m.asset_key.to_user_string() == asset]


def test_every_partition_of_a_range_has_its_own_metadata(with_entities, tiny):
    definitions, store = build_definitions(tiny), with_entities("data")
    single = _run(definitions, store, dg.AssetSelection.groups("events"), partition_key="2026-01-02")
    [one] = _materializations(single, "card_transactions")
    rows = store.read_manifest("events", "card_transactions", "2026-01-02")["rows"]
    assert one.partition == "2026-01-02" and one.metadata["dagster/row_count"].value == rows
    assert one.metadata["dagster/uri"].value.endswith("events/card_transactions/date=2026-01-02")

    ranged = _range(definitions, store, "2026-01-01", "2026-01-03")
    by_day = {m.partition: m.metadata for m in _materializations(ranged, "card_transactions")}
    assert sorted(by_day) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    counts = {day: store.read_manifest("events", "card_transactions", day)["rows"] for day in by_day}
    assert {day: m["dagster/row_count"].value for day, m in by_day.items()} == counts
    assert len(set(counts.values())) == 3  # each partition its own, not one shared value
    for day, metadata in by_day.items():
        assert metadata["dagster/uri"].value.endswith(f"date={day}")
        assert 0 <= metadata["declined_share"].value < 0.2  # a tiny bank declines a handful a day, some days none
        assert metadata["scenario_hash"].value == tiny.content_hash and metadata["days_in_run"].value == 3
    assert sum(m["declined_share"].value for m in by_day.values()) > 0
    fraud = {m.partition: m.metadata for m in _materializations(ranged, "fraud_transactions")}
    assert all(0 < m["fraud_share"].value < 0.05 for m in fraud.values())


def test_a_failing_day_fails_its_check_and_names_the_day(with_entities, tiny, monkeypatch):
    from fraud_pipeline.engine import ranges as bank

    real = bank.simulate_day

    def with_a_repeated_id(world, state, day):
        result = real(world, state, day)
        if day == date(2026, 1, 2):
            ids = result.transactions["transaction_id"].to_pylist()
            ids[1] = ids[0]
            table = result.transactions
            result.transactions = table.set_column(0, table.schema.field(0), pa.array(ids, pa.string()))
        return result

    monkeypatch.setattr(bank, "simulate_day", with_a_repeated_id)
    store = with_entities("data")
    result = _run(build_definitions(tiny), store, dg.AssetSelection.assets("card_transactions"),
                  tags={"dagster/asset_partition_range_start": "2026-01-01",
                        "dagster/asset_partition_range_end": "2026-01-03"}, raise_on_error=False)
    [failed] = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed.check_name == "transaction_id_unique"
    assert failed.description.startswith("2026-01-02: transaction_id is unique: 1 rows fail")
    # the failing day is not published (no manifest); the days that passed are
    assert [store.read_manifest("events", "card_transactions", partition=d) is not None
            for d in ("2026-01-01", "2026-01-02", "2026-01-03")] == [True, False, True]


def test_the_readmes_scoring_example_runs_on_real_output(tiny, tmp_path, monkeypatch, capsys):
    store = ObjectStore(root_url=str(tmp_path / "project" / "data"))
    frequent_abroad = scaled(tiny, fraud={"atm_abroad": {"rate": 0.01}})  # its own world and days: a root holds one
    assert _run(build_definitions(frequent_abroad), store, dg.AssetSelection.groups("entities")).success
    assert _run(build_definitions(frequent_abroad), store, dg.AssetSelection.groups("events", "fraud"),
                tags={"dagster/asset_partition_range_start": "2026-01-01",
                      "dagster/asset_partition_range_end": "2026-01-03"}).success
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("## Scoring a detector", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path / "project")
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "card_fraud_chain" in printed and "false alarm rate" in printed
    assert float(printed.split("atm_abroad")[1].split()[0]) == 1.0  # abroad is always caught by this toy rule


def test_the_baseline_profile_matches_a_direct_recomputation(with_entities, tiny):
    definitions, store = build_definitions(tiny), with_entities("data")
    assert _range(definitions, store, "2026-01-01", "2026-01-14").success
    assert _run(definitions, store, dg.AssetSelection.assets("baseline_profile")).success

    profile = store.read_table("reports", "baseline_profile").to_pandas().set_index(["table", "batch", "metric"])
    days = [str(date(2026, 1, 1) + timedelta(days=i)) for i in range(BASELINE_DAYS)]
    frames = {name: pd.concat([store.read_table("events", name, partition=d).to_pandas().assign(day=d) for d in days])
              for name in ("card_transactions", "web_visits", "applications")}

    txn = frames["card_transactions"]
    per_day = txn[txn["batch"] == 3].groupby("day").size().reindex(days, fill_value=0)
    row = profile.loc[("card_transactions", 3, "volume")]
    assert row["observations"] == 14
    assert row["mean"] == pytest.approx(per_day.mean()) and row["std"] == pytest.approx(per_day.std())

    amounts = txn.loc[txn["batch"] == 4, "amount"]
    row = profile.loc[("card_transactions", 4, "value.amount")]
    assert row["p50"] == pytest.approx(amounts.quantile(0.5)) and row["p99"] == pytest.approx(amounts.quantile(0.99))

    nulls = txn.groupby(["day", "batch"])["merchant_id"].agg(lambda s: s.isna().mean()).xs(5, level="batch")
    assert profile.loc[("card_transactions", 5, "null_rate.merchant_id")]["mean"] == pytest.approx(nulls.mean())

    visits = frames["web_visits"].groupby(["day", "batch"]).size()
    apps = frames["applications"].groupby(["day", "batch"]).size()
    rate = (apps / visits).xs(6, level="batch")
    row = profile.loc[("applications", 6, "conversion.application_rate")]
    assert row["mean"] == pytest.approx(rate.mean()) and row["std"] == pytest.approx(rate.std())

    lag = frames["web_visits"].pipe(lambda f: (f["arrival_time"] - f["event_time"]).dt.total_seconds()[f["batch"] == 2])
    assert profile.loc[("web_visits", 2, "arrival_lag_seconds")]["mean"] == pytest.approx(lag.mean())
    assert np.isclose(profile.loc[("web_visits", 0, "null_rate.campaign_id")]["mean"], 0.0)
