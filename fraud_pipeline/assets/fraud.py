"""The `fraud` group: each day's injected fraudulent transactions and its fraud episodes.

Episodes start from the clean transactions of a day and may run past midnight, so a day reads
its own clean partition and the one before (a time-window dependency), never another day's output.
"""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline import quality, schemas
from fraud_pipeline.assets.daily import check_result, check_specs, run_metadata, write_day
from fraud_pipeline.assets.metadata import definition_metadata
from fraud_pipeline.generators.card_transactions import card_transactions, card_world
from fraud_pipeline.generators.fraud import (ANCHOR_COLUMNS, SCENARIOS, fraud_world, inject, km_between,
                                             rows_per_episode)
from fraud_pipeline.partitions import as_days
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore, TableNotReady

GROUP = LAYER = "fraud"
ENTITY_INPUTS = ("customers", "accounts", "cards", "merchants", "account_beneficiaries", "devices", "beneficiaries")
CHECKS = {
    "fraud_rate_within_tolerance": "Each scenario's share of the day's transactions is within tolerance of its rate.",
    "chain_gaps_and_lengths": "Card fraud chains keep their gap (seconds) and length bounds.",
    "atm_abroad_impossible_travel": "Each ATM-abroad withdrawal is at least min_distance_km from the card's previous "
                                    "withdrawal, within delay_hours of it.",
    "labels_agree_with_episodes": "Every fraud row's episode exists with the same scenario and card, and no episode "
                                  "has more rows or amount than its record says.",
}


def fraud_asset(scenario: Scenario, partitions: dg.PartitionsDefinition, kinds: set[str]):
    clean_and_day_before = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0,
                                                         allow_nonexistent_upstream_partitions=True)
    deps = [dg.AssetDep("card_transactions", partition_mapping=clean_and_day_before), *ENTITY_INPUTS]
    specs = [dg.AssetSpec(t.name, description=t.description, metadata=definition_metadata(t), kinds=kinds,
                          deps=deps if t is schemas.FRAUD_TRANSACTIONS else ["fraud_transactions"])
             for t in (schemas.FRAUD_TRANSACTIONS, schemas.FRAUD_EPISODES)]

    @dg.multi_asset(name="fraud_injection", group_name=GROUP, partitions_def=partitions, specs=specs,
                    backfill_policy=dg.BackfillPolicy.single_run(),
                    check_specs=check_specs("fraud_transactions", CHECKS))
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore):
        entities = {name: store.read_table("entities", name) for name in ENTITY_INPUTS}
        cards = card_world(scenario, entities["customers"], entities["accounts"], entities["cards"],
                           entities["merchants"], entities["account_beneficiaries"])
        world = fraud_world(scenario, cards, entities["customers"], entities["accounts"], entities["devices"],
                            entities["beneficiaries"])
        days = as_days(context.partition_keys)
        written = {name: {} for name in ("fraud_transactions", "fraud_episodes")}
        findings = {name: {} for name in CHECKS}
        before, episodes_before = _day_before(store, scenario, cards, world, days[0])
        for number, day in enumerate(days, start=1):
            clean = _clean(store, day)
            fraud, episodes = inject(scenario, world, day, clean, before)
            written["fraud_transactions"][day] = write_day(store, LAYER, "fraud_transactions", fraud, scenario, day)
            written["fraud_episodes"][day] = write_day(store, LAYER, "fraud_episodes", episodes, scenario, day)
            findings["fraud_rate_within_tolerance"][day] = rate_findings(scenario, fraud, clean.num_rows)
            findings["chain_gaps_and_lengths"][day] = chain_findings(scenario, fraud, episodes)
            findings["atm_abroad_impossible_travel"][day] = abroad_findings(scenario, fraud, clean, before)
            findings["labels_agree_with_episodes"][day] = label_findings(fraud, episodes, episodes_before)
            context.log.info(f"fraud {day}: {fraud.num_rows:,} fraudulent rows in {episodes.num_rows:,} new episodes "
                             f"({fraud.num_rows / max(clean.num_rows, 1):.3%} of {clean.num_rows:,}) "
                             f"(day {number} of {len(days)})")
            before, episodes_before = clean, episodes
        yield dg.MaterializeResult(asset_key="fraud_transactions", metadata=run_metadata(
            written["fraud_transactions"], fraud, scenario))
        yield dg.MaterializeResult(asset_key="fraud_episodes", metadata=run_metadata(
            written["fraud_episodes"], episodes, scenario))
        for name, by_day in findings.items():
            yield check_result("fraud_transactions", name, by_day)

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


def rate_findings(scenario: Scenario, fraud: pa.Table, clean_rows: int) -> list[quality.Finding]:
    """Rows per scenario against rate × clean rows, within 5 standard deviations of clustered episodes."""
    observed = pd.Series(fraud["fraud_scenario"].to_pylist()).value_counts()
    findings = []
    for name in SCENARIOS:
        config = getattr(scenario.fraud, name)
        per_episode = rows_per_episode(scenario, name)
        expected = config.rate * clean_rows if config.enabled else 0.0
        tolerance = 5 * np.sqrt(expected * per_episode) + per_episode
        rows = int(observed.get(name, 0))
        findings.append(quality.Finding(f"{name}: {rows} rows, expected {expected:.1f} ± {tolerance:.1f}",
                                        int(abs(rows - expected) > tolerance), []))
    return findings


def chain_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table) -> list[quality.Finding]:
    config = scenario.fraud.card_fraud_chain
    rows = fraud.filter(pc.equal(fraud["fraud_scenario"], "card_fraud_chain")).to_pandas()
    rows = rows.sort_values(["fraud_episode_id", "event_time"])
    same = rows["fraud_episode_id"].eq(rows["fraud_episode_id"].shift())
    gaps = rows["event_time"].diff().dt.total_seconds()[same]
    bad_gaps = gaps[(gaps < config.gap_seconds.min - 0.001) | (gaps > config.gap_seconds.max + 0.001)]
    chains = episodes.filter(pc.equal(episodes["scenario"], "card_fraud_chain"))["transactions"].to_numpy()
    too_long = rows.groupby("fraud_episode_id").size() > config.length.max
    return [
        quality.Finding(f"gaps within {config.gap_seconds.min}–{config.gap_seconds.max} s", len(bad_gaps),
                        bad_gaps.round(3).tolist()[:5]),
        quality.Finding(f"episode lengths within {config.length.min}–{config.length.max}",
                        int(((chains < config.length.min) | (chains > config.length.max)).sum()) + int(too_long.sum()),
                        []),
    ]


def abroad_findings(scenario: Scenario, fraud: pa.Table, clean: pa.Table,
                    before: pa.Table | None) -> list[quality.Finding]:
    """Against the card's previous withdrawal, found in the clean data of the day and the day before."""
    config = scenario.fraud.atm_abroad
    abroad = fraud.filter(pc.equal(fraud["fraud_scenario"], "atm_abroad")).select(
        ["card_number", "event_time", "lat", "lon"]).to_pandas()
    withdrawals = pd.concat([t.filter(pc.equal(t["channel"], "atm")).select(["card_number", "event_time", "lat", "lon"])
                             .to_pandas() for t in (before, clean) if t is not None])
    previous = pd.merge_asof(
        abroad.sort_values("event_time"),
        withdrawals.rename(columns={"event_time": "home_time", "lat": "home_lat", "lon": "home_lon"}).sort_values(
            "home_time"),
        left_on="event_time", right_on="home_time", by="card_number", allow_exact_matches=False)
    hours = (previous["event_time"] - previous["home_time"]).dt.total_seconds() / 3600
    distance = km_between(previous["lat"], previous["lon"], previous["home_lat"], previous["home_lon"])
    return [quality.Finding(f"≥ {config.min_distance_km:g} km from the previous withdrawal",
                            int((~(distance >= config.min_distance_km)).sum()), []),
            quality.Finding(f"within {config.delay_hours.max:g} h of it",
                            int((~(hours <= config.delay_hours.max + 1e-6)).sum()), [])]


def label_findings(fraud: pa.Table, episodes: pa.Table, episodes_before: pa.Table | None) -> list[quality.Finding]:
    known = pa.concat_tables([t for t in (episodes_before, episodes) if t is not None]).to_pandas()
    rows = fraud.to_pandas()
    joined = rows.merge(known, left_on="fraud_episode_id", right_on="episode_id", how="left",
                        suffixes=("", "_episode"))
    unknown = joined["episode_id"].isna()
    mismatch = ~unknown & ((joined["fraud_scenario"] != joined["scenario"])
                           | (joined["card_number"] != joined["card_number_episode"]))
    per_episode = rows.groupby("fraud_episode_id").agg(n=("amount", "size"), total=("amount", "sum"))
    record = known.set_index("episode_id").reindex(per_episode.index)
    over = (per_episode["n"] > record["transactions"]) | (per_episode["total"] > record["total_amount"] + 0.01)
    return [quality.Finding("every fraud row's episode is recorded (this day or the day before)", int(unknown.sum()),
                            joined.loc[unknown, "fraud_episode_id"].head(5).tolist()),
            quality.Finding("rows agree with their episode's scenario and card", int(mismatch.sum()), []),
            quality.Finding("no episode has more rows or amount than recorded", int(over.sum()), [])]
