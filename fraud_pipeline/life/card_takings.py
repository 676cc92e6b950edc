"""A business's card sales: some business owners' businesses are among the bank's merchants (issue 24, step 2).

Such a business takes `customers.business.card_takings.part` of its turnover by card at its own terminal — a shop of
the configured categories in the owner's home town — and the acquirer settles the sales into its business account
each business day, in the early-morning batch, for the days since the last settlement. The rest of its turnover comes
as client payments and banked notes (`life.income`). What the owner does not keep of a week's settlements is paid on
like any takings from the next week's first business day (`last_weeks_sales`, `life.income.business_outgoings`;
wholesalers are paid weekly, not after every settlement): the genuine twin of money many times the owner's income
passing through, from one payer that is not a person.

A merchant belongs to at most one business: block b draws terminals only among the merchants whose number is b
modulo the bank's blocks, so blocks never draw the same one and a business's terminal does not depend on how the
bank is split into runs or workers. Owners with no such terminal left in their town take no cards.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow.compute as pc

from fraud_pipeline.core.rows import CARD_SETTLEMENT, NONE, TRANSFER, Rows, concat, make
from fraud_pipeline.core.streams import stream
from fraud_pipeline.life.genuine import receives, rng_for, scheduled_times
from fraud_pipeline.world import calendar
from fraud_pipeline.world.build import World

SETTLEMENT_SIGMA = 0.35  # log-normal spread of a day's card sales around the month's mean (assumption)
YEAR_DAYS = 365.25


def terminals(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the merchant row of their business's card terminal (-1 for none) and the share of its turnover
    paid by card there (0 for none); drawn once per block from its own stream, the same all year."""
    key = ("card_terminals",)
    if key not in world.caches:
        t = world.scenario.customers.business.card_takings
        static = stream(world.scenario.seed, "income", "card_terminals", *world.block_key)
        owner = np.zeros(world.n_customers, bool)
        owner[world.account_customer[world.business]] = True
        owner &= static.random(world.n_customers) < t.share
        part = np.where(owner, static.uniform(t.part.min, t.part.max, world.n_customers), 0.0)
        categories = list(world.scenario.merchants.categories)
        shops = np.sort(np.concatenate([world.shops[categories.index(c)] for c in t.categories]))
        shops = shops[shops % world.n_blocks == world.block_number]
        shop_city = pc.index_in(world.merchant_city.take(shops), value_set=world.city_name).to_numpy().astype(np.int64)
        terminal = np.full(world.n_customers, NONE)
        who = np.flatnonzero(owner)
        # in each town, the k-th owner (in a random order) takes the k-th shop (in a random order)
        shop_order = np.lexsort((static.random(len(shops)), shop_city))
        owner_order = np.lexsort((static.random(len(who)), world.home_city[who]))
        shops, shop_city, who = shops[shop_order], shop_city[shop_order], who[owner_order]
        cities = len(world.city_name)
        first_shop = np.concatenate([[0], np.cumsum(np.bincount(shop_city, minlength=cities))])
        first_owner = np.concatenate([[0], np.cumsum(np.bincount(world.home_city[who], minlength=cities))])
        town = world.home_city[who]
        rank = np.arange(len(who)) - first_owner[town]
        has = rank < first_shop[town + 1] - first_shop[town]
        terminal[who[has]] = shops[first_shop[town[has]] + rank[has]]
        part[terminal < 0] = 0.0
        world.caches[key] = (terminal, part)
    return world.caches[key]


def settlements(world: World, day: date) -> Rows:
    """On a business day, each open, active business account whose business takes cards (`terminals`) is paid its
    card sales since the last business day — the days' share of `part` × turnover, each day's log-normal around the
    mean (`SETTLEMENT_SIGMA`) — in the early-morning batch, from its terminal (`merchant`, no payer)."""
    s = world.scenario
    if not calendar.is_business_day(s, day):
        return make(0)
    rng = rng_for(world, day)
    terminal, part = terminals(world)
    account = world.salary_of
    customer = np.flatnonzero((terminal >= 0) & (account >= 0))
    customer = customer[receives(world, day)[account[customer]]]
    days = (day - calendar.previous_business_day(s, day)).days
    n = len(customer)
    mean = world.turnover[customer] * part[customer] * 12 / YEAR_DAYS * 100
    sales = rng("card_sales").lognormal(-SETTLEMENT_SIGMA ** 2 / 2, SETTLEMENT_SIGMA, (days, n)).sum(axis=0)
    return make(n, account=account[customer], channel=TRANSFER, kind=CARD_SETTLEMENT,
                event_ms=scheduled_times(rng("card_settlement_time"), n, day), cents=np.round(mean * sales),
                payee=NONE, merchant=terminal[customer], place=terminal[customer])


def last_weeks_sales(world: World, day: date) -> Rows:
    """On the first business day of an ISO week, every card settlement of the week before (`settlements` of each of
    its days, as they were), one row per settlement; none on other days. Each settlement is in one week, so each
    is counted once."""
    s = world.scenario
    previous = calendar.previous_business_day(s, day)
    if not calendar.is_business_day(s, day) or previous.isocalendar()[:2] == day.isocalendar()[:2]:
        return make(0)
    monday = day - timedelta(days=day.weekday() + 7)
    return concat([settlements(world, monday + timedelta(days=i)) for i in range(7)])
