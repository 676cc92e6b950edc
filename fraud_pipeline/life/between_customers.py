"""Money between our own customers beyond everyday transfers: family money passed on, and large private payments.

The genuine twins of laundering among our customers (`aml.networks`, issue 24). A fresh AML analyst found that of
45,052 genuine credits from another customer only 14 were passed on to a third customer, against half of the
laundering ones, and that no genuine transfer between customers came near a layering hop's size. In life both
happen: a family pools money for a parent's rent, school fees or a funeral and one of them pays it on; a car is sold
privately, lobola is paid, a deposit on a house or a loan to family moves tens of thousands of rand from one account
to another. The rates and amounts (`money.between_customers`) are stated assumptions.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import NONE, TRANSFER_IN, Rows, concat
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.genuine import p2p_payees, receives, rng_for
from fraud_pipeline.life.payments import transfers_out
from fraud_pipeline.scenario.money import LargePayments
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number

CENTS = 100
MORNING = 3  # money from the overnight batch (00:30–02:00) is passed on from this hour


def between_customers_day(world: World, day: date, arriving: Rows, balance: np.ndarray) -> Rows:
    """The day's money passed on and large payments between our customers (event times today and in the next
    days, with arrival times). `arriving`: the rows the day carries in (the overnight batch's credits are among
    them); `balance`: each account's balance at the day's start, cents."""
    rows = concat([_passed_on(world, day, arriving), _large(world, day, balance)])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng_for(world, day)("between_customers_lag"), len(rows),
                                                     lag.median, lag.sigma, lag.max)
    return rows


def _passed_on(world: World, day: date, arriving: Rows) -> Rows:
    """A share of today's genuine credits of at least `least` from another of our customers is passed on to a third
    customer: `part` of it, `days` later (from the morning it settles), typed as people type amounts."""
    c = world.scenario.money.between_customers.passed_on
    rng = rng_for(world, day)
    start = day_start_ms(day)
    credit = np.flatnonzero((arriving.kind == TRANSFER_IN) & (arriving.counterparty >= 0) & (arriving.aml_case < 0)
                            & (arriving.scenario < 0) & (arriving.arrival_ms >= start)
                            & (arriving.arrival_ms < start + MS_PER_DAY) & (arriving.cents >= c.least * CENTS))
    credit = credit[rng("passed_on").random(len(credit)) < c.share]
    credit = credit[receives(world, day)[arriving.account[credit]]]
    return _to_others(world, day, rng, "passed_on", arriving.account[credit],
                      rng("passed_on_days").integers(c.days.min, c.days.max + 1, len(credit)),
                      arriving.cents[credit] * rng("passed_on_part").uniform(c.part.min, c.part.max, len(credit)),
                      arriving.counterparty[credit])


def _large(world: World, day: date, balance: np.ndarray) -> Rows:
    """Large payments to another of our customers from salary accounts whose balance covers them (log-uniform
    amounts, today)."""
    rng = rng_for(world, day)
    account, cents = covered_sums(world, day, rng, world.scenario.money.between_customers.large, balance,
                                  "large_payment", "large_amount")
    return _to_others(world, day, rng, "large", account, np.zeros(len(account), np.int64), cents,
                      np.full(len(account), NONE))


def covered_sums(world: World, day: date, rng, config: LargePayments, balance: np.ndarray, chosen: str,
                 amount: str) -> tuple[np.ndarray, np.ndarray]:
    """Today's large sums: `config.per_customer_per_year` of customers a year (stream `chosen`) pay one from their
    salary account, log-uniform in `config.amount` (stream `amount`), where the account is open and active and its
    balance at the day's start (`balance`, cents) covers it. Returns the accounts and the cents (float)."""
    account = world.salary_of
    payer = np.flatnonzero((rng(chosen).random(world.n_customers) < config.per_customer_per_year / 365.25)
                           & (account >= 0))
    account = account[payer]
    cents = np.exp(rng(amount).uniform(np.log(config.amount.min), np.log(config.amount.max), len(account))) * CENTS
    can = receives(world, day)[account] & (balance[account] >= cents)
    return account[can], cents[can]


def other_customers(world: World, day: date, rng, purpose: str, account: np.ndarray, not_to: np.ndarray | int,
                    settled_by: np.ndarray | int | None = None) -> np.ndarray:
    """Per account of `account` (this world's rows): the bank's account it pays (another customer's, now and then the
    holder's own other account, as people move money between their accounts), drawn bank-wide
    among the accounts payable on `day` (stream `purpose`_payee) — never the account itself nor `not_to` (the bank's
    account the money came from, or NONE), and open until the day number `settled_by` (per row; default the day
    after `day`, when a transfer of `day` settles), so no credit bounces off a closed account and the money is
    never lost. NONE where no account qualifies (a tiny bank, an account closing sooner)."""
    others = p2p_payees(world.directory, day)
    if len(others) == 0:
        return np.full(len(account), NONE)
    payee = others[rng(f"{purpose}_payee").integers(0, len(others), len(account))]
    for _ in range(2):  # the next payable account instead of the payer or the sender (never a self-transfer)
        clash = (payee == world.bank_accounts(account)) | (payee == not_to)
        payee = np.where(clash, others[(np.searchsorted(others, payee) + 1) % len(others)], payee)
    clash = (payee == world.bank_accounts(account)) | (payee == not_to)  # a bank of one or two payable accounts
    if settled_by is not None:
        clash |= world.directory.closed_day[payee] <= settled_by
    return np.where(clash, NONE, payee)


def _to_others(world: World, day: date, rng, purpose: str, account: np.ndarray, after_days: np.ndarray,
               cents: np.ndarray, not_to: np.ndarray) -> Rows:
    """Transfers from `account` to other customers of the bank (drawn bank-wide, never the account itself nor
    `not_to`, the bank's account the money came from, and open until the transfer settles), `after_days` after
    `day` at an hour people pay from the morning on."""
    payee = other_customers(world, day, rng, purpose, account, not_to, day_number(day) + after_days + 1)
    if len(account) == 0 or (payee < 0).all():
        return concat([])
    hours = np.asarray(world.scenario.card_transactions.hourly["transfer"], float)[MORNING:]
    event = times_in_hours(rng(f"{purpose}_time"), len(account), MORNING, hours, day_start_ms(day)) \
        + after_days * MS_PER_DAY
    paid = np.flatnonzero(payee >= 0)  # not where no payee stays open until it settles
    return transfers_out(world, day, rng, purpose, account[paid], event[paid], cents[paid], np.full(len(paid), NONE),
                         payee[paid])

