"""Front-business commingling: a cash business's takings swollen with criminal cash, banked as takings and paid out
as wages and supplies.

`../shared/reference/aml-anchors.md` §8.2 row 7: a small business (a tavern, a car wash, a panel beater) receives
extra cash 1.5–4 times its usual inflow for at least four weeks and pays "salaries" and "suppliers" to linked
persons. Here the holder is a customer who banks much of their takings in notes (`customers.cash_takings` at least
CASH_BUSINESS: traders and business owners), weighted by that share and their monthly takings (a front needs takings
to hide in: a business owner's business's turnover, `customers.monthly_turnover`, else the trader's income). Over 4–5
weeks the front banks 1–2 extra deposits a week on distinct business days, in notes at one of its usual ATMs or at
its home branch as its genuine takings are banked (`life.income.bank_cash`, each below the cash threshold), that
together lift its inflow over the case to 1.5–4 times its monthly takings (stealthily 1.2–1.8 times: a good
season's size). Within 1–3 days of each deposit most of it leaves as "wages" to
1–4 people and payments to a "supplier" (`integration.outgoings`; stealthily one of its regular wholesalers).

The genuine twins: businesses' takings, several times their owners' income, paid on to staff and wholesalers
within days (`life.income.business_outgoings`); traders' takings banked with a wholesaler's stock money and paid on
(`life.income`'s supplier money); their good and lean months; and untyped laundering's client payments through the
same books. The account's role is `front_business`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.integration import outgoings
from fraud_pipeline.aml.placement import (CENTS, MONTH_DAYS, Cases, case_days, cash_businesses, counted_deposits,
                                         finish, placers, rng_of)
from fraud_pipeline.core.labels import FRONT_BUSINESS, FRONTS
from fraud_pipeline.core.rows import concat
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.world.build import World


def front_business_day(world: World, day: date) -> Cases:
    """The block's front-business cases that start on `day`, with all their rows (those of later days the bank
    carries). Cases are Poisson(`aml.front_business.cases_per_10k_accounts_month` per 10,000 active accounts per
    30 days), drawn among the salary accounts of cash businesses, in proportion to their takings' share × their
    monthly takings (`World.turnover`: a business's turnover, else the holder's income)."""
    s = world.scenario
    c = s.aml.front_business
    rng = rng_of(world, day, "front_business")
    # a front needs takings to hide in: customers who bank much of their takings in notes, the bigger the likelier
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0, cash_businesses(world))
    n = len(account)
    customer = world.account_customer[account]
    stealth = rng("stealth").random(n) < c.stealth
    span = rng("days").integers(c.days.min, c.days.max + 1, n)
    count = np.maximum(np.round(span / 7 * rng("per_week").uniform(c.per_week.min, c.per_week.max, n)), 1).astype(
        np.int64)
    # the extra cash: (uplift − 1) months' takings a month of the case, split unevenly among its deposits
    low = np.where(stealth, c.stealth_uplift.min, c.uplift.min)
    high = np.where(stealth, c.stealth_uplift.max, c.uplift.max)
    uplift = rng("uplift").uniform(low, high)
    extra = (uplift - 1) * world.turnover[customer] * CENTS * span / MONTH_DAYS
    case = np.repeat(np.arange(n), count)
    share = uneven_shares(rng("split"), case)
    # a deposit that would pass the threshold is kept below it by some margin, as a trader would (not all at R49,990)
    below = s.aml.cash_threshold * rng("margin").uniform(0.8, 1.0, len(case))
    cents = np.minimum(np.round(extra[case] * share), np.floor(below) * CENTS).astype(np.int64)
    offset = case_days(world, day, rng("day"), span, count, np.zeros(n, bool))
    at_atm = (rng("at_atm").random(len(case)) < s.inflows.cash_deposits.atm_share) & (
        cents <= round(s.inflows.cash_deposits.atm_max * CENTS))
    home = city_place(world, world.home_city[customer])
    deposits = counted_deposits(world, day, rng, account[case], cents, offset, home[case], at_atm)
    sent, whose, staff = outgoings(world, day, rng, c, account, stealth, case,
                                   (deposits.event_ms // MS_PER_DAY) * MS_PER_DAY, deposits.cents)
    banked = np.bincount(case, weights=deposits.cents, minlength=n).astype(np.int64)
    parameters = [{"deposits": int(k), "days": int(d), "uplift": round(float(u), 3), "staff": int(p),
                   "stealth": bool(x)} for k, d, u, p, x in zip(count, span, uplift, staff, stealth)]
    return finish(world, day, rng, FRONTS, account, stealth, banked, parameters, np.r_[case, whose],
                  concat([deposits, sent]), c, FRONT_BUSINESS)
