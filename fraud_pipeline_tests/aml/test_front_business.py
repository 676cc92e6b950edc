"""Front-business commingling (issue 24, `aml.front_business`, aml-anchors §8.2 row 7): a cash business banks extra
notes as takings for weeks, lifting its inflow 1.5–4 times its usual, and pays most of it on within days as wages and
supplies to people and a company elsewhere. On the busy small bank (its fronts last 7–12 days, so cases finish)."""

import json

import numpy as np
import pytest

from fraud_pipeline.aml.placement import CASH_BUSINESS
from fraud_pipeline.world import calendar
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.aml.conftest import finished, laundering_rows


def test_a_front_banks_extra_takings_in_notes_and_pays_most_on_as_wages_and_supplies(days, busy):
    rows, cases = days
    c = busy.aml.front_business
    fronts = finished(cases, "front_business")
    laundering = laundering_rows(rows)
    tables = entity_tables(busy)
    customers = tables["customers"].to_pandas().set_index("customer_id")
    beneficiaries = tables["beneficiaries"].to_pandas().set_index("beneficiary_id")
    cash_businesses = {o for o, share in busy.customers.cash_takings.items() if share >= CASH_BUSINESS}
    assert customers.loc[fronts["customer_id"], "occupation"].isin(cash_businesses).all()
    note = busy.inflows.cash_deposits.atm_note
    for _, case in fronts.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        takings = customers["monthly_turnover"].fillna(customers["monthly_income"])[case["customer_id"]]
        deposits = mine[mine["direction"] == "credit"]
        out = mine[mine["direction"] == "debit"]
        assert (mine["aml_role"] == "front_business").all() and case["role"] == "front_business"
        # the extra takings: as many deposits as drawn, notes (whole R10s) below the cash threshold, at the front's
        # own ATMs or counter, counted at the counter on business days
        assert len(deposits) == drawn["deposits"] and (deposits["transaction_type"] == "cash_deposit").all()
        assert deposits["channel"].isin(["atm", "branch"]).all()
        assert ((deposits["amount"] * 100).round() % (note * 100) == 0).all()
        assert (deposits["amount"] <= busy.aml.cash_threshold).all()
        counter = deposits[deposits["channel"] == "branch"]["event_time"].dt.date
        assert all(calendar.is_business_day(busy, d) for d in counter)
        assert deposits["amount"].sum() == pytest.approx(case["proceeds"])
        # together (uplift − 1) months' takings (a business's turnover, else income) a month of the case, less each
        # deposit's notes' rounding
        bounds = c.stealth_uplift if case["stealth"] else c.uplift
        assert bounds.min <= drawn["uplift"] <= bounds.max
        extra = deposits["amount"].sum()
        meant = (drawn["uplift"] - 1) * takings * drawn["days"] / 30
        assert extra <= meant + 0.01 * takings
        # none held below the threshold (a deposit that would pass it is kept 0–20 % below it)
        if (deposits["amount"] < 0.8 * busy.aml.cash_threshold - note).all():
            assert meant - note * len(deposits) - 0.01 * takings <= extra
        # the outgoings: 1–3 days after a deposit, 70–95 % of the deposits in all (give or take each amount's
        # typing), all to the case's people and its supplier (§8.2: ≥ 30 % of the outflow to case members)
        assert (out["transaction_type"] == "transfer").all() and out["beneficiary_id"].notna().all()
        assert len(deposits) * c.payments.min <= len(out) <= len(deposits) * c.payments.max
        deposit_days = deposits["event_time"].dt.normalize().to_numpy()
        for sent in out["event_time"].dt.normalize().to_numpy():
            after = (sent - deposit_days) / np.timedelta64(1, "D")
            assert ((after >= c.out_days.min) & (after <= c.out_days.max)).any()
        tolerance = 60 * len(out)
        assert c.paid_on.min * extra - tolerance <= out["amount"].sum() <= c.paid_on.max * extra + tolerance
        payees = beneficiaries.loc[out["beneficiary_id"], "beneficiary_type"]
        assert payees[payees == "individual"].index.nunique() <= drawn["staff"]
        assert payees[payees != "individual"].index.nunique() <= 1 and payees.isin(["individual", "merchant"]).all()
