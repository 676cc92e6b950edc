"""A wave of strangers paying an account within hours, and most of it passed on within hours more, in notes and
transfers: the shape a trader's order round (`life.orders`) and a scam's mule (`aml.mules`, `aml.new_account`)
share. Both are made here, so only their parameters and labels tell them apart."""

from __future__ import annotations

from datetime import date
from typing import Callable

import numpy as np

from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_HOUR
from fraud_pipeline.life.cash_out import CENTS, atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.world.build import World


def strangers_pay(world: World, rng, purpose: str, account: np.ndarray, first_ms: np.ndarray, count: np.ndarray,
                  arrive_hours: float, amounts: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, Rows]:
    """`count[i]` individuals at other banks each paying `account[i]` once within `arrive_hours` of `first_ms[i]`,
    at the hours people pay, the cents `amounts(wave)` gives (`wave`: each credit's index into `account`). Draws the
    streams arrive, `purpose`_hour, `purpose`_ms and `purpose` of `rng`. Returns each credit's index into `account`
    (sorted, times in order within each) and the credits' rows."""
    wave = np.repeat(np.arange(len(account)), count)
    after = (rng("arrive").uniform(0, arrive_hours, len(wave)) * MS_PER_HOUR).astype(np.int64)
    window = round(arrive_hours * MS_PER_HOUR)
    credit_ms = in_hours(world, rng, purpose, first_ms[wave] + after, first_ms[wave], first_ms[wave] + window,
                         "transfer")
    credit_ms = credit_ms[np.lexsort((credit_ms, wave))]
    customer = world.account_customer[account[wave]]
    rows = make(len(wave), account=account[wave], channel=TRANSFER, kind=TRANSFER_IN, event_ms=credit_ms,
                cents=amounts(wave), payee=outside_parties(world, rng(purpose), len(wave), ("individual",)),
                place=city_place(world, world.home_city[customer]))
    return wave, rows


def pass_on(world: World, day: date, rng, account: np.ndarray, passed: np.ndarray, cash: np.ndarray,
            last_ms: np.ndarray, low: np.ndarray, high: np.ndarray, usual: np.ndarray, withdrawal, transfers,
            payees: Callable[[np.ndarray], np.ndarray]) -> tuple[Rows, np.ndarray]:
    """Each `account`'s `passed` cents leaving `low`–`high` hours (per account) after `last_ms`: `cash` of it in
    withdrawals of about the middle of `withdrawal` (rand bounds; at the holder's usual ATMs where `usual`, else at
    their home ATM), the rest, when at least R100, in `transfers` (bounds) transfers split unevenly (0.5–1.5 shares),
    typed, at the hours people pay, to `payees(sending)` (`sending`: each transfer's index into `account`). Draws
    the streams cash_*, transfers, onward_split, onward_hours and onward_* of `rng`. Returns the rows and each row's
    index into `account`."""
    n = len(account)
    customer = world.account_customer[account]
    withdrawals, which = atm_withdrawals(world, rng, account, customer, cash, last_ms, low, high, usual, withdrawal)
    onward = passed - np.bincount(which, weights=withdrawals.cents, minlength=n)
    count = np.where(onward >= 100 * CENTS, rng("transfers").integers(transfers.min, transfers.max + 1, n), 0)
    sending = np.repeat(np.arange(n), count)
    share = uneven_shares(rng("onward_split"), sending)
    low_ms, high_ms = (last_ms + (h * MS_PER_HOUR).astype(np.int64) for h in (low, high))
    planned = low_ms[sending] + (rng("onward_hours").uniform(0, high - low)[sending] * MS_PER_HOUR).astype(np.int64)
    send_ms = in_hours(world, rng, "onward", planned, low_ms[sending], high_ms[sending], "transfer")
    sent = transfers_out(world, day, rng, "onward", account[sending], send_ms, np.round(onward[sending] * share),
                         payees(sending))
    return concat([withdrawals, sent]), np.r_[which, sending]
