"""Money mules: the proceeds of scams on other banks' customers pass through an account of ours.

`../shared/reference/aml-anchors.md` §8.2 row 2, fed from outside the bank (the product's own takeovers paying
a mule inside the bank follow): 2–20 victims at other banks pay the mule within hours (authorised push payments
of R500–R25,000, typed), and within 1–24 hours of the last one (stealthily 24–72) the mule passes on all but
5–20 % — up to 70 % of it in notes at ATMs (R1,000–R5,000 a withdrawal, at most the card's daily limit in all),
the rest in 1–3 transfers to the next layer elsewhere (people or a crypto exchange). Stealthy mules receive from
2–4 victims, in all what their holder earns in a month or two (a handler who keeps a mule under the bank's radar),
and withdraw at their usual ATMs. Mules are recruited among young, low-income customers
(`aml.mule.recruited`), but any active salary account can be one (an account sold by its holder, an unwitting
job-scam mule): age and income are signals, not the answer. Every row is made by the genuine code paths, as in
`aml.placement`, at the hours people pay and withdraw, and the case is one account of the block (its senders and
the next layer are at other banks).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, finish, placers, rng_of
from fraud_pipeline.core.labels import MULE, MULES
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, concat, make
from fraud_pipeline.core.timeline import MS_PER_HOUR, day_start_ms, times_in_hours
from fraud_pipeline.life.cash_out import atm_withdrawals, in_hours
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.income import outside_parties, transfers_out
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World


def mules_day(world: World, day: date) -> Cases:
    """The block's mule cases that start on `day`, with all their rows (arrival times set)."""
    s = world.scenario
    c = s.aml.mule
    rng = rng_of(world, day, "mules")
    r = c.recruited
    young_and_poor = (world.age >= r.age.min) & (world.age <= r.age.max) & (world.income < r.income_below)
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0,
                      np.where(young_and_poor, r.weight, 1.0))
    n = len(account)
    customer = world.account_customer[account]
    stealth = rng("stealth").random(n) < c.stealth
    senders = np.where(stealth, rng("stealth_senders").integers(c.stealth_senders.min, c.stealth_senders.max + 1, n),
                       rng("senders").integers(c.senders.min, c.senders.max + 1, n))
    case = np.repeat(np.arange(n), senders)
    # the victims pay within hours of the first, in transfer hours
    first = times_in_hours(rng("first"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day))
    after = (rng("arrive").uniform(0, c.arrive_hours, len(case)) * MS_PER_HOUR).astype(np.int64)
    window = round(c.arrive_hours * MS_PER_HOUR)
    credit_ms = in_hours(world, rng, "victims", first[case] + after, first[case], first[case] + window, "transfer")
    credit_ms = credit_ms[np.lexsort((credit_ms, case))]  # in order within each case (`case` is sorted)
    # log-uniform: as many small scams (R500–R3,000 shopping and rental scams) as large ones; a stealthy mule's
    # handler keeps its takings to what its holder's income makes unremarkable, split among its victims
    scams = np.exp(rng("amount").uniform(np.log(c.amount.min), np.log(c.amount.max), len(case))) * CENTS
    sized = world.income[customer] * CENTS * rng("stealth_total").uniform(c.stealth_of_income.min,
                                                                        c.stealth_of_income.max, n)
    split = rng("stealth_split").uniform(0.5, 1.5, len(case))
    split /= np.bincount(case, weights=split, minlength=n)[case]
    sized = np.clip(sized[case] * split, c.amount.min * CENTS, c.amount.max * CENTS)
    cents = spending.typed_amount(rng("typed"), np.where(stealth[case], sized, scams))
    credits = make(len(case), account=account[case], channel=TRANSFER, kind=TRANSFER_IN, event_ms=credit_ms,
                   cents=cents, payee=outside_parties(world, rng("victims"), len(case), ("individual",)),
                   place=city_place(world, world.home_city[customer[case]]))
    received = np.bincount(case, weights=cents, minlength=n)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, case, credit_ms)
    passed = np.round(received * (1 - rng("keep").uniform(c.keep.min, c.keep.max, n)))
    limit = rng("cash_limit").uniform(c.cash_limit.min, c.cash_limit.max, n) * CENTS  # the card's daily limit
    cash = np.minimum(np.round(passed * rng("cash_share").uniform(c.cash_share.min, c.cash_share.max, n)), limit)
    cash = np.where(cash >= c.withdrawal.min * CENTS, cash, 0)  # less than a withdrawal's worth is sent on too
    # everything leaves within the case's window after the last credit (hours), stealthily later
    low = np.where(stealth, c.stealth_out_hours.min, c.out_hours.min)
    high = np.where(stealth, c.stealth_out_hours.max, c.out_hours.max)
    withdrawals, which = atm_withdrawals(world, rng, account, customer, cash, last, low, high, stealth, c.withdrawal)
    onward = passed - np.bincount(which, weights=withdrawals.cents, minlength=n)
    # what is left (at least R100) in 1–3 transfers to the next layer: people or a crypto exchange elsewhere
    transfers = np.where(onward >= 100 * CENTS, rng("transfers").integers(c.transfers.min, c.transfers.max + 1, n), 0)
    sending = np.repeat(np.arange(n), transfers)
    share = rng("onward_split").uniform(0.5, 1.5, len(sending))
    share /= np.bincount(sending, weights=share, minlength=n)[sending]
    payee = np.where(rng("layer_kind").random(len(sending)) < c.crypto_share,
                     outside_parties(world, rng("crypto"), len(sending), ("crypto",)),
                     outside_parties(world, rng("layer"), len(sending), ("individual",)))
    low_ms, high_ms = (last + (h * MS_PER_HOUR).astype(np.int64) for h in (low, high))
    planned = low_ms[sending] + (rng("onward_hours").uniform(0, high - low)[sending] * MS_PER_HOUR).astype(np.int64)
    send_ms = in_hours(world, rng, "onward", planned, low_ms[sending], high_ms[sending], "transfer")
    sent = transfers_out(world, day, rng, "onward", account[sending], send_ms, np.round(onward[sending] * share), payee)
    parameters = [{"senders": int(k), "stealth": bool(x), "received": round(float(v) / CENTS, 2),
                   "kept": round(float(v - p) / CENTS, 2)} for k, x, v, p in zip(senders, stealth, received, passed)]
    return finish(world, day, rng, MULES, account, stealth, received.astype(np.int64), parameters,
                  np.r_[case, which, sending], concat([credits, withdrawals, sent]), c, MULE)
