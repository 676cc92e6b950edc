"""Untyped laundering: criminal money integrated through a small business's books, fitting no pattern.

`../shared/reference/aml-anchors.md` §8.1 rule 2 and §3: most of AMLworld's laundering belongs to no pattern (38 %
of HI-Small's rows, 71 % of LI-Small's) — the integration stage, disguised as payroll and supplies — and models
recall almost none of it. Here a self-employed customer (the holder earns by client payments: a trader, a business
owner, a freelancer) is paid over 1–4 weeks by a "client" that is a criminal's company: 2–6 client payments, each
the size of the holder's genuine ones (a share of a month's takings — a business's turnover, else the holder's
income — to the cent), on business days at the hours clients pay. Within a week of each, most of it leaves as the
business's outgoings: "wages" to 1–4 people and "supplier" payments to a business, all elsewhere. Stealthily, the
paying client is one of the holder's regular clients and the supplier one of their regular wholesalers (the
criminal's company has long been on the books).

Every row is made by the genuine code paths: a client payment as `life.income` makes one (kind CLIENT_PAYMENT, no
device, the payer a beneficiary), the outgoings by `life.income.transfers_out` (typed, from the holder's device).
The account's role is `front_business`; the case's typology is `untyped`, the share of laundering a motif-hunting
detector should not find (§8.3: untyped recall below 20 %).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, finish, placers, rng_of, transfers_on_case_days
from fraud_pipeline.core.labels import FRONT_BUSINESS, UNTYPED
from fraud_pipeline.core.rows import CLIENT_PAYMENT, TRANSFER, Rows, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.income import CLIENTS, SUPPLIERS, income_kinds, regular_parties
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.scenario.population import INCOME_KINDS
from fraud_pipeline.world.build import World


def outgoings(world: World, day: date, rng, c, account: np.ndarray, stealth: np.ndarray, case: np.ndarray,
              credit_ms: np.ndarray, cents: np.ndarray) -> tuple[Rows, np.ndarray, np.ndarray]:
    """A front's outgoings (§8.2 row 7: "salaries" and "suppliers" to linked persons): each credit (`case`, an index
    into `account`; `credit_ms`, `cents`) passed on in `c.payments` transfers of `c.paid_on` of it in all,
    `c.out_days` after it at an hour people pay, as wages to the case's 1–`c.staff` people or to its supplier (a
    company elsewhere; where `stealth`, one of the holder's regular wholesalers), all elsewhere. `c`: an
    `scenario.aml.Outgoings`. Returns (the transfers, each one's case, each case's number of staff)."""
    n = len(account)
    customer = world.account_customer[account]
    pieces = rng("payments").integers(c.payments.min, c.payments.max + 1, len(case))
    out = np.repeat(np.arange(len(case)), pieces)
    share = uneven_shares(rng("split"), out)
    paid = np.round(cents * rng("paid_on").uniform(c.paid_on.min, c.paid_on.max, len(case)))
    later = credit_ms[out] // MS_PER_DAY + rng("out_days").integers(c.out_days.min, c.out_days.max + 1, len(out))
    send_ms = in_hours(world, rng, "out", later * MS_PER_DAY, later * MS_PER_DAY, later * MS_PER_DAY + MS_PER_DAY - 1,
                       "transfer")
    staff = rng("staff").integers(c.staff.min, c.staff.max + 1, n)
    people = outside_parties(world, rng("people"), n * c.staff.max, ("individual",)).reshape(n, c.staff.max)
    supplier = np.where(stealth, regular_parties(world, "suppliers", rng, customer, SUPPLIERS, ("merchant",), 1.0),
                        outside_parties(world, rng("supplier"), n, ("merchant",)))
    whose = case[out]
    person = people[whose, (rng("person").random(len(out)) * staff[whose]).astype(np.int64)]
    payee = np.where(rng("wages").random(len(out)) < c.wages_share, person, supplier[whose])
    return transfers_out(world, day, rng, "out", account[whose], send_ms, np.round(paid[out] * share), payee), \
        whose, staff


def payments_a_month(world: World, account: np.ndarray) -> np.ndarray:
    """Per account of `account`: how many times a month its holder's clients pay, relative to an irregular
    earner's (`customers.irregular_credits`' mean): a business's `customers.business.credits` mean over it, else 1."""
    c = world.scenario.customers
    usual = (c.irregular_credits.min + c.irregular_credits.max) / 2
    return np.where(world.business[account], (c.business.credits.min + c.business.credits.max) / 2 / usual, 1.0)


def untyped_day(world: World, day: date) -> Cases:
    """The block's untyped cases that start on `day`, with all their rows (those of later days the bank carries).
    Cases are Poisson(`aml.untyped.cases_per_10k_accounts_month` per 10,000 active accounts per 30 days), drawn
    among the salary accounts of holders paid by clients (`customers.income_kind: client_payment`)."""
    c = world.scenario.aml.untyped
    rng = rng_of(world, day, "untyped")
    by_clients = (income_kinds(world) == INCOME_KINDS.index("client_payment")).astype(float)
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0, by_clients)
    n = len(account)
    customer = world.account_customer[account]
    stealth = rng("stealth").random(n) < c.stealth
    # the front's client payments: distinct business days of the case's weeks, each the size of the holder's genuine
    # ones — a share of a month's takings (`World.turnover`: a business's turnover, else the holder's income) for a
    # holder paid `irregular_credits` times a month, smaller in proportion for a business paid more often
    count = rng("credits").integers(c.credits.min, c.credits.max + 1, n)
    span = rng("days").integers(c.days.min, c.days.max + 1, n)
    case, credit_ms = transfers_on_case_days(world, day, rng, "credit", span, count, False)
    takings = world.turnover[customer] * CENTS / payments_a_month(world, account)
    cents = np.round(takings[case] * rng("of_income").uniform(c.of_takings.min, c.of_takings.max,
                                                                  len(case)))
    cents = np.maximum(cents, c.least * CENTS).astype(np.int64)
    client = np.where(stealth, regular_parties(world, "clients", rng, customer, CLIENTS, ("individual", "merchant"),
                                               1.0),
                      outside_parties(world, rng("client"), n, ("merchant",)))
    credits = make(len(case), account=account[case], channel=TRANSFER, kind=CLIENT_PAYMENT, event_ms=credit_ms,
                   cents=cents, payee=client[case], place=city_place(world, world.home_city[customer[case]]))
    sent, whose, staff = outgoings(world, day, rng, c, account, stealth, case, credit_ms, cents)
    received = np.bincount(case, weights=cents, minlength=n).astype(np.int64)
    parameters = [{"credits": int(k), "days": int(d), "staff": int(p), "stealth": bool(x)}
                  for k, d, p, x in zip(count, span, staff, stealth)]
    return finish(world, day, rng, UNTYPED, account, stealth, received, parameters, np.r_[case, whose],
                  concat([credits, sent]), c, FRONT_BUSINESS)
