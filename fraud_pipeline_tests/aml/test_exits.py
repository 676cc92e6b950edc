"""Cross-border exits (issue 24, `aml.exits`): the proceeds come in from people elsewhere, then leave abroad in
payments each below the IFTR threshold, one a day; stealthily at a payment home's size, to the holder's own family
abroad when they have one. Measured on the same busy small bank as cash placement."""

import json

import pandas as pd

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import finished, laundering_rows


def test_an_exit_sends_what_came_in_abroad_below_the_threshold_one_payment_a_day(days, busy):
    rows, cases = days
    c = busy.aml.cross_border
    exits = finished(cases, "cross_border")
    laundering = laundering_rows(rows)
    world = Bank(busy).world
    country = pd.Series(world.beneficiary_country, index=world.beneficiary_id.to_pylist())
    to_family = 0
    for _, case in exits.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits, out = mine[mine["direction"] == "credit"], mine[mine["direction"] == "debit"]
        assert (mine["aml_role"] == "exit").all() and case["role"] == "exit"
        # the proceeds: from people elsewhere, in the first days, before any exit
        assert (credits["transaction_type"] == "transfer_in").all() and len(credits) == drawn["credits"]
        assert credits["counterparty_account_id"].isna().all()
        start = pd.Timestamp(case["partition"])
        assert (credits["event_time"] < start + pd.Timedelta(days=c.in_days + 1)).all()
        assert out["event_time"].min() > credits["event_time"].max()
        # the exits: as many as drawn, one a day, each below the threshold, to one person abroad
        assert (out["transaction_type"] == "transfer").all() and len(out) == drawn["payments"]
        assert out["event_time"].dt.date.nunique() == len(out)
        assert (out["amount"] <= c.amount.max).all() and (out["amount"] <= busy.aml.cross_border_threshold).all()
        low = c.stealth_amount.min if case["stealth"] else c.amount.min
        assert (out["amount"] >= low - 50).all()  # typed: give or take R50
        assert out["beneficiary_id"].nunique() == 1
        assert country[out["beneficiary_id"].iloc[0]] in c.countries
        # what leaves is what came in, less a margin of up to 10 % (and the typing)
        assert out["amount"].sum() <= credits["amount"].sum() + 50 * len(credits)
        assert credits["amount"].sum() <= 1.1 * out["amount"].sum() + 50 * (len(credits) + len(out))
        customer = world.customer_id.to_pylist().index(case["customer_id"])
        family = world.family_abroad[customer]
        if case["stealth"]:  # a migrant worker who sends money home, to their own family
            assert family >= 0 and out["beneficiary_id"].iloc[0] == world.beneficiary_id[family].as_py()
            to_family += 1
        assert drawn["to_family"] == bool(case["stealth"])
    assert to_family >= 1


def test_an_exit_above_the_iftr_threshold_is_refused_naming_the_field(scenario):
    import pytest
    from fraud_pipeline.scenario import ScenarioError
    from fraud_pipeline_tests.conftest import scaled
    with pytest.raises(ScenarioError, match=r"aml.cross_border.amount.max \(25000.0\) must be at most "
                                            r"aml.cross_border_threshold"):
        scaled(scenario, aml={"cross_border": {"amount": {"min": 15_000, "max": 25_000}}})
