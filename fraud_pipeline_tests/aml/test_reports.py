"""The bank's own labels (`aml_reports`, `aml.reports`): every reported case's accounts at its label time, its
holders' other accounts with them, and false suspicions among the genuine accounts the bank's monitoring alerts
on, recomputed here from the busy small bank's 21 days of rows."""

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline.detection.aml_scorecard import observed_at
from fraud_pipeline.engine.bank import Bank


@pytest.fixture(scope="module")
def holders(busy):
    """accounts (account_id → customer_id) and what each customer takes in a month (turnover, else income)."""
    entities = Bank(busy).entities
    accounts = entities["accounts"].select(["account_id", "customer_id"]).to_pandas().set_index("account_id")
    customers = entities["customers"].to_pandas().set_index("customer_id")
    takes = customers["monthly_turnover"].fillna(customers["monthly_income"])
    return accounts["customer_id"], takes


def test_every_reported_case_names_its_accounts_and_their_holders_others(generated, holders):
    _, _, cases, reports = generated
    customer_of, _ = holders
    reported = cases[cases["label_available_at"].notna()]
    assert len(reported) > 50 and cases["label_available_at"].isna().any()  # some never reported: missed
    # each reported case's account: a report at its label time over the case's rows, in the case's partition
    joined = reported.merge(reports, on="account_id", suffixes=("", "_report"))
    joined = joined[(joined["reported_at"] == joined["label_available_at"])
                    & (joined["activity_from"] == joined["start_time"]) & (joined["activity_to"] == joined["end_time"])
                    & (joined["partition"] == joined["partition_report"])]
    assert len(joined[["case_id", "account_id"]].drop_duplicates()) == len(reported)
    # a report names its customer's every account of the bank, and only theirs
    named = reports.assign(customer=reports["account_id"].map(customer_of))
    assert (named["customer"] == named["customer_id"]).all()
    per_report = named.groupby("report_id").agg(customers=("customer_id", "nunique"), accounts=("account_id", "size"))
    assert (per_report["customers"] == 1).all()
    held = customer_of.value_counts()
    first = named.groupby("report_id")["customer_id"].first()
    assert (per_report["accounts"] == held[first].to_numpy()).all() and (per_report["accounts"] > 1).any()
    assert not reports.duplicated(["report_id", "account_id"]).any()
    assert (reports["reported_at"] > reports["activity_to"]).all()


def test_false_suspicions_are_genuine_accounts_the_monitoring_alerted_on(generated, holders, busy):
    """A report that names no case is a holder's other account or a false suspicion: a whole day's activity of an
    account that tripped an alert that day and had no laundering row, reported `delay_days` later. Each alerted
    genuine account is reported with chance `alerted_share`: a binomial count, within four standard deviations."""
    rows, posted, cases, reports = generated
    customer_of, takes = holders
    o = busy.aml.observed
    # the reports whose first account is not a reported case's at its label time
    reported = cases[cases["label_available_at"].notna()]
    of_cases = pd.MultiIndex.from_frame(reported[["account_id", "label_available_at"]])
    first_named = ~reports.duplicated("report_id")
    suspicions = reports[first_named & ~pd.MultiIndex.from_frame(reports[["account_id", "reported_at"]]).isin(of_cases)]
    assert ((suspicions["activity_to"] - suspicions["activity_from"])
            == pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)).all()
    assert (suspicions["activity_from"] == suspicions["partition"].astype("datetime64[ns]")).all()
    # the alerts, recomputed: approved rows posted that day
    approved = rows[rows["status"] == "approved"].assign(day=posted[rows["status"] == "approved"])
    outside = approved[(approved["transaction_type"] == "transfer_in") & approved["beneficiary_id"].notna()
                       & approved["counterparty_account_id"].isna()]
    by = outside.groupby(["account_id", "day"])
    senders = by["beneficiary_id"].nunique()
    came = by["amount"].sum()
    limit = came.index.get_level_values("account_id").map(customer_of).map(takes) * o.large_credit_of_income
    cash = approved[(approved["transaction_type"] == "cash_deposit")
                    & (approved["amount"] >= o.near_threshold * busy.aml.cash_threshold)]
    alerted = (set(senders[senders >= o.fan_in].index) | set(came[came.to_numpy() >= limit.to_numpy()].index)
               | set(zip(cash["account_id"], cash["day"])))
    laundered = rows["aml_case_id"].notna()  # declined laundering rows too: the day is a case's
    laundering = set(zip(rows.loc[laundered, "account_id"], posted[laundered]))
    genuine_alerted = alerted - laundering
    suspected = set(zip(suspicions["account_id"], suspicions["activity_from"]))
    assert suspected <= genuine_alerted and len(suspected) >= 20
    n, p = len(genuine_alerted), o.alerted_share
    assert abs(len(suspected) - n * p) < 4 * (n * p * (1 - p)) ** 0.5
    delay = (suspicions["reported_at"] - suspicions["activity_to"]) / pd.Timedelta(days=1)
    assert delay.between(o.delay_days.min, o.delay_days.max + 1e-6).all()


def test_the_observed_label_marks_reported_accounts_rows_in_their_activity_before_the_cutoff():
    """`observed_at`, by hand: rows of an account reported before the cut-off, within its activity's window."""
    rows = pd.DataFrame({"account_id": ["A", "A", "A", "B", "C"],
                         "event_time": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 10:00", "2026-01-05 10:00",
                                                       "2026-01-02 12:00", "2026-01-02 12:00"])})
    reports = pd.DataFrame({"account_id": ["A", "B", "C"],
                            "reported_at": pd.to_datetime(["2026-01-08", "2026-01-09", "2026-01-20"]),
                            "activity_from": pd.to_datetime(["2026-01-01 09:00", "2026-01-02 00:00", "2026-01-02 00:00"]),
                            "activity_to": pd.to_datetime(["2026-01-02 11:00", "2026-01-02 23:59", "2026-01-02 23:59"])})
    observed = observed_at(rows, reports, pd.Timestamp("2026-01-10"))
    np.testing.assert_array_equal(observed, [True, True, False, True, False])  # C is reported after the cut-off
