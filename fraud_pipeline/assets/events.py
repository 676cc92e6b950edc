"""The `events` group: daily partitions of normal life, written one day at a time.

Every daily asset runs a whole partition range in one run (single-run backfills) and works from
`context.partition_keys`, so one day and a range execute the same code. Checks are computed on
each day before it is published (a day that fails one is written without a manifest) and reported
once per run, naming the days that fail.
"""

from datetime import date, timedelta

import dagster as dg
import pyarrow as pa

from fraud_pipeline import daily_checks, schemas
from fraud_pipeline.assets.daily import check_results, check_specs, run_metadata, withheld, write_day
from fraud_pipeline.assets.metadata import definition_metadata
from fraud_pipeline.generators.card_transactions import card_transactions, card_world
from fraud_pipeline.generators.funnel import STAGES, funnel_days, lookback_days
from fraud_pipeline.partitions import as_days
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore

GROUP = LAYER = "events"
CARD_INPUTS = ("customers", "accounts", "cards", "merchants", "account_beneficiaries", "devices", "beneficiaries")


def card_transactions_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    spec = schemas.CARD_TRANSACTIONS

    @dg.asset(name=spec.name, group_name=GROUP, kinds=kinds, description=spec.description,
              partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
              deps=list(CARD_INPUTS), metadata=definition_metadata(spec),
              check_specs=check_specs(spec.name, daily_checks.CARD_CHECKS))
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore) -> dg.MaterializeResult:
        entities = {name: store.read_table("entities", name) for name in CARD_INPUTS}
        world = card_world(scenario, entities["customers"], entities["accounts"], entities["cards"],
                           entities["merchants"], entities["account_beneficiaries"])
        days = as_days(context.partition_keys)
        written, findings = {}, {}
        for number, day in enumerate(days, start=1):
            table = card_transactions(scenario, world, day)
            findings[day] = daily_checks.card_findings(scenario, table, day, entities)
            written[day] = write_day(store, LAYER, spec.name, table, scenario, day, findings[day])
            context.log.info(f"{spec.name} {day}: {table.num_rows:,} rows written to {written[day].uri} "
                             f"(day {number} of {len(days)})")
        withheld(context, spec.name, written)
        return dg.MaterializeResult(metadata=run_metadata(written, table, scenario),
                                    check_results=check_results(spec.name, findings))

    return _asset


def web_funnel_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    specs = [schemas.TABLES[stage] for stage in STAGES]
    funnel_checks = [spec for table in specs for spec in check_specs(table.name, daily_checks.FUNNEL_CHECKS)]
    funnel_checks += check_specs("new_account_transactions", daily_checks.FUNNEL_ORDER_CHECK)

    @dg.multi_asset(
        name="web_funnel", group_name=GROUP, partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[dg.AssetSpec(t.name, description=t.description, metadata=definition_metadata(t), kinds=kinds,
                            deps=[STAGES[i - 1]] if i else []) for i, t in enumerate(specs)],
        check_specs=funnel_checks)
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore):
        days = as_days(context.partition_keys)
        written = {t.name: {} for t in specs}
        findings = {t.name: {} for t in specs}
        earlier = _stored_funnel_before(store, scenario, days[0])
        last = {}
        for number, (day, tables) in enumerate(funnel_days(scenario, days), start=1):
            order = daily_checks.funnel_order_findings(tables, earlier)
            for spec in specs:
                table = last[spec.name] = tables[spec.name]
                findings[spec.name][day] = daily_checks.funnel_findings(scenario, table, day, spec)
                if spec.name == "new_account_transactions":
                    findings[spec.name][day]["funnel_order"] = order
                written[spec.name][day] = write_day(store, LAYER, spec.name, table, scenario, day,
                                                    findings[spec.name][day])
            earlier = {stage: [*earlier.get(stage, []), tables[stage]][-lookback_days(scenario):] for stage in STAGES}
            context.log.info(f"web funnel {day}: " + ", ".join(f"{t.num_rows:,} {name}" for name, t in tables.items())
                             + f" (day {number} of {len(days)})")
        for spec in specs:
            withheld(context, spec.name, written[spec.name])
            yield dg.MaterializeResult(asset_key=spec.name,
                                       metadata=run_metadata(written[spec.name], last[spec.name], scenario))
            yield from check_results(spec.name, findings[spec.name])

    return _asset


def _stored_funnel_before(store: ObjectStore, scenario: Scenario, first: date) -> dict[str, list[pa.Table]]:
    """The stored funnel partitions of the look-back days before `first`, by stage (absent days are skipped)."""
    earlier = [first - timedelta(days=back) for back in range(lookback_days(scenario), 0, -1)]
    window = [d for d in earlier if d >= scenario.start_date]
    return {stage: [store.read_table(LAYER, stage, partition=d.isoformat()) for d in window
                    if store.read_manifest(LAYER, stage, partition=d.isoformat())] for stage in STAGES}
