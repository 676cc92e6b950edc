"""Orders taken on an account opened for them: a trader who buys stock to order — clothes, hair, phones, bulk
groceries — opens an account for it and shares its details. In rounds a few days apart, buyers at other banks prepay
within a day or two, and within hours to two days of the last of them the trader pays the supplier all but a
margin, partly in notes at a market or a cash-and-carry, the rest by transfer to a business, to a person (an
importer, a wholesaler's agent) or to a crypto exchange (importers pay suppliers abroad in stablecoins); after a few
rounds most such ventures stop.

Strangers paying a new account in waves, passed on within hours, for a few weeks, then silence: the genuine twin of
an account opened to launder (`aml.new_account`, whose waves are a mule's), which its side-hustle and funeral twins
were not (a side hustle's buyers pay about R300, at random; a funeral is one wave). `inflows.orders.opened_for` of
the debit accounts that open during the run are opened for it (`life.income.opened_for`). Its counts, days and
amounts are stated assumptions in the scenario.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.cash_out import CENTS, atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place, receives, rng_for
from fraud_pipeline.life.income import opened_for
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number


def orders_day(world: World, day: date) -> Rows:
    """All the rows of the order accounts opening on `day` (event times from the next day to weeks on, with arrival
    times; the bank carries those of later days): per account `rounds` rounds, the first `first_days` after the
    opening and each next `every_days` after the one before; in each, `buyers` prepayments from individuals at other
    banks within `arrive_hours` of the round's start, then `paid_hours` after the last of them all but the `margin`
    leaves — `cash_share` in withdrawals at the holder's ATMs, the rest in `transfers` to a supplier outside the bank
    (`crypto_share` of them through a crypto exchange, of the others `to_people` a person, else a business). Drawn
    from the day's genuine streams orders_*."""
    k = world.scenario.inflows.orders
    rng = rng_for(world, day)
    trader = np.flatnonzero(opened_for(world, "orders") & (world.opened_day == day_number(day)) & receives(world, day))
    n = len(trader)
    if not n:
        return make(0)
    hourly = world.scenario.card_transactions.hourly["transfer"]
    # the rounds: the first `first_days` after today, the next each `every_days` after the one before
    rounds = rng("orders_rounds").integers(k.rounds.min, k.rounds.max + 1, n)
    of = np.repeat(np.arange(n), rounds)  # each round's trader
    gap = np.where(positions(rounds) == 0, 0, rng("orders_every").integers(k.every_days.min, k.every_days.max + 1,
                                                                          len(of)))
    since = np.cumsum(gap)
    since -= since[np.repeat(np.cumsum(rounds) - rounds, rounds)]
    first = rng("orders_first").integers(k.first_days.min, k.first_days.max + 1, n)
    start = times_in_hours(rng("orders_start"), len(of), 0, hourly, day_start_ms(day)) \
        + (first[of] + since) * MS_PER_DAY
    # the buyers' prepayments, within `arrive_hours` of the round's start, at the hours people pay
    buyers = rng("orders_buyers").integers(k.buyers.min, k.buyers.max + 1, len(of))
    paying = np.repeat(np.arange(len(of)), buyers)  # each prepayment's round
    window = round(k.arrive_hours * MS_PER_HOUR)
    after = (rng("orders_after").uniform(0, k.arrive_hours, len(paying)) * MS_PER_HOUR).astype(np.int64)
    paid_ms = in_hours(world, lambda p: rng(f"orders_{p}"), "buyers", start[paying] + after, start[paying],
                       start[paying] + window, "transfer")
    wanted = rng("orders_amount").lognormal(np.log(k.amount.median), k.amount.sigma, len(paying))
    cents = spending.typed_amount(rng("orders_typed"), np.clip(wanted, k.least, k.most) * CENTS)
    account = trader[of]
    customer = world.account_customer[account]
    place = city_place(world, world.home_city[customer])
    prepaid = make(len(paying), account=account[paying], channel=TRANSFER, kind=TRANSFER_IN, event_ms=paid_ms,
                   cents=cents, payee=outside_parties(world, rng("orders_buyer"), len(paying), ("individual",)),
                   place=place[paying])
    # the supplier, `paid_hours` after the round's last prepayment: all but the margin, partly in notes
    received = np.bincount(paying, weights=cents, minlength=len(of))
    last = start.copy()
    np.maximum.at(last, paying, paid_ms)
    owed = np.round(received * (1 - rng("orders_margin").uniform(k.margin.min, k.margin.max, len(of))))
    cash = np.round(owed * rng("orders_cash").uniform(k.cash_share.min, k.cash_share.max, len(of)))
    cash = np.where(cash >= k.withdrawal.min * CENTS, cash, 0)  # less than a withdrawal's worth is transferred too
    low, high = np.full(len(of), k.paid_hours.min), np.full(len(of), k.paid_hours.max)
    withdrawals, which = atm_withdrawals(world, lambda p: rng(f"orders_{p}"), account, customer, cash, last, low, high,
                                         np.ones(len(of), bool), k.withdrawal)
    rest = owed - np.bincount(which, weights=withdrawals.cents, minlength=len(of))
    transfers = np.where(rest >= 100 * CENTS, rng("orders_transfers").integers(k.transfers.min, k.transfers.max + 1,
                                                                             len(of)), 0)
    sending = np.repeat(np.arange(len(of)), transfers)
    share = rng("orders_split").uniform(0.5, 1.5, len(sending))
    share /= np.bincount(sending, weights=share, minlength=len(of))[sending]
    person = rng("orders_to_people").random(len(sending)) < k.to_people
    supplier = np.where(person, outside_parties(world, rng("orders_person"), len(sending), ("individual",)),
                        outside_parties(world, rng("orders_business"), len(sending), ("merchant",)))
    crypto = rng("orders_crypto").random(len(sending)) < k.crypto_share
    supplier = np.where(crypto, outside_parties(world, rng("orders_exchange"), len(sending), ("crypto",)), supplier)
    low_ms, high_ms = (last + round(h * MS_PER_HOUR) for h in (k.paid_hours.min, k.paid_hours.max))
    planned = low_ms[sending] + (rng("orders_hours").uniform(0, 1, len(sending))
                                 * (high_ms - low_ms)[sending]).astype(np.int64)
    send_ms = in_hours(world, lambda p: rng(f"orders_{p}"), "supplier", planned, low_ms[sending], high_ms[sending],
                       "transfer")
    paid = transfers_out(world, day, lambda p: rng(f"orders_{p}"), "supplier", account[sending], send_ms,
                         np.round(rest[sending] * share), supplier)
    rows = concat([prepaid, withdrawals, paid])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("orders_lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows
