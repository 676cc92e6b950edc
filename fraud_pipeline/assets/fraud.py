"""The `fraud` group: each day's injected fraudulent transactions and its fraud episodes.

Episodes start from the clean transactions of a day and may run past midnight, so a day reads
its own clean partition and the one before (a time-window dependency), never another day's output.
"""

from datetime import date, timedelta

import dagster as dg
import pyarrow as pa

from fraud_pipeline import daily_checks, schemas
from fraud_pipeline.assets.daily import check_results, check_specs, run_metadata, withheld, write_day
from fraud_pipeline.assets.metadata import definition_metadata
from fraud_pipeline.generators.card_transactions import card_transactions, card_world
from fraud_pipeline.generators.fraud import ANCHOR_COLUMNS, fraud_world, inject
from fraud_pipeline.partitions import as_days
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore, TableNotReady

GROUP = LAYER = "fraud"
ENTITY_INPUTS = ("customers", "accounts", "cards", "merchants", "account_beneficiaries", "devices", "beneficiaries")


def fraud_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    clean_and_day_before = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0,
                                                         allow_nonexistent_upstream_partitions=True)
    deps = [dg.AssetDep("card_transactions", partition_mapping=clean_and_day_before), *ENTITY_INPUTS]
    specs = [dg.AssetSpec(t.name, description=t.description, metadata=definition_metadata(t), kinds=kinds,
                          deps=deps if t is schemas.FRAUD_TRANSACTIONS else ["fraud_transactions"])
             for t in (schemas.FRAUD_TRANSACTIONS, schemas.FRAUD_EPISODES)]

    @dg.multi_asset(name="fraud_injection", group_name=GROUP, partitions_def=partitions, specs=specs,
                    backfill_policy=dg.BackfillPolicy.single_run(),
                    check_specs=check_specs("fraud_transactions", daily_checks.FRAUD_CHECKS))
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore):
        entities = {name: store.read_table("entities", name) for name in ENTITY_INPUTS}
        cards = card_world(scenario, entities["customers"], entities["accounts"], entities["cards"],
                           entities["merchants"], entities["account_beneficiaries"])
        world = fraud_world(scenario, cards, entities["customers"], entities["accounts"], entities["devices"],
                            entities["beneficiaries"])
        days = as_days(context.partition_keys)
        written = {name: {} for name in ("fraud_transactions", "fraud_episodes")}
        findings = {}
        before, episodes_before = _day_before(store, scenario, cards, world, days[0])
        for number, day in enumerate(days, start=1):
            clean = _clean(store, day)
            fraud, episodes = inject(scenario, world, day, clean, before)
            findings[day] = daily_checks.fraud_findings(scenario, fraud, episodes, clean, before, episodes_before)
            for name, table in (("fraud_transactions", fraud), ("fraud_episodes", episodes)):
                written[name][day] = write_day(store, LAYER, name, table, scenario, day, findings[day])
            context.log.info(f"fraud {day}: {fraud.num_rows:,} fraudulent rows in {episodes.num_rows:,} new episodes "
                             f"({fraud.num_rows / max(clean.num_rows, 1):.3%} of {clean.num_rows:,}) "
                             f"(day {number} of {len(days)})")
            before, episodes_before = clean, episodes
        for name, table in (("fraud_transactions", fraud), ("fraud_episodes", episodes)):
            withheld(context, name, written[name])
            yield dg.MaterializeResult(asset_key=name, metadata=run_metadata(written[name], table, scenario))
        yield from check_results("fraud_transactions", findings)

    return _asset


def _clean(store: ObjectStore, day: date) -> pa.Table:
    """A day's clean transactions (the columns episodes start from)."""
    try:
        return store.read_table("events", "card_transactions", partition=day.isoformat(), columns=ANCHOR_COLUMNS)
    except TableNotReady as missing:
        raise dg.Failure(f"fraud for {day} needs that day's card_transactions; materialise card_transactions for "
                         f"{day} first. ({missing})") from None


def _day_before(store: ObjectStore, scenario: Scenario, cards, world, day: date) -> tuple[pa.Table | None, pa.Table | None]:
    """The clean transactions and episodes of the day before `day` (episodes run past midnight): read when
    stored, else regenerated from their seeds — the same rows — so a day never waits for the one before it
    (a scheduled run materialises one day). None before the calendar starts."""
    before = day - timedelta(days=1)
    if before < scenario.start_date:
        return None, None
    if store.read_manifest(LAYER, "fraud_episodes", partition=before.isoformat()) is not None:
        return _clean(store, before), store.read_table(LAYER, "fraud_episodes", partition=before.isoformat())
    clean = card_transactions(scenario, cards, before).select(ANCHOR_COLUMNS)
    earlier = before - timedelta(days=1)
    anchors = card_transactions(scenario, cards, earlier).select(ANCHOR_COLUMNS) \
        if earlier >= scenario.start_date else None
    return clean, inject(scenario, world, before, clean, anchors)[1]
