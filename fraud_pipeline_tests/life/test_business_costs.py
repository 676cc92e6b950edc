"""A business's fixed monthly costs (`life.business_costs`): rent and the municipal account, measured over three
months of one block of the default bank against what the scenario configures (tolerances stated per test)."""

from datetime import date, timedelta

import numpy as np
import pytest

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.life.business_costs import fixed_costs, fixed_costs_of, monthly_fixed_costs
from fraud_pipeline.life.genuine import receives
from fraud_pipeline.world import calendar


@pytest.fixture(scope="module")
def world(scenario):
    return block_world(Bank(scenario).world, 2)


def test_rent_and_utilities_are_paid_on_their_days_to_the_same_payees_every_month(scenario, world):
    """Over February–April: on each cost's day (rent on the month's first business day, utilities on the 15th moved
    back to a business day) every open, active business account pays it once, and nothing on the days between; rent
    is its `share` of the turnover beyond the owner's income every month, to the rand; utilities vary around theirs
    (the mean of the three months' ratios within 0.9–1.1, their log spread within 30 % of `spread`); each goes to
    the same business outside the bank every month, a landlord not a municipality; the sweep leaves a business its
    month's fixed costs."""
    costs = scenario.customers.business.fixed_costs
    assert set(costs) == {"rent", "utilities"} and costs["rent"].spread == 0
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(89)]
    paid = {day: fixed_costs(world, day) for day in days}
    due = {name: [d for d in days if calendar.days_since_payday(scenario, cost.due, d) == 0]
           for name, cost in costs.items()}
    assert len(due["rent"]) == len(due["utilities"]) == 3
    assert all(len(rows) == 0 for day, rows in paid.items() if day not in due["rent"] + due["utilities"])
    business = np.flatnonzero(world.business & receives(world, days[0]))
    owner = world.account_customer[business]
    payees = {}
    for name, cost in costs.items():
        expected = np.floor(cost.share * np.maximum(world.turnover - world.income, 0)[owner]) * 100
        payer, expected = business[expected > 0], expected[expected > 0]  # ascending, as the rows sorted
        ratios, payee = [], []
        for day in due[name]:  # rent's days and the utilities' never coincide
            rows = paid[day]
            order = np.argsort(rows.account)
            assert np.array_equal(rows.account[order], payer)
            ratios.append(rows.cents[order] / expected)
            payee.append(rows.payee[order])
        ratios = np.array(ratios)
        if cost.spread == 0:
            assert np.allclose(ratios, 1.0)
        else:
            assert 0.9 < ratios.mean() < 1.1
            assert abs(np.log(ratios).std() - cost.spread) < 0.3 * cost.spread
        assert all(np.array_equal(payee[0], p) for p in payee[1:])
        assert set(world.beneficiary_type[payee[0]]) == {"merchant"}
        payees[name] = payee[0]
    assert (payees["rent"] != payees["utilities"]).mean() > 0.9
    total = monthly_fixed_costs(world)
    assert np.array_equal(total, sum(fixed_costs_of(world).values())) and (total[owner] > 0).all()
