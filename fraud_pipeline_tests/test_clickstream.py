"""Seed 002's clickstream: every online purchase is the purchase event of one session, sessions follow the
scenario's funnel, and fraud sessions are shorter without being a giveaway."""

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

import fraud_pipeline
from fraud_pipeline import daily_checks
from fraud_pipeline.bank import Bank
from fraud_pipeline.generators import anomalies
from fraud_pipeline_tests.conftest import scaled

DAYS = 7


@pytest.fixture(scope="module")
def week(scenario):
    """A week of the default bank: each day's clickstream and labelled stream, and the week's sessions."""
    days = list(fraud_pipeline.generate_days(scenario.start_date, date(2026, 1, DAYS), scenario,
                                             tables=("customer_events", "labelled_transactions")))
    events = pd.concat([t["customer_events"].to_pandas() for _, t in days], ignore_index=True)
    stream = pd.concat([t["labelled_transactions"].to_pandas() for _, t in days], ignore_index=True)
    kind = events["event_type"]
    flags = pd.DataFrame({"session_id": events["session_id"], "events": 1, "products": kind == "click",
                          "cart": kind == "add_to_cart", "bought": kind == "purchase", "is_fraud": events["is_fraud"]})
    sessions = flags.groupby("session_id", sort=False).agg(
        events=("events", "sum"), products=("products", "sum"), cart=("cart", "any"), bought=("bought", "any"),
        is_fraud=("is_fraud", "first"))
    return {"days": days, "events": events, "stream": stream, "sessions": sessions}


def test_every_online_purchase_is_the_purchase_event_of_exactly_one_session(scenario, week):
    bank = Bank(scenario)
    for day, tables in week["days"]:
        findings = daily_checks.clickstream_findings(scenario, tables["customer_events"],
                                                     tables["labelled_transactions"], day, bank.entities)
        assert daily_checks.passed(findings), (day, findings)
    stream, events = week["stream"], week["events"]
    online = stream[(stream["channel"] == "online") & (stream["transaction_type"] == "purchase")]
    assert online["session_id"].notna().all() and stream.loc[~stream.index.isin(online.index), "session_id"].isna().all()
    purchases = events[events["event_type"] == "purchase"]
    assert len(online) > 10_000 and online["is_fraud"].sum() > 50
    assert sorted(purchases["transaction_id"]) == sorted(online["transaction_id"])  # one each, both ways
    linked = online.merge(purchases, on="transaction_id", suffixes=("", "_event"))
    assert (linked["session_id"] == linked["session_id_event"]).all()
    assert (linked["event_time"] == linked["event_time_event"]).all()  # the purchase is the authorisation
    assert np.allclose(linked["price"], linked["amount"])  # the order total
    assert (linked["device_id"] == linked["device_id_event"]).all()  # a fraudster's session on their device
    assert (linked["is_fraud"] == linked["is_fraud_event"]).all()
    assert week["sessions"]["bought"].sum() == len(online)
    assert not purchases["session_id"].duplicated().any()


def test_funnel_rates_per_session_follow_the_scenario(scenario, week):
    c = scenario.customer_events
    genuine = week["sessions"][~week["sessions"]["is_fraud"]]
    browsing = genuine[~genuine["bought"]]
    assert genuine["bought"].mean() == pytest.approx(c.conversion, abs=0.005)
    assert 1 - genuine.loc[genuine["cart"], "bought"].mean() == pytest.approx(c.cart_abandonment, abs=0.01)
    assert (browsing["events"] == 1).mean() == pytest.approx(c.bounce, abs=0.01)
    opened = browsing[browsing["products"] > 0]["products"]
    assert opened.mean() == pytest.approx(c.products_viewed.browsing, abs=0.05)
    assert len(genuine) / DAYS > 10_000  # most sessions end without buying: about 6 of 7 here


def test_a_session_reads_in_order_and_a_product_has_one_price_at_its_shop(week):
    events = week["events"]
    previous = events.groupby("session_id", sort=False).shift(1)
    first = previous["event_type"].isna()
    assert (events.loc[first, "event_type"] == "page_view").all()
    bought = events["event_type"] == "purchase"
    assert events.loc[first | bought, "product_id"].isna().all()  # the landing page, and the order
    assert events.loc[~first & ~bought, "product_id"].notna().all()
    assert (events.loc[~first, "event_time"] >= previous.loc[~first, "event_time"]).all()
    product_page = ~first & (events["event_type"] == "page_view")
    assert (previous.loc[product_page, "event_type"] == "click").all()
    assert (events.loc[product_page, "product_id"] == previous.loc[product_page, "product_id"]).all()
    assert (previous.loc[bought, "event_type"] == "add_to_cart").all()
    # the order is mostly its carted product: its total near the product's price (extras, shipping, a few units)
    ratio = events.loc[bought, "price"].to_numpy() / previous.loc[bought, "price"].to_numpy()
    assert 0.9 < np.median(ratio) < 1.1 and np.mean((ratio > 0.5) & (ratio < 2)) > 0.8
    listed = events[events["product_id"].notna()]
    assert (listed.groupby("product_id")["price"].nunique() == 1).all()
    assert (listed["product_id"].str.split("-P").str[0] == listed["merchant_id"]).all()
    # a session arrives as one delivery, in the partition of the day it closes
    assert (events.groupby("session_id")["arrival_time"].nunique() == 1).all()


def test_fraud_sessions_are_shorter_but_genuine_quick_orders_overlap_them(week):
    buying = week["sessions"][week["sessions"]["bought"]]
    fraud, genuine = buying[buying["is_fraud"]], buying[~buying["is_fraud"]]
    assert fraud["events"].median() < genuine["events"].median()
    straight = buying["events"] == 3  # landing page, add to cart, purchase
    assert straight[~buying["is_fraud"]].mean() > 0.10  # re-orders at a usual shop
    assert 0.2 < straight[buying["is_fraud"]].mean() < 0.8  # stealthy fraud browses like a customer
    auc = roc_auc_score(buying["is_fraud"], -buying["events"])
    assert 0.55 < auc < 0.85, auc


def test_a_planned_null_burst_can_target_the_clickstream(small_scenario):
    planned = scaled(small_scenario, anomalies={"plan": {"product_gaps": {
        "type": "null_burst", "days": [1], "batch": 5, "table": "customer_events", "column": "product_id",
        "share": 0.3}}})
    bank = Bank(planned)
    day = anomalies.window(planned)[0]
    landing, manifest = bank.landing(day)
    events = landing["customer_events"]
    entry = manifest.to_pandas().set_index("plan_entry").loc["product_gaps"]
    labelled = events.filter(pa.compute.equal(events["anomaly_id"], entry["anomaly_id"]))
    assert entry["rows_affected"] == labelled.num_rows > 0
    assert labelled["product_id"].null_count == labelled.num_rows
    assert set(labelled["batch"].to_pylist()) == {5}
