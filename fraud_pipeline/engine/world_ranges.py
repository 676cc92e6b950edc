"""The bank's world built by file range (stage 4b, step 3 of `docs/blocks-design.md`): no process holds the bank's.

The driver builds the directory — what every block reads of the others: per account its id, owner, status, opened
and closed days, the customers' ids and home cities, the shared tables, the device plan's computers, rings and
burners, the IP pools — from a few columns of the stored entity tables, and puts it. Each range's task then loads
it, reads its range's parts of the per-customer tables as record batches a block at a time, builds each block's
world from the block's own rows (`world.build.build_world` with a `BlockPlace`: field for field the block sliced
from the bank's world, tested) and puts the range's blocks; it sends back each block's partial totals
(`money.activity.Totals`). The driver adds them in block order — the bank's totals to the bit — puts them beside the
directory, and publishes. A loaded block works out its calibrations (channel volumes, episodes, the budget) from its
rows and these totals.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import id_numbers
from fraud_pipeline.engine import world_store
from fraud_pipeline.engine.bank_day import file_ranges, range_name
from fraud_pipeline.engine.entity_ranges import OWNED_BY, block_sizes, by_block, range_rows, shared_table
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, run_tasks
from fraud_pipeline.io.parts import PartRecord, TableCorrupt
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.money.activity import NO_TOTALS, Totals, block_totals
from fraud_pipeline.engine.blocks import OWN_FIELDS
from fraud_pipeline.engine.world_store import WORLD
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import WORLD_COLUMNS, BlockPlace, World, bank_rows, build_world
from fraud_pipeline.world.devices import device_plan, own_device_offsets
from fraud_pipeline.world.layout import Layout

LAYER = "entities"
# Per-customer tables a block's world is built from, and the column that places a row in its block: customers and
# accounts are cut by the layout's sizes; cards and payees by their account, usual merchants by their customer.
BY_OWNER = OWNED_BY
SHARED = ("merchants", "beneficiaries")


@dataclass(frozen=True)
class WorldTask:
    """One file range's blocks of the world: what a worker needs (small and picklable)."""

    scenario: Scenario
    root_url: str
    endpoint_url: str | None
    directory: str  # the directory's part (put, not yet published) and its SHA-256
    directory_sha256: str
    first: int
    end: int
    first_card: int  # the bank's row of the range's first card
    device_offsets: tuple[int, ...]  # per block of the range: the bank's row of its first own device

    @property
    def label(self) -> str:
        return f"world blocks {self.first}–{self.end - 1}"


@dataclass(frozen=True)
class WorldResult:
    """What a range's task sends back (small): its part's record and its blocks' partial totals."""

    record: PartRecord
    totals: tuple[Totals, ...]  # per block of the range, in block order


def store_world(store: ObjectStore, scenario: Scenario, settings: ExecutorSettings | None = None,
                progress: Callable[[TaskDone], None] | None = None) -> int:
    """Build and store `scenario`'s world by file range (where `settings` says; in this process by default), unless
    the store holds it once the writer lock is held (runs of several days started together on a new store: the first
    builds, the others wait for it and use its world). Returns the bytes written (0: another run had stored it).
    Raises TaskFailed naming the ranges that kept failing, or what the store raises (nothing is published then)."""
    with store.writing(*WORLD, None, scenario.content_hash, "pkl",
                       skip_if=lambda: world_store.stored(store, scenario)) as batch:
        if batch is None:
            return 0
        fingerprint = world_store.fingerprint(store)  # before the build: what it is built from
        directory = batch.put_part(f"directory-{fingerprint}.pkl",
                                   world_store.pack_directory(build_directory(scenario, store)))
        cards, offsets = _first_cards(scenario, store), own_device_offsets(scenario)
        tasks = [WorldTask(scenario, store.root_url, store.endpoint_url, directory.name, directory.sha256, first, end,
                           cards[position], tuple(int(o) for o in offsets[first:end]))
                 for position, (first, end) in enumerate(file_ranges(scenario))]
        results = run_tasks(run_world_range, tasks, [t.label for t in tasks],
                            settings or ExecutorSettings("in_process"), progress=progress)
        totals = NO_TOTALS
        for result in results:  # in block order: the bank's totals to the bit
            for block_total in result.totals:
                totals = totals.plus(block_total)
        added = batch.put_part(f"totals-{fingerprint}.pkl", pickle.dumps(totals, protocol=5))
        return batch.publish([*(r.record for r in results), directory, added]).bytes


def _first_cards(scenario: Scenario, store: ObjectStore) -> list[int]:
    """Per file range, the bank's row of its first card (cards are block-major, their count per block drawn): the
    rows of the ranges' parts before it, or, for a cards table stored otherwise, the cards of accounts before it."""
    ranges = file_ranges(scenario)
    parts = store.listed_parts(LAYER, "cards")
    if [p.name for p in parts] == [f"part-{range_name(first, end)}.parquet" for first, end in ranges]:
        return [int(sum(p.rows for p in parts[:position])) for position in range(len(ranges))]
    account = id_numbers(store.read_table(LAYER, "cards", columns=["account_id"])["account_id"])
    layout = Layout.of(scenario)
    return [int(np.searchsorted(account, layout.account_span(first)[0])) for first, _ in ranges]


def run_world_range(task: WorldTask) -> WorldResult:
    """A worker's task: the worlds of its range's blocks, each built from the block's stored rows (read a block at
    a time) and the directory, put as the range's part of the stored world (not yet published); each block's
    partial totals."""
    scenario = task.scenario
    store = ObjectStore(root_url=task.root_url, endpoint_url=task.endpoint_url)
    directory = _directory(store, scenario, task.directory, task.directory_sha256)
    found, totals, card = {}, [], task.first_card
    for block, entities in _range_blocks(scenario, store, task.first, task.end):
        place = BlockPlace(block, card, task.device_offsets[block - task.first], directory.devices)
        world = build_world(scenario, entities, place)
        card += entities["cards"].num_rows
        own = {name: getattr(world, name) for name in OWN_FIELDS}
        totals.append(block_totals(replace(directory, **own, caches={}, bank=directory)))
        found[block] = world_store.pack_block({**own, "caches": {}})
    record = store.put_part(*WORLD, None, world_store.blocks_name(task.first, task.end),
                            world_store.pack_blocks(found))
    return WorldResult(record, tuple(totals))


_DIRECTORY: dict[tuple[str, str], World] = {}  # per process: the directory last loaded (a task per range reads it)


def _directory(store: ObjectStore, scenario: Scenario, name: str, sha256: str) -> World:
    """The directory part `name` the driver put (not yet published, so read by its path), checked against the
    checksum it reported."""
    key = (store.root_url, name)
    if key not in _DIRECTORY:
        path = f"{store.path(*WORLD)}/{name}"
        payload = store._call(f"GET {path}", store.filesystem().cat_file, path)
        if hashlib.sha256(payload).hexdigest() != sha256:
            raise TableCorrupt(f"{store.uri(*WORLD)}/{name} is not the directory its driver wrote")
        _DIRECTORY.clear()
        _DIRECTORY[key] = world_store.unpack_directory(payload, scenario)
    return _DIRECTORY[key]


def build_directory(scenario: Scenario, store: ObjectStore) -> World:
    """The directory of `scenario`'s world from the stored entity tables: the bank's rows other blocks read (each a
    column or two of customers and accounts), the devices' flags, the bank's device plan without customers, and the
    shared fields — those of block 0's world built from its rows, which are every block's. Its `totals` are not
    known yet (None): they are the blocks'."""
    layout = Layout.of(scenario)
    read = lambda name, columns: store.read_table(LAYER, name, columns=list(columns))  # noqa: E731
    customers = read("customers", ("customer_id", "home_city"))
    accounts = read("accounts", ("account_id", "customer_id", "status", "opened_date", "closed_date", "salary_account"))
    plan = device_plan(scenario).of_customers(0, 0)
    first = dict(_first_block_entities(scenario, store), devices=read("devices", WORLD_COLUMNS["devices"]))
    world = build_world(scenario, first, BlockPlace(0, 0, 0, plan))
    rows = bank_rows(scenario, customers, accounts)
    if len(rows["customer_id"]) != layout.customers:
        raise ValueError(f"{store.uri(LAYER, 'customers')} holds {len(rows['customer_id']):,} customers where the "
                         f"scenario has {layout.customers:,}: build the entities for this scenario")
    emptied = world_store.emptied_rows(world, keep=set(rows)) | {"devices": plan}
    return replace(world, **emptied, **rows, caches={}, block_key=(), global_customers=None, global_accounts=None,
                   global_cards=None, bank=None, ip_rows=None, totals=None)


def _first_block_entities(scenario: Scenario, store: ObjectStore) -> dict[str, pa.Table]:
    """Block 0's rows of the per-customer tables and the shared tables whole (the first range's part, its first
    block)."""
    first, end = file_ranges(scenario)[0]
    blocks = _range_blocks(scenario, store, first, end)
    return next(blocks)[1]


def _range_blocks(scenario: Scenario, store: ObjectStore, first: int, end: int
                  ) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    """Each block of the range with its rows of the tables its world is built from (`WORLD_COLUMNS`), read from the
    range's stored parts a record batch at a time; the shared tables whole."""
    layout = Layout.of(scenario)
    streams: dict[str, Iterator[pa.Table]] = {}
    for name in ("customers", "accounts"):
        columns = list(WORLD_COLUMNS[name])
        streams[name] = by_block(range_rows(scenario, store, name, first, end, columns),
                                 block_sizes(scenario, name, first, end), schema=_schema(name, columns))
    for name, (column, owner) in BY_OWNER.items():
        ends = layout.customer_ends() if owner == "customers" else layout.account_ends()
        columns = list(WORLD_COLUMNS[name])
        streams[name] = by_owner_block(range_rows(scenario, store, name, first, end, columns), column,
                                       ends[first:end], _schema(name, columns), np.r_[0, ends][first])
    shared = {name: shared_table(store, name) for name in SHARED}
    none = {"devices": _schema("devices", list(WORLD_COLUMNS["devices"])).empty_table()}
    for block in range(first, end):
        yield block, {**{name: next(rows) for name, rows in streams.items()}, **shared, **none}
    for rows in streams.values():  # a stream checks what follows its blocks once asked past them
        next(rows, None)


def by_owner_block(batches: Iterable[pa.RecordBatch], column: str, ends: np.ndarray, schema: pa.Schema,
                   start: int = 0) -> Iterator[pa.Table]:
    """A block-major part's rows cut into one table per block, each made once its rows are read: a row's block is
    found from the number of its owner's id in `column` (an account's or a customer's: `A00000042` is number 42)
    against `ends` (one past each block's last owner, one per block of the part; `start`: its first block's first
    owner); a block without rows is an empty table of `schema`. Raises ValueError when rows are out of block order or
    lie outside the part's blocks."""
    n, current, held = len(ends), 0, []
    for batch in batches:
        table = pa.Table.from_batches([batch])
        numbers = id_numbers(table[column])
        block = np.searchsorted(ends, numbers, side="right")
        if not len(block):
            continue
        if np.any(np.diff(block) < 0) or block[0] < current or block[-1] >= n or numbers.min() < start:
            raise ValueError(f"{column}: rows out of block order, or outside the part's blocks")
        cuts = np.searchsorted(block, np.arange(n + 1))
        for b in range(current, int(block[-1]) + 1):
            held.append(table.slice(int(cuts[b]), int(cuts[b + 1] - cuts[b])))
            if b < block[-1]:  # a later block has begun: this one is whole
                yield pa.concat_tables(held)
                held, current = [], b + 1
    for _ in range(current, n):
        yield pa.concat_tables(held) if held else schema.empty_table()
        held = []


def _schema(name: str, columns: list[str]) -> pa.Schema:
    schema = schemas.TABLES[name].arrow_schema
    return pa.schema([schema.field(c) for c in columns])
