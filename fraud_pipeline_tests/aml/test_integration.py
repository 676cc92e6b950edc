"""Untyped laundering (issue 24, `aml.integration`): a self-employed customer's "client" pays them like a client over
weeks, and most of each payment leaves within days as wages and supplier payments. Measured on the same busy small
bank as cash placement."""

import json

import pandas as pd
import pytest

from fraud_pipeline.world import calendar
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.aml.conftest import finished, laundering_rows


def test_an_untyped_case_is_paid_like_a_business_and_pays_most_of_it_on_as_outgoings(days, busy):
    rows, cases = days
    c = busy.aml.untyped
    untyped = finished(cases, "untyped")
    laundering = laundering_rows(rows)
    customers = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")
    paid_by_clients = {o for o, kind in busy.customers.income_kind.items() if kind == "client_payment"}
    assert customers.loc[untyped["customer_id"], "occupation"].isin(paid_by_clients).all()
    for _, case in untyped.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        takings = customers["monthly_turnover"].fillna(customers["monthly_income"])[case["customer_id"]]
        if pd.notna(customers["monthly_turnover"][case["customer_id"]]):  # a business, paid 8–20 times a month
            irregular, business = busy.customers.irregular_credits, busy.customers.business.credits
            takings *= (irregular.min + irregular.max) / (business.min + business.max)
        credits = mine[mine["direction"] == "credit"]
        out = mine[mine["direction"] == "debit"]
        assert (mine["aml_role"] == "front_business").all() and case["role"] == "front_business"
        # the client payments: as many as drawn, one a business day within the case's days, each a share of a
        # month's takings (to the cent, as genuine ones are), from one party elsewhere
        assert (credits["transaction_type"] == "client_payment").all() and len(credits) == drawn["credits"]
        assert credits["beneficiary_id"].nunique() == 1 and credits["counterparty_account_id"].isna().all()
        credit_days = credits["event_time"].dt.date
        assert credit_days.nunique() == len(credits)
        assert all(calendar.is_business_day(busy, d) for d in credit_days)
        assert (credit_days.max() - credit_days.min()).days < drawn["days"] + 2 * c.credits.max
        low, high = max(c.of_takings.min * takings, c.least), c.of_takings.max * takings
        assert credits["amount"].between(low - 0.01, high + 0.01).all()
        assert credits["amount"].sum() == pytest.approx(case["proceeds"])
        # the outgoings: transfers elsewhere, each 1–7 days after a payment, 70–95 % of the payments in all (give
        # or take the typing of each amount), to at most `staff` people and one supplier
        assert (out["transaction_type"] == "transfer").all() and out["beneficiary_id"].notna().all()
        assert len(credits) * c.payments.min <= len(out) <= len(credits) * c.payments.max
        first_out = out["event_time"].dt.normalize().min() - credits["event_time"].dt.normalize().min()
        assert pd.Timedelta(days=c.out_days.min) <= first_out <= pd.Timedelta(days=c.out_days.max)
        tolerance = 60 * len(out)
        paid = out["amount"].sum()
        received = credits["amount"].sum()
        assert c.paid_on.min * received - tolerance <= paid <= c.paid_on.max * received + tolerance
        assert out["beneficiary_id"].nunique() <= drawn["staff"] + 1
