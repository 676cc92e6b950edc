"""The `events` group: daily partitions of normal life, written one day at a time.

Every daily asset runs a whole partition range in one run (single-run backfills) and works from
`context.partition_keys`, so one day and a range execute the same code. Checks are computed on
each day as it is written and reported once per run, naming the days that fail.
"""

from datetime import date, timedelta

import dagster as dg
import pyarrow as pa

from fraud_pipeline import quality, schemas
from fraud_pipeline.assets.daily import check_result, check_specs, run_metadata, write_day
from fraud_pipeline.assets.metadata import definition_metadata
from fraud_pipeline.generators.card_transactions import card_transactions, card_world
from fraud_pipeline.generators.funnel import STAGES, funnel_days, lookback_days
from fraud_pipeline.partitions import as_days
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore

GROUP = LAYER = "events"
FUNNEL_LINKS = (("applications", "visitor_id", "web_visits"), ("new_accounts", "app_id", "applications"),
                ("new_account_transactions", "account_id", "new_accounts"))
CARD_INPUTS = ("customers", "accounts", "cards", "merchants", "account_beneficiaries", "devices", "beneficiaries")


def _time_findings(table: pa.Table, day: date, lag) -> list[quality.Finding]:
    return quality.event_time_findings(table, day, round(lag.max * 1000))


def card_transactions_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    spec = schemas.CARD_TRANSACTIONS
    lag = scenario.card_transactions.arrival_lag_seconds
    checks = {"transaction_id_unique": "transaction_id is complete and unique.",
              "foreign_keys_valid": "Every card, account, customer, merchant, beneficiary and device exists.",
              "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch."}

    @dg.asset(name=spec.name, group_name=GROUP, kinds=kinds, description=spec.description,
              partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
              deps=list(CARD_INPUTS), metadata=definition_metadata(spec),
              check_specs=check_specs(spec.name, checks))
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore) -> dg.MaterializeResult:
        entities = {name: store.read_table("entities", name) for name in CARD_INPUTS}
        world = card_world(scenario, entities["customers"], entities["accounts"], entities["cards"],
                           entities["merchants"], entities["account_beneficiaries"])
        days = as_days(context.partition_keys)
        written, findings = {}, {name: {} for name in checks}
        for number, day in enumerate(days, start=1):
            table = card_transactions(scenario, world, day)
            written[day] = write_day(store, LAYER, spec.name, table, scenario, day)
            findings["transaction_id_unique"][day] = quality.key_findings(table, spec.primary_key)
            findings["foreign_keys_valid"][day] = [
                quality.foreign_key_finding(table[fk.column].drop_null(), entities[fk.table][fk.ref_column],
                                            f"{fk.column} → {fk.table}.{fk.ref_column}")
                for fk in spec.foreign_keys]
            findings["times_in_partition_day"][day] = _time_findings(table, day, lag)
            context.log.info(f"{spec.name} {day}: {table.num_rows:,} rows written to {written[day].uri} "
                             f"(day {number} of {len(days)})")
        return dg.MaterializeResult(
            metadata=run_metadata(written, table, scenario),
            check_results=[check_result(spec.name, name, by_day) for name, by_day in findings.items()])

    return _asset


def web_funnel_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    specs = [schemas.TABLES[stage] for stage in STAGES]
    lag = scenario.web_funnel.arrival_lag_seconds
    funnel_checks = [spec for table in specs for spec in check_specs(table.name, {
        "id_unique": f"{table.primary_key[0]} is complete and unique.",
        "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
    })]
    funnel_checks += check_specs("new_account_transactions", {
        "funnel_order": "Each stage happens after the one before it: visit < application < opening < first "
                        "transaction (checked against the stored partitions of the earlier stages)."})

    @dg.multi_asset(
        name="web_funnel", group_name=GROUP, partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[dg.AssetSpec(t.name, description=t.description, metadata=definition_metadata(t), kinds=kinds,
                            deps=[STAGES[i - 1]] if i else []) for i, t in enumerate(specs)],
        check_specs=funnel_checks)
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore):
        days = as_days(context.partition_keys)
        written = {t.name: {} for t in specs}
        findings = {(t.name, check): {} for t in specs for check in ("id_unique", "times_in_partition_day")}
        last = {}
        for number, (day, tables) in enumerate(funnel_days(scenario, days), start=1):
            for spec in specs:
                table = last[spec.name] = tables[spec.name]
                written[spec.name][day] = write_day(store, LAYER, spec.name, table, scenario, day)
                findings[(spec.name, "id_unique")][day] = quality.key_findings(table, spec.primary_key)
                findings[(spec.name, "times_in_partition_day")][day] = _time_findings(table, day, lag)
            context.log.info(f"web funnel {day}: " + ", ".join(f"{t.num_rows:,} {name}" for name, t in tables.items())
                             + f" (day {number} of {len(days)})")
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.name,
                                       metadata=run_metadata(written[spec.name], last[spec.name], scenario))
        for (name, check), by_day in findings.items():
            yield check_result(name, check, by_day)
        yield check_result("new_account_transactions", "funnel_order", _funnel_order(store, scenario, days))

    return _asset


def _funnel_order(store: ObjectStore, scenario: Scenario, days: list[date]) -> dict[date, list[quality.Finding]]:
    """Each day's rows against their parents, in whichever stored partitions the parents are."""
    earlier = [min(days) - timedelta(days=back) for back in range(lookback_days(scenario), 0, -1)]
    window = [d for d in earlier + days if d >= scenario.start_date]
    stored = {stage: [store.read_table(LAYER, stage, partition=d.isoformat()) for d in window
                      if store.read_manifest(LAYER, stage, partition=d.isoformat())] for stage in STAGES}
    result = {}
    for day in days:
        result[day] = []
        for child, key, parent in FUNNEL_LINKS:
            if stored[parent]:
                children = store.read_table(LAYER, child, partition=day.isoformat())
                result[day].append(quality.order_finding(children, pa.concat_tables(stored[parent]), key,
                                                         f"{parent} happen before their {child}"))
    return result
