"""Money from outside the bank (`life.income`): income by kind, cash banked, side hustles and one-offs — the
genuine twins laundering hides among — measured in four weeks of the default bank and in the generators'
own output, against what the scenario configures (tolerances stated per test)."""

from datetime import timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import TRANSFER_IN
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.income import BRANCH_HOURS, one_offs, side_hustles
from fraud_pipeline.world import calendar
from fraud_pipeline.world.spending import volume_scale

@pytest.fixture(scope="module")
def credits(default_month):
    """Approved credits from outside the bank, with the holder's occupation and the payer's beneficiary type."""
    t = default_month["transactions"]
    e = default_month["entities"]
    rows = t[(t["direction"] == "credit") & t["counterparty_account_id"].isna() & (t["status"] == "approved")]
    rows = rows.merge(e["customers"][["customer_id", "occupation"]], on="customer_id")
    return rows.merge(e["beneficiaries"][["beneficiary_id", "beneficiary_type"]], on="beneficiary_id", how="left")


def test_income_arrives_as_the_occupations_kind(scenario, credits, default_month):
    """Salaries, pensions and grants go only to the occupations paid that way, and every occupation's kind is seen;
    a student's allowance is a transfer from one individual outside the bank, the same parent for every student
    all month."""
    kinds = scenario.customers.income_kind
    for kind in ("salary", "pension", "grant", "client_payment"):
        paid = set(credits.loc[credits["transaction_type"] == kind, "occupation"])
        assert paid == {o for o, k in kinds.items() if k == kind}, kind
    students = credits[(credits["occupation"] == "student") & (credits["transaction_type"] == "transfer_in")]
    income = default_month["entities"]["customers"].set_index("customer_id")["monthly_income"]
    allowance = students[np.isclose(students["amount"], students["customer_id"].map(income))]
    assert allowance["customer_id"].nunique() > 100
    assert set(allowance["beneficiary_type"]) == {"individual"}
    assert allowance.groupby("customer_id")["beneficiary_id"].nunique().max() == 1
    # not everyone's parent is the same person: parents are drawn per student
    assert allowance["beneficiary_id"].nunique() > 0.9 * allowance["customer_id"].nunique()


def test_grants_stay_within_the_cap(scenario, default_month):
    """The unemployed's income never exceeds `income_cap` (times the volume scale every income carries)."""
    e = default_month["entities"]["customers"]
    unemployed = e.loc[e["occupation"] == "unemployed", "monthly_income"]
    cap = scenario.customers.income_cap["unemployed"] * volume_scale(scenario)
    assert len(unemployed) > 1000 and unemployed.max() <= round(cap, -1) + 10
    assert (e.loc[e["occupation"] == "salaried", "monthly_income"] > cap).mean() > 0.5  # the cap is the grant's only


def test_cash_takings_are_banked_as_notes_at_an_atm_or_at_a_branch(scenario, credits):
    """Each occupation banks its configured share of client payments as cash (within 4 standard errors); an ATM
    deposit is whole notes within the ATM's limit at an ATM, a branch deposit falls in counter hours of a business
    day; no payer is named for cash."""
    c = scenario.inflows.cash_deposits
    income = credits[credits["transaction_type"].isin(["client_payment", "cash_deposit"])]
    for occupation, share in scenario.customers.cash_takings.items():
        rows = income[income["occupation"] == occupation]
        cash = (rows["transaction_type"] == "cash_deposit").mean()
        error = np.sqrt(share * (1 - share) / len(rows))
        assert len(rows) > 200 and abs(cash - share) < 4 * error + 0.01, (occupation, cash, share)
    cash = credits[credits["transaction_type"] == "cash_deposit"]
    assert set(cash["occupation"]) == set(scenario.customers.cash_takings)
    assert cash["beneficiary_id"].isna().all()
    atm = cash[cash["channel"] == "atm"]
    branch = cash[cash["channel"] == "branch"]
    assert set(cash["channel"]) == {"atm", "branch"}
    assert (np.round(atm["amount"] * 100) % round(c.atm_note * 100) == 0).all()
    assert atm["amount"].max() <= c.atm_max and atm["merchant_id"].notna().all()
    assert atm["card_number"].notna().all() and branch["card_number"].isna().all()
    assert branch["merchant_id"].isna().all()
    hours = branch["event_time"].dt.hour
    assert hours.between(BRANCH_HOURS[0], BRANCH_HOURS[1] - 1).all()
    assert all(calendar.is_business_day(scenario, d) for d in set(branch["event_time"].dt.date))
    atm_share = len(atm) / len(cash)  # an ATM unless the amount is over its limit
    assert c.atm_share - 0.08 < atm_share <= c.atm_share + 0.03


def test_side_hustles_are_paid_by_many_unrelated_people(scenario, credits):
    """About `side_hustle.share` of customers are paid by three or more individuals outside the bank in four weeks
    (the genuine fan-in); the customers with one or two such payers are the family-supported and the one-offs."""
    senders = credits[(credits["transaction_type"] == "transfer_in") & (credits["beneficiary_type"] == "individual")]
    fan_in = senders.groupby("customer_id")["beneficiary_id"].nunique()
    many = (fan_in >= 3).sum() / scenario.population.customers
    h = scenario.inflows.side_hustle
    # a seller with a month's count c receives Poisson(c × 28 / 30.44) payments: most of them three or more
    assert 0.6 * h.share < many < 1.05 * h.share, many
    assert fan_in.max() >= 15


@pytest.fixture(scope="module")
def bank(scenario):
    return Bank(scenario)


def test_one_offs_are_rare_large_and_within_their_cap(scenario, bank):
    """Over 120 days of the default bank: one-offs come at `per_customer_per_year` (within 4 Poisson standard
    errors of the eligible customers' expectation), in whole rands, at most `max`, with a lognormal median near
    `amount.median`; each names a payer outside the bank."""
    world = bank.world
    o = scenario.inflows.one_off
    days = [scenario.start_date + timedelta(days=i) for i in range(120)]
    rows = [one_offs(world, day) for day in days]
    cents = np.concatenate([r.cents for r in rows])
    assert all((r.kind == TRANSFER_IN).all() and (r.payee >= 0).all() for r in rows)
    eligible = (world.salary_of >= 0).sum()  # active accounts: most of them (bounds below allow for the rest)
    expected = eligible * o.per_customer_per_year * len(days) / 365.25
    assert 0.85 * expected - 4 * np.sqrt(expected) < len(cents) < expected + 4 * np.sqrt(expected)
    assert (cents % 100 == 0).all() and cents.max() <= o.max * 100
    assert 0.7 * o.amount.median < np.median(cents) / 100 < 1.3 * o.amount.median


def test_side_hustle_payments_follow_the_configured_counts_and_amounts(scenario, bank):
    """A seller's payments over 60 days average (min + max) / 2 a month (within 10 %), and the amounts' median is
    `amount.median` within the typed rounding (15 %)."""
    world = bank.world
    h = scenario.inflows.side_hustle
    days = [scenario.start_date + timedelta(days=i) for i in range(60)]
    rows = [side_hustles(world, day) for day in days]
    account = np.concatenate([r.account for r in rows])
    cents = np.concatenate([r.cents for r in rows])
    sellers = len(np.unique(account))
    per_month = len(account) / sellers / (len(days) / 30.4375)
    mean = (h.payments_per_month.min + h.payments_per_month.max) / 2
    assert abs(per_month - mean) < 0.1 * mean, per_month
    assert abs(np.median(cents) / 100 - h.amount.median) < 0.15 * h.amount.median
    assert abs(sellers / world.n_customers - h.share) < 0.25 * h.share
