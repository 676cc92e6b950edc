"""Running unattended: the jobs, the daily schedule, the prerequisites sensor, and a day that needs no other day."""

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from fraud_pipeline.definitions import build_definitions, defs
from fraud_pipeline.defs.automation import PREREQUISITES, TRIGGER_TAG, outdated_prerequisites
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import scaled, run_resources
from fraud_pipeline_tests.engine.test_events import _run
from fraud_pipeline_tests.quality.test_landing import TINY, _days

DAILY_ASSETS = {"card_transactions", "account_balances", "card_events", "customer_events", "web_visits", "applications",
                "new_accounts", "new_account_transactions", "fraud_transactions", "fraud_episodes", "aml_cases",
                "aml_reports", "anomaly_manifest",
                *(f"landing_{t}" for t in ("card_transactions", "customer_events", "web_visits", "applications",
                                           "new_accounts",
                                           "new_account_transactions"))}

SENSOR_TAG = {"dagster/sensor_name": "prerequisites"}


def _keys(job: dg.JobDefinition) -> set[str]:
    return {key.to_user_string() for key in job.asset_layer.executable_asset_keys}


def test_the_daily_job_holds_every_daily_asset_and_the_scenario_job_everything():
    daily, everything = defs.resolve_job_def("daily_job"), defs.resolve_job_def("scenario_job")
    graph = defs.resolve_asset_graph()
    assert _keys(daily) == DAILY_ASSETS == {key.to_user_string() for key in graph.get_all_asset_keys()
                                            if graph.get(key).partitions_def is not None}
    assert _keys(everything) == {key.to_user_string() for key in graph.get_all_asset_keys()}


def test_the_schedule_materialises_the_day_that_just_ended_in_the_regions_time_and_is_off_by_default():
    schedule = defs.get_schedule_def("daily_schedule")
    assert schedule.job_name == "daily_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.execution_timezone == "Africa/Johannesburg"
    # 00:30 UTC on the 21st is 02:30 in Johannesburg: the 20th has ended there.
    for tick, expected in [(datetime(2026, 11, 21, 1, 0, tzinfo=ZoneInfo("Africa/Johannesburg")), "2026-11-20"),
                           (datetime(2026, 11, 21, 0, 30, tzinfo=ZoneInfo("UTC")), "2026-11-20"),
                           (datetime(2026, 1, 22, 1, 0, tzinfo=ZoneInfo("Africa/Johannesburg")), "2026-01-21")]:
        [request] = _schedule_tick(defs, tick).run_requests
        assert request.partition_key == expected, tick


def _schedule_tick(definitions: dg.Definitions, tick: datetime):
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=definitions.get_repository_def())
    return definitions.get_schedule_def("daily_schedule").evaluate_tick(context)


def test_a_calendar_in_the_future_can_be_materialised_now_and_the_schedule_asks_only_for_ended_days(scenario):
    ahead = build_definitions(scaled(scenario, start_date="2027-01-01", end_date="2027-03-31"))
    calendar = ahead.resolve_asset_graph().get(dg.AssetKey("card_transactions")).partitions_def
    keys = calendar.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2027-01-01", "2027-03-31", 90)
    johannesburg = ZoneInfo("Africa/Johannesburg")
    early = _schedule_tick(ahead, datetime(2026, 12, 5, 1, 0, tzinfo=johannesburg))
    assert not early.run_requests and "outside the scenario's calendar" in early.skip_message
    [request] = _schedule_tick(ahead, datetime(2027, 2, 1, 1, 0, tzinfo=johannesburg)).run_requests
    assert request.partition_key == "2027-01-31"
    late = _schedule_tick(ahead, datetime(2027, 4, 2, 1, 0, tzinfo=johannesburg))
    assert not late.run_requests
    # open-ended and in the future: the first 21 days (baseline and window) are there to materialise
    open_ended = build_definitions(scaled(scenario, start_date="2027-01-01"))
    keys = open_ended.resolve_asset_graph().get(dg.AssetKey("card_transactions")).partitions_def.get_partition_keys()
    assert (keys[0], keys[-1]) == ("2027-01-01", "2027-01-21")


@pytest.fixture(scope="module")
def prepared(scenario, tmp_path_factory) -> dict:
    """The tiny scenario's prerequisites, built once from what the sensor requests on an empty store."""
    root = tmp_path_factory.mktemp("prepared") / "data"
    tiny = scaled(scenario, **TINY, storage={"url": str(root)})
    definitions = build_definitions(tiny)
    with dg.instance_for_test() as instance:
        [request] = _tick(definitions, instance).run_requests
        assert _execute(definitions, ObjectStore(root_url=str(root)), request, instance).success
    return {"root": root, "tiny": tiny, "first_request": request}


@pytest.fixture
def located(prepared, tmp_path):
    """A copy of the prepared store in tmp_path, with definitions (sensor included) that point at it."""
    shutil.copytree(prepared["root"], tmp_path / "data")
    tiny = scaled(prepared["tiny"], storage={"url": str(tmp_path / "data")})
    return build_definitions(tiny), ObjectStore(root_url=str(tmp_path / "data")), tiny


def _tick(definitions: dg.Definitions, instance: dg.DagsterInstance):
    sensor = definitions.get_sensor_def("prerequisites")
    context = dg.build_sensor_context(instance=instance, repository_def=definitions.get_repository_def())
    return sensor.evaluate_tick(context)


def _execute(definitions, store, request: dg.RunRequest, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(definitions.assets, selection=request.asset_selection,
                          tags=request.tags, resources=run_resources(store), instance=instance)


def test_the_sensor_rebuilds_missing_prerequisites_in_one_run_then_only_what_is_outdated(prepared, located):
    definitions, store, tiny = located
    assert definitions.get_sensor_def("prerequisites").default_status == dg.DefaultSensorStatus.STOPPED
    request = prepared["first_request"]  # on an empty store: everything, the baseline days as one range
    assert {key.to_user_string() for key in request.asset_selection} == set(PREREQUISITES)
    assert request.tags == {TRIGGER_TAG: tiny.content_hash, **_days("2026-01-01", "2026-01-14"), **SENSOR_TAG}
    with dg.instance_for_test() as instance:
        assert outdated_prerequisites(store, tiny) == []
        assert "are current" in _tick(definitions, instance).skip_message

        # The plan's table lost (a half-finished write leaves no manifest): only the plan is rebuilt, unpartitioned.
        Path(store.manifest_path("reports", "anomaly_schedule")).unlink()
        [request] = _tick(definitions, instance).run_requests
        assert [key.to_user_string() for key in request.asset_selection] == ["anomaly_schedule"]
        assert request.tags == {TRIGGER_TAG: tiny.content_hash, **SENSOR_TAG}

        # One baseline day missing: that table's whole baseline range and what is downstream of it (the clickstream
        # names its transactions, the profile reads both).
        assert _execute(definitions, store, request, instance).success
        Path(store.manifest_path("events", "card_transactions", "2026-01-09")).unlink()
        [request] = _tick(definitions, instance).run_requests
        assert {key.to_user_string() for key in request.asset_selection} == {"card_transactions", "customer_events",
                                                                            "baseline_profile"}
        assert request.tags["dagster/asset_partition_range_start"] == "2026-01-01"


def test_the_sensor_requests_nothing_on_a_root_of_another_scenario_and_waits_for_its_own_run(located):
    definitions, store, tiny = located
    with dg.instance_for_test() as instance:
        # An edited scenario over the same root: rebuilding the prerequisites would leave the root half one
        # scenario, half the other (the days after the baseline stay the old one's), so nothing is requested.
        reseeded = scaled(tiny, seed=tiny.seed + 1)
        tick = _tick(build_definitions(reseeded), instance)
        assert tick.run_requests == []
        assert f"holds the tables of scenario {tiny.content_hash} (stored); this run's scenario is " \
               f"{reseeded.content_hash}" in tick.skip_message
        assert "FRAUD_PIPELINE_STORAGE_URL=" in tick.skip_message

        # While a run for this scenario is unfinished the sensor waits; after a failure it says which run.
        Path(store.manifest_path("reports", "anomaly_schedule")).unlink()
        [request] = _tick(definitions, instance).run_requests
        run = instance.create_run_for_job(definitions.resolve_job_def("scenario_job"), tags=request.tags,
                                          status=dg.DagsterRunStatus.STARTED)
        assert f"waiting for run {run.run_id}" in _tick(definitions, instance).skip_message
        instance.report_run_failed(run)
        assert f"run {run.run_id} ended FAILURE" in _tick(definitions, instance).skip_message


def test_a_day_alone_needs_no_earlier_day_and_writes_what_a_range_writes(located, tmp_path):
    """The schedule runs one day. It starts from the state the day before ended in (balances, cards, what arrives
    after midnight) and its landing reads the funnel's look-back days (a conversion drop on window day 4,
    2026-01-18, withholds later accounts): when those are not stored they are regenerated — the state by walking
    from the latest stored one — so the day comes out the same as in a range."""
    definitions, _, _ = located
    daily = dg.AssetSelection.assets(*DAILY_ASSETS)
    alone = tmp_path / "alone"
    ranged = tmp_path / "range"
    shutil.copytree(tmp_path / "data", alone)
    shutil.copytree(tmp_path / "data", ranged)
    assert _run(definitions, ObjectStore(root_url=str(alone)), daily, partition_key="2026-01-19").success
    assert _run(definitions, ObjectStore(root_url=str(ranged)), daily, tags=_days("2026-01-15", "2026-01-19")).success
    day = _files_of(alone, "2026-01-19")
    assert day == _files_of(ranged, "2026-01-19")
    # and the state the next day starts from, and the credits sent to other blocks overnight
    assert sum(p.parts[0] == "_manifests" for p in day) == len(DAILY_ASSETS) + 2
    assert [p for p in day if (alone / p).read_bytes() != (ranged / p).read_bytes()] == []
    walked = _files_of(alone, "2026-01-18")  # of the days walked, only the state the next one starts from
    assert walked and all("state" in p.parts[:2] for p in walked)
    assert {"bank_state", "outbox"} <= {part for p in walked for part in p.parts}


def _files_of(root: Path, day: str) -> list[Path]:
    """The day's data files and manifests under `root` (not the writer locks)."""
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and f"date={day}" in p.as_posix() and ".locks" not in p.parts)
