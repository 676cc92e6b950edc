"""Money mules: the proceeds of fraud pass through an account of ours.

`../shared/reference/aml-anchors.md` §8.2 row 2, fed two ways. From outside the bank: 2–20 victims at other banks
pay the mule within hours (authorised push payments of R500–R25,000, typed). And from the product's own takeovers: a
ring's mule slot that is an account of ours this month (`fraud.mule_accounts`) receives the drains of our own
customers' accounts, which settle in the overnight batch; that day's credits are a case of their own, made by the
mule's block (the credits keep the takeover's episode in the case's `fed_by`, and change their label from the fraud
to the laundering that follows it: the victim's transfer is the fraud). Either way, within 1–24 hours of the last
credit (stealthily 24–72) the mule passes on all but 5–20 % — up to 70 % of it in notes at ATMs (R1,000–R5,000 a
withdrawal, at most the card's daily limit in all), the rest in 1–3 transfers to the next layer elsewhere (people, a
crypto exchange, a tenth to a business: a front's 'invoice'). Stealthy mules are side hustlers (customers whom
strangers already pay for what they sell), receive from 1–4 victims, in all what their holder earns in a month or
two (a handler who keeps a mule under the bank's radar), and withdraw at their usual ATMs. Mules are recruited among
young, low-income customers (`aml.mule.recruited`), but any active salary account can be one (an account sold by its
holder, an unwitting job-scam mule): age and income are signals, not the answer. Every row is made by the genuine
code paths, as in `aml.placement`, at the hours people pay and withdraw — the wave and its passing on by
`life.waves`, as a trader's order rounds are — and the case is one account of the block (its senders and the next
layer are at other banks).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, finish, placers, rng_of
from fraud_pipeline.core.labels import MULE, MULES, TAKEOVER, episode_ids
from fraud_pipeline.core.rows import NONE, TRANSFER_IN, Rows, concat
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms, times_in_hours
from fraud_pipeline.life.cash_out import within_daily_limit
from fraud_pipeline.life.income import side_hustlers
from fraud_pipeline.life.payments import outside_parties
from fraud_pipeline.life.waves import pass_on, strangers_pay
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World
from fraud_pipeline.world.profiles import profile_weights


def mules_day(world: World, day: date, arriving: Rows) -> tuple[Cases, Rows]:
    """The block's mule cases that start on `day`, with all their rows (arrival times set): those fed by victims at
    other banks, then those fed by our own takeovers' credits settling today among `arriving` (the rows the day
    starts with; accounts the world's). Returns the cases and `arriving` with those credits labelled as their
    cases' (new label columns; `arriving` is left as it is)."""
    s = world.scenario
    c = s.aml.mule
    rng = rng_of(world, day, "mules")
    recruit = recruit_weights(world)
    rate = c.cases_per_10k_accounts_month if c.enabled else 0.0
    # a stealthy mule's handler uses an account that strangers already pay: a side hustler's, whose victims pass
    # for buyers
    plain = placers(world, day, rng, rate * (1 - c.stealth), recruit)
    hidden = placers(world, day, lambda purpose: rng(f"stealthy_{purpose}"), rate * c.stealth,
                     recruit * side_hustlers(world)[0])
    scammed = np.r_[plain, hidden]
    n = len(scammed)
    stealth = np.arange(n) >= len(plain)
    first = times_in_hours(rng("first"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day))
    senders, case, credit_ms, cents, credits = victims_pay(world, rng, scammed, stealth, first)
    # our own takeovers' drains that settled on a mule of ours today: a case per mule
    start = day_start_ms(day)
    fed = np.flatnonzero((arriving.scenario == TAKEOVER) & (arriving.kind == TRANSFER_IN) & (arriving.counterparty >= 0)
                         & (arriving.event_ms >= start) & (arriving.event_ms < start + MS_PER_DAY))
    drained, fed_case = np.unique(arriving.account[fed], return_inverse=True)
    m = len(drained)
    account = np.r_[scammed, drained]
    stealth = np.r_[stealth, rng("fed_stealth").random(m) < c.stealth]
    senders = np.r_[senders, np.bincount(fed_case, minlength=m)]
    received = np.r_[np.bincount(case, weights=cents, minlength=n),
                     np.bincount(fed_case, weights=arriving.cents[fed], minlength=m)]
    last = np.zeros(n + m, np.int64)
    np.maximum.at(last, np.r_[case, n + fed_case], np.r_[credit_ms, arriving.event_ms[fed]])
    rows, row_case, passed = passed_on(world, day, rng, account, stealth, received, last)
    fed_by = [[] for _ in range(n + m)]
    for k, episode in zip(fed_case, episode_ids(arriving.episode[fed]).to_pylist()):
        fed_by[n + k].append(episode)
    parameters = [{"senders": int(k), "stealth": bool(x), "received": round(float(v) / CENTS, 2),
                   "kept": round(float(v - p) / CENTS, 2)} | ({"fed_by": sorted(set(f))} if f else {})
                  for k, x, v, p, f in zip(senders, stealth, received, passed, fed_by)]
    first_ms = np.full(n + m, np.iinfo(np.int64).max)
    np.minimum.at(first_ms, n + fed_case, arriving.event_ms[fed])
    cases = finish(world, day, rng, MULES, account, stealth, received.astype(np.int64), parameters,
                   np.r_[case, row_case], concat([credits, rows]), c, MULE, came=(first_ms, last))
    return cases, handed_over(arriving, fed, cases.case[n + fed_case])


def recruit_weights(world: World) -> np.ndarray:
    """Per customer: how likely a mule's recruiters pick them — `aml.mule.recruited.weight` for holders of the mule
    profile (its ages, earning under `income_below`), 1 for everyone else."""
    return profile_weights(world, world.scenario.aml.mule.recruited)


def victims_pay(world: World, rng, account: np.ndarray, stealth: np.ndarray, first: np.ndarray) -> tuple:
    """Scam victims at other banks paying each mule `account` from its `first` ms on: `aml.mule.senders` of them
    (stealthily `stealth_senders`) within `arrive_hours`, in transfer hours. Returns per mule its senders, and per
    credit its mule (an index into `account`, sorted), time, cents, and the credits' rows."""
    c = world.scenario.aml.mule
    n = len(account)
    customer = world.account_customer[account]
    senders = np.where(stealth, rng("stealth_senders").integers(c.stealth_senders.min, c.stealth_senders.max + 1, n),
                       rng("senders").integers(c.senders.min, c.senders.max + 1, n))
    # log-uniform: as many small scams (R500–R3,000 shopping and rental scams) as large ones; a stealthy mule's
    # handler keeps its takings to what its holder's income makes unremarkable, split among its victims

    def amounts(case: np.ndarray) -> np.ndarray:
        scams = np.exp(rng("amount").uniform(np.log(c.amount.min), np.log(c.amount.max), len(case))) * CENTS
        sized = world.income[customer] * CENTS * rng("stealth_total").uniform(c.stealth_of_income.min,
                                                                            c.stealth_of_income.max, n)
        split = uneven_shares(rng("stealth_split"), case)
        sized = np.clip(sized[case] * split, c.amount.min * CENTS, c.amount.max * CENTS)
        return spending.typed_amount(rng("typed"), np.where(stealth[case], sized, scams))

    case, credits = strangers_pay(world, rng, "victims", account, first, senders, c.arrive_hours, amounts)
    return senders, case, credits.event_ms, credits.cents, credits


def handed_over(arriving: Rows, credits: np.ndarray, case: np.ndarray) -> Rows:
    """`arriving` with the takeovers' `credits` (positions) labelled as the laundering `case` each starts, its
    account a mule: new label columns, the rest shared."""
    if len(credits) == 0:
        return arriving
    labels = {name: getattr(arriving, name).copy() for name in ("scenario", "episode", "label_ms", "aml_case",
                                                                 "aml_role")}
    for name in ("scenario", "episode", "label_ms"):
        labels[name][credits] = NONE
    labels["aml_case"][credits] = case
    labels["aml_role"][credits] = MULE
    return replace(arriving, **labels)


def passed_on(world: World, day: date, rng, account: np.ndarray, stealth: np.ndarray, received: np.ndarray,
              last: np.ndarray, payees=None, card: np.ndarray | None = None) -> tuple[Rows, np.ndarray, np.ndarray]:
    """What each mule (`account`) does with the cents it `received` by `last` (ms): all but its cut leaves within
    its window, in notes at ATMs up to its card's limit and the rest in transfers to the next layer elsewhere —
    `payees(sending)` (`sending`: each transfer's index into `account`), by default new ones each (`next_layer`).
    `card[i]`: the index of account[i]'s card, whose one daily limit caps each of its waves (by default each its
    own). Returns the rows, each row's mule (an index into `account`) and the cents each passed on."""
    c = world.scenario.aml.mule
    n = len(account)
    passed = np.round(received * (1 - rng("keep").uniform(c.keep.min, c.keep.max, n)))
    cash = within_daily_limit(rng, np.round(passed * rng("cash_share").uniform(c.cash_share.min, c.cash_share.max, n)),
                              c.cash_limit, card)
    cash = np.where(cash >= c.withdrawal.min * CENTS, cash, 0)  # less than a withdrawal's worth is sent on too
    # everything leaves within the case's window after the last credit (hours), stealthily later
    low = np.where(stealth, c.stealth_out_hours.min, c.out_hours.min)
    high = np.where(stealth, c.stealth_out_hours.max, c.out_hours.max)
    rows, which = pass_on(world, day, rng, account, passed, cash, last, low, high, stealth, c.withdrawal, c.transfers,
                          payees or (lambda sending: next_layer(world, rng, len(sending))))
    return rows, which, passed


def next_layer(world: World, rng, n: int) -> np.ndarray:
    """`n` parties a mule passes money on to, outside the bank: a crypto exchange for `aml.mule.crypto_share` of
    them, a business for `business_share`, else a person. Draws the streams layer_kind, crypto, business and layer
    of `rng`."""
    c = world.scenario.aml.mule
    kind = rng("layer_kind").random(n)
    return np.select([kind < c.crypto_share, kind < c.crypto_share + c.business_share],
                     [outside_parties(world, rng("crypto"), n, ("crypto",)),
                      outside_parties(world, rng("business"), n, ("merchant",))],
                     outside_parties(world, rng("layer"), n, ("individual",)))
