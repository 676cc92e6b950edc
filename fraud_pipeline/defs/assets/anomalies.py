"""The `landing` group — the plan, the micro-batch landing files it shapes, and its ground truth — and the anomaly
timeline of `reports`.

Landing day D reads the clean events and injected fraud of D. Conversion drops withhold
applications, and the accounts of those applications open up to a day later and spend days after
that, so D also reads the clean applications and new accounts of the funnel's look-back window
(only when a drop falls in it), and new accounts' limits for fraud spikes.
"""

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.timeline import BATCHES_PER_DAY, baseline_days
from fraud_pipeline.core import partition_metrics
from fraud_pipeline.defs.assets.daily import (check_results, check_specs, partition_metadata, run_metadata, withheld,
                                              write_day)
from fraud_pipeline.defs.assets.metadata import definition_metadata, materialization_metadata
from fraud_pipeline.defs.partitions import as_days
from fraud_pipeline.io.storage import ObjectStore, TableNotReady
from fraud_pipeline.life.funnel import funnel_days, lookback_days
from fraud_pipeline.quality import anomalies
from fraud_pipeline.quality.checks import MANIFEST_CHECK, manifest_findings
from fraud_pipeline.quality.ground_truth import (anomaly_manifest, timeline_marks, timeline_metrics, timeline_panels,
                                                 timeline_reads)
from fraud_pipeline.quality.timeline_chart import render
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.regions import REGIONS

LANDING = "landing"  # the group and the storage layer
REPORTS = "reports"
EVENTS = schemas.EVENT_TABLE_NAMES
LANDING_ASSETS = [schemas.LANDING_TABLES[name].name for name in EVENTS]  # landing_<table>
READ_THREADS = 2  # the anomaly timeline's readers: a third gains nothing on the 2-core machine the README targets


def _markdown(table: pa.Table, columns: list[str]) -> str:
    return table.select(columns).to_pandas().to_markdown(index=False, disable_numparse=True)


def anomaly_schedule_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    spec = schemas.ANOMALY_SCHEDULE
    config = scenario.anomalies
    window = anomalies.window(scenario)

    @dg.asset(name=spec.name, group_name=LANDING, kinds=kinds, metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              description=f"{spec.description} Window: {window[0]} … {window[-1]}; afterwards: {config.after_window}.")
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        table = anomalies.schedule(scenario)
        written = store.write_table("reports", spec.name, table, scenario.content_hash)
        context.log.info(f"anomaly schedule: {table.num_rows} planned anomalies over {len(window)} days, "
                         f"written to {written.uri}")
        metadata = materialization_metadata(table, written, scenario.content_hash)
        first_day = table.filter(pc.equal(table["window_day"], 1))
        metadata["first_window_day"] = dg.MetadataValue.md(
            _markdown(first_day, ["batch", "anomaly_type", "plan_entry", "table", "column", "parameters"]))
        metadata["window"] = f"{window[0]} … {window[-1]}, then {config.after_window}"
        metadata["landing_format"] = config.landing_format
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def landing_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]) -> dg.AssetsDefinition:
    lookback = lookback_days(scenario)
    funnel_window = dg.TimeWindowPartitionMapping(start_offset=-lookback, end_offset=0,
                                                  allow_nonexistent_upstream_partitions=True)
    fmt = scenario.anomalies.landing_format
    funnel_parents = [dg.AssetDep(parent, partition_mapping=funnel_window) for parent in ("applications", "new_accounts")]
    deps = {"card_transactions": ["card_transactions", "fraud_transactions"], "customer_events": ["customer_events"],
            "web_visits": ["web_visits"],
            "applications": ["applications"], "new_accounts": funnel_parents,
            "new_account_transactions": ["new_account_transactions", *funnel_parents]}
    specs = [dg.AssetSpec(schemas.LANDING_TABLES[name].name, group_name=LANDING, deps=[*deps[name], "anomaly_schedule"],
                          description=schemas.LANDING_TABLES[name].description,
                          metadata=definition_metadata(schemas.LANDING_TABLES[name]), kinds=kinds - {"parquet"} | {fmt})
             for name in EVENTS]
    specs.append(dg.AssetSpec(schemas.ANOMALY_MANIFEST.name, group_name=LANDING, kinds=kinds,
                              description=schemas.ANOMALY_MANIFEST.description,
                              metadata=definition_metadata(schemas.ANOMALY_MANIFEST),
                              deps=[*LANDING_ASSETS, "baseline_profile"]))

    @dg.multi_asset(name="landing", partitions_def=partitions, specs=specs,
                    backfill_policy=dg.BackfillPolicy.single_run(),
                    check_specs=check_specs(schemas.ANOMALY_MANIFEST.name, MANIFEST_CHECK))
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]):
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        days = as_days(context.partition_keys)
        sources = LandingSources(store, scenario)
        written = {name: {} for name in (*EVENTS, "anomaly_manifest")}
        findings = {}
        for number, day in enumerate(days, start=1):
            landing, outcomes = anomalies.landing_day(scenario, day, sources.clean(day), sources.context(day))
            for name, table in landing.items():
                files = {f"batch-{b}": table.filter(pc.equal(table["batch"], b)) for b in range(BATCHES_PER_DAY)}
                written[name][day] = store.write_files(LANDING, name, files, scenario.content_hash,
                                                       partition=day.isoformat(), fmt=fmt)
                partition_metadata(context, schemas.LANDING_TABLES[name].name, day, table, written[name][day],
                                   scenario, {**partition_metrics.landing(table), "format": fmt})
            manifest = anomaly_manifest(outcomes, landing, sources.profile() if outcomes else None)
            findings[day] = manifest_findings(manifest, landing)
            written["anomaly_manifest"][day] = write_day(
                context, store, "reports", "anomaly_manifest", manifest, scenario, day, findings[day],
                {**partition_metrics.manifest(manifest), "anomalies": dg.MetadataValue.md(_markdown(manifest, [
                    "anomaly_id", "rows_affected", "rows_removed", "metric", "baseline", "expected", "observed"]))})
            context.log.info(f"landing {day}: " + ", ".join(f"{t.num_rows:,} {name}" for name, t in landing.items())
                             + f"; {len(outcomes)} planned anomalies touching "
                             f"{sum(o.rows_affected for o in outcomes):,} rows (day {number} of {len(days)})")
        for name in EVENTS:
            yield dg.MaterializeResult(asset_key=schemas.LANDING_TABLES[name].name,
                                       metadata={**run_metadata(written[name], scenario), "format": fmt})
        withheld(context, "anomaly_manifest", written["anomaly_manifest"])
        yield dg.MaterializeResult(asset_key="anomaly_manifest", metadata=run_metadata(written["anomaly_manifest"],
                                                                                        scenario))
        yield from check_results("anomaly_manifest", findings)

    return _asset


def anomaly_timeline_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    days = [*baseline_days(scenario.start_date), *anomalies.window(scenario)]

    @dg.asset(name="anomaly_timeline", group_name=REPORTS, kinds=(kinds - {"parquet"}) | {"png"},
              backfill_policy=dg.BackfillPolicy.single_run(),
              deps=[*LANDING_ASSETS, "anomaly_manifest", "baseline_profile"],
              description=f"A picture of the per-batch metrics the baseline profile tracks, measured on the landing "
                          f"files of {days[0]} … {days[-1]}: the baseline band (mean ± 3σ) in grey, planned "
                          f"anomalies in red, their side effects in orange. Written as PNG; the `timeline` "
                          f"metadata entry opens it.")
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        sources = LandingSources(store, scenario)
        present = [d for d in days if all(store.read_manifest(LANDING, name, partition=d.isoformat())
                                          for name in EVENTS)]
        if not present:
            raise dg.Failure(f"no landing day of {days[0]} … {days[-1]} is materialised yet; materialise the "
                             "landing assets for those days first")
        plans = [p for d in present for p in anomalies.planned(scenario, d)]
        # only the tables and columns the panels show: reading every landing table whole was most of the step
        reads = timeline_reads(list(timeline_marks(present, plans, sources.profile())))
        metrics = timeline_metrics(_read_shown(store, reads, present))
        panels = timeline_panels(present, metrics, sources.profile(), plans, REGIONS[scenario.region].currency)
        first_window_day = next((i for i, d in enumerate(present) if anomalies.window_day(scenario, d)), len(present))
        picture = render(panels, present, BATCHES_PER_DAY, first_window_day)
        written = store.write_file(REPORTS, "anomaly_timeline", "timeline.png", picture, scenario.content_hash)
        uri = f"{written.uri}/timeline.png"
        missing = sorted(set(days) - set(present))
        context.log.info(f"anomaly timeline of {len(present)} days, {len(panels)} panels: {uri}"
                         + (f" ({len(missing)} days not materialised yet)" if missing else ""))
        return dg.MaterializeResult(metadata={
            "timeline": dg.MetadataValue.md(f"![anomaly timeline](data:image/png;base64,"
                                            f"{base64.b64encode(picture).decode()})"),
            "dagster/uri": dg.MetadataValue.path(uri), "days": len(present),
            "days_missing": dg.MetadataValue.json([str(d) for d in missing]), "size_bytes": len(picture)})

    return _asset


def _read_shown(store: ObjectStore, reads: dict[str, list[str]], days: list[date]) -> dict[str, dict[date, pa.Table]]:
    """table -> day -> its landing partition with the `reads` columns. Several hundred small part files (eight a day
    a table): read on two threads, as a part is mostly Arrow's decoding and file reads, which release the GIL."""
    jobs = [(name, day, columns) for name, columns in reads.items() for day in days]
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        tables = list(pool.map(lambda job: store.read_table(LANDING, job[0], job[1].isoformat(), columns=job[2]),
                               jobs))
    found: dict[str, dict[date, pa.Table]] = {name: {} for name in reads}
    for (name, day, _), table in zip(jobs, tables):
        found[name][day] = table
    return found


class LandingSources:
    """What landing days read from storage, each partition read once per run."""

    def __init__(self, store: ObjectStore, scenario: Scenario):
        self.store, self.scenario = store, scenario
        self._cache: dict[tuple, pa.Table | None] = {}

    def _read(self, layer: str, table: str, day: date | None = None, required: bool = True,
              keep: bool = True) -> pa.Table | None:
        """A stored table; `keep` caches it (small tables several days need), else a day's table is read once."""
        key = (layer, table, day)
        if key in self._cache:
            return self._cache[key]
        try:
            found = self.store.read_table(layer, table, partition=day.isoformat() if day else None)
        except TableNotReady as missing:
            if required:
                when = f" for {day}" if day else ""
                raise dg.Failure(f"landing needs {table}{when}; materialise it first. ({missing})") from None
            found = None
        if keep:
            self._cache[key] = found
        return found

    def clean(self, day: date) -> dict[str, pa.Table]:
        return {"fraud_transactions": self._read("fraud", "fraud_transactions", day, keep=False),
                **{name: self._read("events", name, day, keep=name in ("applications", "new_accounts"))
                   for name in EVENTS}}

    def landing(self, day: date, name: str) -> pa.Table:
        return self._read(LANDING, name, day, keep=False)

    def profile(self) -> pa.Table:
        return self._read("reports", "baseline_profile")

    def context(self, day: date) -> anomalies.DayContext:
        def accounts():
            table = self._read("entities", "accounts")
            return table["account_id"], table["avg_balance"].to_numpy()

        return anomalies.day_context(self.scenario, day, self._clean_funnel, accounts)

    def _clean_funnel(self, table: str, day: date) -> pa.Table:
        """A day's clean funnel table: read when stored, else regenerated (the same rows), so a day's landing
        never waits for the days before it (a scheduled run materialises one day)."""
        stored = self._read("events", table, day, required=False)
        if stored is None:
            key = ("events", table, day)
            stored = self._cache[key] = dict(funnel_days(self.scenario, [day]))[day][table]
        return stored
