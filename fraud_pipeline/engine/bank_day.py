"""A day of the whole bank as a day of each block, in block order, and the overnight exchange between them.

Each block's day is `day.simulate_day` on the block's world and state. The only thing one block gives another is
the credit of a transfer to an account in it: a day's credits leave their block in its `outbox` (addressed by the
bank's account number) and join the payee's block's pending rows for the next day — they settle overnight anyway,
so no block reads another's rows of the same day. A table is its file ranges (`storage.blocks_per_file` blocks
each) one after another, each range's rows merged in arrival order (ties in block order): what the stored part
files hold, in the same order, and nothing that depends on where blocks ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.rows import Rows, concat
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.day import Day, card_tables, simulate_day
from fraud_pipeline.money.state import State, initial_state
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import World

BLOCK = "block"  # the column that says which block a stored state row belongs to
ORDER = {"transactions": "arrival_time", "fraud_transactions": "arrival_time", "customer_events": "arrival_time",
         "fraud_episodes": "start_time", "aml_cases": "start_time", "aml_reports": "activity_from",
         "card_events": "event_time"}  # the rest keep block order


@dataclass
class BankState:
    """The bank at the start of `day`: each block's state, in block order."""

    day: date
    blocks: list[State]

    def to_tables(self) -> dict[str, pa.Table]:
        """Every block's state tables, one table per kind with the block's number in a `block` column."""
        return stacked([state.to_tables() for state in self.blocks], range(len(self.blocks)))

    @classmethod
    def from_tables(cls, day: date, tables: dict[str, pa.Table]) -> "BankState":
        blocks = int(pc.max(tables["accounts"][BLOCK]).as_py()) + 1
        parts = [{name: t.filter(pc.equal(t[BLOCK], b)).drop_columns([BLOCK]) for name, t in tables.items()}
                 for b in range(blocks)]
        return cls(day=day, blocks=[State.from_tables(day, p) for p in parts])


@dataclass
class BankDay:
    """What a day of the bank produces: the blocks' tables merged, the card catalogue for the checks, and the state
    the next day starts from."""

    transactions: pa.Table
    fraud_transactions: pa.Table
    fraud_episodes: pa.Table
    aml_cases: pa.Table
    aml_reports: pa.Table
    account_balances: pa.Table
    card_events: pa.Table
    customer_events: pa.Table
    opening: pa.Table
    cards: dict[str, pa.Table]  # card_tables of every block: cards, blocked, expiry
    state: BankState


def blocks_of(world: World) -> list[World]:
    """The bank's block worlds (made once per bank: their caches carry a range's work from day to day)."""
    key = ("block_worlds",)
    if key not in world.caches:
        world.caches[key] = [block_world(world, b) for b in range(world.n_blocks)]
    return world.caches[key]


def initial_bank_state(world: World) -> BankState:
    """Every block at the start of the calendar."""
    return BankState(day=world.scenario.start_date, blocks=[initial_state(w) for w in blocks_of(world)])


def simulate_bank_day(world: World, state: BankState, day: date) -> BankDay:
    """The bank's `day` from `state` (its start): each block's day, then the overnight exchange. Raises ValueError
    when `state` is not the start of `day`."""
    if state.day != day:
        raise ValueError(f"the state is the start of {state.day}, not of {day}")
    worlds = blocks_of(world)
    days = [simulate_day(w, s, day) for w, s in zip(worlds, state.blocks)]
    inbox = _route([d.outbox for d in days], worlds, world)
    next_blocks = [replace(d.state, pending=concat([d.state.pending, credits])) for d, credits in zip(days, inbox)]
    cards = [card_tables(w, d.state) for w, d in zip(worlds, days)]
    groups = file_ranges(world.scenario)
    merged = {f.name: pa.concat_tables([merge_blocks(f.name, [getattr(d, f.name) for d in days[first:end]])
                                        for first, end in groups])
              for f in fields(Day) if f.name not in ("state", "outbox")}
    return BankDay(**merged, cards={name: pa.concat_tables([c[name] for c in cards]) for name in cards[0]},
                   state=BankState(day=day + timedelta(days=1), blocks=next_blocks))


def file_ranges(scenario: Scenario) -> list[tuple[int, int]]:
    """The bank's fixed ranges of blocks as (first, one past the last): `storage.blocks_per_file` blocks each (the
    last may be short) of `population.block_customers` customers each. A part file each, known from the scenario
    alone (the driver of a day never builds the bank's world)."""
    blocks = max(1, -(-scenario.population.customers // scenario.population.block_customers))
    per = scenario.storage.blocks_per_file
    return [(first, min(first + per, blocks)) for first in range(0, blocks, per)]


def range_name(first: int, end: int) -> str:
    """How a file range's parts are named: `b000000-b000007` for blocks 0 to 7 (`end` is one past the last)."""
    return f"b{first:06d}-b{end - 1:06d}"


def stacked(per_block: Sequence[dict[str, pa.Table]], blocks: Sequence[int]) -> dict[str, pa.Table]:
    """Per name, the blocks' tables one after another, each row's block (from `blocks`, aligned) in a `block`
    column: how state is stored, a range's blocks in one part."""
    return {name: pa.concat_tables([t[name].append_column(BLOCK, pa.array(np.full(t[name].num_rows, b, np.int32)))
                                    for b, t in zip(blocks, per_block)]) for name in per_block[0]}


def merge_blocks(name: str, tables: list[pa.Table]) -> pa.Table:
    """A range's blocks' table `name` as one: in the order of `ORDER[name]` (stable: ties keep block order), or in
    block order. A block's table is in that order already, so a range of one block is not gathered again."""
    merged = pa.concat_tables(tables)
    if name not in ORDER or merged.num_rows == 0:
        return merged
    order = pc.sort_indices(merged, [(ORDER[name], "ascending")])
    if np.array_equal(order.to_numpy(), np.arange(merged.num_rows)):
        return merged
    return merged.take(order)


def _route(outboxes: list[Rows], worlds: list[World], bank: World) -> list[Rows]:
    """Each block's incoming credits, from every block's outbox in block order: the payee account (the bank's
    number) becomes the block's own."""
    sent = concat(outboxes)
    size = bank.scenario.population.block_customers
    target = bank.account_customer[sent.account] // size if len(sent.account) else np.zeros(0, np.int64)
    inbox = []
    for b, w in enumerate(worlds):
        mine = np.flatnonzero(target == b)
        rows = sent.take(mine)
        rows.account = np.searchsorted(w.global_accounts, rows.account)
        inbox.append(rows)
    return inbox
