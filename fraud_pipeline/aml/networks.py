"""Laundering among the bank's own customers: layering chains, round-tripping cycles, scatter-gather and
gather-scatter (`../shared/reference/aml-anchors.md` §8.2 rows 4–6).

A case's accounts lie in any blocks, so its cases are planned for the whole bank (`plan_of`): a pure function of the
scenario, the directory's accounts and the day, drawn from streams keyed by (seed, typology, day) — never by a block
or a worker — so every block computes the same plan and makes its own accounts' rows. The plan fixes every row an
account makes (when, how much, to whom), so amounts chain and no block waits on another:

- the proceeds come in to the first accounts from people and businesses at other banks on the case's first day;
- each hop is a transfer between our customers, which settles in the overnight batch like every other
  (`engine.day._internal_credits` labels the credit with the receiver's role, `receiver_roles`); the receiver passes
  it on `gap_days` later, from the morning it settles (03:00 on), keeping back `shave` of it — and only if it came:
  a member's rows after its money arrives are made on the day it arrives (`onward_day`), so a hop that was declined
  (the sender had spent the money) ends the case there, as a real network stalls, and no later member sends money
  it never had;
- the last accounts pay it out of the bank, to people or a crypto exchange; a cycle's source, its money back, buys
  something from businesses elsewhere;
- a member after the first is at another bank with chance `elsewhere_share` (the first, whose block numbers the case,
  is always ours): the bank sees a hop to it as a payment out to a person and its hop on as a payment in from that
  person (one beneficiary for both, as a bank sees another bank's account; a person each), and nothing it does in
  between, nor what it pays out of its own bank. It pays on as planned whether or not it was paid (a block does not
  wait on another to learn whether a member of ours paid it: a stall does not pass a member elsewhere), at any hour
  (its bank's batch is not ours); its own keep-back and gap are drawn as a member's of ours.

Plainly the proceeds are large and hops follow the morning the money settles; stealthily the proceeds are smaller
and days pass between hops. Amounts are typed as people type them either way. Members are active
salary accounts open for the case's weeks, drawn uniformly bank-wide, all of different customers (no
self-transfers). A declined hop is a declined row and its credit never comes (the ledger decides, as for any row).
Members at other banks keep the typologies' shapes among the bank's accounts from being a shortcut: most genuine
transfers leave the bank, and a case whose every hop stayed inside told itself by its counterparties alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from fraud_pipeline.aml.placement import CENTS, MONTH_DAYS, Cases, rng_of
from fraud_pipeline.core.labels import (AML_TYPOLOGIES, CONSOLIDATOR, CYCLE, EXIT, LAYER, LAYERING, MULE,
                                        NETWORK_TYPOLOGIES, PER_BLOCK, PER_DAY, PER_SCENARIO, PLACER, SCATTER_GATHER,
                                        SOURCE, episode_kind)
from fraud_pipeline.core.rows import NONE, TRANSFER, TRANSFER_IN, Rows, concat, make
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms
from fraud_pipeline.life.genuine import city_place, open_accounts
from fraud_pipeline.life.payments import beneficiaries_of, outside_parties, transfers_out
from fraud_pipeline.scenario.aml import CASE_DAYS
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import day_number

IN, HOP, OUT = range(3)  # a move: money in from elsewhere, a transfer to another member of ours, a payment out
PARTIES = (("individual",), ("merchant",), ("crypto",))  # who is paid or pays outside the bank (`Plan.party`)
PERSON, BUSINESS, CRYPTO, MEMBER = range(4)  # MEMBER: a member at another bank (`Plan.move_payee`)
SETTLED_HOUR = 3  # hops leave from this hour: the overnight batch (00:30–02:00) and its arrival lag are over
CRYPTO_SHARE = 0.3  # of a plain exit's payments out, to a crypto exchange (as `aml.mule.crypto_share`; assumption)
_EPOCH = date(1970, 1, 1)


@dataclass
class Plan:
    """The bank's network cases that start on a day. Cases: `number` … `parameters`; members: `member_*` (one per
    case and account); moves: `move_*` (every row a member makes, and each hop's receiver)."""

    number: np.ndarray  # global case numbers (`core.labels.episode_numbers`' form; block: the first member's)
    typology: np.ndarray  # index into AML_TYPOLOGIES
    stealth: np.ndarray
    proceeds: np.ndarray  # cents that came in
    start_ms: np.ndarray
    end_ms: np.ndarray
    label_ms: np.ndarray  # NONE: never reported
    parameters: list[dict]
    member_case: np.ndarray  # index into the cases
    member_account: np.ndarray  # the bank's account number (members at other banks are not members here)
    member_role: np.ndarray  # index into AML_ROLES
    move_case: np.ndarray
    move_kind: np.ndarray  # IN, HOP or OUT
    move_account: np.ndarray  # the bank's account the row is on
    move_role: np.ndarray  # that account's role
    move_to: np.ndarray  # a hop's receiving account (the bank's), else NONE
    move_to_role: np.ndarray  # its role, else NONE
    move_party: np.ndarray  # IN and OUT: PERSON, BUSINESS, CRYPTO or MEMBER (the party elsewhere), else NONE
    move_payee: np.ndarray  # MEMBER: the beneficiary row of the member at another bank, else NONE
    move_ms: np.ndarray
    move_cents: np.ndarray
    move_after: np.ndarray  # the day number the member's money arrives, which it makes the row on; NONE: the first


def plan_of(world: World, day: date) -> Plan:
    """The bank's network cases starting on `day` (kept in the directory's caches for the days a case lasts: every
    block of a process asks for it, and the credits of later days ask again)."""
    bank = world.directory
    key = ("aml_networks", day)
    if key not in bank.caches:
        bank.caches = {k: v for k, v in bank.caches.items()
                       if k[0] != "aml_networks" or abs((k[1] - day).days) <= CASE_DAYS + 1}
        bank.caches[key] = _plan(bank, day)
    return bank.caches[key]


def networks_day(world: World, day: date) -> Cases:
    """The block's share of the network cases that start on `day`: a case row per member account of the block, and
    the rows its members make before any money reaches them from another member (the proceeds coming in, the first
    hops; arrival times set, later days' carried until they arrive). The rest are `onward_day`'s."""
    plan = plan_of(world, day)
    member = world.local_accounts(plan.member_account)
    mine = np.flatnonzero(member >= 0)
    at = world.local_accounts(plan.move_account)
    rows = _rows(world, day, plan, np.flatnonzero((at >= 0) & (plan.move_after == NONE)), at, "networks")
    case = plan.member_case[mine]
    return Cases(case=plan.number[case], typology=plan.typology[case], role=plan.member_role[mine],
                 account=member[mine], stealth=plan.stealth[case], proceeds=plan.proceeds[case],
                 start_ms=plan.start_ms[case], end_ms=plan.end_ms[case], label_ms=plan.label_ms[case],
                 parameters=[plan.parameters[c] for c in case], rows=rows)


def onward_day(world: World, day: date, arriving: Rows) -> Rows:
    """The rows the block's members make once their case's money has reached them: on the day a member's last
    planned credit from another member settles (`Plan.move_after`), if a credit of its case settled on its account
    that day (`arriving`: the rows the day starts with, the overnight batch's credits among them) — every hop and
    payment it makes after, from the plan. A member whose money never came (the hop to it was declined) makes
    nothing more, and nor does anyone after it."""
    start = day_start_ms(day)
    came = np.flatnonzero((arriving.kind == TRANSFER_IN) & (arriving.counterparty >= 0) & (arriving.aml_case >= 0)
                          & (arriving.event_ms >= start) & (arriving.event_ms < start + MS_PER_DAY))
    came = came[np.isin(episode_kind(arriving.aml_case[came]), NETWORK_TYPOLOGIES)]
    parts = []
    for first in np.unique(arriving.aml_case[came] // PER_DAY):
        plan = plan_of(world, _EPOCH + timedelta(days=int(first)))
        credited = came[arriving.aml_case[came] // PER_DAY == first]
        at = world.local_accounts(plan.move_account)
        due = np.flatnonzero((plan.move_after == day_number(day)) & (at >= 0))
        key = plan.number[plan.move_case[due]] % PER_DAY * world.n_accounts + at[due]
        paid = arriving.aml_case[credited] % PER_DAY * world.n_accounts + arriving.account[credited]
        parts.append(_rows(world, day, plan, due[np.isin(key, paid)], at, f"networks_onward_{first}"))
    return concat(parts) if parts else make(0)


def _rows(world: World, day: date, plan: Plan, moves: np.ndarray, at: np.ndarray, purpose: str) -> Rows:
    """The plan's `moves` (positions) as the block's rows, on its accounts `at` (the world's rows of
    `plan.move_account`): credits from outside, transfers to members, payments out; labelled with case and role."""
    rng = rng_of(world, day, purpose)
    account, kind, party = at[moves], plan.move_kind[moves], plan.move_party[moves]
    customer = world.account_customer[account]
    payee = np.full(len(moves), NONE)
    for k, kinds in enumerate(PARTIES):
        where = np.flatnonzero(party == k)
        payee[where] = outside_parties(world, rng(f"party_{k}"), len(where), kinds)
    payee = np.where(party == MEMBER, plan.move_payee[moves], payee)
    came_in = kind == IN
    rows = concat([
        make(int(came_in.sum()), account=account[came_in], channel=TRANSFER, kind=TRANSFER_IN,
             event_ms=plan.move_ms[moves][came_in], cents=plan.move_cents[moves][came_in], payee=payee[came_in],
             place=city_place(world, world.home_city[customer[came_in]])),
        transfers_out(world, day, rng, "sent", account[~came_in], plan.move_ms[moves][~came_in],
                      plan.move_cents[moves][~came_in], payee[~came_in], plan.move_to[moves][~came_in], typed=False)])
    order = np.r_[np.flatnonzero(came_in), np.flatnonzero(~came_in)]
    rows.aml_case = plan.number[plan.move_case[moves][order]]
    rows.aml_role = plan.move_role[moves][order].astype(np.int8)
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng("lag"), len(rows), lag.median, lag.sigma, lag.max)
    return rows


def receiver_roles(world: World, case: np.ndarray, account: np.ndarray) -> np.ndarray:
    """Per credit of a transfer between our accounts: the receiving `account`'s (the bank's number) role in the
    laundering `case` the transfer belongs to, NONE where `case` is NONE.

    Raises ValueError for a laundering transfer to an account the case's plan does not pay (a bug, never data)."""
    role = np.full(len(case), NONE, np.int64)
    n_accounts = world.directory.n_accounts
    for start in np.unique(case[case >= 0] // PER_DAY):
        plan = plan_of(world, _EPOCH + timedelta(days=int(start)))
        hop = np.flatnonzero(plan.move_kind == HOP)
        keys = plan.number[plan.move_case[hop]] % PER_DAY * n_accounts + plan.move_to[hop]
        order = np.argsort(keys, kind="stable")
        here = np.flatnonzero((case >= 0) & (case // PER_DAY == start))
        wanted = case[here] % PER_DAY * n_accounts + account[here]
        at = np.minimum(np.searchsorted(keys[order], wanted), max(len(hop) - 1, 0))
        found = keys[order][at] == wanted if len(hop) else np.zeros(len(here), bool)
        if not found.all():
            raise ValueError(f"laundering credits to accounts their case's plan does not pay: cases "
                             f"{np.unique(case[here][~found])[:5]}")
        role[here] = plan.move_to_role[hop][order][at]
    return role


def _layers(typology: int, g: np.random.Generator, config) -> tuple[list[list[int]], list[int]]:
    """A case's shape: its layers (member positions; money flows from each layer to the next) and each member's
    role. Drawn from the case's stream."""
    k = int(g.integers(config.members.min, config.members.max + 1))
    if typology == LAYERING:  # placer → layers → exit
        return [[i] for i in range(k)], [PLACER] + [LAYER] * (k - 2) + [EXIT]
    if typology == CYCLE:  # source → layers → source
        return [[i] for i in range(k)] + [[0]], [SOURCE] + [LAYER] * (k - 1)
    if typology == SCATTER_GATHER:  # placer → k mules → consolidator
        return [[0], list(range(1, k + 1)), [k + 1]], [PLACER] + [MULE] * k + [CONSOLIDATOR]
    exits = int(g.integers(config.members.min, config.members.max + 1))  # k placers → hub → exits
    return ([list(range(k)), [k], list(range(k + 1, k + 1 + exits))],
            [PLACER] * k + [CONSOLIDATOR] + [EXIT] * exits)


def _plan(bank: World, day: date) -> Plan:
    s = bank.scenario
    today = day_number(day)
    open_ = open_accounts(bank, day)
    active = open_ & (bank.status == STATUS_NAMES.index("active"))
    eligible = np.flatnonzero(active & bank.salary & (bank.closed_day > today + CASE_DAYS))
    hours = np.asarray(s.card_transactions.hourly["transfer"], float)
    cases, members, moves = [], [], []
    for typology in NETWORK_TYPOLOGIES:
        name = AML_TYPOLOGIES[typology]
        c = getattr(s.aml, name)
        key = (s.seed, "aml", name, day.isoformat())
        rate = c.cases_per_10k_accounts_month if c.enabled else 0.0
        n = int(stream(*key, "count").poisson(rate * active.sum() / 10_000 / MONTH_DAYS))
        for k in range(n):  # a handful of cases a day, bank-wide
            g = stream(*key, "case", k)
            layers, roles = _layers(typology, g, c)
            if len(roles) > len(eligible):
                continue
            accounts = eligible[g.choice(len(eligible), len(roles), replace=False)]
            # which members are at other banks, and who they are there: a stream of their own, so the rest of the
            # case is drawn as it would be with every member ours
            there = stream(*key, "elsewhere", k)
            away = (there.random(len(roles)) < c.elsewhere_share) & (np.arange(len(roles)) > 0)
            people = beneficiaries_of(bank, ("individual",))  # a person each, no two members one
            beneficiary = people[there.choice(len(people), len(roles), replace=len(people) < len(roles))]
            case = len(cases)
            found = _flows(day, g, c, layers, hours, away, there)
            found["parameters"]["elsewhere_payees"] = [bank.beneficiary_id[int(b)].as_py()
                                                       for b in beneficiary[away]]
            cases.append((typology, found))
            members += [(case, a, r) for a, r, gone in zip(accounts, roles, away) if not gone]
            moves += [(case, kind, accounts[p], roles[p], NONE if to < 0 else accounts[to],
                       NONE if to < 0 else roles[to], party, NONE if via < 0 else beneficiary[via], ms, cents,
                       NONE if after == NONE else today + after)
                      for kind, p, to, party, via, ms, cents, after in found["moves"]]
    return _assemble(bank, day, cases, members, moves)


def _flows(day: date, g: np.random.Generator, c, layers: list[list[int]], hours: np.ndarray,
           away: np.ndarray, there: np.random.Generator) -> dict:
    """One case's rows: (kind, member position, receiving position or -1, party or NONE, the position of the member
    at another bank the row pays or is paid by or -1, ms, cents, the day offset its member's money arrives from
    another member of ours — NONE before any does) each, and what the case's table row records. The money is drawn
    as if every member were ours (`g`); members `away` (at other banks) make no rows, and rows between two of them
    none; a payment in from one of them comes at any hour (`there`: the stream of the members elsewhere)."""
    stealth = bool(g.random() < c.stealth)
    bounds = c.stealth_proceeds if stealth else c.proceeds
    proceeds = np.exp(g.uniform(np.log(bounds.min), np.log(bounds.max))) * CENTS
    gaps = c.stealth_gap_days if stealth else c.gap_days
    start = day_start_ms(day)
    moves = []

    def amounts(total: float, pieces: int) -> np.ndarray:
        share = g.uniform(0.5, 1.5, pieces)
        cents = total * share / share.sum()
        # as people type them (round hundreds as often as genuine payments between customers are: a fresh analyst
        # found plain cases' hops all round hundreds against half of genuine ones); never more than the share
        # (what is passed on was received): rounded down (a fourth analyst found half the hops paid to the cent,
        # where a share that would round up was: 32–53 % whole rands against 81 % of genuine transfers)
        return spending.typed_at_most(g.random(pieces), cents)

    def at(offset: int, first_hour: int) -> int:
        p = hours[first_hour:] / hours[first_hour:].sum()
        hour = first_hour + int(g.choice(len(p), p=p))
        return start + offset * MS_PER_DAY + hour * MS_PER_HOUR + int(g.integers(0, MS_PER_HOUR))

    # the proceeds: to the first layer's accounts from people and businesses elsewhere, on the first day
    first = layers[0]
    held = {}
    for p, part in zip(first, amounts(proceeds, len(first))):
        pieces = int(g.integers(c.credits.min, c.credits.max + 1))
        cents = spending.typed_from(g.random(pieces), part * g.uniform(0.5, 1.5, pieces) / pieces)
        for x in cents:
            party, ms = BUSINESS if g.random() < 0.5 else PERSON, at(0, 0)
            if not away[p]:
                moves.append((IN, p, -1, party, -1, ms, int(x), NONE))
        held[p] = (int(cents.sum()), 1, NONE)  # passed on from the next day, made on the first
    # each layer passes on what it holds to the next, which has it the morning after
    for nxt in layers[1:]:
        arriving: dict[int, list[int]] = {}
        for p, (cents, ready, after) in held.items():
            send_day = ready + int(g.integers(gaps.min, gaps.max + 1))
            for to, x in zip(nxt, amounts(cents * (1 - g.uniform(c.shave.min, c.shave.max)), len(nxt))):
                ms = at(send_day, SETTLED_HOUR)
                if not (away[p] or away[to]):
                    moves.append((HOP, p, to, NONE, -1, ms, int(x), after))
                elif not away[p]:  # paid out to the member at another bank
                    moves.append((OUT, p, -1, MEMBER, to, ms, int(x), after))
                elif not away[to]:  # paid in by it, at any hour (its bank's batch is not ours)
                    moves.append((IN, to, -1, MEMBER, p, start + (ms - start) // MS_PER_DAY * MS_PER_DAY
                                  + _any_hour(there, hours), int(x), NONE))
                total, last, ours = arriving.get(to, [0, 0, NONE])
                ours = max(ours, send_day + 1) if not (away[p] or away[to]) else ours
                arriving[to] = [total + int(x), max(last, send_day + 1), ours]
        # a receiver's rows are made the day its last credit from a member of ours settles (`onward_day`), or on the
        # case's first day when none comes from one
        held = {p: (total, ready, ours) for p, (total, ready, ours) in arriving.items()}
    # the last accounts pay it out of the bank
    for p, (cents, ready, after) in held.items():
        pieces = int(g.integers(c.out.min, c.out.max + 1))
        out_day = ready + int(g.integers(gaps.min, gaps.max + 1))
        paid = amounts(cents * (1 - g.uniform(c.shave.min, c.shave.max)), pieces)
        for i, x in enumerate(paid):
            party = BUSINESS if layers[0] == layers[-1] or (stealth and g.random() < 0.5) else \
                CRYPTO if g.random() < CRYPTO_SHARE else PERSON
            ms = at(out_day + i, SETTLED_HOUR)
            if not away[p]:
                moves.append((OUT, p, -1, party, -1, ms, int(x), after))
    came_in = sum(x for kind, _, _, party, _, _, x, _ in moves if kind == IN and party != MEMBER)
    reported = g.random() < c.reported_share
    delay = g.uniform(c.label_delay_days.min, c.label_delay_days.max)
    return {"moves": moves, "stealth": stealth, "proceeds": came_in, "reported": reported, "delay": delay,
            "parameters": {"members": len({p for layer in layers for p in layer}), "stealth": stealth,
                           "hops": sum(kind == HOP for kind, *_ in moves), "layers": len(layers),
                           "elsewhere": int(away.sum())}}


def _any_hour(g: np.random.Generator, hours: np.ndarray) -> int:
    """A time of day in ms, its hour by the transfer channel's hourly profile."""
    p = hours / hours.sum()
    return int(g.choice(len(p), p=p)) * MS_PER_HOUR + int(g.integers(0, MS_PER_HOUR))


def _assemble(bank: World, day: date, cases: list, members: list, moves: list) -> Plan:
    """The plan's arrays from its cases, members and moves; case numbers by the first member's block."""
    n = len(cases)
    typology = np.array([t for t, _ in cases], np.int64)
    first = {}
    for case, account, _ in members:
        first.setdefault(case, account)
    block = np.array([bank.account_customer[first[c]] // bank.scenario.population.block_customers
                      for c in range(n)], np.int64)
    ordinal = np.zeros(n, np.int64)
    seen: dict[tuple[int, int], int] = {}
    for c in range(n):  # a block numbers its cases of a typology from 0, as it does its own
        ordinal[c] = seen.get((typology[c], block[c]), 0)
        seen[(typology[c], block[c])] = ordinal[c] + 1
    if n and (ordinal.max() >= PER_BLOCK):
        raise ValueError(f"more than {PER_BLOCK:,} network cases of a typology start in a block on {day}")
    number = day_number(day) * PER_DAY + typology * PER_SCENARIO + block * PER_BLOCK + ordinal
    m = np.array(members, np.int64).reshape(-1, 3)
    v = np.array(moves, np.int64).reshape(-1, 11)
    case_of = v[:, 0]
    ms = v[:, 8]
    start = np.full(n, np.iinfo(np.int64).max)
    end = np.zeros(n, np.int64)
    np.minimum.at(start, case_of, ms)
    np.maximum.at(end, case_of, ms)
    label = np.array([e + round(f["delay"] * MS_PER_DAY) if f["reported"] else NONE
                      for e, (_, f) in zip(end, cases)], np.int64)
    return Plan(number=number, typology=typology, stealth=np.array([f["stealth"] for _, f in cases], bool),
                proceeds=np.array([f["proceeds"] for _, f in cases], np.int64), start_ms=start, end_ms=end,
                label_ms=label, parameters=[f["parameters"] for _, f in cases],
                member_case=m[:, 0], member_account=m[:, 1], member_role=m[:, 2],
                move_case=case_of, move_kind=v[:, 1], move_account=v[:, 2], move_role=v[:, 3], move_to=v[:, 4],
                move_to_role=v[:, 5], move_party=v[:, 6], move_payee=v[:, 7], move_ms=ms, move_cents=v[:, 9],
                move_after=v[:, 10])
