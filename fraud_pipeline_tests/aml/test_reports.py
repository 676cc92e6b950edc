"""The bank's own labels (`aml_reports`, `aml.reports`): every reported case's accounts at its label time, its
holders' other accounts with them, and false suspicions among the genuine accounts the bank's monitoring alerts
on, recomputed here from the busy small bank's 21 days of rows."""

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.detection.aml_scorecard import observed_at
from fraud_pipeline.engine.bank import Bank


DAY, MS = pd.Timedelta(days=1), pd.Timedelta(milliseconds=1)


@pytest.fixture(scope="module")
def holders(busy):
    """accounts (account_id → customer_id, opened and closed dates) and what each customer takes in a month
    (turnover, else income)."""
    entities = Bank(busy).entities
    accounts = entities["accounts"].select(["account_id", "customer_id", "opened_date", "closed_date"]).to_pandas()
    customers = entities["customers"].to_pandas().set_index("customer_id")
    takes = customers["monthly_turnover"].fillna(customers["monthly_income"])
    return accounts, takes


def test_every_reported_case_names_its_accounts_and_their_holders_others(generated, holders):
    _, _, cases, reports = generated
    accounts, _ = holders
    reported = cases[cases["label_available_at"].notna()]
    assert len(reported) > 50 and cases["label_available_at"].isna().any()  # some never reported: missed
    # every window is whole days, and the report comes after it
    assert (reports["activity_from"] == reports["activity_from"].dt.floor("D")).all()
    assert (reports["activity_to"] + MS == (reports["activity_to"] + MS).dt.floor("D")).all()
    assert (reports["reported_at"] > reports["activity_to"]).all()
    # each reported case's account: a report at its label time over the case's days, in the case's partition
    joined = reported.merge(reports, on="account_id", suffixes=("", "_report"))
    joined = joined[(joined["reported_at"] == joined["label_available_at"])
                    & (joined["activity_from"] == joined["start_time"].dt.floor("D"))
                    & (joined["activity_to"] == joined["end_time"].dt.floor("D") + DAY - MS)
                    & (joined["partition"] == joined["partition_report"])]
    assert len(joined[["case_id", "account_id"]].drop_duplicates()) == len(reported)
    # a report names its customer's accounts open some time from its window's start to its filing, and only those
    first = reports[~reports.duplicated("report_id")]
    expected = first.merge(accounts, on="customer_id", suffixes=("_reported", ""))
    opened, closed = pd.to_datetime(expected["opened_date"]), pd.to_datetime(expected["closed_date"])
    expected = expected[(opened <= expected["reported_at"].dt.floor("D"))
                        & (closed.isna() | (closed > expected["activity_from"]))]
    assert sorted(zip(expected["report_id"], expected["account_id"])) == sorted(zip(reports["report_id"],
                                                                                    reports["account_id"]))
    assert reports.groupby("report_id").size().max() > 1
    assert not reports.duplicated(["report_id", "account_id"]).any()
    # a report's number says nothing of its kind: in some block's day a false suspicion is numbered before a case's
    number = first["report_id"].str[-5:].astype(int)
    block_day = first["report_id"].str[:19]
    is_case = pd.MultiIndex.from_frame(first[["account_id", "reported_at"]]).isin(
        pd.MultiIndex.from_frame(reported[["account_id", "label_available_at"]]))
    lowest_false = number[~is_case].groupby(block_day[~is_case]).min()
    highest_true = number[is_case].groupby(block_day[is_case]).max()
    both = lowest_false.index.intersection(highest_true.index)
    assert len(both) and (lowest_false[both] < highest_true[both]).any()


def test_false_suspicions_are_genuine_accounts_the_monitoring_alerted_on(generated, holders, busy):
    """A report that names no case is a holder's other account or a false suspicion: the activity of an account that
    tripped an alert on a day and had no laundering row that day, over that day and up to `lookback_days` before,
    filed within the typologies' label delays. Each alerted genuine account is reported with chance `alerted_share`:
    a binomial count, within four standard deviations."""
    rows, posted, cases, reports = generated
    accounts, takes = holders
    customer_of = accounts.set_index("account_id")["customer_id"]
    o = busy.aml.observed
    # the reports whose first account is not a reported case's at its label time
    reported = cases[cases["label_available_at"].notna()]
    of_cases = pd.MultiIndex.from_frame(reported[["account_id", "label_available_at"]])
    first_named = ~reports.duplicated("report_id")
    suspicions = reports[first_named & ~pd.MultiIndex.from_frame(reports[["account_id", "reported_at"]]).isin(of_cases)]
    alert_day = suspicions["activity_to"].dt.floor("D")
    assert (alert_day == suspicions["partition"].astype("datetime64[ns]")).all()
    looked = (alert_day - suspicions["activity_from"]) / DAY
    assert looked.between(o.lookback_days.min, o.lookback_days.max).all() and looked.nunique() > 5
    # the alerts, recomputed: approved rows posted that day
    approved = rows[rows["status"] == "approved"].assign(day=posted[rows["status"] == "approved"])
    outside = approved[(approved["transaction_type"] == "transfer_in") & approved["beneficiary_id"].notna()
                       & approved["counterparty_account_id"].isna()]
    by = outside.groupby(["account_id", "day"])
    senders = by["beneficiary_id"].nunique()
    came = by["amount"].sum()
    limit = came.index.get_level_values("account_id").map(customer_of).map(takes) * o.large_credit_of_income
    cash = approved[(approved["transaction_type"] == "cash_deposit")
                    & (approved["amount"] >= o.near_threshold * busy.aml.cash_threshold)
                    & (approved["amount"] <= busy.aml.cash_threshold)]
    alerted = (set(senders[senders >= o.fan_in].index) | set(came[came.to_numpy() >= limit.to_numpy()].index)
               | set(zip(cash["account_id"], cash["day"])))
    laundered = rows["aml_case_id"].notna()  # declined laundering rows too: the day is a case's
    laundering = set(zip(rows.loc[laundered, "account_id"], posted[laundered]))
    genuine_alerted = alerted - laundering
    suspected = set(zip(suspicions["account_id"], alert_day))
    assert suspected <= genuine_alerted and len(suspected) >= 20
    n, p = len(genuine_alerted), o.alerted_share
    assert abs(len(suspected) - n * p) < 4 * (n * p * (1 - p)) ** 0.5
    # filed as long after as a case of some typology: within the typologies' label delays, and spread over them
    delays = [getattr(busy.aml, t).label_delay_days for t in AML_TYPOLOGIES]
    delay = (suspicions["reported_at"] - suspicions["activity_to"] - MS) / DAY
    assert delay.between(min(d.min for d in delays), max(d.max for d in delays) + 1e-6).all()
    assert delay.max() > 30 and delay.min() < 30


def test_the_observed_label_marks_reported_accounts_rows_in_their_activity_before_the_cutoff():
    """`observed_at`, by hand: rows of an account reported before the cut-off, within its activity's window."""
    rows = pd.DataFrame({"account_id": ["A", "A", "A", "B", "C"],
                         "event_time": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 10:00", "2026-01-05 10:00",
                                                       "2026-01-02 12:00", "2026-01-02 12:00"])})
    reports = pd.DataFrame({"account_id": ["A", "B", "C"],
                            "reported_at": pd.to_datetime(["2026-01-08", "2026-01-09", "2026-01-20"]),
                            "activity_from": pd.to_datetime(["2026-01-01 09:00", "2026-01-02 00:00",
                                                             "2026-01-02 00:00"]),
                            "activity_to": pd.to_datetime(["2026-01-02 11:00", "2026-01-02 23:59",
                                                           "2026-01-02 23:59"])})
    observed = observed_at(rows, reports, pd.Timestamp("2026-01-10"))
    np.testing.assert_array_equal(observed, [True, True, False, True, False])  # C is reported after the cut-off
