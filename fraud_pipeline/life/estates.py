"""An estate shared among the family: an heir or the family's executor is paid an estate or a policy in parts into an
old, silent account (`inflows.one_off.dormant_tranches`), and days after the last part passes most of it on to
siblings and relatives at other banks, a transfer a day — the genuine twin of a dormant account's reactivation
(`aml.dormant`, whose layer passes on what strangers paid it the same way: `passed_on_a_day_apart` is both's).

South African estates are wound up by an executor who pays the heirs; a family often has the money paid to one of
them who shares it (assumption). The share shared, its delay, transfers and part are stated assumptions in
`dormant_tranches.shared`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import Rows
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.world.build import World


def heirs_paid(world: World, day: date, rng, account: np.ndarray, last_ms: np.ndarray,
               cents: np.ndarray) -> tuple[np.ndarray, Rows]:
    """Of the estates paid in parts that start on `day` — per estate its `account`, its last part's time (ms) and
    the `cents` paid — `dormant_tranches.shared.share` are passed on to relatives (`passed_on_a_day_apart` with
    `shared`'s rule). Returns the shared estates' accounts (their parts are not also spent as one-offs) and the
    transfers. Draws the streams estate_*."""
    rule = world.scenario.inflows.one_off.dormant_tranches.shared
    shared = np.flatnonzero(rng("estate_shared").random(len(account)) < rule.share)
    rows, _ = passed_on_a_day_apart(world, day, lambda p: rng(f"estate_{p}"), account[shared], last_ms[shared],
                                    cents[shared], rule)
    return account[shared], rows


def days_of_parts(rng, count: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Per part (each estate's `count` parts in turn), its day offset from the first's: 0 for the first, the others
    on days 1..`span`−1 (at least day 1), drawn with replacement (two payers may pay on one day) and in order within
    each estate. Draws the stream part_day of `rng`; both an estate's parts and a dormant layer's credits are timed
    so."""
    later = rng("part_day").integers(1, np.maximum(np.repeat(span, count), 2))
    offset = np.where(positions(count) == 0, 0, later)
    return offset[np.lexsort((offset, np.repeat(np.arange(len(count)), count)))]


def passed_on_a_day_apart(world: World, day: date, rng, account: np.ndarray, last_ms: np.ndarray,
                          received: np.ndarray, rule) -> tuple[Rows, np.ndarray]:
    """What each `account` passes on of the cents it `received` by `last_ms`: `rule.part` of it (a share, drawn per
    account) in `rule.transfers` transfers to people outside the bank, a day apart from `rule.out_days` after the
    last credit's day, at the hours people pay, split unevenly (0.5–1.5 shares) and typed. Draws the streams
    transfers, out_days, split, part, payees and out_* of `rng`. Returns the rows and each row's index into
    `account`."""
    n = len(account)
    pieces = rng("transfers").integers(rule.transfers.min, rule.transfers.max + 1, n)
    moves = np.repeat(np.arange(n), pieces)
    k = positions(pieces)
    first = last_ms // MS_PER_DAY + rng("out_days").integers(rule.out_days.min, rule.out_days.max + 1, n)
    on = (first[moves] + k) * MS_PER_DAY
    send_ms = in_hours(world, rng, "out", on, on, on + MS_PER_DAY - 1, "transfer")
    share = uneven_shares(rng("split"), moves)
    part = rng("part").uniform(rule.part.min, rule.part.max, n)
    payee = outside_parties(world, rng("payees"), len(moves), ("individual",))
    passed_on = np.round(received[moves] * part[moves] * share)
    return transfers_out(world, day, rng, "out", account[moves], send_ms, passed_on, payee), moves
