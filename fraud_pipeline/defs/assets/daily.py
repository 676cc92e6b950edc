"""What every daily asset shares: writing a day, the metadata of a run, checks reported per day."""

from datetime import date

import dagster as dg
import pyarrow as pa

from fraud_pipeline.core.findings import Finding, Findings, passed, summary
from fraud_pipeline.defs.assets.metadata import materialization_metadata
from fraud_pipeline.io.storage import ObjectStore, WrittenTable, in_chunks
from fraud_pipeline.scenario import Scenario


def write_day(context: dg.AssetExecutionContext, store: ObjectStore, layer: str, name: str, table: pa.Table,
              scenario: Scenario, day: date, findings: Findings | None = None,
              metrics: dict | None = None) -> WrittenTable:
    """Write a day's partition (with `findings`, its blocking checks: published only if they all pass) and give
    that partition its own metadata in the run: row count, location, preview, and `metrics` (numbers a user
    charts over the partitions)."""
    written = store.write_table(layer, name, in_chunks(table), scenario.content_hash, partition=day.isoformat(),
                                publish=findings is None or passed(findings))
    partition_metadata(context, name, day, table, written, scenario, metrics)
    return written


def partition_metadata(context: dg.AssetExecutionContext, name: str, day: date, table: pa.Table,
                       written: WrittenTable, scenario: Scenario, metrics: dict | None = None) -> None:
    """The metadata of one partition of a run (a single-run range gives each partition its own)."""
    metadata = {**materialization_metadata(table, written, scenario.content_hash), **(metrics or {}),
                "published": written.published}
    context.add_asset_metadata(metadata, asset_key=name, partition_key=day.isoformat())


def withheld(context: dg.AssetExecutionContext, name: str, written: dict[date, WrittenTable]) -> None:
    """Say in the run's log which days failed a blocking check and were written without a manifest."""
    for day, w in written.items():
        if not w.published:
            context.log.warning(f"{name} {day} failed a blocking check: written to {w.uri} without a manifest, so "
                                "no reader takes it as complete")


def run_metadata(written: dict[date, WrittenTable], scenario: Scenario) -> dict:
    """What every partition of the run shares (each also has its own, from `write_day`)."""
    return {"scenario_hash": scenario.content_hash, "days_in_run": len(written),
            "rows_in_run": sum(w.rows for w in written.values())}


def check_results(asset: str, by_day: dict[date, Findings]) -> list[dg.AssetCheckResult]:
    """One result per check of `asset` over the run's days, naming each failing day and what failed there."""
    names = list(dict.fromkeys(name for findings in by_day.values() for name in findings))
    return [check_result(asset, name, {day: findings[name] for day, findings in by_day.items()}) for name in names]


def check_result(asset: str, name: str, findings_by_day: dict[date, list[Finding]]) -> dg.AssetCheckResult:
    failing = {day: [f for f in findings if not f.passed] for day, findings in findings_by_day.items()}
    failing = {day: found for day, found in failing.items() if found}
    description = (f"all rules hold on {len(findings_by_day)} day(s)" if not failing else
                   "; ".join(f"{day}: {summary(found)}" for day, found in failing.items())
                   + " — those days were not published (no manifest)")
    return dg.AssetCheckResult(asset_key=asset, check_name=name, passed=not failing, description=description,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"days_checked": len(findings_by_day),
                                         "failing_days": dg.MetadataValue.json([str(d) for d in failing])})


def check_specs(asset: str, names_and_descriptions: dict[str, str]) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)
            for name, description in names_and_descriptions.items()]
