"""What a day carries to the next: balances, the recipients each account has paid for the first time since the
calendar's start (what it had paid before is the world's), cards blocked and replaced, and rows that arrive after
midnight.

This is the only state that accumulates. The rule is one: the state at the start of day D is the
state stored at the end of D-1 when it is stored (for this scenario), else it is computed by
simulating the days from the latest stored state (or the calendar's start) up to D-1 — the same
values either way, because the simulation of a day depends only on the world, the day and the
state it starts from. Its size follows the population, not the calendar's length.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.core.rows import Columns, Rows, make
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import NEVER


@dataclass
class Cards(Columns):
    """Replacement cards issued after fraud was reported, one row each (in issue order)."""

    account: np.ndarray
    sequence: np.ndarray  # the account's replacement number (from 0; World.replacement_number)
    active_ms: np.ndarray  # when it reaches the customer
    expiry_month: np.ndarray
    replaces: np.ndarray  # card reference it replaces (entity card row, or entity count + replacement row)
    blocked_ms: np.ndarray  # NEVER unless its own fraud is reported


@dataclass
class Pool(Columns):
    """Cards whose data was stolen at a point of compromise, waiting to be used by fraudsters."""

    account: np.ndarray
    card: np.ndarray  # card reference at capture
    merchant: np.ndarray  # the point of compromise
    captured_ms: np.ndarray
    onset_ms: np.ndarray  # from when fraud may start on it
    kind: np.ndarray  # 0 card-present skimming (counterfeit), 1 web shop breach (card not present)


@dataclass
class Blocks(Columns):
    """Cards to block when the bank learns of their fraud: which card, when, and the episode that reveals it."""

    account: np.ndarray
    card: np.ndarray  # card reference
    block_ms: np.ndarray
    episode: np.ndarray


@dataclass
class State:
    """The bank at the start of `day`."""

    day: date
    balance: np.ndarray  # per account, cents
    statement: np.ndarray  # per account: a credit account's balance at its latest statement, cents
    # sorted recipient keys the accounts paid for the first time since the calendar's start; what they had paid
    # before it is the world's `known_at_start` (the same every day: not carried, so not stored daily)
    learned: np.ndarray
    entity_blocked_ms: np.ndarray  # per entity card row: when it was blocked (NEVER: not)
    cards: Cards
    pending: Rows  # rows that arrive on this day or later
    pool: Pool
    blocks: Blocks

    def to_tables(self) -> dict[str, pa.Table]:
        """The state as named Arrow tables, for storage."""
        per_account = pa.table({"balance": self.balance, "statement": self.statement})
        return {"accounts": per_account, "learned": pa.table({"key": self.learned}),
                "entity_cards": pa.table({"blocked_ms": self.entity_blocked_ms}),
                "cards": _table(self.cards), "pending": self.pending.to_table(), "pool": _table(self.pool),
                "blocks": _table(self.blocks)}

    @classmethod
    def from_tables(cls, day: date, tables: dict[str, pa.Table]) -> "State":
        accounts = tables["accounts"]
        return cls(day=day, balance=accounts["balance"].to_numpy(), statement=accounts["statement"].to_numpy(),
                   learned=tables["learned"]["key"].to_numpy(),
                   entity_blocked_ms=tables["entity_cards"]["blocked_ms"].to_numpy(),
                   cards=_from_table(Cards, tables["cards"]), pending=Rows.from_table(tables["pending"]),
                   pool=_from_table(Pool, tables["pool"]), blocks=_from_table(Blocks, tables["blocks"]))


def _table(value) -> pa.Table:
    return pa.table({f.name: pa.array(getattr(value, f.name), pa.int64()) for f in fields(value)})


def _from_table(cls, table: pa.Table):
    return cls(**{f.name: table[f.name].to_numpy().astype(np.int64) for f in fields(cls)})


def initial_state(world: World) -> State:
    """The bank at the start of the calendar: opening balances, no recipient learned yet (the usual merchants and
    saved payees are the world's `known_at_start`), no replacements yet, nothing pending."""
    s = world.scenario
    statement = np.where(world.credit, world.opening, 0).astype(np.int64)
    return State(day=s.start_date, balance=world.opening.copy(), statement=statement, learned=np.zeros(0, np.int64),
                 entity_blocked_ms=np.full(len(world.card_number), NEVER, np.int64), cards=Cards.empty(),
                 pending=make(0), pool=Pool.empty(), blocks=Blocks.empty())
