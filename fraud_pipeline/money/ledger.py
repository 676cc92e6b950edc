"""The account ledger: which card a payment uses, whether it is authorised, the balance after it, and whether its
recipient is new.

Rows post in arrival order. A debit is approved when the account can pay it — its balance plus its
overdraft or credit limit covers the amount — and when neither the card (blocked, expired) nor the
account (frozen, closed) forbids it; a declined row does not move the balance. Credits always post
to an open account. The sequential rule is decided for every account at once, one step per position
within an account (the first row of every account, then the second, …), so the loop runs as many
vector steps as the busiest account has rows that day, never once per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.core.rows import CREDIT_TYPES, TRANSFER, Rows
from fraud_pipeline.core.timeline import MS_PER_DAY
from fraud_pipeline.money.state import State
from fraud_pipeline.world.build import STATUS_NAMES, World, recipient_key
from fraud_pipeline.world.devices import day_number

DECLINE_REASONS = ("insufficient_funds", "card_blocked", "card_expired", "account_frozen", "account_closed")
INSUFFICIENT, BLOCKED, EXPIRED, FROZEN, CLOSED = range(len(DECLINE_REASONS))
APPROVED = -1
SHIFT = 41  # ms since 1970 fit in 41 bits: (account << SHIFT) + ms orders by account, then time


@dataclass
class Posted:
    """The outcome of posting a day's rows (in `order`, arrival order): one entry per row."""

    order: np.ndarray
    rows: Rows  # the rows in that order
    card: np.ndarray  # card reference used (entity card row, or entity count + replacement row); -1 for none
    decline: np.ndarray  # index into DECLINE_REASONS, APPROVED for approved rows
    balance_after: np.ndarray  # cents
    new_recipient: np.ndarray  # bool; meaningful where recipient >= 0
    has_recipient: np.ndarray
    keys: np.ndarray  # recipient keys, -1 for none
    end_balance: np.ndarray  # per account


def expiry_end_ms(month: np.ndarray) -> np.ndarray:
    """The first instant after a card's expiry month (absolute months): when it stops working."""
    return ((np.asarray(month) + 1 - 1970 * 12).astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64))


def card_catalogue(world: World, state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every card reference: (account, active from ms, expiry end ms, blocked ms). Entity cards first (a renewal is
    active from its issue day), then replacements."""
    account = np.concatenate([world.card_account, state.cards.account])
    active = np.concatenate([world.card_issue_day * MS_PER_DAY, state.cards.active_ms])
    expiry = expiry_end_ms(np.concatenate([world.card_expiry_month, state.cards.expiry_month]))
    blocked = np.concatenate([state.entity_blocked_ms, state.cards.blocked_ms])
    return account, active, expiry, blocked


def card_in_use(world: World, state: State, account: np.ndarray, at_ms: np.ndarray) -> np.ndarray:
    """The card reference each account uses at each time: its latest card active by then (the first card
    before any)."""
    card_account, active, _, _ = card_catalogue(world, state)
    first_card = np.full(world.n_accounts, -1)
    initial = np.flatnonzero(world.card_issue_day <= day_number(world.scenario.start_date))
    first_card[card_account[initial][::-1]] = initial[::-1]
    key = (card_account << SHIFT) + np.maximum(active, 0)
    order = np.argsort(key, kind="stable")
    found = np.searchsorted(key[order], (account << SHIFT) + at_ms, side="right") - 1
    candidate = order[np.maximum(found, 0)]
    ok = (found >= 0) & (card_account[candidate] == account)
    return np.where(ok, candidate, first_card[account])


def status_on(world: World, day: date) -> np.ndarray:
    """Each account's status on `day` (index into STATUS_NAMES): its start status, closed from its closing day — and
    before the day it opens, which no genuine path pays from or into (`life.genuine.open_accounts`)."""
    today = day_number(day)
    shut = (world.closed_day <= today) | (world.opened_day > today)
    return np.where(shut, STATUS_NAMES.index("closed"), world.status)


def post(world: World, state: State, rows: Rows, day: date) -> Posted:
    """Authorise and post `rows` (all arriving on `day`) against `state`; see the module docstring."""
    n = len(rows)
    order = np.lexsort((rows.event_ms, rows.arrival_ms))  # arrival order; ties by event time, then generation order
    r = rows.take(order)
    credit = np.isin(r.kind, CREDIT_TYPES)
    card = np.where(r.card, card_in_use(world, state, r.account, r.arrival_ms), -1)
    _, _, expiry, blocked = card_catalogue(world, state)
    status = status_on(world, day)[r.account]
    decline = np.full(n, APPROVED)
    decline[status == STATUS_NAMES.index("closed")] = CLOSED
    debit = ~credit
    decline[debit & (decline == APPROVED) & (status == STATUS_NAMES.index("frozen"))] = FROZEN
    # a blocked or expired card stops card payments (at a till, online, at an ATM), not transfers from the app
    uses_card = debit & (card >= 0) & (decline == APPROVED) & (r.channel != TRANSFER)
    decline[uses_card & (blocked[np.maximum(card, 0)] <= r.arrival_ms)] = BLOCKED
    decline[uses_card & (decline == APPROVED) & (expiry[np.maximum(card, 0)] <= r.arrival_ms)] = EXPIRED

    by_account = np.argsort(r.account, kind="stable")  # arrival order within each account
    account = r.account[by_account]
    signed = np.where(credit, r.cents, -r.cents)[by_account]
    approved = (decline == APPROVED)[by_account]
    running = _settle(account, signed, approved, debit[by_account], state.balance[account], -world.limit[account])
    declined_funds = np.flatnonzero(~approved & (decline[by_account] == APPROVED))
    decline_sorted = decline[by_account]
    decline_sorted[declined_funds] = INSUFFICIENT
    decline[by_account] = decline_sorted
    balance_after = np.empty(n, np.int64)
    balance_after[by_account] = running if n else np.zeros(0, np.int64)
    end_balance = state.balance.copy()
    np.add.at(end_balance, account, np.where(approved, signed, 0))

    keys = recipient_key(world, r.account, np.where(credit, -1, r.merchant), np.where(credit, -1, r.payee),
                         np.where(credit, -1, r.counterparty))
    new = new_recipients(keys, decline == APPROVED, world.known_at_start, state.learned)
    return Posted(order=order, rows=r, card=card, decline=decline, balance_after=balance_after, new_recipient=new,
                  has_recipient=keys >= 0, keys=keys, end_balance=end_balance)


def _settle(account: np.ndarray, signed: np.ndarray, approved: np.ndarray, debit: np.ndarray, opening: np.ndarray,
            floor: np.ndarray) -> np.ndarray:
    """Decide each row in turn within its account (rows sorted by account, then arrival): a credit posts, a debit
    posts if it keeps the balance at or above the floor, else it is declined (`approved` is updated in place).
    Returns the balance after each row. The turn is taken for every account at once: the loop runs over a
    row's position within its account, so it costs as many vector steps as the busiest account has rows."""
    n = len(account)
    running = np.zeros(n, np.int64)
    if n == 0:
        return running
    starts = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    position = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    by_position = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[by_position], np.arange(position.max() + 2))
    balance = np.zeros(account.max() + 1, np.int64)
    balance[account[starts]] = opening[starts]
    limit = np.zeros(account.max() + 1, np.int64)
    limit[account[starts]] = floor[starts]
    for k in range(len(bounds) - 1):
        rows = by_position[bounds[k]:bounds[k + 1]]
        a = account[rows]
        after = balance[a] + signed[rows]
        ok = approved[rows] & (~debit[rows] | (after >= limit[a]))
        approved[rows] = ok
        balance[a] = np.where(ok, after, balance[a])
        running[rows] = balance[a]
    return running


def new_recipients(keys: np.ndarray, approved: np.ndarray, *known: np.ndarray) -> np.ndarray:
    """Rows (in arrival order) whose recipient the account had not paid before: in none of the sorted key arrays
    `known` (what it had paid before the calendar, what it learned since), and no approved row of the same key
    earlier the same day."""
    n = len(keys)
    position = np.arange(n)
    first_approved = np.full(n, n)
    has = keys >= 0
    order = np.lexsort((position, keys))
    sorted_keys = keys[order]
    approved_sorted = approved[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if n else np.zeros(0, np.int64)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n])) if n else np.zeros(0, np.int64)
    candidate = np.where(approved_sorted, order, n)
    earliest = np.minimum.reduceat(candidate, starts) if n else np.zeros(0, np.int64)
    first_approved[order] = earliest[group]
    seen = np.empty(n, bool)
    seen[order] = np.any([contains(k, sorted_keys) for k in known], axis=0)  # sorted look-ups: each starts near the last
    return has & ~seen & (position <= first_approved)


def contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value is in `sorted_values` (sorted ascending). Faster when `values` are sorted too."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), bool)
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values


def remember(learned: np.ndarray, first_paid: np.ndarray) -> np.ndarray:
    """The recipient keys learned since the start (sorted) after the day: `learned` and the keys of the day's first
    approved payments to new recipients (rows both new and approved: one per key, none of them known)."""
    if len(first_paid) == 0:
        return learned
    new = np.sort(first_paid)
    return np.insert(learned, np.searchsorted(learned, new), new)


def card_numbers(world: World, state: State) -> pa.Array:
    """The number of every card reference: entity cards, then replacements."""
    return pa.concat_arrays([world.card_number,
                             world.replacement_number(state.cards.account, state.cards.sequence).cast(pa.string())])
