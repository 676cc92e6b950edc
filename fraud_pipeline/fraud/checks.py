"""The fraud tables' checks: each scenario's daily rate, chain gaps, impossible travel, and labels that agree with
their episodes.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.findings import Finding, Findings
from fraud_pipeline.core.labels import SCENARIOS
from fraud_pipeline.fraud.scenarios import km_between
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.fraud_plan import mean_episodes


FRAUD_CHECKS = {
    "fraud_rate_within_tolerance": "Each scenario's episodes of the day are within 5 standard deviations of its "
                                   "Poisson mean (rate × the day's expected genuine payments ÷ rows per episode).",
    "chain_gaps_and_lengths": "Card fraud chains keep their length and gap bounds (seconds, or minutes when stealthy).",
    "atm_abroad_impossible_travel": "Each non-stealth ATM-abroad episode starts at least min_distance_km from the "
                                    "account's previous withdrawal at home, within delay_hours of it.",
    "labels_agree_with_episodes": "Every fraud row's episode exists with the same scenario and card, and no episode "
                                  "has more rows or amount than its record says.",
}


def fraud_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table, genuine: pa.Table,
                   before: pa.Table | None, episodes_before: pa.Table | None, day: date,
                   balances: pa.Table | None = None) -> Findings:
    """The day's fraud rows and the episodes that started on it, against the scenario, the genuine rows of the day
    (and the day before) and the day's account balances (which cards could still be used)."""
    return {"fraud_rate_within_tolerance": rate_findings(scenario, day, rate_counts(scenario, episodes, genuine,
                                                                                    balances)),
            **part_findings(scenario, fraud, episodes, genuine, before, episodes_before)}


def part_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table, genuine: pa.Table,
                  before: pa.Table | None, episodes_before: pa.Table | None) -> Findings:
    """The checks of `fraud_findings` that hold for any part of the bank on its own (a range of blocks: an episode,
    its card and its rows are all in one block) — all but the rate, which needs the day's sum (`rate_counts`)."""
    return {"chain_gaps_and_lengths": chain_findings(scenario, fraud, episodes),
            "atm_abroad_impossible_travel": abroad_findings(scenario, fraud, episodes, genuine, before),
            "labels_agree_with_episodes": label_findings(fraud, episodes, episodes_before)}


SCARCE = 0.1  # a scenario may fall short of its rate when it wants more than this share of its possible victims


def rate_counts(scenario: Scenario, episodes: pa.Table, genuine: pa.Table | None = None,
                balances: pa.Table | None = None) -> dict[str, int]:
    """What the rate check needs of (a part of) a day, as counts that add up over parts: episodes started per
    scenario, `cards` still in use, and `withdrawals` at home (where cash abroad starts from)."""
    observed = {name: int(pc.sum(pc.equal(episodes["scenario"], name)).as_py() or 0) for name in SCENARIOS}
    cards = (int(pc.sum(pc.equal(balances["card_status"], "active")).as_py() or 0) if balances is not None
             else scenario.population.accounts)
    withdrawals = (int(pc.sum(pc.and_(pc.equal(genuine["transaction_type"], "withdrawal"),
                                      pc.equal(genuine["country"], scenario.geography.country_code))).as_py() or 0)
                   if genuine is not None else cards)
    return {**observed, "cards": cards, "withdrawals": withdrawals}


def rate_findings(scenario: Scenario, day: date, counts: dict[str, int]) -> list[Finding]:
    """Episodes started per scenario (`counts`, from `rate_counts`, summed over the day's parts) against their
    Poisson mean: never more than 5 standard deviations (and 2) above; and not below either, unless the day runs
    short of possible victims (cards still in use; for cash abroad, withdrawals at home to start from) — then fewer
    is what the model can do."""
    supply = {"card_fraud_chain": counts["cards"], "high_velocity": counts["cards"],
              "account_takeover": counts["cards"], "atm_abroad": counts["withdrawals"]}
    findings = []
    for name in SCENARIOS:
        mean = mean_episodes(scenario, name, day)
        tolerance = 5 * np.sqrt(mean) + 2
        count = counts[name]
        short = count < mean - tolerance and mean <= SCARCE * supply[name]
        findings.append(Finding(f"{name}: {count} episodes, expected {mean:.1f} ± {tolerance:.1f}",
                                int(count > mean + tolerance or short), []))
    return findings


def chain_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table) -> list[Finding]:
    """Gaps and lengths of the day's chains, against the bounds of their kind (plain or stealthy)."""
    config = scenario.fraud.card_fraud_chain
    chains = episodes.filter(pc.equal(episodes["scenario"], "card_fraud_chain")).select(
        ["episode_id", "stealth", "transactions"]).to_pandas()
    stealthy = chains.set_index("episode_id")["stealth"]
    rows = fraud.filter(pc.equal(fraud["fraud_scenario"], "card_fraud_chain")).select(
        ["fraud_episode_id", "event_time"]).to_pandas().sort_values(["fraud_episode_id", "event_time"])
    same = rows["fraud_episode_id"].eq(rows["fraud_episode_id"].shift())
    gaps = rows["event_time"].diff().dt.total_seconds()[same]
    # an episode that started the day before (its rows crossed midnight) is held to either kind's bounds
    kind = rows["fraud_episode_id"][same].map(stealthy)
    plain = (config.gap_seconds.min, config.gap_seconds.max)
    slow = (config.stealth_gap_minutes.min * 60, config.stealth_gap_minutes.max * 60)
    low = np.select([kind.eq(True), kind.eq(False)], [slow[0], plain[0]], min(plain[0], slow[0]))
    high = np.select([kind.eq(True), kind.eq(False)], [slow[1], plain[1]], max(plain[1], slow[1]))
    bad_gaps = gaps[(gaps < low - 0.001) | (gaps > high + 0.001)]
    shortest = np.where(chains["stealth"], config.stealth_length.min, config.length.min)
    longest = np.where(chains["stealth"], config.stealth_length.max, config.length.max)
    counts = rows.groupby("fraud_episode_id").size().reindex(chains["episode_id"]).fillna(0).to_numpy()
    bad_lengths = (chains["transactions"] < shortest) | (chains["transactions"] > longest) | (counts > longest)
    return [
        Finding(f"gaps within {config.gap_seconds.min:g}–{config.gap_seconds.max:g} s (stealthy: "
                f"{config.stealth_gap_minutes.min:g}–{config.stealth_gap_minutes.max:g} min)", len(bad_gaps),
                bad_gaps.round(3).tolist()[:5]),
        Finding(f"episode lengths within {config.length.min}–{config.length.max} (stealthy: "
                f"{config.stealth_length.min}–{config.stealth_length.max})", int(bad_lengths.sum()), []),
    ]


def abroad_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table, genuine: pa.Table,
                    before: pa.Table | None) -> list[Finding]:
    """Each non-stealth episode's first withdrawal against the account's previous withdrawal at home (the genuine
    rows of the day and the day before)."""
    config = scenario.fraud.atm_abroad
    far, soon = f"≥ {config.min_distance_km:g} km from the previous withdrawal", f"within {config.delay_hours.max:g} h of it"
    plain = episodes.filter(pc.and_(pc.equal(episodes["scenario"], "atm_abroad"), pc.invert(episodes["stealth"])))
    first = fraud.filter(pc.is_in(fraud["fraud_episode_id"], plain["episode_id"])).select(
        ["fraud_episode_id", "account_id", "event_time", "lat", "lon"]).to_pandas()
    first = first.sort_values("event_time").drop_duplicates("fraud_episode_id")
    if first.empty:
        return [Finding(far, 0, []), Finding(soon, 0, [])]
    columns = ["account_id", "event_time", "lat", "lon"]
    home = scenario.geography.country_code
    withdrawals = pa.concat_tables([t.filter(pc.and_(pc.equal(t["transaction_type"], "withdrawal"),
                                                     pc.equal(t["country"], home))).select(columns)
                                    for t in (before, genuine) if t is not None]).to_pandas()
    previous = pd.merge_asof(
        first.sort_values("event_time"),
        withdrawals.rename(columns={"event_time": "home_time", "lat": "home_lat", "lon": "home_lon"}).sort_values(
            "home_time"),
        left_on="event_time", right_on="home_time", by="account_id", allow_exact_matches=False)
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
                           | (joined["account_id"] != joined["account_id_episode"]))
    per_episode = rows.groupby("fraud_episode_id").agg(n=("amount", "size"), total=("amount", "sum"))
    record = known.set_index("episode_id").reindex(per_episode.index)
    over = (per_episode["n"] > record["transactions"]) | (per_episode["total"] > record["total_amount"] + 0.01)
    return [Finding("every fraud row's episode is recorded (this day or the day before)", int(unknown.sum()),
                    joined.loc[unknown, "fraud_episode_id"].head(5).tolist()),
            Finding("rows agree with their episode's scenario and account", int(mismatch.sum()), []),
            Finding("no episode has more rows or amount than recorded", int(over.sum()), [])]
