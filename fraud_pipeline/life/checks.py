"""The web funnel's and the clickstream's checks: keys, arrival times, the funnel's order, and sessions that link to
the purchases they made.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.findings import (SAMPLE, Finding, Findings, event_time_findings, foreign_key_findings,
                                          key_findings, order_finding, time_findings)
from fraud_pipeline.life import clickstream
from fraud_pipeline.scenario import Scenario


FUNNEL_CHECKS = {
    "id_unique": "The table's id is complete and unique.",
    "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
}
FUNNEL_ORDER_CHECK = {
    "funnel_order": "Each stage happens after the one before it: visit < application < opening < first transaction "
                    "(checked against the earlier stages of this run and the stored days before it)."}
FUNNEL_LINKS = (("applications", "visitor_id", "web_visits"), ("new_accounts", "app_id", "applications"),
                ("new_account_transactions", "account_id", "new_accounts"))
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


def funnel_findings(scenario: Scenario, table: pa.Table, day: date, spec: schemas.TableSpec) -> Findings:
    return {"id_unique": key_findings(table, spec.primary_key),
            "times_in_partition_day": time_findings(table, day, scenario.web_funnel.arrival_lag_seconds)}


def clickstream_findings(scenario: Scenario, events: pa.Table, stream: pa.Table, day: date,
                         entities: dict[str, pa.Table]) -> Findings:
    """A day's customer_events against the entities and the day's labelled stream (genuine and fraud rows)."""
    spec = schemas.CUSTOMER_EVENTS
    return {
        "event_id_unique": key_findings(events, spec.primary_key),
        "foreign_keys_valid": foreign_key_findings(spec, events, entities),
        "times_in_partition_day": event_time_findings(events, day, clickstream.max_lag_ms(scenario)),
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
        findings.append(order_finding(day_tables[child], parents, key, f"{parent} happen before their {child}"))
    return findings
