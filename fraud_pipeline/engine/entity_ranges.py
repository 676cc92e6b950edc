"""The per-customer entity tables by range of blocks (stage 4b, step 2 of `docs/blocks-design.md`): each table's
task per file range (`storage.blocks_per_file` blocks, the days' ranges) reads its range's parts of the tables it
is built from, generates its blocks' rows (`world` generators by block), checks them and writes one part; the driver
publishes every range's part together, in range order. So no process holds the bank's per-customer tables, and the
stored table is, row for row, `world.entities.entity_tables`' (each block's rows one block after another).

The shared tables (merchants, beneficiaries, the feature catalogue) are small and built whole by the driver; the
devices no block owns (the rings' and burners', `devices.fraudster_devices`) end the last range's part, as they end
the bank's table. Each part's bytes are those of its rows written whole (`parts.row_groups`): a bank of one range
writes the files a bank built in one process did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import id_numbers
from fraud_pipeline.core.findings import Findings, merged, passed
from fraud_pipeline.engine.bank_day import file_ranges, range_name
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, run_tasks
from fraud_pipeline.io.parts import PartRecord, row_groups
from fraud_pipeline.io.storage import ObjectStore, WrittenTable
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.accounts import account_beneficiaries, accounts_of_block, cards_of_block
from fraud_pipeline.world.checks import ENTITY_CHECKS, entity_expectations, entity_findings
from fraud_pipeline.world.devices import (block_own_devices, device_history_of_block, devices_of_block,
                                          fraudster_devices)
from fraud_pipeline.world.entities import customers_of_block
from fraud_pipeline.world.fraud_plan import ato_payee_saves
from fraud_pipeline.world.habits import customer_merchants_of_block
from fraud_pipeline.world.layout import Layout

LAYER = "entities"
SHARED = ("merchants", "beneficiaries")  # read whole by every task that needs them


def _account_beneficiaries(scenario: Scenario, block: int, accounts: pa.Table, beneficiaries: pa.Table) -> pa.Table:
    planned = ato_payee_saves(scenario, accounts, beneficiaries, block)
    return account_beneficiaries(scenario, block, accounts, beneficiaries, planned)


# Per per-customer table: its generator for one block and what it is built from (a block's rows of the per-customer
# tables, or a shared table whole), in the order the generator takes them.
BY_BLOCK: dict[str, tuple[Callable[..., pa.Table], tuple[str, ...]]] = {
    "customers": (customers_of_block, ()),
    "devices": (devices_of_block, ()),
    "device_history": (device_history_of_block, ("customers", "devices")),
    "accounts": (accounts_of_block, ("customers", "devices")),
    "cards": (cards_of_block, ("accounts",)),
    "account_beneficiaries": (_account_beneficiaries, ("accounts", "beneficiaries")),
    "customer_merchants": (customer_merchants_of_block, ("customers", "merchants")),
}


def block_sizes(scenario: Scenario, name: str, first: int, end: int) -> list[int]:
    """How many rows each of blocks `first` … `end` − 1 holds in per-customer table `name` (customers, devices or
    accounts: the tables others are built from), fixed by the layout, so a range's part is cut by block unread."""
    layout = Layout.of(scenario)
    if name == "customers":
        return [stop - start for start, stop in (layout.customer_span(b) for b in range(first, end))]
    if name == "accounts":
        return [stop - start for start, stop in (layout.account_span(b) for b in range(first, end))]
    if name == "devices":
        return [block_own_devices(scenario, b) for b in range(first, end)]
    raise ValueError(f"{name!r} is not a table others are built from by block (customers, devices, accounts)")


def by_block(batches: Iterable[pa.RecordBatch], sizes: list[int], trailing: int = 0,
             schema: pa.Schema | None = None) -> Iterator[pa.Table]:
    """A part's rows, read as record batches, cut into consecutive tables of `sizes` rows (a block each), each made
    as its turn comes; then `trailing` rows no block owns (the devices' last part: the rings' and burners'), passed
    over. `schema`: the rows' (an empty block before any batch is read has no other). Raises ValueError, once the
    blocks are taken, when the part holds other than sum(sizes) + trailing rows."""
    pending: list[pa.RecordBatch] = []
    held = 0
    batches = iter(batches)
    for want in sizes:
        while held < want:
            batch = next(batches, None)
            if batch is None:
                raise ValueError(f"the part ends after {held} of a block's {want} rows: it is not this layout's")
            pending.append(batch)
            held += batch.num_rows
        if pending:
            schema = pending[0].schema
        joined = pa.Table.from_batches(pending, schema=schema)
        yield joined.slice(0, want)
        rest = joined.slice(want)
        pending, held = rest.to_batches(), rest.num_rows
    held += sum(batch.num_rows for batch in batches)
    if held != trailing:
        raise ValueError(f"the part holds {held} rows after its blocks' where {trailing} were expected: it is not "
                         "this layout's")


def range_blocks(scenario: Scenario, name: str, first: int, end: int,
                 upstream: dict[str, Iterable[pa.Table] | pa.Table]
                 ) -> Iterator[tuple[int, pa.Table, dict[str, pa.Table]]]:
    """Blocks `first` … `end` − 1 of per-customer table `name`, one (block, its rows, the block's rows of the
    per-customer tables they were built from) after another, each generated as its turn comes; `upstream`: for each
    per-customer table it is built from, the range's blocks of it in order (`by_block`), and each shared table
    whole."""
    build, inputs = BY_BLOCK[name]
    streams = {i: iter(upstream[i]) for i in inputs if i not in SHARED}
    for block in range(first, end):
        given = {i: next(streams[i]) for i in streams}
        yield block, build(scenario, block, *(upstream[i] if i in SHARED else given[i] for i in inputs)), given
    for rows in streams.values():  # a stream checks what follows its blocks once asked past them
        next(rows, None)


@dataclass(frozen=True)
class EntityTask:
    """One per-customer table over one range of blocks: what a worker needs (small and picklable)."""

    scenario: Scenario
    root_url: str
    endpoint_url: str | None
    name: str
    first: int
    end: int

    @property
    def label(self) -> str:
        return f"{self.name} blocks {self.first}–{self.end - 1}"


@dataclass(frozen=True)
class EntityResult:
    """What a range's task sends back (small): its part's record, the checks of its rows, its first rows."""

    record: PartRecord
    findings: Findings
    preview: pa.Table


PREVIEW_ROWS = 10
# Per-customer tables whose bank holds rows no block owns, after every block's: the rings' and burners' devices.
_FRAUDSTERS: dict[str, Callable[[Scenario], pa.Table]] = {"devices": fraudster_devices}


_SHARED: dict[tuple, pa.Table] = {}  # per process: each shared table as last read, by its files' checksums


def shared_table(store: ObjectStore, name: str) -> pa.Table:
    """Shared entity table `name` (merchants, beneficiaries) as `store` holds it now, read once per process while
    its files stay the same (a table written again is read again: its manifest's checksums name it)."""
    manifest = store.read_manifest(LAYER, name)
    key = (store.root_url, name, tuple(f["sha256"] for f in manifest["files"]) if manifest else None)
    if key not in _SHARED:
        for old in [k for k in _SHARED if k[1] == name]:
            del _SHARED[old]
        _SHARED[key] = store.read_table(LAYER, name).combine_chunks()
    return _SHARED[key]


def run_entity_range(task: EntityTask) -> EntityResult:
    """A worker's task: the range's part of `task.name`, generated block by block from the stored parts of the
    range's upstream tables (read as record batches, a block at a time), each block checked, then written in row
    groups of pyarrow's default size (`parts.row_groups`: the bytes of the range's rows written whole), so memory
    holds a block and a row group, not the range.

    Each block is checked against its own rows of the tables it references and the shared tables: every foreign key
    of a per-customer table lies in its block (a block's accounts are its customers', its cards its accounts'…) or
    in a shared table, so that check is exact. Keys are checked within each block; across blocks they differ by
    construction (customer and account numbers dense from the layout, device ids and card serials keyed bijections
    of block and row; a link table's key leads with its block's customer, account or device), as the days' ids
    do."""
    scenario = task.scenario
    store = ObjectStore(root_url=task.root_url, endpoint_url=task.endpoint_url)
    spec = schemas.TABLES[task.name]
    part = f"part-{range_name(task.first, task.end)}.parquet"
    _, inputs = BY_BLOCK[task.name]
    referenced = {fk.table for fk in spec.foreign_keys} - {task.name}
    own = sorted((set(inputs) | referenced) - set(SHARED))
    upstream: dict = {name: shared_table(store, name)
                      for name in sorted((set(inputs) | referenced) & set(SHARED))}
    last = task.end == Layout.of(scenario).n_blocks
    for name in own:
        upstream[name] = by_block(range_rows(scenario, store, name, task.first, task.end),
                                  block_sizes(scenario, name, task.first, task.end),
                                  _FRAUDSTERS[name](scenario).num_rows if last and name in _FRAUDSTERS else 0,
                                  schemas.TABLES[name].arrow_schema)
    expectations = entity_expectations(scenario).get(task.name, {})
    found: list[Findings] = []
    preview: list[pa.Table] = []

    def blocks() -> Iterator[pa.Table]:
        for _, rows, given in range_blocks(scenario, task.name, task.first, task.end, upstream):
            against = {**{n: upstream[n] for n in referenced & set(SHARED)},
                       **{n: given[n] if n in given else next(upstream[n]) for n in referenced - set(SHARED)},
                       task.name: rows}
            found.append(entity_findings(spec, rows, against, expectations))
            yield rows
        for name in referenced - set(inputs) - set(SHARED):  # what follows their blocks is checked once asked past
            next(upstream[name], None)
        if last and task.name in _FRAUDSTERS:  # the rows no block owns close the bank's last part
            rows = _FRAUDSTERS[task.name](scenario)
            found.append(entity_findings(spec, rows, {task.name: rows}, expectations))
            yield rows

    def previewed(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for rows in tables:
            wanted = PREVIEW_ROWS - sum(t.num_rows for t in preview)
            if wanted > 0:  # the part's first rows (a block may have none), copied: not views of the blocks
                preview.append(rows.take(pa.array(np.arange(min(wanted, rows.num_rows)), pa.int64())))
            yield rows

    record = store.put_part(LAYER, task.name, None, part, row_groups(previewed(blocks())), spec.arrow_schema)
    first_rows = pa.concat_tables(preview) if preview else spec.arrow_schema.empty_table()
    return EntityResult(record, merged(found), first_rows)


# Per-customer tables whose rows are placed by an owner's id (column, the owner's table); the others by row.
OWNED_BY = {"cards": ("account_id", "accounts"), "account_beneficiaries": ("account_id", "accounts"),
            "customer_merchants": ("customer_id", "customers")}


def range_rows(scenario: Scenario, store: ObjectStore, name: str, first: int, end: int,
               columns: list[str] | None = None) -> Iterable[pa.RecordBatch]:
    """Blocks `first` … `end` − 1's rows of per-customer table `name` (`columns`, default all), as record batches,
    as the range's part holds them: that part; or, of a table stored otherwise (whole, by an earlier release, or cut
    by another `storage.blocks_per_file`, which the scenario's hash does not see), its rows of the range, read past
    the others (what such a table costs: every range reads the rows before its own)."""
    parts = store.listed_parts(LAYER, name)
    named = [p for p in parts if p.name == f"part-{range_name(first, end)}.parquet"]
    if named:
        return named[0].batches(columns)
    layout = Layout.of(scenario)
    column, owner = OWNED_BY.get(name, (None, name))  # customers, accounts and devices: by row
    if owner == "devices":
        low, high = (sum(block_own_devices(scenario, b) for b in range(n)) for n in (first, end))
        high += _FRAUDSTERS["devices"](scenario).num_rows if end == layout.n_blocks else 0
    else:
        span = layout.customer_span if owner == "customers" else layout.account_span
        low, high = span(first)[0], span(end - 1)[1]
    return _within((batch for part in parts for batch in part.batches(columns)), column, low, high)


def _within(batches: Iterable[pa.RecordBatch], column: str | None, low: int, high: int) -> Iterator[pa.RecordBatch]:
    """Rows `low` … `high` − 1 of the batches (`column` None: read no further), or the rows whose `column` id's
    number is in that span."""
    seen = 0
    for batch in batches:
        if column is None:
            start, stop = max(low - seen, 0), min(high - seen, batch.num_rows)
            seen += batch.num_rows
            if stop > start:
                yield batch.slice(start, stop - start)
            if seen >= high:
                return
            continue
        numbers = id_numbers(batch[column])
        if (numbers < 0).any():
            raise ValueError(f"{column}: values that are not ids, such as {batch[column][int(np.argmin(numbers))]}")
        mine = (numbers >= low) & (numbers < high)
        if mine.any():
            yield batch.filter(pa.array(mine))



def write_entity_table(scenario: Scenario, store: ObjectStore, name: str, settings: ExecutorSettings,
                       progress: Callable[[TaskDone], None] | None = None
                       ) -> tuple[WrittenTable, Findings, pa.Table]:
    """Per-customer table `name` by range, where `settings` says, published together in range order, or withheld
    (written without a manifest) when a blocking check fails. Returns what was written, the findings merged over the
    ranges and the table's first rows. Raises TaskFailed naming the ranges that kept failing."""
    tasks = [EntityTask(scenario, store.root_url, store.endpoint_url, name, first, end)
             for first, end in file_ranges(scenario)]
    with store.writing(LAYER, name, None, scenario.content_hash) as batch:
        results = run_tasks(run_entity_range, tasks, [t.label for t in tasks], settings, progress=progress)
        findings = merged([r.findings for r in results])
        blocking = {check: found for check, found in findings.items() if ENTITY_CHECKS[check][1]}
        first_rows = pa.concat_tables([r.preview for r in results]).slice(0, PREVIEW_ROWS)  # a range may hold none
        return batch.publish([r.record for r in results], publish=passed(blocking)), findings, first_rows
