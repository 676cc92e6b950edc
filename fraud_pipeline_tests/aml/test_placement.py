"""Cash placement (issue 24, `aml.placement`): each typology's structural property, labels that agree with
`aml_cases` across days, and the rate the scenario asks for — measured on a small bank with busy laundering."""

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.aml.checks import aml_findings
from fraud_pipeline.aml.placement import CASH_BUSINESS
from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.aml.conftest import DAYS, FIRST, cases_over, laundering_rows
from fraud_pipeline_tests.conftest import scaled

THRESHOLD = 49_999.99


def test_every_labelled_row_belongs_to_a_case_of_its_day_or_before_with_its_typology_and_role(days):
    rows, cases = days
    laundering = laundering_rows(rows)
    assert len(laundering) > 100 and len(cases) > 20
    merged = laundering.merge(cases, left_on=["aml_case_id", "account_id"], right_on=["case_id", "account_id"],
                              how="left", validate="many_to_one")
    assert merged["case_id"].notna().all()
    assert (merged["aml_typology"] == merged["typology"]).all()
    assert (merged["aml_role"] == merged["role"]).all()
    assert (merged["event_time"] >= merged["start_time"]).all() and (merged["event_time"] <= merged["end_time"]).all()
    assert (merged["arrival_time"].dt.normalize() >= pd.to_datetime(merged["partition"])).all()
    assert set(laundering["aml_typology"]) == set(AML_TYPOLOGIES)
    # no laundering row is fraud, and the labels are all null together
    assert not laundering["is_fraud"].any()
    genuine = rows[rows["aml_case_id"].isna()]
    assert genuine["aml_typology"].isna().all() and genuine["aml_role"].isna().all()
    # every case planned early enough has all its rows: as many deposits as it drew, its transfers out
    done = cases_over(cases)
    per_case = laundering.groupby("aml_case_id").size()
    assert per_case.reindex(done["case_id"]).notna().all()


def test_structuring_stays_below_the_threshold_and_sums_above_it_at_two_branches_or_more(busy, days):
    rows, cases = days
    occupation = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")["occupation"]
    cash_businesses = {o for o, share in busy.customers.cash_takings.items() if share >= CASH_BUSINESS}
    done = cases_over(cases)
    structuring = done[done["typology"] == "structuring"]
    assert len(structuring) >= 8
    laundering = laundering_rows(rows)
    deposits = laundering[laundering["transaction_type"] == "cash_deposit"]
    assert (deposits["amount"] <= THRESHOLD).all() and (deposits["amount"] % 10 == 0).all()  # notes: whole R10s
    for _, case in structuring.iterrows():
        mine = deposits[deposits["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        assert len(mine) == drawn["deposits"] >= 3
        assert mine["amount"].sum() > THRESHOLD
        assert mine["amount"].sum() == pytest.approx(case["proceeds"])
        if drawn["stealth"]:  # a cash business's notes at its own ATMs over weeks, a few a week (a trader's pace)
            assert occupation[case["customer_id"]] in cash_businesses
            assert (mine["channel"] == "atm").all() and (mine["amount"] <= 20_000).all()
            weekly = mine.set_index("event_time")["amount"].rolling("7D").count()
            assert weekly.max() <= 8 and drawn["days"] >= 14
        else:  # counted at branches by smurfs, one a business day, a town per branch
            assert (mine["channel"] == "branch").all() and mine["amount"].min() >= 30_000
            assert mine["city"].nunique() == min(drawn["branches"], drawn["deposits"]) >= 2
            assert (mine["event_time"].dt.day_of_week < 5).all() and mine["event_time"].dt.date.is_unique
        out = laundering[(laundering["aml_case_id"] == case["case_id"])
                         & (laundering["transaction_type"] == "transfer")]
        assert len(out) == drawn["moved_on"] <= 3
        if len(out):  # moved on after the last deposit, a transfer a day: most of it, to a party elsewhere
            assert out["event_time"].min() > mine["event_time"].max() and out["event_time"].dt.date.is_unique
            assert out["beneficiary_id"].nunique() == 1 and out["counterparty_account_id"].isna().all()
            assert 0.79 <= out["amount"].sum() / mine["amount"].sum() <= 1.01


def test_deposit_and_send_sends_most_of_the_deposit_on_within_72_hours(days):
    rows, cases = days
    done = cases_over(cases)
    dns = done[done["typology"] == "deposit_and_send"]
    assert len(dns) >= 8
    laundering = laundering_rows(rows)
    ratios = []
    for _, case in dns.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]].sort_values("event_time")
        deposit, sends = mine.iloc[0], mine.iloc[1:]
        assert deposit["transaction_type"] == "cash_deposit" and deposit["amount"] <= THRESHOLD
        assert deposit["amount"] == case["proceeds"] >= 10_000
        assert (sends["transaction_type"] == "transfer").all() and len(sends) == json.loads(case["parameters"])["sends"]
        hours = (sends["event_time"] - deposit["event_time"]).dt.total_seconds() / 3600
        assert hours.min() >= 1 and hours.max() <= 72
        assert deposit["channel"] == ("atm" if case["stealth"] else "branch")
        ratios.append(sends["amount"].sum() / deposit["amount"])
    # typed amounts move each send by at most R50: the ratio stays within the drawn 0.8–1.05, give or take that
    assert 0.79 <= min(ratios) and max(ratios) <= 1.06


def test_cases_arrive_at_the_scenarios_rate_and_a_share_are_reported_after_they_end(days, busy):
    _, cases = days
    # the rate's denominator: the active accounts open each day (some open during the run), a day at a time
    accounts = Bank(busy).entities["accounts"].select(["status", "opened_date", "closed_date"]).to_pandas()
    day = pd.Series(pd.date_range(pd.Timestamp(FIRST), periods=DAYS))
    opened, closed = pd.to_datetime(accounts["opened_date"]), pd.to_datetime(accounts["closed_date"])
    live = (accounts["status"] == "active").to_numpy()[:, None] & (opened.to_numpy()[:, None] <= day.to_numpy()) & (
        closed.isna().to_numpy()[:, None] | (closed.to_numpy()[:, None] > day.to_numpy()))
    active = live.sum() / DAYS
    for typology in AML_TYPOLOGIES:
        config = getattr(busy.aml, typology)
        mine = cases[cases["typology"] == typology].drop_duplicates("case_id")  # a row per case and member
        if typology == "new_account":  # a share of the accounts opening not for a genuine purpose (half of them),
            assert len(mine) >= 3      # not a rate (`test_new_accounts` counts it)
        else:
            expected = config.cases_per_10k_accounts_month * active / 10_000 / 30 * DAYS
            assert abs(len(mine) - expected) <= 4 * expected ** 0.5, (typology, len(mine), expected)  # Poisson: 4 sd
        reported = mine["label_available_at"].notna()
        assert abs(reported.mean() - config.reported_share) <= 4 * (0.25 / len(mine)) ** 0.5, typology
        delay = (mine.loc[reported, "label_available_at"] - mine.loc[reported, "end_time"]).dt.total_seconds() / 86400
        assert config.label_delay_days.min <= delay.min() and delay.max() <= config.label_delay_days.max, typology


def test_a_structuring_amount_above_the_threshold_is_refused_naming_the_field(scenario):
    with pytest.raises(ScenarioError, match=r"aml.structuring.amount.max .* at most aml.cash_threshold"):
        scaled(scenario, aml={"structuring": {"amount": {"min": 30_000, "max": 60_000}}})
    with pytest.raises(ScenarioError, match=r"exceed aml.cash_threshold"):
        scaled(scenario, aml={"structuring": {"deposits": {"min": 1, "max": 3}}})


def test_a_case_longer_than_its_account_is_kept_open_is_refused_naming_the_typology(scenario):
    with pytest.raises(ScenarioError, match=r"aml.untyped: its longest case lasts 51 days .* at most 45"):
        scaled(scenario, aml={"untyped": {"days": {"min": 7, "max": 38}}})
    with pytest.raises(ScenarioError, match=r"aml.structuring: its longest case lasts 46 days"):
        scaled(scenario, aml={"structuring": {"stealth_days": {"min": 14, "max": 38}}})
    with pytest.raises(ScenarioError, match=r"aml.front_business: its longest case lasts 46 days"):  # 41 + 2 + 3
        scaled(scenario, aml={"front_business": {"days": {"min": 28, "max": 41}}})
    with pytest.raises(ScenarioError, match=r"aml.front_business.per_week.max \(6.0\) must be at most 5"):
        scaled(scenario, aml={"front_business": {"per_week": {"min": 1, "max": 6}}})
    with pytest.raises(ScenarioError, match=r"aml.new_account: its longest case lasts 46 days"):  # 7 + 33 + 6
        scaled(scenario, aml={"new_account": {"first_days": {"min": 0, "max": 7}, "used_days": {"min": 14, "max": 33}}})
    with pytest.raises(ScenarioError, match=r"aml.cycle: its longest case lasts 56 days"):  # 6 layers × 9 days + 2
        scaled(scenario, aml={"cycle": {"stealth_gap_days": {"min": 1, "max": 8}}})
    with pytest.raises(ScenarioError, match=r"aml.layering.members.min must be at least 3 \(got 2\)"):
        scaled(scenario, aml={"layering": {"members": {"min": 2, "max": 6}}})


def test_the_days_aml_checks_pass_on_busy_laundering_and_each_fails_when_broken(busy):
    """The checks the `aml_cases` asset runs: they pass on a busy day, and each names what a broken day breaks."""
    bank = Bank(busy)
    day = FIRST + timedelta(days=3)
    rows, cases, reports = bank.day(day).transactions, bank.day(day).aml_cases, bank.day(day).aml_reports
    found = bank.aml_findings(day)
    assert set(found) == {"aml_labels_together", "aml_rows_agree_with_cases", "structuring_below_threshold",
                          "aml_reports_follow_cases"}
    assert all(f.passed for findings in found.values() for f in findings), found
    case_id = rows["aml_case_id"].to_numpy(zero_copy_only=False)
    started_today = np.array([c is not None and c[5:13] == f"{day:%Y%m%d}" for c in case_id])
    earlier = np.flatnonzero(pd.notna(case_id) & ~started_today)
    deposit = np.flatnonzero((rows["aml_typology"].to_numpy(zero_copy_only=False) == "structuring")
                             & (rows["transaction_type"].to_numpy(zero_copy_only=False) == "cash_deposit"))
    assert len(earlier) and len(deposit) and started_today.any()

    def broken(column, index, value):
        values = rows[column].to_pylist()
        values[int(index)] = value
        return rows.set_column(rows.schema.get_field_index(column), column, pa.array(values, rows[column].type))

    def failing(table, cases_table=cases, reports_table=reports):
        return {name for name, findings in aml_findings(busy, table, cases_table, reports_table, day).items()
                if not all(f.passed for f in findings)}

    assert failing(broken("aml_role", earlier[0], None)) == {"aml_labels_together"}
    assert failing(broken("amount", deposit[0], 50_000.0)) == {"structuring_below_threshold"}
    unrecorded = case_id[started_today][0]
    assert failing(rows, cases.filter(pc.not_equal(cases["case_id"], unrecorded))) == {"aml_rows_agree_with_cases"}
    # a reported case whose report is lost, and a report filed before its activity ends
    named = cases.filter(cases["label_available_at"].is_valid())["account_id"][0]
    assert failing(rows, reports_table=reports.filter(pc.not_equal(reports["account_id"], named))) == {
        "aml_reports_follow_cases"}
    early = reports.set_column(reports.schema.get_field_index("reported_at"), "reported_at", reports["activity_from"])
    assert failing(rows, reports_table=early) == {"aml_reports_follow_cases"}


def test_a_days_laundering_rows_have_the_columns_and_types_of_every_other_row(busy):
    """The rows the bank carries from day to day (pending in the state) concatenate with genuine ones only when
    every column has the same type: money in integer cents."""
    from fraud_pipeline.aml.cases import aml_day
    from fraud_pipeline.core.rows import make
    world = Bank(busy).world
    found = [aml_day(world, FIRST + timedelta(days=k), make(0))[0].rows for k in range(5)]
    assert sum(len(rows) for rows in found) > 50
    for rows in found:
        assert rows.to_table().schema == make(0).to_table().schema
