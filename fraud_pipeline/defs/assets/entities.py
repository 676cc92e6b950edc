"""The `entities` group: one unpartitioned asset per entity table, in dependency order."""


import json

import dagster as dg

from fraud_pipeline.core import schemas
from fraud_pipeline.engine.entity_ranges import BY_BLOCK, write_entity_table
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, executor_session
from fraud_pipeline.core.findings import Expectation, summary
from fraud_pipeline.defs.assets.metadata import definition_metadata, materialization_metadata
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.checks import ENTITY_CHECKS, entity_expectations, entity_findings
from fraud_pipeline.world.entities import BUILDERS as ENTITY_TABLES

GROUP = "entities"


def _progress(context: dg.AssetExecutionContext):
    """Each range's task in the run log, as it finishes."""
    def progress(done: TaskDone) -> None:
        context.log.info(f"{done.label}: done in {done.seconds:.1f} s ({done.cpu_seconds or 0:.1f} CPU s) on "
                         f"{done.where}" + (f", attempt {done.attempt}" if (done.attempt or 1) > 1 else ""))
    return progress


def _entity_asset(scenario: Scenario, name: str, kinds: set[str],
                  expectations: dict[str, Expectation]) -> dg.AssetsDefinition:
    """One entity table; its checks run on the table before it is published, so a stored manifest means they passed.
    A customer's own tables (`engine.entity_ranges.BY_BLOCK`) are built by range of blocks where the `executor`
    resource says, each range from the stored ranges of the tables it is built from; the others whole.

    The key and foreign-key checks are blocking: a table that breaks one is written without a manifest and
    the tables built on it do not run. Foreign keys are checked against the referenced tables as stored.
    """
    build, upstream = ENTITY_TABLES[name]
    spec = schemas.TABLES[name]
    checks = {"primary_key_unique": f"{'+'.join(spec.primary_key)} is complete and unique."}
    if spec.foreign_keys:
        checks["foreign_keys_valid"] = "Every " + ", ".join(f"{fk.column} → {fk}" for fk in spec.foreign_keys) + \
            " resolves."
    if expectations:
        checks["values_in_range"] = ("Columns hold only values the scenario allows: "
                                     + "; ".join(f"{c} {e}" for c, e in expectations.items()))
    referenced = sorted({fk.table for fk in spec.foreign_keys} - {name})  # a renewal references its own table

    @dg.asset(name=name, group_name=GROUP, kinds=kinds, description=spec.description,
              deps=sorted(set(upstream) | set(referenced)), metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              check_specs=[dg.AssetCheckSpec(check, asset=name, description=description,
                                             blocking=ENTITY_CHECKS[check][1])
                           for check, description in checks.items()])
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore],
               executor: dg.ResourceParam[ExecutorSettings]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        if name in BY_BLOCK:  # a customer's own rows: by range of blocks, where the executor says
            with executor_session(executor):
                written, findings, table = write_entity_table(scenario, store, name, executor, _progress(context))
        else:
            stored = {table: store.read_table(GROUP, table) for table in sorted(set(upstream) | set(referenced))}
            table = build(scenario, *(stored[t] for t in upstream))
            findings = entity_findings(spec, table, {**stored, name: table}, expectations)
            blocking_passed = all(f.passed for check, found in findings.items() if ENTITY_CHECKS[check][1]
                                  for f in found)
            written = store.write_table(GROUP, name, table, scenario.content_hash, publish=blocking_passed)
        if written.published:
            context.log.info(f"{name}: wrote {written.rows:,} rows ({written.bytes:,} bytes) to {written.uri}")
        else:
            context.log.warning(f"{name} failed a blocking check: written to {written.uri} without a manifest, so "
                                "no reader takes it as complete")
        return dg.MaterializeResult(
            metadata=materialization_metadata(table, written, scenario.content_hash),
            check_results=[dg.AssetCheckResult(check_name=check, passed=all(f.passed for f in found),
                                               severity=dg.AssetCheckSeverity.ERROR,
                                               description=summary(found),
                                               metadata={f.rule: dg.MetadataValue.json(json.loads(json.dumps(
                                                   {"failing_rows": f.failures, "examples": f.examples},
                                                   default=str)))  # a failing date column's examples as text
                                                   for f in found})
                           for check, found in findings.items()])

    return _asset


def entity_assets(scenario: Scenario, kinds: set[str]) -> list[dg.AssetsDefinition]:
    expectations = entity_expectations(scenario)
    return [_entity_asset(scenario, name, kinds, expectations.get(name, {})) for name in ENTITY_TABLES]
