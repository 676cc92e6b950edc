"""A business's fixed monthly costs (issue 24, step 2): the rent of its premises and its municipal account.

Each is `customers.business.fixed_costs.<name>.share` of what the business pays on in a month (its turnover less
the owner's income), paid from the business account on a fixed schedule's day (rent on the month's first business
day, utilities on the 15th) to the same landlord or municipality every month: rent the same amount each month,
utilities varying around it. They come out of the takings as the payroll does, so the wholesalers are paid what is
left (`life.income.business_outgoings`). With the payroll, the genuine twin of a front's or untyped laundering's
regular outgoings; without them a business account's only debits were wholesalers and wages (the second analyst's
finding 5).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import Rows, concat, make
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.genuine import receives, rng_for
from fraud_pipeline.life.income import regular_parties
from fraud_pipeline.life.payments import transfers_out
from fraud_pipeline.world import calendar
from fraud_pipeline.world.build import World

PAYEE = (1, 1)  # one landlord, one municipality per business, the same all year


def fixed_costs_of(world: World) -> dict[str, np.ndarray]:
    """Per cost name: each customer's monthly amount in cents, whole rand (0 for customers without a business)."""
    key = ("fixed_costs",)
    if key not in world.caches:
        b = world.scenario.customers.business
        paid_on = np.maximum(world.turnover - world.income, 0.0)
        world.caches[key] = {name: (np.floor(cost.share * paid_on) * 100).astype(np.int64)
                             for name, cost in b.fixed_costs.items()}
    return world.caches[key]


def monthly_fixed_costs(world: World) -> np.ndarray:
    """Per customer: their business's fixed costs in a month, cents (what the sweep leaves it, with its payroll)."""
    return sum(fixed_costs_of(world).values(), np.zeros(world.n_customers, np.int64))


def fixed_costs(world: World, day: date) -> Rows:
    """The fixed costs due on `day`, with their arrival times: from each open, active business account, through the
    day's transfer hours, to the business's landlord or municipality (a business outside the bank), from the
    owner's device; an amount with a `spread` varies log-normally around its monthly amount (mean 1), to the cent."""
    s = world.scenario
    account = np.flatnonzero(world.business & receives(world, day))
    customer = world.account_customer[account]
    rng = rng_for(world, day)
    parts = []
    for name, cost in s.customers.business.fixed_costs.items():  # a few named costs, not rows
        if calendar.days_since_payday(s, cost.due, day) != 0:
            continue
        cents = fixed_costs_of(world)[name][customer]
        if cost.spread > 0:
            cents = np.round(cents * rng(f"{name}_spread").lognormal(-cost.spread ** 2 / 2, cost.spread, len(cents)))
        due = cents > 0
        payee = regular_parties(world, f"business_{name}", rng, customer[due], PAYEE, ("merchant",), 1.0)
        start = np.full(int(due.sum()), day_start_ms(day))
        event = in_hours(world, rng, name, start, start, start + MS_PER_DAY - 1, "transfer")
        parts.append(transfers_out(world, day, rng, name, account[due], event, cents[due], payee, typed=False))
    rows = concat(parts) if parts else make(0)
    lag = s.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("fixed_costs_lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows
