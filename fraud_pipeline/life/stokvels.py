"""Stokvels: rotating savings clubs. Every month each member pays a fixed contribution to the member whose turn it
is; once a cycle the turn is yours, and the pot arrives from a dozen people within days — then much of it leaves
again, in notes and to a shop. The genuine twin of a mule's fan-in of unrelated senders followed by rapid cash-out
(issue 24, `docs/aml-design.md` step 3).

South Africa's stokvels had 11.4 million members in 811,830 clubs of 27 members on average, paying R134–R190 a
month (African Response surveys, 2011 and about 2014; `../shared/reference/aml-anchors.md` §7, "Genuine
overlaps"); rotating clubs are smaller (6–20 members here, an assumption). The club's other members bank anywhere, so here they are parties at other banks (beneficiary rows, the same
people every month). Contributions are whole rand amounts (R50 steps) of a share of the member's income; the pot
is collected over a few days from the club's collection day (near month-end paydays), and its recipient withdraws
a share at ATMs within three days and spends a share at a business (furniture, groceries in bulk, building
materials) within a week (`inflows.stokvel`).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.cash_out import CENTS, atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place, receives, rng_for
from fraud_pipeline.life.income import paid_on
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.world.build import World

STEP = 50  # rand: contributions are round amounts


def stokvels_day(world: World, day: date) -> Rows:
    """The day's stokvel rows (event times today and in the days after, with arrival times):
    members' contributions paid out on the club's collection day, and — for the members whose turn it is — the
    pot's payments in, then what leaves of it."""
    k = world.scenario.inflows.stokvel
    club = _clubs(world)
    member, size, slot, collect, contribution, others = club
    account = world.salary_of
    active = member & (account >= 0)
    active[active] &= receives(world, day)[account[active]]
    today = active & (collect == day.day)
    if not today.any():
        return make(0)
    rng = rng_for(world, day)
    turn = today & ((day.year * 12 + day.month - 1) % size == slot)
    rows = concat([_contributions(world, day, rng, np.flatnonzero(today & ~turn), contribution, others),
                   _pots(world, day, rng, np.flatnonzero(turn), size, contribution, others, k)])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("stokvel_lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows


def _clubs(world: World):
    """Per customer, drawn once: whether they are in a club, its size, their turn (months since year 0 modulo the
    size), its collection day of the month, their contribution (cents) and the other members (beneficiary rows,
    `members.max - 1` columns)."""
    key = ("stokvels",)
    if key not in world.caches:
        k = world.scenario.inflows.stokvel
        static = stream(world.scenario.seed, "income", "stokvel", *world.block_key)
        n = world.n_customers
        member = static.random(n) < k.share
        size = static.integers(k.members.min, k.members.max + 1, n)
        slot = static.integers(0, size)
        collect = static.integers(k.collection_day.min, k.collection_day.max + 1, n)
        wanted = world.income * static.uniform(k.share_of_income.min, k.share_of_income.max, n)
        contribution = np.clip(np.round(wanted / STEP) * STEP, k.least, k.most) * CENTS
        others = outside_parties(world, static, n * (k.members.max - 1), ("individual",)).reshape(n, -1)
        world.caches[key] = (member, size, slot, collect, contribution.astype(np.int64), others)
    return world.caches[key]


def _contributions(world: World, day: date, rng, customer: np.ndarray, contribution: np.ndarray,
                   others: np.ndarray) -> Rows:
    """Each member's monthly contribution to whoever's turn it is (one of the club's other members), from their
    device, in the day's transfer hours."""
    n = len(customer)
    whose = rng("stokvel_turn").integers(0, others.shape[1], n)
    event = times_in_hours(rng("stokvel_pay_time"), n, 0, world.scenario.card_transactions.hourly["transfer"],
                           day_start_ms(day))
    rows = transfers_out(world, day, rng, "stokvel_pay", world.salary_of[customer], event, contribution[customer],
                         others[customer, whose])
    rows.cents = contribution[customer]  # a fixed amount, typed exactly
    return rows


def _pots(world: World, day: date, rng, customer: np.ndarray, size: np.ndarray, contribution: np.ndarray,
          others: np.ndarray, k) -> Rows:
    """The pot of each member whose turn it is: the other `size - 1` members pay in over `k.days` days from today,
    then `k.cash_share` of it is withdrawn 1–72 hours after the last payment and, for `k.spent.share` of the pots,
    `k.spent.part` is paid to a business `k.spent.days` after it."""
    n = len(customer)
    payers = size[customer] - 1
    pot = np.repeat(np.arange(n), payers)
    member = positions(payers)  # 0.. within each pot
    start = day_start_ms(day)
    planned = start + rng("stokvel_day").integers(0, k.days, len(pot)) * MS_PER_DAY
    event = in_hours(world, lambda p: rng(f"stokvel_{p}"), "in", planned, planned, planned + MS_PER_DAY - 1,
                     "transfer")
    account = world.salary_of[customer]
    credits = make(len(pot), account=account[pot], channel=TRANSFER, kind=TRANSFER_IN, event_ms=event,
                   cents=contribution[customer][pot], payee=others[customer[pot], member],
                   place=city_place(world, world.home_city[customer[pot]]))
    received = contribution[customer] * payers
    last = np.full(n, start)
    np.maximum.at(last, pot, event)
    cash = np.round(received * rng("stokvel_cash_share").uniform(k.cash_share.min, k.cash_share.max, n))
    cash = np.where(cash >= k.withdrawal.min * CENTS, cash, 0)
    hours = np.ones(n), np.full(n, 72.0)
    withdrawals, _ = atm_withdrawals(world, lambda p: rng(f"stokvel_{p}"), account, customer, cash, last, *hours,
                                     rng("stokvel_usual").random(n) < 0.5, k.withdrawal)
    spending = np.flatnonzero(rng("stokvel_spent").random(n) < k.spent.share)
    spent = paid_on(world, day, rng, "stokvel_spent", account[spending], last[spending],
                    received[spending], k.spent,
                    outside_parties(world, rng("stokvel_shop"), len(spending), ("merchant",)))
    return concat([credits, withdrawals, spent])
