"""The `events` group: daily partitions of normal life, written one day at a time.

Every daily asset runs a whole partition range in one run (single-run backfills) and works from
`context.partition_keys`, so one day and a range execute the same code. Checks are computed on
each day before it is published (a day that fails one is written without a manifest) and reported
once per run, naming the days that fail.
"""

import time
from datetime import date, timedelta

import dagster as dg
import pyarrow as pa

from fraud_pipeline.aml.checks import AML_CHECKS
from fraud_pipeline.core import schemas
from fraud_pipeline.defs.assets.daily import (check_results, check_specs, partition_metadata, run_metadata,
                                               withheld, write_day)
from fraud_pipeline.defs.assets.metadata import definition_metadata
from fraud_pipeline.defs.partitions import as_days
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, executor_session
from fraud_pipeline.engine.ranges import DayOutcome, ensure_world, run_days, start_day
from fraud_pipeline.fraud.checks import FRAUD_CHECKS
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
              "fraud_transactions": FRAUD_GROUP, "fraud_episodes": FRAUD_GROUP, "aml_cases": FRAUD_GROUP,
              "aml_reports": FRAUD_GROUP}
CHECKS = {"card_transactions": CARD_CHECKS, "customer_events": CLICKSTREAM_CHECKS,
          "fraud_transactions": FRAUD_CHECKS, "aml_cases": AML_CHECKS}


def bank_day_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    """One step per day for the account activity of the bank: genuine life and fraud, authorised and posted.

    Each day is its fixed ranges of blocks of customers (`engine.ranges`), run where the `executor` resource says
    (in this process, a pool of processes, or Ray) from the state the day before stored; each range writes and
    checks its own rows, and the day's selected tables are published together — a table whose checks fail that day
    without a manifest. The state the next day starts from is always stored.
    """
    specs = [dg.AssetSpec(name, group_name=group, description=schemas.TABLES[name].description,
                          metadata=definition_metadata(schemas.TABLES[name]), kinds=kinds,
                          deps=list(WORLD_INPUTS) if name == "card_transactions" else ["card_transactions"])
             for name, group in DAY_TABLES.items()]
    checks = [spec for asset, found in CHECKS.items() for spec in check_specs(asset, found)]

    @dg.multi_asset(name="bank_day", partitions_def=partitions, specs=specs, check_specs=checks, can_subset=True,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore],
               executor: dg.ResourceParam[ExecutorSettings]):
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        days = as_days(context.partition_keys)
        written = {name: {} for name in DAY_TABLES}
        findings = {asset: {} for asset in CHECKS}
        places: dict[str, int] = {}

        def progress(done: TaskDone) -> None:
            if not done.label.startswith("world "):  # the days' tasks (the world's, once per scenario, are logged)
                places[done.where] = places.get(done.where, 0) + 1
            context.log.info(f"bank {done.label}: done in {done.seconds:.1f} s ({done.cpu_seconds:.1f} CPU s) on "
                             f"{done.where}" + (f", attempt {done.attempt}" if (done.attempt or 1) > 1 else ""))

        started = time.perf_counter()
        if stored := ensure_world(scenario, store, executor, progress):
            context.log.info(f"bank: built the bank's world (habits, payees, trips, what each account paid before) "
                             f"once for this scenario in {time.perf_counter() - started:.1f} s and stored it by file "
                             f"range ({stored / 1e6:.1f} MB); every later run's workers read their ranges of it")
        with executor_session(executor) as where:
            context.log.info(f"bank days on the {executor.kind} executor: {where}")
            walked = start_day(store, scenario, days[0], executor, progress)
            if walked:
                context.log.info(f"bank: walked {walked} day(s) before {days[0]} from the latest stored state (their "
                                 "state only)")
            outcomes = run_days(scenario, store, days, executor, tables=[n for n in DAY_TABLES if n in selected],
                                progress=progress)
            for number, outcome in enumerate(outcomes, start=1):
                for asset in CHECKS:
                    findings[asset][outcome.day] = outcome.findings[asset]
                for name in DAY_TABLES:
                    if name in selected:
                        written[name][outcome.day] = outcome.written[name]
                _day_done(context, scenario, outcome, selected, f"day {number} of {len(days)}")
        context.log.info(f"bank days: {sum(places.values())} range tasks ran on " + ", ".join(
            f"{where} ({count})" for where, count in sorted(places.items())))
        for name in DAY_TABLES:
            if name in selected:
                withheld(context, name, written[name])
                yield dg.MaterializeResult(asset_key=name, metadata=run_metadata(written[name], scenario))
        for asset in CHECKS:
            if asset in selected:
                yield from check_results(asset, findings[asset])

    return _asset


def _day_done(context: dg.AssetExecutionContext, scenario: Scenario, outcome: DayOutcome, selected: set[str],
              counted: str) -> None:
    """A day of the bank published: each selected table's partition metadata and a line in the run log."""
    day, rows = outcome.day, outcome.rows
    for name in DAY_TABLES:
        if name in selected:
            partition_metadata(context, name, day, outcome.previews[name], outcome.written[name], scenario,
                               {**outcome.metrics[name], "file_ranges": outcome.ranges, "blocks": outcome.blocks})
    context.log.info(f"bank {day}: {rows['card_transactions']:,} genuine rows "
                     f"({outcome.metrics['card_transactions']['declined_share']:.1%} declined), "
                     f"{rows['fraud_transactions']:,} fraud rows in {rows['fraud_episodes']:,} new episodes, "
                     f"{outcome.metrics['card_transactions']['laundering_rows']:,} laundering rows "
                     f"({rows['aml_cases']:,} new cases, {rows['aml_reports']:,} report rows), "
                     f"{rows['card_events']:,} card events, {rows['customer_events']:,} clickstream events "
                     f"from {outcome.blocks} blocks in {outcome.ranges} file ranges ({counted})")


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
