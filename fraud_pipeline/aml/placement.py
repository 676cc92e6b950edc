"""Cash placement: criminal proceeds in notes put into the bank below the cash threshold, then moved on.

Two typologies of `../shared/reference/aml-anchors.md` §8.2, each a case of one account of the block (the
placer's salary account; what leaves goes to a party at another bank, so a case never waits on another block):

- **structuring** (row 1): 3–6 deposits of R30,000–R49,990 counted by smurfs at 2–5 branches in towns of the
  placer's province, one a business day over 1–10 days, or — stealthily — 7–12 deposits of R8,000–R20,000 in
  notes at the placer's own usual ATMs over 14–28 days; each below `aml.cash_threshold`, together above it; then,
  in most cases, moved on to someone elsewhere in 1–3 transfers a day apart;
- **deposit-and-send** (row 3): one deposit of R10,000–R49,990, then 1–3 transfers of 80–105 % of it within 1–72
  hours — at a branch and to a person, or stealthily in notes at the usual ATM and to a business.

Deposits are counted notes, as every cash deposit is (whole R10s, no rounder than a trader's takings); transfers
happen in the hours people pay.

Every row is made by the genuine code paths (`life.income.bank_cash` for notes, `life.income.transfers_out` for
transfers): the same channels, places, devices and typed amounts as a trader banking takings or a customer paying a
supplier, their genuine twins. Placers are drawn among active salary accounts, traders more often (their weight 1 +
4 × their occupation's `customers.cash_takings`: launderers use cash businesses' accounts, and a trader's large cash
is the twin); a stealthy structurer is a cash business, the likelier the more it takes (`cash_businesses`), whose
deposits pass for its own takings. Rows for later days are made on the case's first day and carried by the bank
until they happen (`engine.day`), so a case is the same however days are split into runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.labels import AML_TYPOLOGIES, DEPOSIT_AND_SEND, PLACER, STRUCTURING, episode_numbers
from fraud_pipeline.core.rows import NONE, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.genuine import city_place, draw, open_accounts
from fraud_pipeline.life.income import bank_cash, cash_takings, other_towns
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.scenario.aml import CASE_DAYS
from fraud_pipeline.world import calendar
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import day_number

CENTS = 100
MONTH_DAYS = 30  # §8.2's rates are per 30 days
TRADER_WEIGHT = 4  # a placer's weight: 1 + this × their occupation's cash_takings share (assumption)
CASH_BUSINESS = 0.3  # the least share of client payments banked in notes that makes a customer a cash business


@dataclass
class Cases:
    """A block's laundering cases that start on a day, and the rows made on it (today's and later days'): every row
    of those cases, but for the rows of cases among our customers that wait for money to reach a member
    (`networks.onward_day`), and with those of earlier cases' members that it reached today."""

    case: np.ndarray  # global case numbers (`core.labels.episode_numbers` over AML_TYPOLOGIES)
    typology: np.ndarray  # index into AML_TYPOLOGIES
    role: np.ndarray  # the account's role, an index into AML_ROLES
    account: np.ndarray  # the case's account row (its placer or mule)
    stealth: np.ndarray
    proceeds: np.ndarray  # cents placed
    start_ms: np.ndarray  # the case's first row
    end_ms: np.ndarray  # its last row
    label_ms: np.ndarray  # when the bank would file its report, NONE for a case never reported
    parameters: list[dict]
    rows: Rows

    @classmethod
    def of(cls, parts: list["Cases"]) -> "Cases":
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                     ("case", "typology", "role", "account", "stealth", "proceeds", "start_ms", "end_ms",
                      "label_ms")),
                   [x for p in parts for x in p.parameters], concat([p.rows for p in parts]))


def placement_day(world: World, day: date) -> Cases:
    """The block's structuring and deposit-and-send cases that start on `day`, with all their rows (arrival times
    set; those of later days the bank carries). Counts are Poisson per block (they add up to the bank's at any
    blocking), drawn from streams keyed by the block."""
    return Cases.of([_structuring(world, day), _deposit_and_send(world, day)])


def rng_of(world: World, day: date, typology: str):
    """The day's streams of a typology, one per purpose, keyed by the world's block."""
    return lambda purpose: stream(world.scenario.seed, "aml", typology, day.isoformat(), purpose, *world.block_key)


def placers(world: World, day: date, rng, rate: float, weight: np.ndarray, status: str = "active") -> np.ndarray:
    """Today's cases' accounts: Poisson(`rate` per 10,000 active accounts per 30 days), drawn among salary accounts
    active and open for the case's weeks in proportion to their holder's `weight` (per customer) — or, with
    `status="dormant"`, among dormant accounts open for the case's weeks."""
    open_ = open_accounts(world, day)
    active = open_ & (world.status == STATUS_NAMES.index("active"))
    n = rng("count").poisson(rate * active.sum() / 10_000 / MONTH_DAYS)
    kept_open = open_ & (world.closed_day > day_number(day) + CASE_DAYS)
    eligible = kept_open & (world.status == STATUS_NAMES.index("dormant")) if status == "dormant" else \
        kept_open & active & world.salary
    return draw(rng("placer"), np.where(eligible, weight[world.account_customer], 0.0), n)


def cash_businesses(world: World) -> np.ndarray:
    """Per customer: a cash business's weight among placers who need takings to hide in — the share of its client
    payments it banks in notes times its monthly takings (`World.turnover`), for customers who bank at least
    CASH_BUSINESS of them in notes; 0 for everyone else."""
    takings = cash_takings(world)
    return np.where(takings >= CASH_BUSINESS, takings * world.turnover, 0.0)


def _traders(world: World) -> np.ndarray:
    """Per customer: a placer's weight, 1 + TRADER_WEIGHT × their occupation's `customers.cash_takings` share."""
    return 1 + TRADER_WEIGHT * cash_takings(world)


def _numbers(world: World, day: date, typology: int, n: int) -> np.ndarray:
    return episode_numbers(day_number(day), typology, world.block_number, n, AML_TYPOLOGIES)


def counted_deposits(world: World, day: date, rng, account: np.ndarray, cents: np.ndarray, offset: np.ndarray,
                     place: np.ndarray, at_atm: np.ndarray) -> Rows:
    """Cash deposits into `account` on `day` + `offset` days: in notes at the holder's usual ATMs where `at_atm`, else
    counted at the branch `place` (`life.income.bank_cash`, one call per day and kind so branch hours are that
    day's)."""
    parts = []
    for key in np.unique(offset * 2 + at_atm):
        d, atm = divmod(int(key), 2)
        on = np.flatnonzero(offset * 2 + at_atm == key)
        rows = make(len(on), account=account[on], kind=TRANSFER_IN, cents=cents[on], place=place[on])
        parts.append((on, bank_cash(world, lambda purpose, k=key: rng(f"{purpose}_{k}"), rows, np.arange(len(on)),
                                    day + timedelta(days=d), atm_share=float(atm), branch_elsewhere=0.0)))
    order = np.concatenate([on for on, _ in parts]) if parts else np.zeros(0, np.int64)
    rows = concat([r for _, r in parts])
    return rows.take(np.argsort(order, kind="stable"))


def _branches(world: World, rng, customer: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(cases, max count) branch places per case: the holder's home town first, then other towns of its province
    (`life.income.other_towns`: smurfs go to several branches)."""
    home = world.home_city[customer]
    width = int(count.max(initial=1))
    towns = np.c_[home, other_towns(world, rng("branch_town"), home, width - 1)] if width > 1 else home[:, None]
    return city_place(world, towns)


def finish(world: World, day: date, rng, typology: int, account: np.ndarray, stealth: np.ndarray,
           proceeds: np.ndarray, parameters: list[dict], case_of_row: np.ndarray, rows: Rows, config,
           role: int = PLACER, came: tuple[np.ndarray, np.ndarray] | None = None) -> Cases:
    """Cases with their numbers, times, report dates and rows labelled (the account's `role`; arrival lags drawn):
    `case_of_row` is each row's case (an index into `account`); `came`: each case's first and last ms of rows made
    elsewhere (money another block sent it), which its start and end take in."""
    n = len(account)
    case = _numbers(world, day, typology, n)
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("lag"), len(rows), lag.median, lag.sigma, lag.max)
    rows.aml_case = case[case_of_row]
    rows.aml_role = np.full(len(rows), role, np.int8)
    start = np.full(n, np.iinfo(np.int64).max) if came is None else came[0].copy()
    end = np.zeros(n, np.int64) if came is None else came[1].copy()
    np.minimum.at(start, case_of_row, rows.event_ms)
    np.maximum.at(end, case_of_row, rows.event_ms)
    reported = rng("reported").random(n) < config.reported_share
    delay = rng("label_delay").uniform(config.label_delay_days.min, config.label_delay_days.max, n)
    label = np.where(reported, end + (delay * MS_PER_DAY).astype(np.int64), NONE)
    return Cases(case=case, typology=np.full(n, typology), role=np.full(n, role), account=account, stealth=stealth,
                 proceeds=proceeds, start_ms=start, end_ms=end, label_ms=label, parameters=parameters, rows=rows)


def _structuring(world: World, day: date) -> Cases:
    s = world.scenario
    c = s.aml.structuring
    rng = rng_of(world, day, "structuring")
    # smurfs place anyone's cash; a stealthy placer is a cash business whose own takings the deposits pass for
    rate = c.cases_per_10k_accounts_month if c.enabled else 0.0
    plain = placers(world, day, rng, rate * (1 - c.stealth), _traders(world))
    hidden = placers(world, day, lambda purpose: rng(f"stealthy_{purpose}"), rate * c.stealth, cash_businesses(world))
    account = np.r_[plain, hidden]
    n = len(account)
    stealth = np.arange(n) >= len(plain)
    count = np.where(stealth, rng("stealth_deposits").integers(c.stealth_deposits.min, c.stealth_deposits.max + 1, n),
                     rng("deposits").integers(c.deposits.min, c.deposits.max + 1, n))
    case = np.repeat(np.arange(n), count)
    low = np.where(stealth, c.stealth_amount.min, c.amount.min)[case]
    high = np.where(stealth, c.stealth_amount.max, c.amount.max)[case]
    # the notes the smurf was handed, never above the threshold (counted as every deposit's notes: `bank_cash`)
    cents = np.minimum(rng("amount").uniform(low, high) * CENTS,
                       np.floor(s.aml.cash_threshold / 10) * 10 * CENTS).astype(np.int64)
    # smurfs visit a branch a business day, each deposit on its own day; a stealthy placer feeds their own ATMs
    # over weeks, at their usual pace of a few deposits a week
    span = np.where(stealth, rng("stealth_days").integers(c.stealth_days.min, c.stealth_days.max + 1, n),
                    rng("days").integers(c.days.min, c.days.max + 1, n))
    offset = case_days(world, day, rng("day"), span, count, stealth)
    branches = rng("branches").integers(c.branches.min, c.branches.max + 1, n)
    places = _branches(world, rng, world.account_customer[account], branches)
    # the first deposits go to each branch in turn, the rest to any of them
    turn = positions(count)
    slot = np.where(turn < branches[case], turn, np.floor(rng("branch").random(len(case)) * branches[case])).astype(
        np.int64)
    deposits = counted_deposits(world, day, rng, account[case], cents, offset, places[case, slot], stealth[case])
    placed = np.bincount(case, weights=deposits.cents, minlength=n).astype(np.int64)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, case, deposits.event_ms)
    # moved on: `part` of it in 1–3 transfers on consecutive days from `days` after the last deposit, by day
    m = c.moved_on
    moving = rng("moved_on").random(n) < m.share
    pieces = np.where(moving, rng("transfers").integers(m.transfers.min, m.transfers.max + 1, n), 0)
    moves = np.repeat(np.arange(n), pieces)
    k = positions(pieces)
    on = (last[moves] // MS_PER_DAY + rng("moved_days").integers(m.days.min, m.days.max + 1, n)[moves] + k) * MS_PER_DAY
    event = in_hours(world, rng, "moved_on", on, on, on + MS_PER_DAY - 1, "transfer")  # by day, one a day
    share = uneven_shares(rng("move_split"), moves)
    payee = np.where(stealth, outside_parties(world, rng("business"), n, ("merchant",)),
                     outside_parties(world, rng("person"), n, ("individual",)))[moves]
    part = rng("part").uniform(m.part.min, m.part.max, n)
    out = transfers_out(world, day, rng, "moved_on", account[moves], event,
                        np.round(placed[moves] * part[moves] * share), payee)
    parameters = [{"deposits": int(k), "days": int(d), "branches": int(b) if not x else 0, "stealth": bool(x),
                   "moved_on": int(p)} for k, d, b, x, p in zip(count, span, branches, stealth, pieces)]
    return finish(world, day, rng, STRUCTURING, account, stealth, placed, parameters, np.r_[case, moves],
                  concat([deposits, out]), c)


def case_days(world: World, day: date, rng, span: np.ndarray, count: np.ndarray,
              any_day: np.ndarray) -> np.ndarray:
    """Per event (the cases' `count` events in order), its day offset from `day`: distinct business days among
    those in the case's `span` of days (more when the count needs them: a smurf's branch visits, a business's
    client payments), or where `any_day`, distinct days of the span, weekends too (a placer's own ATM deposits).
    In order within a case."""
    horizon = int(span.max(initial=0)) + 4 * int(count.max(initial=0)) + 15
    business = np.flatnonzero([calendar.is_business_day(world.scenario, day + timedelta(days=d))
                               for d in range(horizon)])
    offsets = []
    for days, k, free in zip(span, count, any_day):  # a handful of cases a day
        if free:  # a day each while the span has them (notes reach the ATM up to two days later: a few a week)
            offsets.append(np.sort(rng.choice(days, k, replace=False) if k <= days else rng.integers(0, days, k)))
        else:
            open_days = business[:max(int(np.searchsorted(business, days)), k)]
            offsets.append(np.sort(rng.choice(open_days, k, replace=False)))
    return np.concatenate(offsets).astype(np.int64) if offsets else np.zeros(0, np.int64)


def transfers_on_case_days(world: World, day: date, rng, purpose: str, span: np.ndarray, count: np.ndarray,
                           any_day: bool, after_days: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` transfers per case on distinct days of its `span` (`case_days`: business days unless `any_day`),
    `after_days` after `day`, each at an hour people pay. Returns (each transfer's case, its time in ms), in order
    within each case; draws the streams day, `purpose`_hour and `purpose`_ms."""
    case = np.repeat(np.arange(len(count)), count)
    offset = case_days(world, day, rng("day"), span, count, np.full(len(count), any_day)) + after_days
    on = day_start_ms(day) + offset * MS_PER_DAY
    return case, in_hours(world, rng, purpose, on, on, on + MS_PER_DAY - 1, "transfer")


def _deposit_and_send(world: World, day: date) -> Cases:
    s = world.scenario
    c = s.aml.deposit_and_send
    rng = rng_of(world, day, "deposit_and_send")
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0, _traders(world))
    n = len(account)
    stealth = rng("stealth").random(n) < c.stealth
    # notes at an ATM fit its limit; a counter takes more, on a business day
    most = np.where(stealth, min(c.amount.max, s.inflows.cash_deposits.atm_max), c.amount.max)
    cents = np.minimum(rng("amount").uniform(c.amount.min, most) * CENTS,
                       np.floor(np.minimum(most, s.aml.cash_threshold) / 10) * 10 * CENTS).astype(np.int64)
    offset = case_days(world, day, rng("day"), np.ones(n, np.int64), np.ones(n, np.int64), stealth)  # ATM today
    home = city_place(world, world.home_city[world.account_customer[account]])
    deposit = counted_deposits(world, day, rng, account, cents, offset, home, stealth)
    sends = rng("sends").integers(c.sends.min, c.sends.max + 1, n)
    case = np.repeat(np.arange(n), sends)
    hours = rng("hours").uniform(c.hours.min, c.hours.max, len(case))
    first, latest = (deposit.event_ms[case] + round(h * MS_PER_HOUR) for h in (c.hours.min, c.hours.max))
    event = in_hours(world, rng, "send", deposit.event_ms[case] + (hours * MS_PER_HOUR).astype(np.int64), first,
                     latest, "transfer")
    event = event[np.lexsort((event, case))]  # in order within each case (`case` is sorted)
    share = uneven_shares(rng("share"), case)
    total = np.round(deposit.cents * rng("part").uniform(c.part.min, c.part.max, n))
    payee = np.where(stealth, outside_parties(world, rng("business"), n, ("merchant",)),
                     outside_parties(world, rng("person"), n, ("individual",)))[case]
    out = transfers_out(world, day, rng, "send", account[case], event, np.round(total[case] * share), payee)
    parameters = [{"sends": int(k), "stealth": bool(x)} for k, x in zip(sends, stealth)]
    return finish(world, day, rng, DEPOSIT_AND_SEND, account, stealth, deposit.cents.astype(np.int64), parameters,
                   np.r_[np.arange(n), case], concat([deposit, out]), c)

