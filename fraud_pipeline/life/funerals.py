"""Funeral collections: when someone dies, the family's organiser is paid by relatives and friends within days, a
funeral policy often pays out too, and within the week most of it leaves — to the undertaker and in notes for the
catering, the tent and transport. Many unrelated senders, new to the account, paying several times the holder's
income within three days, then a rapid cash-out: the genuine twin of a money mule (issue 24; the AML scorecard's
mule model rested on exactly that fan-in). Some families open an account for the collection and share its details
the day it opens (`inflows.funeral.opened_for` of the debit accounts opened during the run): a new account paid by
strangers from the next day and mostly emptied within the week — the twin of an account opened to launder
(`aml.new_account`).

South Africa registers about 600,000 deaths a year for 62 million people, and funerals are large, family-funded
events (R15,000–R50,000 is commonly quoted); most households hold funeral cover or belong to a burial society
(`../shared/reference/aml-anchors.md` §7: 41 % of stokvel members are in burial societies). The rates, counts and
amounts of `inflows.funeral` are stated assumptions. Contributors and insurers bank elsewhere, so they are parties
at other banks (beneficiary rows drawn for the funeral).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms
from fraud_pipeline.life.cash_out import CENTS, atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place, receives, rng_for
from fraud_pipeline.life.income import paid_on
from fraud_pipeline.life.payments import outside_parties
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.openings import opened_for

STEP = 50  # rand: contributions are round amounts
POLICY_STEP = 1000  # rand: a policy pays a round sum


def funerals_day(world: World, day: date) -> Rows:
    """The rows of the funerals whose collection starts on `day` (event times today and in the week after, with
    arrival times): the contributions and a policy's payout into the organiser's salary account — or into the
    account the family opened for it yesterday (`inflows.funeral.opened_for`, `world.openings.opened_for`) — then the
    undertaker's payment and the withdrawals."""
    k = world.scenario.inflows.funeral
    rng = rng_for(world, day)
    account = world.salary_of
    organiser = np.flatnonzero((rng("funeral").random(world.n_customers) < k.per_customer_per_year / 365.25)
                               & (account >= 0))
    organiser = organiser[receives(world, day)[account[organiser]]]
    # and the families who opened an account for it yesterday and shared its details
    opened = np.flatnonzero(opened_for(world, "funeral") & (world.opened_day == day_number(day) - 1)
                            & receives(world, day))
    mine = np.r_[account[organiser], opened]
    organiser = np.r_[organiser, world.account_customer[opened]]
    if not len(organiser):
        return make(0)
    n = len(organiser)
    place = city_place(world, world.home_city[organiser])
    start = day_start_ms(day)
    # contributions over the first days, by transfer hours
    count = rng("funeral_contributors").integers(k.contributors.min, k.contributors.max + 1, n)
    funeral = np.repeat(np.arange(n), count)
    planned = start + rng("funeral_day").integers(0, k.days, len(funeral)) * MS_PER_DAY
    event = in_hours(world, lambda p: rng(f"funeral_{p}"), "in", planned, planned, planned + MS_PER_DAY - 1,
                     "transfer")
    wanted = rng("funeral_amount").lognormal(np.log(k.amount.median), k.amount.sigma, len(funeral))
    cents = (np.clip(np.round(wanted / STEP) * STEP, k.least, k.most) * CENTS).astype(np.int64)
    contributions = make(len(funeral), account=mine[funeral], channel=TRANSFER, kind=TRANSFER_IN, event_ms=event,
                         cents=cents, payee=outside_parties(world, rng("funeral_who"), len(funeral), ("individual",)),
                         place=place[funeral])
    # a policy's payout, from the insurer, a few days on
    insured = np.flatnonzero(rng("funeral_insured").random(n) < k.policy.share)
    p = k.policy
    paid_ms = start + rng("funeral_policy_day").integers(p.days.min, p.days.max + 1, len(insured)) * MS_PER_DAY
    paid_ms = in_hours(world, lambda x: rng(f"funeral_policy_{x}"), "in", paid_ms, paid_ms,
                       paid_ms + MS_PER_DAY - 1, "transfer")
    payout = np.round(rng("funeral_payout").uniform(p.amount.min, p.amount.max, len(insured)) / POLICY_STEP)
    policy = make(len(insured), account=mine[insured], channel=TRANSFER, kind=TRANSFER_IN, event_ms=paid_ms,
                  cents=(payout * POLICY_STEP * CENTS).astype(np.int64),
                  payee=outside_parties(world, rng("funeral_insurer"), len(insured), ("merchant",)),
                  place=place[insured])
    # what leaves: the undertaker's share after the contributions' first day, notes within 72 h of the last one
    received = np.bincount(funeral, weights=cents, minlength=n)
    received[insured] += policy.cents
    last = np.full(n, start)
    np.maximum.at(last, funeral, event)
    paying = np.flatnonzero(rng("funeral_undertakes").random(n) < k.undertaker.share)
    undertaker = paid_on(world, day, rng, "funeral_undertaker", mine[paying], np.full(len(paying), start),
                         received[paying], k.undertaker,
                         outside_parties(world, rng("funeral_undertaker"), len(paying), ("merchant",)))
    cash = np.round(received * rng("funeral_cash").uniform(k.cash_share.min, k.cash_share.max, n))
    cash = np.where(cash >= k.withdrawal.min * CENTS, cash, 0)
    withdrawals, _ = atm_withdrawals(world, lambda x: rng(f"funeral_{x}"), mine, organiser, cash, last, np.ones(n),
                                     np.full(n, 72.0), rng("funeral_usual").random(n) < 0.5, k.withdrawal)
    rows = concat([contributions, policy, undertaker, withdrawals])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("funeral_lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows
