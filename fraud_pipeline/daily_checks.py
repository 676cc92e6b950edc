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
from fraud_pipeline.generators import clickstream
from fraud_pipeline.generators.fraud import SCENARIOS, km_between
from fraud_pipeline.generators.fraud_plan import mean_episodes
from fraud_pipeline.quality import SAMPLE, Finding
from fraud_pipeline.scenario import Scenario

Findings = dict[str, list[Finding]]

ENTITY_CHECKS = {  # name -> (description, blocking)
    "primary_key_unique": ("The primary key is complete and unique.", True),
    "foreign_keys_valid": ("Every foreign key resolves.", True),
    "values_in_range": ("Columns hold only values the scenario allows.", False),
}
CARD_CHECKS = {
    "transaction_id_unique": "transaction_id is complete and unique.",
    "foreign_keys_valid": "Every card (or replacement card), account, customer, merchant, beneficiary, counterparty "
                          "account and device exists.",
    "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
    "ledger_balances": "Each account's rows (genuine and fraud, in arrival order) chain from its opening balance to its "
                       "end-of-day balance; approved debits never take it below its overdraft or credit limit; declined "
                       "rows carry a reason and leave the balance as it was.",
    "lifecycle_respected": "No approved debit on a frozen or closed account, and no approved card payment on a "
                           "blocked or expired card.",
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
    "fraud_rate_within_tolerance": "Each scenario's episodes of the day are within 5 standard deviations of its "
                                   "Poisson mean (rate × the day's expected genuine payments ÷ rows per episode).",
    "chain_gaps_and_lengths": "Card fraud chains keep their length and gap bounds (seconds, or minutes when stealthy).",
    "atm_abroad_impossible_travel": "Each non-stealth ATM-abroad episode starts at least min_distance_km from the "
                                    "account's previous withdrawal at home, within delay_hours of it.",
    "labels_agree_with_episodes": "Every fraud row's episode exists with the same scenario and card, and no episode "
                                  "has more rows or amount than its record says.",
}
CLICKSTREAM_CHECKS = {
    "event_id_unique": "event_id is complete and unique.",
    "foreign_keys_valid": "Every customer, device and web shop exists.",
    "times_in_partition_day": "Sessions arrive on the partition's day, after their events, in their batch.",
    "purchases_linked": "Every online purchase of the day's labelled stream names a session whose purchase event "
                        "names it back (and no other transaction does); every purchase event's transaction is in the "
                        "stream; a session's purchases belong to one fraud episode or none, and labels follow them.",
    "sessions_in_order": "Each session is one customer's visit on one device to one shop: it opens with a page view, "
                         "its events are in time order, each purchase follows an add-to-cart, and a session that buys "
                         "ends with a purchase.",
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
        findings["foreign_keys_valid"] = _foreign_key_findings(spec, table, referenced)
    if expectations:
        findings["values_in_range"] = quality.value_findings(table, expectations)
    return findings


def _foreign_key_findings(spec: schemas.TableSpec, table: pa.Table, referenced: dict[str, pa.Table]) -> list[Finding]:
    """Each of the spec's foreign keys into the `referenced` tables by name (nulls are no reference); references into
    other tables (a day's episodes, sessions, the funnel's stages) have checks of their own."""
    return [quality.foreign_key_finding(table[fk.column].drop_null(), referenced[fk.table][fk.ref_column],
                                        f"{fk.column} → {fk.table}.{fk.ref_column}")
            for fk in spec.foreign_keys if fk.table in referenced]


def _time_findings(table: pa.Table, day: date, lag) -> list[Finding]:
    return quality.event_time_findings(table, day, round(lag.max * 1000))


def card_findings(scenario: Scenario, table: pa.Table, day: date, entities: dict[str, pa.Table],
                  spec: schemas.TableSpec = schemas.CARD_TRANSACTIONS, cards: pa.Array | None = None) -> Findings:
    """Keys, foreign keys and times of a day's transactions; `cards`: every card number issued so far (entity cards
    and replacements), by default the entity cards."""
    references = {**entities, "cards": pa.table({"card_number": cards if cards is not None
                                                 else entities["cards"]["card_number"]})}
    return {
        "transaction_id_unique": quality.key_findings(table, spec.primary_key),
        "foreign_keys_valid": _foreign_key_findings(spec, table, references),
        "times_in_partition_day": _time_findings(table, day, scenario.card_transactions.arrival_lag_seconds),
    }


def ledger_findings(stream: pa.Table, balances: pa.Table, opening: pa.Table, accounts: pa.Table) -> list[Finding]:
    """The day's labelled stream (genuine and fraud rows) against the balances it starts from (`opening`:
    account_id, balance) and ends in (`balances`), and each account's limits."""
    columns = ["account_id", "arrival_time", "event_time", "direction", "amount", "status", "decline_reason",
               "balance_after"]
    rows = stream.select(columns).to_pandas().sort_values(["account_id", "arrival_time", "event_time"], kind="stable")
    limits = accounts.select(["account_id", "overdraft_limit", "credit_limit"]).to_pandas().set_index("account_id")
    floor = -(limits["overdraft_limit"] + limits["credit_limit"])
    start = opening.to_pandas().set_index("account_id")["balance"]
    approved = rows["status"] == "approved"
    signed = np.where(rows["direction"] == "credit", rows["amount"], -rows["amount"]) * approved
    before = rows.groupby("account_id")["balance_after"].shift(1)
    before = before.fillna(rows["account_id"].map(start))
    cents = lambda values: np.round(np.asarray(values, float) * 100)  # noqa: E731
    chain = cents(rows["balance_after"]) != cents(before) + cents(signed)
    below = approved & (rows["direction"] == "debit") & (cents(rows["balance_after"]) < cents(rows["account_id"].map(floor)))
    reasons = (~approved & rows["decline_reason"].isna()) | (approved & rows["decline_reason"].notna())
    last = rows.groupby("account_id")["balance_after"].last()
    end = balances.to_pandas().set_index("account_id")["balance"]
    expected_end = start.add(pd.Series(signed, index=rows.index).groupby(rows["account_id"]).sum(), fill_value=0)
    wrong_total = cents(end.reindex(expected_end.index)) != cents(expected_end)
    wrong_last = cents(end.reindex(last.index)) != cents(last)
    wrong_end = list(expected_end.index[wrong_total]) + list(last.index[wrong_last])
    return [Finding("each row's balance_after is the one before plus the row (approved) or unchanged (declined)",
                    int(chain.sum()), rows.loc[chain, "account_id"].head(SAMPLE).tolist()),
            Finding("approved debits stay within the overdraft or credit limit", int(below.sum()),
                    rows.loc[below, "account_id"].head(SAMPLE).tolist()),
            Finding("declined rows, and only they, carry a decline_reason", int(reasons.sum()), []),
            Finding("account_balances equals the opening balance plus the day's approved rows, and each account's "
                    "last balance_after", len(wrong_end), wrong_end[:SAMPLE])]


def lifecycle_findings(stream: pa.Table, balances: pa.Table, blocked: pa.Table, expiry: pa.Table) -> list[Finding]:
    """Approved debits against the account's status that day and the card's block (`blocked`: card_number,
    blocked_at) and expiry (`expiry`: card_number, expires_at: the first instant it no longer works)."""
    debits = stream.filter(pc.and_(pc.equal(stream["status"], "approved"), pc.equal(stream["direction"], "debit")))
    status = balances.select(["account_id", "status"]).to_pandas().set_index("account_id")["status"]
    stopped = pd.Series(debits["account_id"].to_numpy(zero_copy_only=False)).map(status).isin(["frozen", "closed"])
    rows = debits.filter(pc.not_equal(debits["channel"], "transfer"))  # a card stops card payments, not transfers
    at = _ms(rows["arrival_time"])

    def after(times: pa.Table, column: str) -> np.ndarray:
        """Rows whose card has a time in `times` at or before the row's arrival."""
        position = pd.Index(times["card_number"].to_numpy(zero_copy_only=False)).get_indexer(
            rows["card_number"].to_numpy(zero_copy_only=False))
        limit = np.append(_ms(times[column]), np.iinfo(np.int64).max)[position]  # -1 (no such card): never
        return at >= limit

    on_blocked, on_expired = after(blocked, "blocked_at"), after(expiry, "expires_at")
    card = rows["card_number"].to_numpy(zero_copy_only=False)
    return [Finding("no approved debit on a frozen or closed account", int(stopped.sum()), []),
            Finding("no approved card payment on a card after it was blocked", int(on_blocked.sum()),
                    list(card[on_blocked][:SAMPLE])),
            Finding("no approved card payment on a card after it expired", int(on_expired.sum()),
                    list(card[on_expired][:SAMPLE]))]


def _ms(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)


def funnel_findings(scenario: Scenario, table: pa.Table, day: date, spec: schemas.TableSpec) -> Findings:
    return {"id_unique": quality.key_findings(table, spec.primary_key),
            "times_in_partition_day": _time_findings(table, day, scenario.web_funnel.arrival_lag_seconds)}


def clickstream_findings(scenario: Scenario, events: pa.Table, stream: pa.Table, day: date,
                         entities: dict[str, pa.Table]) -> Findings:
    """A day's customer_events against the entities and the day's labelled stream (genuine and fraud rows)."""
    spec = schemas.CUSTOMER_EVENTS
    return {
        "event_id_unique": quality.key_findings(events, spec.primary_key),
        "foreign_keys_valid": _foreign_key_findings(spec, events, entities),
        "times_in_partition_day": quality.event_time_findings(events, day, clickstream.max_lag_ms(scenario)),
        "purchases_linked": _purchase_links(events, stream),
        "sessions_in_order": _session_order(events),
    }


def _purchase_links(events: pa.Table, stream: pa.Table) -> list[Finding]:
    columns = ["transaction_id", "session_id", "is_fraud", "fraud_episode_id"]
    rows = stream.select(["channel", "transaction_type", *columns]).to_pandas()
    online = (rows["channel"] == "online") & (rows["transaction_type"] == "purchase")
    purchases = events.filter(pc.equal(events["event_type"], "purchase")).select(
        ["transaction_id", "session_id"]).to_pandas()
    linked = rows[online].merge(purchases, on="transaction_id", how="outer", suffixes=("", "_event"), indicator=True)
    unmatched = linked["_merge"] != "both"
    wrong_session = (linked["_merge"] == "both") & (linked["session_id"] != linked["session_id_event"])
    named = rows["session_id"].notna() != online
    # a session's purchases are one customer's, of one fraud episode or none; every event carries their labels
    bought = rows.loc[online, ["session_id", "is_fraud", "fraud_episode_id"]].fillna({"fraud_episode_id": ""})
    mixed = bought.groupby("session_id")["fraud_episode_id"].nunique() > 1
    labels = events.select(["session_id", "is_fraud", "fraud_episode_id"]).to_pandas().merge(
        bought.drop_duplicates("session_id"), on="session_id", how="left", suffixes=("", "_transaction"))
    wrong_label = (labels["is_fraud"] != labels["is_fraud_transaction"].fillna(False).astype(bool)) | (
        labels["fraud_episode_id"].fillna("") != labels["fraud_episode_id_transaction"].fillna(""))
    return [
        Finding("each online purchase has exactly one purchase event and each purchase event one transaction",
                int(unmatched.sum() + purchases["transaction_id"].duplicated().sum()),
                linked.loc[unmatched, "transaction_id"].head(SAMPLE).tolist()),
        Finding("a transaction and its purchase event name the same session", int(wrong_session.sum()),
                linked.loc[wrong_session, "transaction_id"].head(SAMPLE).tolist()),
        Finding("session_id is set on online purchases only", int(named.sum()),
                rows.loc[named, "transaction_id"].head(SAMPLE).tolist()),
        Finding("a session's purchases belong to one fraud episode or none", int(mixed.sum()),
                list(mixed.index[mixed][:SAMPLE])),
        Finding("every event carries its session's transaction's labels (none: genuine)", int(wrong_label.sum()),
                labels.loc[wrong_label, "session_id"].head(SAMPLE).tolist()),
    ]


def _session_order(events: pa.Table) -> list[Finding]:
    frame = events.select(["session_id", "event_time", "event_type"]).to_pandas()
    frame = frame.sort_values(["session_id", "event_time"], kind="stable")
    stored = events.select(["session_id", "event_time"]).to_pandas()
    opens = frame.groupby("session_id", sort=False)["event_type"].first() != "page_view"
    backwards = stored.groupby("session_id", sort=False)["event_time"].diff().dt.total_seconds() < 0
    following = frame.groupby("session_id", sort=False)["event_type"].shift(-1)
    before = frame.groupby("session_id", sort=False)["event_type"].shift(1)
    buy = frame["event_type"] == "purchase"
    buying = buy.groupby(frame["session_id"]).transform("any")
    misplaced = (buy & (before != "add_to_cart")) | (buying & following.isna() & ~buy)
    one_customer = events.select(["session_id", "customer_id", "device_id", "merchant_id"]).to_pandas().groupby(
        "session_id").nunique().max(axis=1) > 1
    return [Finding("each session opens with a page_view", int(opens.sum()), list(opens.index[opens][:SAMPLE])),
            Finding("a session's events are stored in time order", int(backwards.sum()), []),
            Finding("each purchase follows an add_to_cart, and a session that buys ends with a purchase",
                    int(misplaced.sum()), frame.loc[misplaced, "session_id"].head(SAMPLE).tolist()),
            Finding("a session is one customer's, on one device, at one shop", int(one_customer.sum()),
                    list(one_customer.index[one_customer][:SAMPLE]))]


def funnel_order_findings(day_tables: dict[str, pa.Table], earlier: dict[str, list[pa.Table]]) -> list[Finding]:
    """One day's funnel rows against their parents: the same day's tables and the `earlier` days' ones by stage."""
    findings = []
    for child, key, parent in FUNNEL_LINKS:
        parents = pa.concat_tables([*earlier.get(parent, []), day_tables[parent]])
        findings.append(quality.order_finding(day_tables[child], parents, key, f"{parent} happen before their {child}"))
    return findings


def fraud_findings(scenario: Scenario, fraud: pa.Table, episodes: pa.Table, genuine: pa.Table,
                   before: pa.Table | None, episodes_before: pa.Table | None, day: date,
                   balances: pa.Table | None = None) -> Findings:
    """The day's fraud rows and the episodes that started on it, against the scenario, the genuine rows of the day
    (and the day before) and the day's account balances (which cards could still be used)."""
    return {"fraud_rate_within_tolerance": rate_findings(scenario, episodes, day, genuine, balances),
            "chain_gaps_and_lengths": chain_findings(scenario, fraud, episodes),
            "atm_abroad_impossible_travel": abroad_findings(scenario, fraud, episodes, genuine, before),
            "labels_agree_with_episodes": label_findings(fraud, episodes, episodes_before)}


SCARCE = 0.1  # a scenario may fall short of its rate when it wants more than this share of its possible victims


def rate_findings(scenario: Scenario, episodes: pa.Table, day: date, genuine: pa.Table | None = None,
                  balances: pa.Table | None = None) -> list[Finding]:
    """Episodes started per scenario against their Poisson mean: never more than 5 standard deviations (and 2)
    above; and not below either, unless the day runs short of possible victims (cards still in use; for cash
    abroad, withdrawals at home to start from) — then fewer is what the model can do."""
    observed = pd.Series(episodes["scenario"].to_pylist(), dtype=object).value_counts()
    cards = (int(pc.sum(pc.equal(balances["card_status"], "active")).as_py() or 0) if balances is not None
             else scenario.population.accounts)
    withdrawals = (int(pc.sum(pc.and_(pc.equal(genuine["transaction_type"], "withdrawal"),
                                      pc.equal(genuine["country"], scenario.geography.country_code))).as_py() or 0)
                   if genuine is not None else cards)
    supply = {"card_fraud_chain": cards, "high_velocity": cards, "account_takeover": cards, "atm_abroad": withdrawals}
    findings = []
    for name in SCENARIOS:
        mean = mean_episodes(scenario, name, day)
        tolerance = 5 * np.sqrt(mean) + 2
        count = int(observed.get(name, 0))
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
