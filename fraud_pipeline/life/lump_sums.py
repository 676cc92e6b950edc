"""Lump sums into crypto and offshore: a customer with a saved crypto wallet or offshore payee now and then puts a
large sum into it — a bonus put away in crypto, the yearly offshore allowance used (the Reserve Bank's single
discretionary allowance is R1 million a year).

The genuine twin of corruption proceeds paid out to offshore companies and crypto exchanges (`aml.high_risk`):
without it, a large payment to a high-risk payee would be laundering alone. The rate and amounts
(`money.lump_sums`) are stated assumptions.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import NONE, Rows
from fraud_pipeline.core.timeline import arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.between_customers import covered_sums
from fraud_pipeline.life.genuine import RISKY_PAYEES, rng_for
from fraud_pipeline.life.payments import transfers_out
from fraud_pipeline.world.build import World


def lump_sums_day(world: World, day: date, balance: np.ndarray) -> Rows:
    """The day's lump sums (arrival times set): `money.lump_sums.per_customer_per_year` of customers a year, from
    their salary account to its first saved crypto wallet or offshore payee, log-uniform in `amount`, when the
    account's balance at the day's start (`balance`, cents) covers it."""
    rng = rng_for(world, day)
    account, cents = covered_sums(world, day, rng, world.scenario.money.lump_sums, balance, "lump_sum",
                                  "lump_sum_amount")
    payee = risky_payee(world)[account]
    account, payee, cents = account[payee >= 0], payee[payee >= 0], cents[payee >= 0]
    event = times_in_hours(rng("lump_sum_time"), len(account), 0,
                           world.scenario.card_transactions.hourly["transfer"], day_start_ms(day))
    rows = transfers_out(world, day, rng, "lump_sum", account, event, cents, payee)
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("lump_sum_lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows


def risky_payee(world: World) -> np.ndarray:
    """Per account of the world: the first payee it saved that is a crypto wallet or an offshore company (a beneficiary
    row), NONE for none. Kept in the world's caches."""
    key = ("risky_payee",)
    if key not in world.caches:
        owner = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
        rows = np.flatnonzero(np.isin(world.beneficiary_type[world.payee], RISKY_PAYEES))
        found = np.full(world.n_accounts, NONE, np.int64)
        found[owner[rows][::-1]] = world.payee[rows][::-1]  # the first of each account's
        world.caches[key] = found
    return world.caches[key]
