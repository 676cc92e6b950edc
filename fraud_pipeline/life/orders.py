"""Orders taken on an account opened for them: a trader who buys stock to order — clothes, hair, phones, bulk
groceries — opens an account for it and shares its details. In rounds a few days apart, buyers at other banks prepay
within a day or two, and within hours to two days of the last of them the trader pays the supplier all but a
margin, partly in notes at a market or a cash-and-carry, the rest by transfer to a business, to a person (an
importer, a wholesaler's agent) or to a crypto exchange (importers pay suppliers abroad in stablecoins); after a few
rounds most such ventures stop.

Strangers paying a new account in waves, passed on within hours, for a few weeks, then silence: the genuine twin of
an account opened to launder (`aml.new_account`, whose waves are a mule's), which its side-hustle and funeral twins
were not (a side hustle's buyers pay about R300, at random; a funeral is one wave). `inflows.orders.opened_for` of
the debit accounts that open during the run are opened for it (`world.openings.opened_for`). Its counts, days and
amounts are stated assumptions in the scenario.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import Rows, concat, make
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.cash_out import CENTS, within_daily_limit
from fraud_pipeline.life.genuine import receives, rng_for
from fraud_pipeline.life.payments import individuals_or_businesses, outside_parties
from fraud_pipeline.life.waves import pass_on, strangers_pay
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.openings import opened_for


def orders_day(world: World, day: date) -> Rows:
    """All the rows of the order accounts opening on `day` (event times from the next day to weeks on, with arrival
    times; the bank carries those of later days): per account `rounds` rounds, the first `first_days` after the
    opening and each next `every_days` after the one before; in each, `buyers` prepayments from individuals at other
    banks within `arrive_hours` of the round's start, about the trader's own median (`amount`, `trader_sigma`), then
    `paid_hours` after the last of them all but the `margin` leaves — `cash_share` in withdrawals up to the card's
    daily `cash_limit` (`home_atm` of the rounds all at the ATM nearest home, else at the usual ATMs), the rest in
    `transfers` to the trader's suppliers outside the bank, the same every round but for
    `new_supplier` of the transfers (`crypto_share` of them a crypto exchange, of the others `to_people` a person,
    else a business); the wave and its passing on are made by `life.waves`, as a mule's are. Drawn from the day's
    genuine streams orders_*."""
    k = world.scenario.inflows.orders
    streams = rng_for(world, day)

    def rng(purpose: str) -> np.random.Generator:
        return streams(f"orders_{purpose}")

    trader = np.flatnonzero(opened_for(world, "orders") & (world.opened_day == day_number(day)) & receives(world, day))
    n = len(trader)
    if not n:
        return make(0)
    hourly = world.scenario.card_transactions.hourly["transfer"]
    # the rounds: the first `first_days` after today, the next each `every_days` after the one before
    rounds = rng("rounds").integers(k.rounds.min, k.rounds.max + 1, n)
    of = np.repeat(np.arange(n), rounds)  # each round's trader
    gap = np.where(positions(rounds) == 0, 0, rng("every").integers(k.every_days.min, k.every_days.max + 1, len(of)))
    since = np.cumsum(gap)
    since -= since[np.repeat(np.cumsum(rounds) - rounds, rounds)]
    first = rng("first").integers(k.first_days.min, k.first_days.max + 1, n)
    start = times_in_hours(rng("start"), len(of), 0, hourly, day_start_ms(day)) + (first[of] + since) * MS_PER_DAY
    # the buyers' prepayments, within `arrive_hours` of the round's start, at the hours people pay
    buyers = rng("buyers").integers(k.buyers.min, k.buyers.max + 1, len(of))
    median = rng("median").lognormal(np.log(k.amount.median), k.trader_sigma, n)  # what the trader sells

    def prepayments(paying: np.ndarray) -> np.ndarray:
        # about the trader's median, drawn again (up to 7 times) where below `least` or above `most`
        wanted = rng("amount").lognormal(0, k.amount.sigma, (8, len(paying))) * median[of[paying]]
        fits = (wanted >= k.least) & (wanted <= k.most)
        first = np.where(fits.any(0), fits.argmax(0), 0)
        wanted = np.clip(wanted[first, np.arange(len(paying))], k.least, k.most)
        return spending.typed_amount(rng("typed"), wanted * CENTS)

    account = trader[of]
    paying, prepaid = strangers_pay(world, rng, "buyer", account, start, buyers, k.arrive_hours, prepayments)
    # the supplier, `paid_hours` after the round's last prepayment: all but the margin, partly in notes
    received = np.bincount(paying, weights=prepaid.cents, minlength=len(of))
    last = start.copy()
    np.maximum.at(last, paying, prepaid.event_ms)
    owed = np.round(received * (1 - rng("margin").uniform(k.margin.min, k.margin.max, len(of))))
    cash = within_daily_limit(rng, np.round(owed * rng("cash").uniform(k.cash_share.min, k.cash_share.max, len(of))),
                              k.cash_limit, card=of)  # a trader's card, every round
    cash = np.where(cash >= k.withdrawal.min * CENTS, cash, 0)  # less than a withdrawal's worth is transferred too
    # each trader's suppliers, the same every round (the first transfer of a round to the first, and so on), but
    # for `new_supplier` of the transfers
    suppliers = np.arange(n * k.transfers.max).reshape(n, k.transfers.max)
    regular = _suppliers(world, lambda p: rng(f"regular_{p}"), suppliers.size, k)

    def to_suppliers(sending: np.ndarray) -> np.ndarray:
        nth = positions(np.bincount(sending, minlength=len(of)))  # each transfer's place in its round
        new = rng("new_supplier").random(len(sending)) < k.new_supplier
        return np.where(new, _suppliers(world, lambda p: rng(f"new_{p}"), len(sending), k),
                        regular[suppliers[of[sending], nth]])

    low, high = np.full(len(of), k.paid_hours.min), np.full(len(of), k.paid_hours.max)
    usual = rng("home_atm").random(len(of)) >= k.home_atm  # else all the round's notes at the ATM nearest home
    paid, _ = pass_on(world, day, rng, account, owed, cash, last, low, high, usual, k.withdrawal, k.transfers,
                      to_suppliers)
    rows = concat([prepaid, paid])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows


def _suppliers(world: World, rng, n: int, k) -> np.ndarray:
    """`n` suppliers outside the bank: a crypto exchange for `k.crypto_share` of them, of the others `k.to_people` a
    person, else a business (`individuals_or_businesses`). Draws the streams crypto, exchange, business, firm and
    person of `rng`."""
    others = individuals_or_businesses(world, rng, n, 1 - k.to_people)
    return np.where(rng("crypto").random(n) < k.crypto_share, outside_parties(world, rng("exchange"), n, ("crypto",)),
                    others)
