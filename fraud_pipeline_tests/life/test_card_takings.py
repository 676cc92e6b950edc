"""Businesses that take cards (`life.card_takings`): their terminals among the bank's merchants, the acquirer's
daily settlements of their card sales, and the weekly wholesale paid out of them — measured in the default bank's
blocks and four weeks of its days, against what the scenario configures (tolerances stated per test)."""

from datetime import date, timedelta

import numpy as np
import pytest

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.life.card_takings import last_weeks_sales, settlements, terminals
from fraud_pipeline.life.income import wholesale_of_card_sales
from fraud_pipeline.world import calendar


@pytest.fixture(scope="module")
def blocks(scenario):
    bank = Bank(scenario).world
    return [block_world(bank, b) for b in range(bank.n_blocks)]


def test_a_terminal_is_a_shop_of_the_configured_kinds_in_its_owners_town_and_no_one_elses(scenario, blocks):
    """Over every block: only business owners have a terminal; each is a point-of-sale shop of
    `card_takings.categories` in the owner's home town; no merchant is two businesses' terminal (blocks draw among
    disjoint merchants); about `share` of the businesses take cards (within 4 binomial standard errors, less the
    few whose town has no shop left: at most 10 % of them), each with a part of its turnover within `part`."""
    t = scenario.customers.business.card_takings
    owned, owners, takers = [], 0, 0
    for world in blocks:
        terminal, part = terminals(world)
        business = np.zeros(world.n_customers, bool)
        business[world.account_customer[world.business]] = True
        has = terminal >= 0
        assert not (has & ~business).any()
        assert (part[has] >= t.part.min).all() and (part[has] <= t.part.max).all() and (part[~has] == 0).all()
        shops = np.concatenate([world.shops[list(scenario.merchants.categories).index(c)] for c in t.categories])
        assert np.isin(terminal[has], shops).all()
        assert world.merchant_city.take(terminal[has]).to_pylist() == world.city_name.take(
            world.home_city[has]).to_pylist()
        owned.append(terminal[has])
        owners, takers = owners + business.sum(), takers + has.sum()
    owned = np.concatenate(owned)
    assert len(np.unique(owned)) == len(owned) > 500
    error = np.sqrt(t.share * (1 - t.share) / owners)
    assert 0.9 * (t.share - 4 * error) < takers / owners < t.share + 4 * error, takers / owners


def test_the_acquirer_settles_a_business_days_card_sales_into_the_business_account(scenario, default_month):
    """Four weeks of the default bank: settlements come only on business days, in the night batch (01:00–05:00), to
    business accounts, from the business's one terminal (`merchant_id`, its category among the configured ones),
    with no payer and no card; one per business a business day; over the month a business is settled about its
    card part of the turnover (settled ÷ 28 days' turnover: the median within `part`, the 5th percentile above 0.6
    of its least: daily sales are log-normal around the mean)."""
    t = default_month["transactions"]
    e = default_month["entities"]
    rows = t[t["transaction_type"] == "card_settlement"]
    assert len(rows) > 5000 and (rows["direction"] == "credit").all()
    assert all(calendar.is_business_day(scenario, d) for d in set(rows["event_time"].dt.date))
    assert rows["event_time"].dt.hour.between(1, 4).all()
    accounts = e["accounts"].set_index("account_id")
    assert set(accounts.loc[rows["account_id"], "account_type"]) == {"business"}
    assert rows["beneficiary_id"].isna().all() and rows["card_number"].isna().all()
    assert set(rows["category"]) <= set(scenario.customers.business.card_takings.categories)
    assert rows.groupby("account_id")["merchant_id"].nunique().max() == 1
    assert rows.groupby("merchant_id")["account_id"].nunique().max() == 1
    assert rows.groupby(["account_id", rows["event_time"].dt.date]).size().max() == 1
    # over the 28 days a business is settled its part (not a column; within `part`) of 28 days' turnover
    settled = rows.groupby("customer_id")["amount"].sum()
    turnover = e["customers"].set_index("customer_id")["monthly_turnover"][settled.index]
    part = settled / (turnover * 12 / 365.25 * 28)
    card = scenario.customers.business.card_takings
    assert card.part.min < part.median() < card.part.max and part.quantile(0.05) > 0.6 * card.part.min, part.describe()


def test_businesses_pay_their_wholesalers_weekly_out_of_last_weeks_card_sales(scenario, blocks):
    """On the first business day of a week each business that was settled the week before pays what its owner does
    not keep of those settlements, less the payroll's and the fixed costs' shares (`set_aside`), in one payment to
    one of its wholesalers (within R100 of the typing); every settlement of the week is counted once and none of
    another week; on other days nothing is paid out of card sales."""
    world = blocks[1]
    b = scenario.customers.business
    monday = date(2026, 2, 9)
    assert len(last_weeks_sales(world, monday + timedelta(days=1))) == 0
    assert len(wholesale_of_card_sales(world, monday + timedelta(days=2))) == 0
    week = [monday - timedelta(days=7 - i) for i in range(7)]
    settled = [settlements(world, d) for d in week]
    sales = last_weeks_sales(world, monday)
    assert len(sales) == sum(len(s) for s in settled) > 1000
    assert sales.cents.sum() == sum(s.cents.sum() for s in settled)
    paid = wholesale_of_card_sales(world, monday)
    assert len(paid) == len(np.unique(sales.account)) and len(np.unique(paid.account)) == len(paid)
    multiple = world.turnover / np.maximum(world.income, 1e-9)
    owner = world.account_customer[sales.account]
    owed = np.bincount(sales.account, sales.cents - np.round(sales.cents / multiple[owner]), world.n_accounts)
    expected = owed[paid.account] * (1 - b.set_aside)
    assert np.abs(paid.cents - expected).max() <= 10_000
    assert set(world.beneficiary_type[paid.payee]) == {"merchant"}
