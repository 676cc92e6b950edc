"""The rules behind every asset's blocking checks, as pure functions of the tables a run produces.

Assets compute them on a table before they publish it (a table whose blocking rule fails is written
without a manifest), and tests and the Python API call the same functions. Each function returns
{check name: findings}; a check passes when all its findings pass. No Dagster here.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline import quality, schemas
from fraud_pipeline.generators.fraud import SCENARIOS, expected_fraud_rows, km_between
from fraud_pipeline.quality import Finding
from fraud_pipeline.scenario import Scenario

Findings = dict[str, list[Finding]]

ENTITY_CHECKS = {  # name -> (description, blocking)
    "primary_key_unique": ("The primary key is complete and unique.", True),
    "foreign_keys_valid": ("Every foreign key resolves.", True),
    "values_in_range": ("Columns hold only values the scenario allows.", False),
}
CARD_CHECKS = {
    "transaction_id_unique": "transaction_id is complete and unique.",
    "foreign_keys_valid": "Every card, account, customer, merchant, beneficiary and device exists.",
    "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
}
FUNNEL_CHECKS = {
    "id_unique": "The table's id is complete and unique.",
    "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
}
FUNNEL_ORDER_CHECK = {
    "funnel_order": "Each stage happens after the one before it: visit < application < opening < first transaction "
                    "(checked against the earlier stages of this run and the stored days before it)."}
FUNNEL_LINKS = (("applications", "visitor_id", "web_visits"), ("new_accounts", "app_id", "applications"),
                ("new_account_transactions", "account_id", "new_accounts"))
FRAUD_CHECKS = {
    "fraud_rate_within_tolerance": "Each scenario's share of the day's transactions is within tolerance of its rate.",
    "chain_gaps_and_lengths": "Card fraud chains keep their gap (seconds) and length bounds.",
    "atm_abroad_impossible_travel": "Each ATM-abroad withdrawal is at least min_distance_km from the card's previous "
                                    "withdrawal, within delay_hours of it.",
    "labels_agree_with_episodes": "Every fraud row's episode exists with the same scenario and card, and no episode "
                                  "has more rows or amount than its record says.",
}
MANIFEST_CHECK = {"labels_match_the_manifest": "Each anomaly's rows_affected equals the landing rows labelled with "
                                               "its anomaly_id, and no landing row carries an id the manifest lacks."}


def passed(findings: Findings) -> bool:
    return all(f.passed for found in findings.values() for f in found)


def entity_findings(spec: schemas.TableSpec, table: pa.Table, referenced: dict[str, pa.Table],
                    expectations: dict[str, quality.Expectation]) -> Findings:
    """Keys, foreign keys (against the `referenced` tables by name) and allowed values of an entity table."""
    findings = {"primary_key_unique": quality.key_findings(table, spec.primary_key)}
    if spec.foreign_keys:
        findings["foreign_keys_valid"] = [
            quality.foreign_key_finding(table[fk.column].drop_null(), referenced[fk.table][fk.ref_column],
                                        f"{fk.column} → {fk.table}.{fk.ref_column}") for fk in spec.foreign_keys]
    if expectations:
        findings["values_in_range"] = quality.value_findings(table, expectations)
    return findings


def _time_findings(table: pa.Table, day: date, lag) -> list[Finding]:
    return quality.event_time_findings(table, day, round(lag.max * 1000))


def card_findings(scenario: Scenario, table: pa.Table, day: date, entities: dict[str, pa.Table],
                  spec: schemas.TableSpec = schemas.CARD_TRANSACTIONS) -> Findings:
    return {
        "transaction_id_unique": quality.key_findings(table, spec.primary_key),
        "foreign_keys_valid": [
            quality.foreign_key_finding(table[fk.column].drop_null(), entities[fk.table][fk.ref_column],
                                        f"{fk.column} → {fk.table}.{fk.ref_column}") for fk in spec.foreign_keys],
        "times_in_partition_day": _time_findings(table, day, scenario.card_transactions.arrival_lag_seconds),
    }


def funnel_findings(scenario: Scenario, table: pa.Table, day: date, spec: schemas.TableSpec) -> Findings:
    return {"id_unique": quality.key_findings(table, spec.primary_key),
            "times_in_partition_day": _time_findings(table, day, scenario.web_funnel.arrival_lag_seconds)}


def funnel_order_findings(day_tables: dict[str, pa.Table], earlier: dict[str, list[pa.Table]]) -> list[Finding]:
    """One day's funnel rows against their parents: the same day's tables and the `earlier` days' ones by stage."""
    findings = []
    for child, key, parent in FUNNEL_LINKS:
        parents = pa.concat_tables([*earlier.get(parent, []), day_tables[parent]])
        findings.append(quality.order_finding(day_tables[child], parents, key, f"{parent} happen before their {child}"))
    return findings


def fraud_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table, clean: pa.Table,
                   before: pa.Table | None, episodes_before: pa.Table | None) -> Findings:
    """The day's fraud rows and episodes against the scenario, the day's clean rows and the day before's."""
    return {"fraud_rate_within_tolerance": rate_findings(scenario, fraud, clean),
            "chain_gaps_and_lengths": chain_findings(scenario, fraud, episodes),
            "atm_abroad_impossible_travel": abroad_findings(scenario, fraud, clean, before),
            "labels_agree_with_episodes": label_findings(fraud, episodes, episodes_before)}


def rate_findings(scenario: Scenario, fraud: pa.Table, clean: pa.Table) -> list[Finding]:
    """Rows per scenario against what the generator aims at (its rate, capped by the anchors the day offers),
    within 5 standard deviations of clustered episodes."""
    observed = pd.Series(fraud["fraud_scenario"].to_pylist(), dtype=object).value_counts()
    findings = []
    for name in SCENARIOS:
        expected, per_episode = expected_fraud_rows(scenario, name, clean)
        tolerance = 5 * np.sqrt(expected * per_episode) + per_episode
        rows = int(observed.get(name, 0))
        findings.append(Finding(f"{name}: {rows} rows, expected {expected:.1f} ± {tolerance:.1f}",
                                int(abs(rows - expected) > tolerance), []))
    return findings


def chain_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table) -> list[Finding]:
    config = scenario.fraud.card_fraud_chain
    rows = fraud.filter(pc.equal(fraud["fraud_scenario"], "card_fraud_chain")).to_pandas()
    rows = rows.sort_values(["fraud_episode_id", "event_time"])
    same = rows["fraud_episode_id"].eq(rows["fraud_episode_id"].shift())
    gaps = rows["event_time"].diff().dt.total_seconds()[same]
    bad_gaps = gaps[(gaps < config.gap_seconds.min - 0.001) | (gaps > config.gap_seconds.max + 0.001)]
    chains = episodes.filter(pc.equal(episodes["scenario"], "card_fraud_chain"))["transactions"].to_numpy()
    too_long = rows.groupby("fraud_episode_id").size() > config.length.max
    return [
        Finding(f"gaps within {config.gap_seconds.min}–{config.gap_seconds.max} s", len(bad_gaps),
                bad_gaps.round(3).tolist()[:5]),
        Finding(f"episode lengths within {config.length.min}–{config.length.max}",
                int(((chains < config.length.min) | (chains > config.length.max)).sum()) + int(too_long.sum()), []),
    ]


def abroad_findings(scenario: Scenario, fraud: pa.Table, clean: pa.Table, before: pa.Table | None) -> list[Finding]:
    """Against the card's previous withdrawal, found in the clean data of the day and the day before."""
    config = scenario.fraud.atm_abroad
    far, soon = f"≥ {config.min_distance_km:g} km from the previous withdrawal", f"within {config.delay_hours.max:g} h of it"
    columns = ["card_number", "event_time", "lat", "lon"]
    abroad = fraud.filter(pc.equal(fraud["fraud_scenario"], "atm_abroad")).select(columns).to_pandas()
    if abroad.empty:
        return [Finding(far, 0, []), Finding(soon, 0, [])]
    withdrawals = pa.concat_tables([t.filter(pc.equal(t["channel"], "atm")).select(columns)
                                    for t in (before, clean) if t is not None]).to_pandas()
    previous = pd.merge_asof(
        abroad.sort_values("event_time"),
        withdrawals.rename(columns={"event_time": "home_time", "lat": "home_lat", "lon": "home_lon"}).sort_values(
            "home_time"),
        left_on="event_time", right_on="home_time", by="card_number", allow_exact_matches=False)
    hours = (previous["event_time"] - previous["home_time"]).dt.total_seconds() / 3600
    distance = km_between(previous["lat"], previous["lon"], previous["home_lat"], previous["home_lon"])
    return [Finding(far, int((~(distance >= config.min_distance_km)).sum()), []),
            Finding(soon, int((~(hours <= config.delay_hours.max + 1e-6)).sum()), [])]


def label_findings(fraud: pa.Table, episodes: pa.Table, episodes_before: pa.Table | None) -> list[Finding]:
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
    return [Finding("every fraud row's episode is recorded (this day or the day before)", int(unknown.sum()),
                    joined.loc[unknown, "fraud_episode_id"].head(5).tolist()),
            Finding("rows agree with their episode's scenario and card", int(mismatch.sum()), []),
            Finding("no episode has more rows or amount than recorded", int(over.sum()), [])]


def manifest_findings(manifest: pa.Table, landing: dict[str, pa.Table]) -> Findings:
    """The manifest's counts against the labels actually in the landing rows."""
    labelled = {}
    for table in landing.values():
        for entry in pc.value_counts(table["anomaly_id"].drop_null()).to_pylist():
            labelled[entry["values"]] = labelled.get(entry["values"], 0) + entry["counts"]
    recorded = dict(zip(manifest["anomaly_id"].to_pylist(), manifest["rows_affected"].to_pylist()))
    wrong = [i for i in recorded if recorded[i] != labelled.get(i, 0)]
    unknown = [i for i in labelled if i not in recorded]
    return {"labels_match_the_manifest": [
        Finding("rows_affected equals the labelled landing rows", len(wrong), wrong[:5]),
        Finding("every labelled row's anomaly_id is in the manifest", len(unknown), unknown[:5])]}
