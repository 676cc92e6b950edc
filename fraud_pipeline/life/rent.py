"""Backyard rent: landlords who let rooms or backyard dwellings are paid by their tenants early in the month, each
tenant on their own day, then take much of it out in notes — often several times the landlord's own income (a
pensioner with four tenants). The genuine twin of a mule whose senders together pay many times the holder's
income, then cash out (issue 24; the AML scorecard found that ratio carried its mule model).

South Africa's 2011 census counted 712,956 backyard shacks besides backyard rooms and flatlets, and 3.6 million of
its 14.5 million homes rented (as reported by infrastructurenews.co.za, 5 November 2012); an assumption from it:
`inflows.rent.share` of customers (3 %) are landlords, each with 1–6 tenants. Tenants bank
anywhere, so they are parties at other banks (beneficiary rows, the same all year); rents are round amounts fixed
per tenant, and the landlord withdraws a share at ATMs within three days of the month's last rent.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms
from fraud_pipeline.life.cash_out import CENTS, atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place, receives, rng_for
from fraud_pipeline.life.payments import outside_parties
from fraud_pipeline.world.build import World

STEP = 100  # rand: rents are round amounts


def rent_day(world: World, day: date) -> Rows:
    """The day's rent rows, with arrival times: each tenant whose rent day is today pays their landlord; on the
    landlord's last rent day of the month, the withdrawals of a share of the month's rent (then or in the next
    three days)."""
    k = world.scenario.inflows.rent
    landlord, tenants, pay_day, rent, tenant, last_day = _lettings(world)
    account = world.salary_of
    paying = (pay_day == day.day) & landlord[:, None] & (np.arange(pay_day.shape[1]) < tenants[:, None])
    paying &= (account >= 0)[:, None]
    customer, slot = np.nonzero(paying)
    open_ = receives(world, day)[account[customer]]
    customer, slot = customer[open_], slot[open_]
    if not len(customer):
        return make(0)
    rng = rng_for(world, day)
    planned = np.full(len(customer), day_start_ms(day))
    event = in_hours(world, lambda p: rng(f"rent_{p}"), "in", planned, planned, planned + MS_PER_DAY - 1, "transfer")
    rows = [make(len(customer), account=account[customer], channel=TRANSFER, kind=TRANSFER_IN, event_ms=event,
                 cents=rent[customer, slot], payee=tenant[customer, slot],
                 place=city_place(world, world.home_city[customer]))]
    # the month's last rent today: a share of the month's rent withdrawn within 1–72 h of it
    done = np.unique(customer[last_day[customer] == day.day])
    if len(done):
        month = np.where(np.arange(rent.shape[1]) < tenants[done, None], rent[done], 0).sum(axis=1)
        cash = np.round(month * rng("rent_cash_share").uniform(k.cash_share.min, k.cash_share.max, len(done)))
        cash = np.where(cash >= k.withdrawal.min * CENTS, cash, 0)
        mine = np.isin(customer, done)
        last_ms = np.zeros(len(done), np.int64)  # the landlord's last rent today
        np.maximum.at(last_ms, np.searchsorted(done, customer[mine]), event[mine])
        withdrawals, _ = atm_withdrawals(world, lambda p: rng(f"rent_{p}"), account[done], done, cash, last_ms,
                                         np.ones(len(done)), np.full(len(done), 72.0),
                                         rng("rent_usual").random(len(done)) < 0.5, k.withdrawal)
        rows.append(withdrawals)
    found = concat(rows)
    lag = world.scenario.card_transactions.arrival_lag_seconds
    found.arrival_ms = found.event_ms + arrival_lag_ms(rng("rent_lag"), len(found), lag.median, lag.sigma, lag.max)
    return found


def _lettings(world: World):
    """Per customer, drawn once: whether they let rooms, how many tenants, and per tenant (columns up to
    `tenants.max`) their rent day of the month, their rent (cents) and who they are (a beneficiary row); and the
    landlord's last rent day of the month."""
    key = ("rent",)
    if key not in world.caches:
        k = world.scenario.inflows.rent
        static = stream(world.scenario.seed, "income", "rent", *world.block_key)
        n, most = world.n_customers, k.tenants.max
        landlord = static.random(n) < k.share
        tenants = static.integers(k.tenants.min, k.tenants.max + 1, n)
        pay_day = static.integers(k.pay_day.min, k.pay_day.max + 1, (n, most))
        rent = (np.round(static.uniform(k.amount.min, k.amount.max, (n, most)) / STEP) * STEP * CENTS).astype(np.int64)
        tenant = outside_parties(world, static, n * most, ("individual",)).reshape(n, most)
        last_day = np.where(np.arange(most) < tenants[:, None], pay_day, 0).max(axis=1)
        world.caches[key] = (landlord, tenants, pay_day, rent, tenant, last_day)
    return world.caches[key]
