"""Money mules (issue 24, `aml.mules`): several victims at other banks pay in within hours, and most of it leaves
within hours to days, in notes and to the next layer; mules are recruited among young, low-income customers but
not only. Measured on the same busy small bank as cash placement."""

import json

import pandas as pd
import pytest

from fraud_pipeline_tests.aml.conftest import cases_over, laundering_rows


def _mule_cases(days):
    rows, cases = days
    done = cases_over(cases)
    mules = done[done["typology"] == "mule"]
    assert len(mules) >= 8
    return laundering_rows(rows), mules


def test_a_mule_receives_from_several_victims_and_passes_most_on_within_72_hours(days, busy):
    from fraud_pipeline.world.entities import entity_tables
    laundering, mules = _mule_cases(days)
    incomes = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")["monthly_income"]
    assert busy.aml.mule.stealth_of_income.min == 0.5 and busy.aml.mule.stealth_of_income.max == 2.0
    for _, case in mules.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits = mine[mine["direction"] == "credit"]
        out = mine[mine["direction"] == "debit"]  # attempted: the ledger may decline one the mule spent meanwhile
        assert (credits["transaction_type"] == "transfer_in").all() and len(credits) == drawn["senders"] >= 2
        assert credits["beneficiary_id"].notna().all() and credits["beneficiary_id"].nunique() >= 2  # victims elsewhere
        assert credits["amount"].between(500, 25_000).all()
        if case["stealth"]:  # its handler sizes the takings to the holder: a month or two of income (typed, clipped)
            income = incomes[case["customer_id"]]
            slack = 50 * len(credits)
            assert min(0.5 * income, 25_000 * len(credits)) - slack <= credits["amount"].sum()
            assert credits["amount"].sum() <= max(2.0 * income, 500 * len(credits)) + slack
        assert credits["amount"].sum() == pytest.approx(case["proceeds"]) == drawn["received"]
        assert (mine["aml_role"] == "mule").all() and (case["role"] == "mule")
        # what leaves: after the last credit, within 72 hours of it (and the hour the withdrawals take), all but the
        # 5–20 % the mule keeps (give or take R50 on each of the 1–3 typed transfers)
        assert out["event_time"].min() > credits["event_time"].max()
        assert (out["event_time"] - credits["event_time"].max()).max() <= pd.Timedelta(hours=72 + 8)
        assert 0.05 <= drawn["kept"] / drawn["received"] <= 0.2
        assert abs(out["amount"].sum() - (drawn["received"] - drawn["kept"])) <= 150
        cash = out[out["transaction_type"] == "withdrawal"]
        assert (cash["channel"] == "atm").all() and cash["amount"].between(1_000, 5_000).all()
        assert cash["amount"].sum() <= 20_000 + 1_000  # the card's daily limit (a note step may pass it)
        onward = out[out["transaction_type"] == "transfer"]
        assert len(onward) <= 3 and len(onward) + len(cash) >= 1
        assert (onward["event_time"] > credits["event_time"].max()).all()
        assert onward["beneficiary_id"].notna().all() and onward["counterparty_account_id"].isna().all()


def test_mules_are_mostly_young_and_poor_but_not_only(days, busy):
    from fraud_pipeline.world.entities import entity_tables
    _, mules = _mule_cases(days)
    customers = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")
    holders = customers.loc[mules["customer_id"]]
    young_and_poor = holders["age"].between(20, 39) & (holders["monthly_income"] < 10_000)
    everyone = customers["age"].between(20, 39) & (customers["monthly_income"] < 10_000)
    # recruited four times as often: their share of mules is well above their share of customers, yet below 1
    assert young_and_poor.mean() > 1.5 * everyone.mean()
    assert 0 < (~young_and_poor).sum()
