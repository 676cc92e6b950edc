"""Dormant reactivation: a silent account wakes to receive money from people it never dealt with, and passes it on.

`../shared/reference/aml-anchors.md` §8.2 row 9: an account inactive for months (here a `dormant` one: it makes no
payments of its own) is paid several times by new counterparties within two weeks, and the money then leaves. An old
account draws less attention than a new one, and its holder may have sold it or never notice. Plainly 3–6 payments
of about R45,000 in all (lognormal, split unevenly) over a span of 1–14 days; stealthily one or two larger ones,
R20,000–R150,000 each — a car sold, an estate paid out. Either way timed and paid as the genuine estates paid into
dormant accounts are (`inflows.one_off.dormant_tranches`: half the one-offs into dormant accounts, in 1–6 parts, the
first on the day and the others within the span, two sometimes on one day — `days_of_parts` is both's — 80 % of the
payers businesses: front companies or a 'trust account' here, an attorney or an insurer there). 1–5 days after the
last, 60–100 % of it leaves in 1–4 transfers to people elsewhere, a day apart, at the hours people pay — as half the
estates are shared among relatives (`life.estates`, whose `passed_on_a_day_apart` both use). The account's role is
`layer`: money passes through it.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, finish, placers, rng_of
from fraud_pipeline.core.labels import DORMANT, LAYER
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.estates import days_of_parts, passed_on_a_day_apart
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.payments import individuals_or_businesses
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World


def dormant_day(world: World, day: date) -> Cases:
    """The block's dormant-reactivation cases that start on `day`, with all their rows (those of later days the bank
    carries). Cases are Poisson(`aml.dormant.cases_per_10k_accounts_month` per 10,000 active accounts per 30 days),
    drawn among the dormant accounts open for the case's weeks."""
    c = world.scenario.aml.dormant
    rng = rng_of(world, day, "dormant")
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0,
                      np.ones(world.n_customers), status="dormant")
    n = len(account)
    customer = world.account_customer[account]
    stealth = rng("stealth").random(n) < c.stealth
    count = np.where(stealth, rng("stealth_credits").integers(c.stealth_credits.min, c.stealth_credits.max + 1, n),
                     rng("credits").integers(c.credits.min, c.credits.max + 1, n))
    # timed and paid as an estate's parts are: the first today, the others over the span, mostly from businesses
    span = rng("days").integers(c.days.min, c.days.max + 1, n)
    case = np.repeat(np.arange(n), count)
    on = day_start_ms(day) + days_of_parts(rng, count, span) * MS_PER_DAY
    credit_ms = in_hours(world, rng, "credit", on, on, on + MS_PER_DAY - 1, "transfer")
    payer = individuals_or_businesses(world, lambda p: rng(f"senders_{p}"), len(case), c.from_businesses)
    # plainly a total as an estate's, split unevenly; stealthily each log-uniform as a one-off's
    total = rng("total").lognormal(np.log(c.total.median), c.total.sigma, n)
    split = uneven_shares(rng("split"), case)
    each = np.exp(rng("amount").uniform(np.log(c.stealth_amount.min), np.log(c.stealth_amount.max), len(case)))
    cents = spending.typed_amount(rng("typed"), np.where(stealth[case], each, total[case] * split) * CENTS)
    credits = make(len(case), account=account[case], channel=TRANSFER, kind=TRANSFER_IN, event_ms=credit_ms,
                   cents=cents, payee=payer, place=city_place(world, world.home_city[customer[case]]))
    received = np.bincount(case, weights=cents, minlength=n)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, case, credit_ms)
    # passed on as an heir shares an estate: 1–4 transfers to people elsewhere, a day apart from `out_days` after the
    # last credit
    out, moves = passed_on_a_day_apart(world, day, rng, account, last, received, c)
    pieces = np.bincount(moves, minlength=n)
    parameters = [{"credits": int(m), "days": int(d), "transfers": int(p), "stealth": bool(x)}
                  for m, d, p, x in zip(count, span, pieces, stealth)]
    return finish(world, day, rng, DORMANT, account, stealth, received.astype(np.int64), parameters,
                  np.r_[case, moves], concat([credits, out]), c, LAYER)
