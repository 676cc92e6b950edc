"""The `events` group: daily partitions of normal life, written one day at a time.

Every daily asset runs a whole partition range in one run (single-run backfills) and works from
`context.partition_keys`, so one day and a range execute the same code. Checks are computed on
each day before it is published (a day that fails one is written without a manifest) and reported
once per run, naming the days that fail.
"""

from datetime import date, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.defs import partition_metrics
from fraud_pipeline.defs.assets.daily import check_results, check_specs, run_metadata, withheld, write_day
from fraud_pipeline.defs.assets.metadata import definition_metadata
from fraud_pipeline.defs.partitions import as_days
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.state_store import load_state, save_state
from fraud_pipeline.fraud.checks import FRAUD_CHECKS, fraud_findings
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.life.checks import (CLICKSTREAM_CHECKS, FUNNEL_CHECKS, FUNNEL_ORDER_CHECK, funnel_findings,
                                        funnel_order_findings)
from fraud_pipeline.life.funnel import STAGES, funnel_days, lookback_days
from fraud_pipeline.money.checks import CARD_CHECKS
from fraud_pipeline.scenario import Scenario

GROUP = LAYER = "events"
FRAUD_GROUP = "fraud"
WORLD_INPUTS = ("customers", "devices", "accounts", "cards", "beneficiaries", "account_beneficiaries", "merchants",
                "customer_merchants")
DAY_TABLES = {"card_transactions": GROUP, "account_balances": GROUP, "card_events": GROUP, "customer_events": GROUP,
              "fraud_transactions": FRAUD_GROUP, "fraud_episodes": FRAUD_GROUP}
CHECKS = {"card_transactions": CARD_CHECKS, "customer_events": CLICKSTREAM_CHECKS,
          "fraud_transactions": FRAUD_CHECKS}


def bank_day_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    """One step per day for the account activity of the bank: genuine life and fraud, authorised and posted.

    The day is simulated whole (its balances need every row), from the state the day before ended in (stored, or
    recomputed from the latest stored state); then the selected tables are written, each day checked before it
    is published, and the state the next day starts from is stored.
    """
    specs = [dg.AssetSpec(name, group_name=group, description=schemas.TABLES[name].description,
                          metadata=definition_metadata(schemas.TABLES[name]), kinds=kinds,
                          deps=list(WORLD_INPUTS) if name == "card_transactions" else ["card_transactions"])
             for name, group in DAY_TABLES.items()]
    checks = [spec for asset, found in CHECKS.items() for spec in check_specs(asset, found)]

    @dg.multi_asset(name="bank_day", partitions_def=partitions, specs=specs, check_specs=checks, can_subset=True,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]):
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        entities = {name: store.read_table("entities", name) for name in WORLD_INPUTS}
        bank = Bank(scenario, entities, stored_state=lambda day: load_state(store, scenario, day))
        days = as_days(context.partition_keys)
        written = {name: {} for name in DAY_TABLES}
        findings = {asset: {} for asset in CHECKS}
        before = _day_before(store, bank, days[0])
        for number, day in enumerate(days, start=1):
            result = bank.day(day)
            tables = {"card_transactions": result.transactions, "account_balances": result.account_balances,
                      "card_events": result.card_events, "customer_events": result.customer_events,
                      "fraud_transactions": result.fraud_transactions, "fraud_episodes": result.fraud_episodes}
            findings["card_transactions"][day] = bank.day_findings(day)
            findings["customer_events"][day] = bank.clickstream_findings(day)
            findings["fraud_transactions"][day] = fraud_findings(
                scenario, result.fraud_transactions, result.fraud_episodes, result.transactions, before[0],
                before[1], day, result.account_balances)
            publish = {"card_transactions": findings["card_transactions"][day],
                       "account_balances": findings["card_transactions"][day],
                       "card_events": findings["card_transactions"][day],
                       "customer_events": findings["customer_events"][day],
                       "fraud_transactions": findings["fraud_transactions"][day],
                       "fraud_episodes": findings["fraud_transactions"][day]}
            metrics = {"card_transactions": partition_metrics.transactions(result.transactions),
                       "account_balances": partition_metrics.balances(result.account_balances),
                       "card_events": partition_metrics.card_events(result.card_events),
                       "customer_events": partition_metrics.customer_events(result.customer_events),
                       "fraud_transactions": partition_metrics.fraud(result.fraud_transactions,
                                                                     result.transactions.num_rows),
                       "fraud_episodes": partition_metrics.episodes(result.fraud_episodes)}
            for name in DAY_TABLES:
                if name in selected:
                    written[name][day] = write_day(context, store, LAYER if DAY_TABLES[name] == GROUP else FRAUD_GROUP,
                                                   name, tables[name], scenario, day, publish[name], metrics[name])
            save_state(store, scenario, result.state)
            context.log.info(f"bank {day}: {result.transactions.num_rows:,} genuine rows "
                             f"({_declined(result.transactions):,} declined), {result.fraud_transactions.num_rows:,} "
                             f"fraud rows in {result.fraud_episodes.num_rows:,} new episodes, "
                             f"{result.card_events.num_rows:,} card events, {result.customer_events.num_rows:,} "
                             f"clickstream events (day {number} of {len(days)})")
            before = (result.transactions, result.fraud_episodes)
        for name in DAY_TABLES:
            if name in selected:
                withheld(context, name, written[name])
                yield dg.MaterializeResult(asset_key=name, metadata=run_metadata(written[name], scenario))
        for asset in CHECKS:
            if asset in selected:
                yield from check_results(asset, findings[asset])

    return _asset


def _declined(table: pa.Table) -> int:
    return int(pc.sum(pc.equal(table["status"], "declined")).as_py() or 0)


def _day_before(store: ObjectStore, bank: Bank, day: date) -> tuple[pa.Table | None, pa.Table | None]:
    """The genuine transactions and episodes of the day before `day` (its checks read them): stored, or computed.
    None before the calendar starts."""
    before = day - timedelta(days=1)
    if before < bank.scenario.start_date:
        return None, None
    if all(store.read_manifest(layer, name, partition=before.isoformat())
           for layer, name in (("events", "card_transactions"), ("fraud", "fraud_episodes"))):
        return (store.read_table("events", "card_transactions", partition=before.isoformat()),
                store.read_table("fraud", "fraud_episodes", partition=before.isoformat()))
    found = bank.day(before)
    return found.transactions, found.fraud_episodes


def web_funnel_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    specs = [schemas.TABLES[stage] for stage in STAGES]
    funnel_checks = [spec for table in specs for spec in check_specs(table.name, FUNNEL_CHECKS)]
    funnel_checks += check_specs("new_account_transactions", FUNNEL_ORDER_CHECK)

    @dg.multi_asset(
        name="web_funnel", group_name=GROUP, partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[dg.AssetSpec(t.name, description=t.description, metadata=definition_metadata(t), kinds=kinds,
                            deps=[STAGES[i - 1]] if i else []) for i, t in enumerate(specs)],
        check_specs=funnel_checks)
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]):
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        days = as_days(context.partition_keys)
        written = {t.name: {} for t in specs}
        findings = {t.name: {} for t in specs}
        earlier = _stored_funnel_before(store, scenario, days[0])
        for number, (day, tables) in enumerate(funnel_days(scenario, days), start=1):
            order = funnel_order_findings(tables, earlier)
            for spec in specs:
                table = tables[spec.name]
                findings[spec.name][day] = funnel_findings(scenario, table, day, spec)
                if spec.name == "new_account_transactions":
                    findings[spec.name][day]["funnel_order"] = order
                written[spec.name][day] = write_day(context, store, LAYER, spec.name, table, scenario, day,
                                                    findings[spec.name][day])
            earlier = {stage: [*earlier.get(stage, []), tables[stage]][-lookback_days(scenario):] for stage in STAGES}
            context.log.info(f"web funnel {day}: " + ", ".join(f"{t.num_rows:,} {name}" for name, t in tables.items())
                             + f" (day {number} of {len(days)})")
        for spec in specs:
            withheld(context, spec.name, written[spec.name])
            yield dg.MaterializeResult(asset_key=spec.name, metadata=run_metadata(written[spec.name], scenario))
            yield from check_results(spec.name, findings[spec.name])

    return _asset


def _stored_funnel_before(store: ObjectStore, scenario: Scenario, first: date) -> dict[str, list[pa.Table]]:
    """The stored funnel partitions of the look-back days before `first`, by stage (absent days are skipped)."""
    earlier = [first - timedelta(days=back) for back in range(lookback_days(scenario), 0, -1)]
    window = [d for d in earlier if d >= scenario.start_date]
    return {stage: [store.read_table(LAYER, stage, partition=d.isoformat()) for d in window
                    if store.read_manifest(LAYER, stage, partition=d.isoformat())] for stage in STAGES}
