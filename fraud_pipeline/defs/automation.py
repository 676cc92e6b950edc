"""Running unattended: the whole scenario as one job, yesterday's partitions on a daily schedule, and a
sensor that keeps what every day needs — entities, the baseline days, the baseline profile and the
anomaly plan — present and current, in order.

"Current" is judged from storage, not from Dagster's event log: a table is current when its manifest
exists and records this scenario's content hash. So a wiped `data/` folder is noticed, and a table another
run half-wrote (no manifest) is rebuilt. A root that holds another scenario (after an edit of the scenario
file, say) is not rebuilt table by table, which would leave it half one scenario, half the other: the
sensor requests nothing and says so, naming both scenarios and the remedies (`ObjectStore.mismatch`).
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from fraud_pipeline.core import schemas
from fraud_pipeline.core.timeline import baseline_days
from fraud_pipeline.defs.assets.entities import ENTITY_TABLES
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import Scenario

SCENARIO_JOB, DAILY_JOB = "scenario_job", "daily_job"
BASELINE_EVENTS = schemas.EVENT_TABLE_NAMES  # what the baseline profile reads
REFERENCE_TABLES = ("baseline_profile", "anomaly_schedule")
PREREQUISITES = (*ENTITY_TABLES, *BASELINE_EVENTS, *REFERENCE_TABLES)
TRIGGER_TAG = "fraud_pipeline/prerequisites"  # value: the scenario hash the run makes current
# the daily assets: the landing group also holds the unpartitioned reference tables the days are measured against
DAILY_SELECTION = dg.AssetSelection.groups("events", "fraud", "landing") - dg.AssetSelection.assets(*REFERENCE_TABLES)
UNFINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def outdated_prerequisites(store: ObjectStore, scenario: Scenario) -> list[str]:
    """The prerequisite assets with a table, or a baseline day, that is missing or from another scenario."""
    days = [day.isoformat() for day in baseline_days(scenario.start_date)]
    where = {**{name: ("entities", [None]) for name in ENTITY_TABLES},
             **{name: ("events", days) for name in BASELINE_EVENTS},
             **{name: ("reports", [None]) for name in REFERENCE_TABLES}}

    def current(name: str) -> bool:
        layer, partitions = where[name]
        manifests = (store.read_manifest(layer, name, partition) for partition in partitions)
        return all(m is not None and m.get("scenario_hash") == scenario.content_hash for m in manifests)

    return [name for name in PREREQUISITES if not current(name)]


def jobs_and_automation(scenario: Scenario, store: ObjectStore):
    days = [day.isoformat() for day in baseline_days(scenario.start_date)]
    scenario_job = dg.define_asset_job(
        SCENARIO_JOB, selection=dg.AssetSelection.all(),
        description="Everything, in dependency order, in one run: entities, the days of the chosen partition range "
                    "(events, fraud, landing, manifests), the baseline profile, the plan and the timeline. Launch it "
                    "over the first 21 days for the default scenario.")
    daily_job = dg.define_asset_job(
        DAILY_JOB, selection=DAILY_SELECTION,
        description="The daily partitions of one day or a range: events, fraud, landing files and anomaly manifest.")
    @dg.schedule(name="daily_schedule", job=daily_job, cron_schedule="0 1 * * *",
                 execution_timezone=scenario.geography.timezone, default_status=dg.DefaultScheduleStatus.STOPPED,
                 description="At 01:00 (the region's time) materialises the day that just ended, while it is in the "
                             "scenario's calendar. Off by default: switch it on (with the prerequisites sensor) in "
                             "Automation, or `dagster schedule start daily_schedule`.")
    def schedule(context: dg.ScheduleEvaluationContext):
        # Only a day that has ended, even when the calendar already offers days ahead (a future scenario).
        tick = context.scheduled_execution_time.astimezone(ZoneInfo(scenario.geography.timezone))
        day = tick.date() - timedelta(days=1)
        if day < scenario.start_date or (scenario.end_date and day > scenario.end_date):
            return dg.SkipReason(f"{day} is outside the scenario's calendar ({scenario.start_date} … "
                                 f"{scenario.end_date or 'open-ended'})")
        return dg.RunRequest(partition_key=day.isoformat(), run_key=day.isoformat())

    @dg.sensor(name="prerequisites", target=dg.AssetSelection.assets(*PREREQUISITES), minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Materialises the entities, the baseline days, the baseline profile and the anomaly plan "
                           "when their stored copy is missing or unfinished, with everything downstream of them, in "
                           "one run; requests nothing when the storage root holds another scenario. Off by default.")
    def prerequisites(context: dg.SensorEvaluationContext):
        stored = store.stored_scenario()
        if stored not in (None, scenario.content_hash):
            return dg.SkipReason(store.mismatch(stored, scenario.content_hash))
        outdated = outdated_prerequisites(store, scenario)
        if not outdated:
            return dg.SkipReason(f"entities, baseline days {days[0]} … {days[-1]}, baseline profile and anomaly plan "
                                 f"are current for scenario {scenario.content_hash[:12]}")
        runs = context.instance.get_runs(dg.RunsFilter(tags={TRIGGER_TAG: scenario.content_hash}), limit=1)
        if runs and runs[0].status in UNFINISHED:
            return dg.SkipReason(f"waiting for run {runs[0].run_id} to rebuild {', '.join(outdated)}")
        if runs and runs[0].status != dg.DagsterRunStatus.SUCCESS:
            return dg.SkipReason(f"run {runs[0].run_id} ended {runs[0].status.value}; {', '.join(outdated)} still "
                                 "outdated. See its logs, then re-execute it from the UI")
        graph = context.repository_def.asset_graph
        keys = (dg.AssetSelection.assets(*outdated).downstream()
                & dg.AssetSelection.assets(*PREREQUISITES)).resolve(graph)
        keys = {k for key in keys for k in graph.get(key).execution_set_asset_keys}  # a multi-asset runs whole
        partitioned = any(graph.get(key).partitions_def is not None for key in keys)
        tags = {TRIGGER_TAG: scenario.content_hash}
        if partitioned:  # the baseline days, as one single-run range
            tags |= {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
        context.log.info(f"outdated: {', '.join(outdated)}; requesting {len(keys)} assets")
        return dg.RunRequest(asset_selection=sorted(keys), tags=tags)

    return [scenario_job, daily_job], [schedule], [prerequisites]
