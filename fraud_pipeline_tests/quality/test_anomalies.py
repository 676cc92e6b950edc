"""The anomaly window: each planned anomaly moves its metric far from the baseline, nothing else moves it,
every touched row is labelled and counted, and the plan is data a user edits."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.funnel import STAGES
from fraud_pipeline.quality import anomalies
from fraud_pipeline.quality.ground_truth import (EFFECTS, baseline_lookup, day_metrics, moved, timeline_marks,
                                                 timeline_metrics, timeline_reads)
from fraud_pipeline.quality.profile import VALUE, kind
from fraud_pipeline.scenario.anomalies import ANOMALY_TYPES
from fraud_pipeline_tests.conftest import scaled

EVENTS = ("card_transactions", *STAGES)
# A detector with a 5σ threshold catches every planned batch and no unplanned one, and unplanned
# batches look like noise: at most 2 % of them beyond 3σ (0.3 % for a normal distribution).
THRESHOLD = 5.0
NOISE_SIGMAS, NOISE_SHARE = 3.0, 0.02


@pytest.fixture(scope="module")
def busy(small_scenario):
    """Seed 001's live volume (5,000 visitors a batch, 40,000 a day), so one batch carries a clear signal."""
    return scaled(small_scenario, card_transactions={"per_day": 10000}, web_funnel={"visitors_per_day": 40000})


@pytest.fixture(scope="module")
def calendar(busy):
    """21 days computed by the pure pipeline: clean events and fraud, the baseline profile, landing and manifests."""
    bank = Bank(busy)
    days = [busy.start_date + timedelta(days=i) for i in range(BASELINE_DAYS + busy.anomalies.window_days)]
    clean, landing, manifests, outcomes = {}, {}, {}, {}
    for day in days:
        clean[day] = bank.events(day)
        landing[day], manifests[day] = bank.landing(day)
        outcomes[day] = manifests[day]["anomaly_id"].to_pylist()
    metrics = pd.concat([day_metrics(day, landing[day]) for day in days], ignore_index=True)
    return {"days": days, "clean": clean, "profile": bank.profile, "landing": landing, "outcomes": outcomes,
            "manifests": manifests, "metrics": metrics}


def _deviation(metrics: pd.DataFrame, profile: pa.Table) -> pd.DataFrame:
    """Each (table, day, batch, metric) value against the baseline: in day-to-day standard deviations for
    per-batch quantities, in standard errors of the batch mean for value distributions."""
    stats = profile.to_pandas()[["table", "batch", "metric", "mean", "std"]]
    joined = metrics.merge(stats, on=["table", "batch", "metric"], how="left")
    spread = np.where(joined["metric"].map(kind) == VALUE, joined["std"] / np.sqrt(joined["rows"]), joined["std"])
    difference = (joined["value"] - joined["mean"]).abs()
    joined["sigmas"] = np.where(spread > 0, difference / np.where(spread > 0, spread, 1),
                                np.where(difference > 1e-12, np.inf, 0.0))
    return joined


def _declared(scenario, days, profile) -> set[tuple]:
    """Every (table, metric, day, batch) a planned anomaly is declared to move, directly or as a side effect."""
    base = baseline_lookup(profile)
    return {(table, metric, day, batch) for day in days for p in anomalies.planned(scenario, day)
            for table, metric, batch in moved(p, base)[1]}


@pytest.mark.parametrize("anomaly_type", [t.model_fields["type"].annotation.__args__[0] for t in ANOMALY_TYPES])
def test_each_anomaly_moves_its_metric_on_its_batch_and_nowhere_else(busy, calendar, anomaly_type):
    base = baseline_lookup(calendar["profile"])
    deviations = _deviation(calendar["metrics"], calendar["profile"]).set_index(
        ["table", "metric", "day", "batch"]).sort_index()
    plans = [p for day in calendar["days"] for p in anomalies.planned(busy, day) if p.entry.type == anomaly_type]
    assert plans, f"the default plan has no {anomaly_type}"
    declared = _declared(busy, calendar["days"], calendar["profile"])
    for p in plans:
        metric = EFFECTS[anomaly_type](p, base).metric
        planned = deviations.loc[(p.entry.table, metric, p.day, p.entry.batch), "sigmas"]
        assert planned > THRESHOLD, f"{p.anomaly_id}: {metric} only {planned:.1f} σ from the baseline"
        others = deviations.loc[(p.entry.table, metric)]
        unplanned = others[[(p.entry.table, metric, d, b) not in declared for d, b in others.index]]["sigmas"]
        assert len(unplanned) > 100
        assert unplanned.max() < THRESHOLD, f"{metric} moves {unplanned.max():.1f} σ at {unplanned.idxmax()}"
        assert (unplanned > NOISE_SIGMAS).mean() <= NOISE_SHARE


def test_baseline_days_carry_no_anomaly_and_the_window_repeats(busy, calendar):
    for day in calendar["days"][:BASELINE_DAYS]:
        assert calendar["outcomes"][day] == []
        assert all(t["anomaly_type"].null_count == t.num_rows for t in calendar["landing"][day].values())
    first = busy.start_date + timedelta(days=BASELINE_DAYS)
    assert [anomalies.window_day(busy, first + timedelta(days=i)) for i in (-1, 0, 6, 7, 13, 14)] == \
        [None, 1, 7, 1, 7, 1]
    clean_after = scaled(busy, anomalies={"after_window": "clean"})
    assert anomalies.window_day(clean_after, first + timedelta(days=6)) == 7
    assert anomalies.planned(clean_after, first + timedelta(days=7)) == []
    # Seed 001's intraday plan on each window day: 8 batches, 0 and 3 normal controls.
    day_one = {p.entry.batch: p.entry.type for p in anomalies.planned(busy, first)}
    assert day_one == {1: "null_burst", 2: "age_error", 4: "traffic_spike", 5: "fraud_spike", 6: "limit_spike",
                       7: "stale_data"}


def test_manifest_counts_equal_the_labelled_landing_rows(calendar):
    for day in calendar["days"]:
        manifest = calendar["manifests"][day].to_pandas().set_index("anomaly_id")
        labelled = pd.concat([t.select(["anomaly_id", "anomaly_type"]).to_pandas()
                              for t in calendar["landing"][day].values()]).dropna()
        counts = labelled.groupby("anomaly_id").size()
        assert set(counts.index) <= set(manifest.index)
        assert (manifest["rows_affected"] == counts.reindex(manifest.index, fill_value=0)).all(), day
        types = labelled.groupby("anomaly_id")["anomaly_type"].unique()
        assert all(list(types[i]) == [manifest.loc[i, "anomaly_type"]] for i in types.index)
    total = sum(int(m["rows_affected"].to_numpy().sum()) for m in calendar["manifests"].values())
    assert total > 10000


def test_conversion_drops_withhold_applications_and_everything_that_follows(busy, calendar):
    [(day, p)] = [(d, p) for d in calendar["days"] for p in anomalies.planned(busy, d) if p.entry.type == "conversion_drop"]
    manifest = calendar["manifests"][day].to_pandas().set_index("anomaly_id").loc[p.anomaly_id]
    clean = calendar["clean"][day]["applications"]
    landed = calendar["landing"][day]["applications"]
    in_batch = lambda t: int(pc.sum(pc.equal(t["batch"], p.entry.batch)).as_py())  # noqa: E731
    assert manifest["rows_removed"] == in_batch(clean) - in_batch(landed) > 0
    assert manifest["observed"] == pytest.approx(p.entry.application_rate, abs=0.01)
    # No landing account or first transaction refers to a withheld application or its account.
    every_app = pc.unique(pa.concat_arrays([calendar["landing"][d]["applications"]["app_id"].combine_chunks()
                                            for d in calendar["days"]]))
    withheld = pa.array(sorted(set(clean["app_id"].to_pylist()) - set(landed["app_id"].to_pylist())))
    later = [d for d in calendar["days"] if d >= day]
    accounts = pa.concat_tables([calendar["landing"][d]["new_accounts"] for d in later])
    assert not pc.any(pc.is_in(accounts["app_id"], value_set=withheld)).as_py()
    clean_accounts = pa.concat_tables([calendar["clean"][d]["new_accounts"] for d in later])
    gone = clean_accounts.filter(pc.is_in(clean_accounts["app_id"], value_set=withheld))["account_id"]
    assert len(gone) > 10
    spends = pa.concat_tables([calendar["landing"][d]["new_account_transactions"] for d in later])
    assert not pc.any(pc.is_in(spends["account_id"], value_set=gone)).as_py()
    assert len(every_app) > 0


def test_injected_values_follow_their_parameters(busy, calendar):
    plan = busy.anomalies.plan
    rows = {t: pd.concat([calendar["landing"][d][t].to_pandas() for d in calendar["days"][BASELINE_DAYS:]])
            for t in EVENTS}
    apps = rows["applications"]
    minors = apps[apps["anomaly_type"] == "age_error"]
    assert minors["applicant_age"].between(plan["under_age"].age.min, plan["under_age"].age.max).all()
    assert (minors["application_status"] == "rejected - under age").all()
    limits = apps[apps["anomaly_type"] == "limit_spike"]
    ratio = limits["req_credit_limit"] / limits["annual_income"]
    assert ratio.between(0.6 - 1e-4, 0.9).all()
    visits = rows["web_visits"]
    assert visits["visitor_id"].is_unique  # added visitors take ids nobody else has
    for day in calendar["days"][BASELINE_DAYS:]:
        spiked = calendar["landing"][day]["web_visits"].filter(pc.equal(calendar["landing"][day]["web_visits"]["batch"], 4))
        before = pc.sum(pc.equal(calendar["clean"][day]["web_visits"]["batch"], 4)).as_py()
        assert spiked.num_rows == before + round(1.5 * before)
        bots = spiked.filter(pc.equal(spiked["anomaly_type"], "traffic_spike"))
        assert bots.num_rows == round(0.8 * spiked.num_rows)
        assert pc.max(bots["session_duration"]).as_py() <= 1.0
    stale = visits[visits["anomaly_type"] == "stale_data"]
    assert ((stale["arrival_time"] - stale["event_time"]) == pd.Timedelta(hours=12)).all()
    cards = rows["card_transactions"]
    late = cards[cards["anomaly_type"] == "late_arrival"]
    assert (late["batch"] == 5).all() and ((late["arrival_time"] - late["event_time"]) >= pd.Timedelta(hours=6)).all()
    copies = cards[cards["anomaly_type"] == "duplicate_burst"]
    originals = cards[cards["transaction_id"].isin(copies["transaction_id"]) & cards["anomaly_type"].isna()]
    assert len(originals) == len(copies) > 0
    merged = copies.merge(originals, on="transaction_id", suffixes=("", "_first"))
    assert (merged["amount"] == merged["amount_first"]).all()
    assert (merged["arrival_time"] >= merged["arrival_time_first"]).all() and (merged["batch"] == 3).all()
    spends = rows["new_account_transactions"]
    assert (spends[spends["anomaly_type"] == "fraud_spike"]["amount"] > 5000).all()  # above any normal first spend


def test_the_timeline_reads_only_what_its_panels_show_and_measures_it_as_a_gate_does(busy, calendar):
    """The anomaly timeline reads only the tables and columns of the metrics it shows, all days at once; every value
    it draws equals the one measured on the whole landing tables day by day."""
    days = calendar["days"]
    plans = [p for day in days for p in anomalies.planned(busy, day)]
    shown = list(timeline_marks(days, plans, calendar["profile"]))
    reads = timeline_reads(shown)
    assert {table for table, _ in shown} <= reads.keys() and "customer_events" not in reads
    whole_columns = calendar["landing"][days[0]]["card_transactions"].column_names
    assert set(reads["card_transactions"]) < set(whole_columns) and len(reads["card_transactions"]) <= 6
    drawn = timeline_metrics({name: {day: calendar["landing"][day][name].select(columns) for day in days}
                              for name, columns in reads.items()}).set_index(["table", "metric", "day", "batch"]).sort_index()
    measured = calendar["metrics"].set_index(["table", "metric", "day", "batch"]).sort_index()
    for table, metric in shown:
        pd.testing.assert_frame_equal(drawn.loc[(table, metric)], measured.loc[(table, metric)], check_exact=True)
