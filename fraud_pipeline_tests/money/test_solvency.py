"""The bank stays solvent over a year: what customers pay out is funded by what comes in, at any density and
channel mix the validator accepts — money out ÷ money in per month near 1, declines steady, balances without drift
— and a scenario whose knobs cannot be funded is refused when it loads."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline import solvency
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.money import budget
from fraud_pipeline.scenario import ScenarioError, with_overrides
from fraud_pipeline_tests.conftest import scaled

YEAR_END = date(2026, 12, 31)
# a small bank: a few hundred customers who each pay several times a day (the CI smoke scenario's density)
SMALL_BANK = {"population": {"customers": 300, "accounts": 370, "devices": 330, "beneficiaries": 500, "merchants": 100,
                             "atms": 30, "online_merchants": 40, "foreign_merchants": 60, "foreign_atms": 20},
              "card_transactions": {"per_day": 1500}}


def assert_solvent(months: pd.DataFrame, declined_band: tuple[float, float], highest: float = 1.05,
                   business_band: tuple[float, float] = (0.88, 1.08)) -> None:
    """The bands the README states, over twelve calendar months (`highest` and `business_band` wider for a bank of
    a few hundred customers, whose months are noisier; its calendar months up to `highest` + 0.03, as March carries
    February's debit orders due on its last, a Saturday, on top of a 31-day month)."""
    assert len(months) == 12
    # a month's income against a month's (30.44 days') outflow; the calendar month itself within 0.88–1.08
    assert months["out_in_per_month"].between(0.9, highest).all(), months[["month", "out_in", "out_in_per_month"]]
    assert months["out_in"].between(0.88, max(1.08, highest + 0.03)).all(), months[["month", "out_in"]]
    # business accounts: their takings pass through to wages and suppliers within days, so a calendar month's money
    # out matches its money in (the owner's spending rides on a month's days; takings late in a month are paid on
    # in the next), and after the first month (which sets the month's payroll aside) they neither gain nor lose
    assert months["business_out_in"].between(*business_band).all(), months[["month", "business_out_in"]]
    assert 0.97 < months["business_out_in"].iloc[1:].mean() < 1.03
    assert 0.97 < (months["out_in_per_month"].mean()) < 1.03
    # declines: in their band every month after the first, and no trend: the last month within ±25 % of the second
    later = months["declined"].iloc[1:]
    assert later.between(*declined_band).all(), months[["month", "declined"]]
    assert abs(months["declined"].iloc[-1] / months["declined"].iloc[1] - 1) <= 0.25
    # balances: each month-end percentile of the second half of the year within 15 % of the first half's mean
    # (p5 and p25 within 15 % of p50's scale, as they sit near zero)
    first, second = months.iloc[1:6], months.iloc[6:]
    scale = months["p50"].abs().mean()
    for q in ("p5", "p25", "p50", "p75", "p95"):
        tolerance = 0.15 * max(abs(first[q].mean()), scale if q in ("p5", "p25") else 0)
        assert (second[q] - first[q].mean()).abs().max() <= tolerance, (q, months[q].round(0).tolist())


def test_a_small_busy_bank_stays_solvent_for_a_year(scenario):
    months = solvency.year_of(with_overrides(scenario, SMALL_BANK), YEAR_END)
    # 268 customers' own accounts and 32 businesses' (one business's month moves the ratio by several per cent; with
    # accounts opening during the year March measured 1.071)
    assert_solvent(months, (0.005, 0.04), highest=1.08, business_band=(0.8, 1.2))


@pytest.mark.slow
def test_the_default_bank_stays_solvent_for_a_year(scenario):
    months = solvency.year_of(scenario, YEAR_END)
    assert_solvent(months, (0.008, 0.03))


def _budget(scenario, per_day: int):
    bank = Bank(scaled(scenario, population=SMALL_BANK["population"], card_transactions={"per_day": per_day}))
    return bank.world, budget.of(bank.world)


def test_amounts_follow_counts_so_outflows_do_not_grow_with_density(scenario):
    """Five times the payments per customer: five times the income (the population affords the purchases), the
    same share of it paid out, and withdrawals and transfers of about the same size (who withdraws less than a run a
    month takes out no more than a month's cash at once, so the rarest withdrawers' amounts differ a little)."""
    per_day = SMALL_BANK["card_transactions"]["per_day"]
    world, plan = _budget(scenario, per_day)
    dense_world, dense = _budget(scenario, 5 * per_day)
    assert np.median(dense_world.income) / np.median(world.income) == pytest.approx(5, rel=0.02)
    paid_out = [p.payments.sum() / p.income.sum() for p in (plan, dense)]
    assert paid_out[1] == pytest.approx(paid_out[0], rel=0.05) and paid_out[0] < 1 - scenario.money.least_left
    for median in ("cash_median", "transfer_median"):
        ratio = np.median(getattr(dense, median)[dense_world.salary]) / np.median(getattr(plan, median)[world.salary])
        assert ratio == pytest.approx(1, rel=0.2), median
    # every customer is budgeted within their income, keeping least_left of it
    for w, p in ((world, plan), (dense_world, dense)):
        spent = np.bincount(w.account_customer, weights=p.payments, minlength=w.n_customers)
        paid = p.income > 0
        assert (spent[paid] <= (1 - w.scenario.money.least_left) * p.income[paid] + 1).all()
        assert (p.saved[paid] >= w.scenario.money.least_left * p.income[paid] - 1).all()


@pytest.mark.parametrize("overrides, fields", [
    ({"money": {"card_share_of_income": 0.5, "cash_share_of_income": 0.2, "transfer_share_of_income": 0.2}},
     ["card_share_of_income", "cash_share_of_income", "transfer_share_of_income", "bills_share_of_income",
      "least_left"]),
    ({"money": {"card_share_of_income": 0.6, "cash_share_of_income": 0.0, "transfer_share_of_income": 0.0}},
     ["card_share_of_income", "bills_share_of_income", "least_left"]),
    ({"card_transactions": {"channels": {"pos": 0.02, "online": 0.0, "transfer": 0.08, "atm": 0.9}}},
     ["card_transactions.channels.atm", "money.cash_share_of_income", "card_transactions.atm.amount_step"]),
])
def test_a_scenario_its_customers_cannot_fund_is_refused_naming_the_fields(scenario, overrides, fields):
    with pytest.raises(ScenarioError) as refused:
        with_overrides(scenario, overrides)
    for field in fields:
        assert field in str(refused.value)
