"""The bank's days as tasks over fixed ranges of blocks, run by any executor, exchanging only stored files.

A range is `storage.blocks_per_file` consecutive blocks; its task reads the range's stored state (or the calendar's
start), the credits other blocks sent it the night before (every range's outbox of the day before), runs each block's
day, and writes one part file per table — the range's rows merged by arrival (ties in block order), one row group
per block — plus its state and outbox parts. It returns the parts' records; the driver, which holds every table's
writer lock for the day, publishes them together in range order. So a part depends on its range alone, and the
files are the same in one process, on a pool of processes or on Ray, however ranges land on workers, and whatever
executor ran the day before.

Layout (per day D): the day's tables as today, each `part-bXXXXXX-bYYYYYY.parquet` (first and last block);
`state/bank_state/date=D/<kind>-bXXXXXX-bYYYYYY.parquet` (the blocks' state the day after D starts from, with a
`block` column); `state/outbox/date=D/part-…` (credits for the day after, with the payee's `block`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.rows import Rows, concat
from fraud_pipeline.engine.bank_day import BLOCK, file_ranges, merge_blocks
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.day import simulate_day
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, run_tasks
from fraud_pipeline.io.parts import PartRecord
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.money.state import State, initial_state
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import World, build_world

DAY_TABLES = {("events", "card_transactions"): "transactions", ("fraud", "fraud_transactions"): "fraud_transactions",
              ("fraud", "fraud_episodes"): "fraud_episodes", ("events", "account_balances"): "account_balances",
              ("events", "card_events"): "card_events", ("events", "customer_events"): "customer_events"}
STATE = ("state", "bank_state")
OUTBOX = ("state", "outbox")
STATE_KINDS = ("accounts", "known", "entity_cards", "cards", "pending", "pool", "blocks")
ENTITIES = ("customers", "accounts", "cards", "merchants", "devices", "beneficiaries", "account_beneficiaries",
            "customer_merchants")  # what the World is built from


@dataclass(frozen=True)
class RangeTask:
    """One range of blocks on one day: what a worker needs (small and picklable)."""

    scenario: Scenario
    root_url: str
    endpoint_url: str | None
    day: date
    first: int  # first block
    end: int  # one past the last block

    @property
    def label(self) -> str:
        return f"{self.day} blocks {self.first}–{self.end - 1}"

    @property
    def suffix(self) -> str:
        return f"b{self.first:06d}-b{self.end - 1:06d}.parquet"


def ranges(world: World) -> list[tuple[int, int]]:
    """The bank's fixed ranges of blocks, `storage.blocks_per_file` each (the last may be short)."""
    return file_ranges(world)


_BANKS: dict[str, World] = {}  # per process: the bank's world, built once from the stored entities


def bank_world(scenario: Scenario, store: ObjectStore) -> World:
    """The bank's world, from the entity tables in `store` (built once per process and scenario)."""
    if scenario.content_hash not in _BANKS:
        _BANKS.clear()
        entities = {name: store.read_table("entities", name) for name in ENTITIES}
        _BANKS[scenario.content_hash] = build_world(scenario, entities)
    return _BANKS[scenario.content_hash]


def run_range(task: RangeTask) -> dict[tuple[str, str], PartRecord]:
    """A worker's task: the range's blocks' day, written as parts (not yet published). Returns each part's record
    by (layer, table); raises what the generation or the store raises."""
    store = ObjectStore(root_url=task.root_url, endpoint_url=task.endpoint_url)
    bank = bank_world(task.scenario, store)
    worlds = [block_world(bank, b) for b in range(task.first, task.end)]
    states = _states(task, store, worlds)
    days = [simulate_day(w, s, task.day) for w, s in zip(worlds, states)]
    partition = task.day.isoformat()
    records = {}
    for (layer, table), field in DAY_TABLES.items():
        merged = merge_blocks(field, [getattr(d, field) for d in days])
        records[(layer, table)] = store.put_part(layer, table, partition, f"part-{task.suffix}", merged)
    kinds = [d.state.to_tables() for d in days]
    for kind in STATE_KINDS:
        rows = pa.concat_tables([k[kind].append_column(BLOCK, pa.array(np.full(k[kind].num_rows, b, np.int32)))
                                 for b, k in zip(range(task.first, task.end), kinds)])
        records[(STATE[0], f"{STATE[1]}:{kind}")] = store.put_part(*STATE, partition, f"{kind}-{task.suffix}", rows)
    sent = concat([d.outbox for d in days])
    target = bank.account_customer[sent.account] // task.scenario.population.block_customers
    records[OUTBOX] = store.put_part(*OUTBOX, partition, f"part-{task.suffix}", sent.to_table().append_column(
        BLOCK, pa.array(target.astype(np.int32))))
    return records


def _states(task: RangeTask, store: ObjectStore, worlds: list[World]) -> list[State]:
    """Each block's state at the start of the day: the stored one plus the credits sent to it overnight."""
    if task.day == task.scenario.start_date:
        return [initial_state(w) for w in worlds]
    before = (task.day - timedelta(days=1)).isoformat()
    listed = {p.name: p for p in store.listed_parts(*STATE, before)}
    tables = {kind: listed[f"{kind}-{task.suffix}"].read() for kind in STATE_KINDS}
    inbox = pa.concat_tables([p.read() for p in store.listed_parts(*OUTBOX, before)])
    states = []
    for b, w in zip(range(task.first, task.end), worlds):
        mine = {kind: t.filter(pc.equal(t[BLOCK], b)).drop_columns([BLOCK]) for kind, t in tables.items()}
        state = State.from_tables(task.day, mine)
        credits = Rows.from_table(inbox.filter(pc.equal(inbox[BLOCK], b)).drop_columns([BLOCK]))
        credits.account = np.searchsorted(w.global_accounts, credits.account)
        state.pending = concat([state.pending, credits])
        states.append(state)
    return states


def simulate_days(scenario: Scenario, store: ObjectStore, days: Sequence[date], settings: ExecutorSettings,
                  progress: Callable[[TaskDone], None] | None = None) -> dict[date, dict[tuple[str, str], int]]:
    """The bank's `days` (consecutive, from a stored state or the calendar's start), each day's ranges run where
    `settings` says and published together. Needs the entity tables in `store`. Returns the rows written per table
    and day."""
    bank = bank_world(scenario, store)
    written = {}
    for day in days:
        tasks = [RangeTask(scenario, store.root_url, store.endpoint_url, day, first, end)
                 for first, end in ranges(bank)]
        partition = day.isoformat()
        keys = [*DAY_TABLES, STATE, OUTBOX]
        with contextlib.ExitStack() as stack:
            batches = {key: stack.enter_context(store.writing(*key, partition, scenario.content_hash)) for key in keys}
            results = run_tasks(run_range, tasks, [t.label for t in tasks], settings, progress=progress)
            for key, batch in batches.items():
                if key == STATE:
                    records = [r[(STATE[0], f"{STATE[1]}:{kind}")] for kind in STATE_KINDS for r in results]
                else:
                    records = [r[key] for r in results]
                batch.publish(records)
        written[day] = {key: sum(r[key].rows for r in results) for key in DAY_TABLES}
    return written
