"""Money taken out soon after it came in, at the hours people do it: the withdrawals and timing that a stokvel's
recipient and a mule share (genuine and laundering alike go through here, so only the labels tell them apart)."""

from __future__ import annotations

import numpy as np

from fraud_pipeline.core.rows import ATM, WITHDRAWAL, Rows, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR
from fraud_pipeline.life.genuine import usual_atm
from fraud_pipeline.world.build import World

CENTS = 100


def in_hours(world: World, rng, purpose: str, ms: np.ndarray, low_ms: np.ndarray, high_ms: np.ndarray,
             channel: str) -> np.ndarray:
    """Each instant `ms` moved to an hour of its day drawn from `channel`'s hourly profile (people pay and withdraw
    by day), then by whole days back within [`low_ms`, `high_ms`] (clipped to it when it is shorter than a day);
    drawn from the streams `purpose`_hour and _ms."""
    profile = np.asarray(world.scenario.card_transactions.hourly[channel], float)
    hour = rng(f"{purpose}_hour").choice(24, size=len(ms), p=profile / profile.sum())
    moved = ms // MS_PER_DAY * MS_PER_DAY + hour * MS_PER_HOUR + rng(f"{purpose}_ms").integers(0, MS_PER_HOUR, len(ms))
    moved = np.where(moved < low_ms, moved + MS_PER_DAY, moved)
    moved = np.where(moved > high_ms, moved - MS_PER_DAY, moved)
    return np.clip(moved, low_ms, high_ms)


def within_daily_limit(rng, cash: np.ndarray, limit, card: np.ndarray | None = None) -> np.ndarray:
    """Each of `cash` (cents) at most its card's daily ATM limit, drawn within `limit` (rand bounds: min and max):
    `card[i]` is the index of cash[i]'s card (0..cards−1; by default each its own card). Draws the stream cash_limit
    of `rng`, one limit per card."""
    cards = len(cash) if card is None else int(card.max(initial=-1)) + 1
    drawn = rng("cash_limit").uniform(limit.min, limit.max, cards) * CENTS
    return np.minimum(cash, drawn if card is None else drawn[card])


def atm_withdrawals(world: World, rng, account: np.ndarray, customer: np.ndarray, cash: np.ndarray,
                    last_ms: np.ndarray, low: np.ndarray, high: np.ndarray, usual: np.ndarray,
                    bounds) -> tuple[Rows, np.ndarray]:
    """Each of `account`'s `cash` (cents) in withdrawals of about the middle of `bounds` (rand, min and max; in the
    ATM's steps, at most its limit), each `low`–`high` hours after `last_ms`: at the holder's usual ATMs where
    `usual`, else all at their home ATM. Draws the streams cash_split, cash_hours, cash_hour, cash_ms and cash_atm
    of `rng`. Returns the rows and each row's index into `account`."""
    atm = world.scenario.card_transactions.atm
    step = atm.amount_step * CENTS
    count = np.where(cash > 0, np.maximum(np.round(cash / ((bounds.min + bounds.max) / 2 * CENTS)), 1), 0)
    case = np.repeat(np.arange(len(account)), count.astype(np.int64))
    share = uneven_shares(rng("cash_split"), case, 0.7, 1.3)
    cents = np.clip(np.round(cash[case] * share / step) * step, bounds.min * CENTS,
                    min(bounds.max, atm.max_amount) * CENTS)
    low_ms, high_ms = (last_ms[case] + (h[case] * MS_PER_HOUR).astype(np.int64) for h in (low, high))
    planned = low_ms + (rng("cash_hours").uniform(0, (high - low)[case]) * MS_PER_HOUR).astype(np.int64)
    event = in_hours(world, rng, "cash", planned, low_ms, high_ms, "atm")
    event = event[np.lexsort((event, case))]  # in order within each account's (`case` is sorted)
    machine = usual_atm(world, customer[case], np.where(usual[case], rng("cash_atm").random(len(case)), 0.0))
    rows = make(len(case), account=account[case], channel=ATM, kind=WITHDRAWAL, event_ms=event,
                cents=cents.astype(np.int64), merchant=machine, place=machine, card=True)
    return rows, case
