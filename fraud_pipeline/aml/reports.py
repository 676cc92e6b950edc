"""The bank's own labels: the suspicious transaction reports it files (`aml_reports`), true or not — never the truth.

A bank learns of laundering only from its reports (FIC Act s29 STRs), and they are noisy both ways
(`../shared/reference/aml-anchors.md` §2, AMLGentex's label-noise knobs, and §8.1 rule 4: noise goes into an
observed label beside the truth, never into it):
- **missed**: a case the bank never reports has no report (`aml.<typology>.reported_share`, already drawn with the
  case: `aml_cases.label_available_at` is null);
- **true**: a reported case names each of its accounts of the block, at its `label_available_at`;
- **guilt by association**: a report names the customer, so their other accounts are reported with it
  (`aml.observed.holder_accounts`);
- **false suspicions**: genuine accounts that trip the bank's monitoring on a day — money from `fan_in` or more
  senders at other banks, outside credits of `large_credit_of_income` months of what the holder takes in, or a cash
  deposit of `near_threshold` of the cash threshold up to it — are reported with chance `alerted_share`, as long
  after as a case's report comes (a defensive filing: a funeral's collection, a stokvel's pot, a car sold, a trader's
  takings).

Nothing in a report tells a true one from a false one — windows are whole days, numbers are drawn, delays come from
the same ranges — except what `aml_cases` says of its account in its window: a user's join, as a bank's would be
after the fact. Each report is in the partition of the day its activity was planned (a case's first day, or a day
before it: a case's first rows can come days after it is planned; an alert's day), as the cases are.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.aml.placement import CENTS, Cases, rng_of
from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import ids, positions
from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.core.rows import CASH_DEPOSIT, NONE, TRANSFER_IN, Rows
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.world.build import World


def report_table(world: World, day: date, cases: Cases, posted: Rows, approved: np.ndarray) -> pa.Table:
    """The block's reports of the activity planned on `day`: the reported cases' accounts and the day's false
    suspicions among the `approved` rows of `posted` (the day's posted rows, accounts the world's), numbered in a
    drawn order so that a report's number says nothing of its kind (`STR-<YYYYMMDD>-<block>-<number>`). Windows are
    whole days: a case's first to last day; a suspicion's alerted day and the `lookback_days` before it, as an analyst
    reviews the account's recent weeks. One row per report and account named — the account reported first, then its
    holder's other accounts open in the window by the report (`aml.observed.holder_accounts`) — by
    `activity_from`."""
    o = world.scenario.aml.observed
    rng = rng_of(world, day, "observed")
    reported = np.flatnonzero(cases.label_ms >= 0)
    suspect, suspect_ms, looked = false_suspicions(world, day, posted, approved)
    first = day_start_ms(day)
    account = np.r_[cases.account[reported], suspect]
    reported_ms = np.r_[cases.label_ms[reported], suspect_ms]
    start = np.r_[_floor_day(cases.start_ms[reported]), first - looked * MS_PER_DAY]
    end = np.r_[_floor_day(cases.end_ms[reported]), np.full(len(suspect), first)] + MS_PER_DAY - 1
    number = rng("numbers").permutation(len(account))
    named, report = _with_holders_accounts(world, account) if o.holder_accounts else (account, np.arange(len(account)))
    keep = _open_for(world, named, start[report], reported_ms[report])
    named, report = named[keep], report[keep]
    order = np.lexsort((number[report], start[report]))  # by activity_from, the order blocks are merged in
    named, report = named[order], report[order]
    return schemas.AML_REPORTS.build({
        "report_id": ids(f"STR-{day:%Y%m%d}-{world.block_number:05d}-", number[report], 5),
        "account_id": world.account_id.take(pa.array(named, pa.int64())),
        "customer_id": world.customer_id.take(pa.array(world.account_customer[named], pa.int64())),
        "reported_at": pa.array(reported_ms[report], pa.timestamp("ms")),
        "activity_from": pa.array(start[report], pa.timestamp("ms")),
        "activity_to": pa.array(end[report], pa.timestamp("ms")),
    })


def _floor_day(ms: np.ndarray) -> np.ndarray:
    return ms - ms % MS_PER_DAY


def _with_holders_accounts(world: World, account: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each reported account followed by its holder's other accounts of the block (a report names the customer).
    Returns the accounts named and each one's report (an index into `account`)."""
    order = np.argsort(world.account_customer, kind="stable")
    holders = world.account_customer[order]
    holder = world.account_customer[account]
    first = np.searchsorted(holders, holder)
    count = np.searchsorted(holders, holder, side="right") - first
    report = np.repeat(np.arange(len(account)), count)
    named = order[np.repeat(first, count) + positions(count)]
    # within a report: the reported account first, then the others in account order
    keep = np.lexsort((named, named != account[report], report))
    return named[keep], report[keep]


def _open_for(world: World, account: np.ndarray, from_ms: np.ndarray, reported_ms: np.ndarray) -> np.ndarray:
    """Whether each account was open some time between the window's start and the report: opened by the report's
    day, not closed before the window (a report cannot name an account that does not exist yet)."""
    return ((world.opened_day[account] <= reported_ms // MS_PER_DAY)
            & (world.closed_day[account] > from_ms // MS_PER_DAY))


def false_suspicions(world: World, day: date, posted: Rows,
                     approved: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The genuine accounts reported for the day's activity: those the bank's monitoring alerts on (`alerted`) with
    no laundering row today, each with chance `aml.observed.alerted_share`, filed as long after the day as a case of
    a typology drawn at random is after its last row (its `label_delay_days`: a false suspicion's delay says nothing
    a true one's does not). Returns the accounts (ascending), their report times (ms) and their windows' days before
    the alert (`lookback_days`)."""
    s = world.scenario
    o = s.aml.observed
    rng = rng_of(world, day, "observed")
    laundering = np.zeros(world.n_accounts, bool)
    laundering[posted.account[posted.aml_case >= 0]] = True
    candidates = np.flatnonzero(alerted(world, posted, approved) & ~laundering)
    chosen = candidates[rng("alerted").random(len(candidates)) < o.alerted_share]
    n = len(chosen)
    delays = np.array([[getattr(s.aml, t).label_delay_days.min, getattr(s.aml, t).label_delay_days.max]
                       for t in AML_TYPOLOGIES])
    like = delays[rng("like").integers(0, len(AML_TYPOLOGIES), n)]
    delay = rng("delay").uniform(like[:, 0], like[:, 1])
    looked = rng("lookback").integers(o.lookback_days.min, o.lookback_days.max + 1, n)
    return chosen, day_start_ms(day) + MS_PER_DAY + (delay * MS_PER_DAY).astype(np.int64), looked


def alerted(world: World, posted: Rows, approved: np.ndarray) -> np.ndarray:
    """Per account: whether its approved rows of the day trip the bank's monitoring (`aml.observed`): credits from
    `fan_in` or more different senders at other banks, outside credits summing to `large_credit_of_income` months of
    what the holder's accounts take in (`World.turnover`: a business's turnover, else the income), or a cash deposit
    of `near_threshold` of `aml.cash_threshold` up to it (above it is a routine cash threshold report)."""
    s = world.scenario
    o = s.aml.observed
    rows = posted.take(np.flatnonzero(approved))
    outside = (rows.kind == TRANSFER_IN) & (rows.payee != NONE) & (rows.counterparty == NONE)
    pairs = np.unique(np.c_[rows.account[outside], rows.payee[outside]], axis=0)
    senders = np.bincount(pairs[:, 0], minlength=world.n_accounts) if len(pairs) else np.zeros(world.n_accounts)
    came = np.bincount(rows.account[outside], weights=rows.cents[outside], minlength=world.n_accounts)
    income = world.turnover[world.account_customer] * CENTS
    cash = rows.kind == CASH_DEPOSIT
    near = np.zeros(world.n_accounts, bool)
    near[rows.account[cash & (rows.cents >= o.near_threshold * s.aml.cash_threshold * CENTS)
                      & (rows.cents <= s.aml.cash_threshold * CENTS)]] = True
    return (senders >= o.fan_in) | (came >= o.large_credit_of_income * income) | near
