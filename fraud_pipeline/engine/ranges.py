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
`block` column, and the withdrawal runs still to come); `state/outbox/date=D/part-…` (credits for the day after, with
the payee's `block`). The bank's world is built once per scenario and stored by range (`engine.world_store`): a
task loads the world's directory and its range's blocks, never the whole bank.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.aml.checks import aml_findings
from fraud_pipeline.core import partition_metrics, schemas
from fraud_pipeline.core.findings import Findings, forget_sorted_ids, merged, passed
from fraud_pipeline.core.rows import Rows, concat
from fraud_pipeline.engine import world_ranges, world_store
from fraud_pipeline.engine.bank_day import BLOCK, file_ranges, merge_blocks, range_name, stacked
from fraud_pipeline.engine.day import card_tables, simulate_day
from fraud_pipeline.engine.executors import ExecutorSettings, TaskDone, executor_session, run_tasks
from fraud_pipeline.fraud.checks import part_findings, rate_counts, rate_findings
from fraud_pipeline.io.parts import PartRecord
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch, WrittenTable
from fraud_pipeline.life.checks import clickstream_findings
from fraud_pipeline.life.run_state import pending_runs, restore_runs
from fraud_pipeline.money.checks import card_findings, ledger_findings, lifecycle_findings
from fraud_pipeline.money.state import State, initial_state
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import PAIRS_AT_ONCE, WORLD_COLUMNS, UsualMerchants, World, build_world

DAY_TABLES = {("events", "card_transactions"): "transactions", ("fraud", "fraud_transactions"): "fraud_transactions",
              ("fraud", "fraud_episodes"): "fraud_episodes", ("fraud", "aml_cases"): "aml_cases",
              ("fraud", "aml_reports"): "aml_reports",
              ("events", "account_balances"): "account_balances",
              ("events", "card_events"): "card_events", ("events", "customer_events"): "customer_events"}
STATE = ("state", "bank_state")
OUTBOX = ("state", "outbox")
STATE_KINDS = ("accounts", "learned", "entity_cards", "cards", "pending", "pool", "blocks")
CHECK_KINDS = ("home_withdrawals", "episodes")  # what the next day's fraud checks read of this day's rows
RUNS = "atm_runs"  # the withdrawal runs still to come (`life.run_state.pending_runs`): a block's next day starts warm
CHECKED = {"card_transactions": ("card_transactions", "account_balances", "card_events"),
           "customer_events": ("customer_events",), "fraud_transactions": ("fraud_transactions", "fraud_episodes"),
           "aml_cases": ("aml_cases", "aml_reports")}
ENTITIES = tuple(WORLD_COLUMNS)  # what the World is built from


@dataclass(frozen=True)
class RangeTask:
    """One range of blocks on one day: what a worker needs (small and picklable)."""

    scenario: Scenario
    root_url: str
    endpoint_url: str | None
    day: date
    first: int  # first block
    end: int  # one past the last block
    tables: tuple[str, ...]  # the day's tables to write (names of DAY_TABLES); the state and outbox always

    @property
    def label(self) -> str:
        return f"{self.day} blocks {self.first}–{self.end - 1}"

    @property
    def suffix(self) -> str:
        return f"{range_name(self.first, self.end)}.parquet"


_BANKS: dict[str, tuple[dict[str, pa.Table], World]] = {}  # per process: what the checks look up, the directory
LEDGER_COLUMNS = ("account_id", "overdraft_limit", "credit_limit")  # an account's floor, for the ledger check


_BLOCK_WORLDS: dict[int, tuple[date, World]] = {}  # per process: block worlds by block, with the day last run
# The block worlds a process keeps from day to day, in customers: about 3.2 MB each thousand (measured: 15.9 MB a block
# of 5,000 at 2 million customers), so 200 MB; the default bank (20,000) keeps all of its. Unpacking a block costs
# 25 ms a block of 5,000 (measured), about 4 % of its day.
KEPT_CUSTOMERS = 64_000


def _bank(scenario: Scenario, store: ObjectStore) -> tuple[dict[str, pa.Table], World]:
    """What a worker keeps of the bank: the entity columns the checks look up and the world's directory (read once
    per process and scenario; the driver stored the world before the tasks ran)."""
    if scenario.content_hash not in _BANKS:
        _BANKS.clear()
        _BLOCK_WORLDS.clear()
        forget_sorted_ids()
        directory = world_store.load_directory(store, scenario)
        _BANKS[scenario.content_hash] = _references(store, directory), directory
    return _BANKS[scenario.content_hash]


def _references(store: ObjectStore, directory: World) -> dict[str, pa.Table]:
    """`reference_columns` of the stored entities; the ids the directory holds already are its own arrays, not read
    again (at 2 million customers they are 150 MB)."""
    held = {("customers", "customer_id"): directory.customer_id, ("accounts", "account_id"): directory.account_id,
            ("merchants", "merchant_id"): directory.merchant_id, ("devices", "device_id"): directory.device_id,
            ("beneficiaries", "beneficiary_id"): directory.beneficiary_id}
    found = {}
    for name, columns in reference_columns(ENTITIES).items():
        read = [c for c in sorted(columns) if (name, c) not in held]
        table = store.read_table("entities", name, columns=read) if read else None
        found[name] = pa.table({c: held[(name, c)] if (name, c) in held else table[c].combine_chunks()  # one chunk:
                                for c in sorted(columns)})  # the checks keep its ids sorted (`foreign_key_finding`)
    return found


def ensure_world(scenario: Scenario, store: ObjectStore, settings: ExecutorSettings | None = None,
                 progress: Callable[[TaskDone], None] | None = None) -> int:
    """Store the bank's world unless `store` holds this scenario's: built from the entity tables once per scenario,
    by file range where `settings` says (in this process by default; `engine.world_ranges`), so no process holds
    the bank's. Returns the bytes written (0: it was stored already)."""
    if world_store.stored(store, scenario):
        return 0
    return world_ranges.store_world(store, scenario, settings, progress)


def world_entities(store: ObjectStore) -> dict[str, pa.Table | UsualMerchants]:
    """What the world is built from, as little as is read: each entity table's WORLD_COLUMNS, and the customers'
    usual merchants (most of the entities' bytes) as record batches read while the world keys them."""
    tables = {name: store.read_table("entities", name, columns=list(WORLD_COLUMNS[name]))
              for name in ENTITIES if name != "customer_merchants"}
    tables["customer_merchants"] = _StoredBatches(store.listed_parts("entities", "customer_merchants"),
                                                  list(WORLD_COLUMNS["customer_merchants"]))
    return tables


@dataclass(frozen=True)
class _StoredBatches:
    """A stored table's record batches of `columns`, `PAIRS_AT_ONCE` rows each, read afresh each time they are
    iterated (a second world built from the same entities sees every row again)."""

    parts: list
    columns: list[str]

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return (batch for part in self.parts for batch in part.batches(self.columns, PAIRS_AT_ONCE))


def reference_columns(tables) -> dict[str, set[str]]:
    """What a range's checks look up in the entity tables (of `tables`): the columns the day tables' foreign keys
    point at, and each account's limits."""
    wanted: dict[str, set[str]] = {"accounts": set(LEDGER_COLUMNS)}
    for spec in (schemas.CARD_TRANSACTIONS, schemas.CUSTOMER_EVENTS):
        for fk in spec.foreign_keys:
            if fk.table in tables:
                wanted.setdefault(fk.table, set()).add(fk.ref_column)
    return wanted


def check_references(entities: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """`reference_columns` of `entities`: what a worker keeps of them for the checks (the customers' usual merchants
    and the accounts' saved payees alone are most of the entities' memory)."""
    return {name: entities[name].select(sorted(columns)) for name, columns in reference_columns(entities).items()}


def _block_worlds(store: ObjectStore, directory: World, task: RangeTask) -> Iterator[tuple[int, World]]:
    """Each block of the task's range with its world, in block order. The first blocks' worlds, up to
    `KEPT_CUSTOMERS` customers, are kept from the range this process ran last (a bank of one small range keeps its
    worlds, and their caches, from day to day); the others are unpacked from the stored world when their turn comes
    and let go when the caller moves on, so a process holds a bounded part of one range, not a range nor the bank.
    A block unpacked afresh starts its day warm all the same (its withdrawal runs come with its state); caches are
    pure, so which process ran a block before never changes its rows."""
    blocks = range(task.first, task.end)
    kept = blocks[:max(0, KEPT_CUSTOMERS // task.scenario.population.block_customers)]
    # a world that ran a later day is not reused: it holds the runs as they were left for that day (`restore_runs`)
    for block in [b for b, (last, _) in _BLOCK_WORLDS.items()
                  if b not in kept or not task.day - timedelta(days=1) <= last <= task.day]:
        del _BLOCK_WORLDS[block]
    packed = None if all(block in _BLOCK_WORLDS for block in blocks) else world_store.packed_blocks(
        store, task.first, task.end)
    for block in blocks:
        world = _BLOCK_WORLDS[block][1] if block in _BLOCK_WORLDS else world_store.unpacked_block(
            directory, packed.pop(block))
        if block in kept:
            _BLOCK_WORLDS[block] = (task.day, world)
        yield block, world
        del world


def bank_world(scenario: Scenario, store: ObjectStore) -> World:
    """The bank's whole world, built from the entity tables in `store` (memory that follows the bank): what the
    world built by range (`world_ranges.store_world`) is, block for block — the reference it is tested against."""
    return build_world(scenario, world_entities(store))


@dataclass(frozen=True)
class RangeResult:
    """What a range's task sends back (small): its parts' records by (layer, table), the checks of its rows by
    asset (all but the fraud rate, which needs the day's sum), what the rate check and the metrics add up, and the
    first rows of each table (the preview)."""

    records: dict[tuple[str, str], PartRecord]
    findings: dict[str, Findings]
    rate_counts: dict[str, int]
    tallies: dict[str, partition_metrics.Tallies]
    previews: dict[str, pa.Table]
    rows: dict[str, int]


def run_range(task: RangeTask) -> RangeResult:
    """A worker's task: the range's blocks' day, checked and written as parts (not yet published). Its blocks run one
    after another, each world let go once its day is done (`_block_worlds`): what the range holds at once is its
    day's rows, not its worlds. Raises what the generation or the store raises."""
    store = ObjectStore(root_url=task.root_url, endpoint_url=task.endpoint_url)
    entities, bank = _bank(task.scenario, store)
    blocks = range(task.first, task.end)
    before = _day_before(task, store)
    days, cards, runs, accounts = [], [], [], []
    for block, world in _block_worlds(store, bank, task):
        day = simulate_day(world, _block_state(task, block, world, before), task.day)
        days.append(day)
        cards.append(card_tables(world, day.state))
        runs.append(_runs(world, block, task.day))
        accounts.append(world.global_accounts)
        del world
    partition = task.day.isoformat()
    tables = {key[1]: merge_blocks(field, [getattr(d, field) for d in days]) for key, field in DAY_TABLES.items()}
    opening = pa.concat_tables([d.opening for d in days])
    days = [(d.state, d.outbox) for d in days]  # the blocks' own tables let go: merged, they are `tables`
    records = {key: store.put_part(*key, partition, f"part-{task.suffix}", tables[key[1]])
               for key in DAY_TABLES if key[1] in task.tables}
    state = stacked([block_state.to_tables() for block_state, _ in days], blocks)
    for kind in STATE_KINDS:
        records[(STATE[0], f"{STATE[1]}:{kind}")] = store.put_part(*STATE, partition, f"{kind}-{task.suffix}",
                                                                   state[kind])
    for kind, rows in {**_check_context(task.scenario, tables), RUNS: pa.concat_tables(runs)}.items():
        records[(STATE[0], f"{STATE[1]}:{kind}")] = store.put_part(*STATE, partition, f"{kind}-{task.suffix}", rows)
    sent = concat([outbox for _, outbox in days])
    target = bank.account_customer[sent.account] // task.scenario.population.block_customers
    records[OUTBOX] = store.put_part(*OUTBOX, partition, f"part-{task.suffix}", sent.to_table().append_column(
        BLOCK, pa.array(target.astype(np.int32))))
    cards = {name: pa.concat_tables([c[name] for c in cards]) for name in cards[0]}
    accounts = entities["accounts"].take(pa.array(np.concatenate(accounts)))
    return RangeResult(records=records, findings=_findings(task, entities, accounts, tables, opening, cards,
                                                           before and before.context),
                       rate_counts=rate_counts(task.scenario, tables["fraud_episodes"], tables["card_transactions"],
                                               tables["account_balances"]),
                       tallies={name: partition_metrics.tallies(name, t) for name, t in tables.items()},
                       previews={name: _copied(t.slice(0, PREVIEW_ROWS)) for name, t in tables.items()},
                       rows={name: t.num_rows for name, t in tables.items()})


PREVIEW_ROWS = 10


def _copied(rows: pa.Table) -> pa.Table:
    """`rows` in buffers of their own: a slice keeps its whole table alive, and the driver holds every range's
    result until the day is published (in one process, that would be every range's tables at once)."""
    return rows.take(pa.array(np.arange(rows.num_rows)))


def _findings(task: RangeTask, entities: dict[str, pa.Table], accounts: pa.Table, tables: dict[str, pa.Table],
              opening: pa.Table, cards: dict[str, pa.Table], before: dict[str, pa.Table] | None) -> dict[str, Findings]:
    """The range's rows checked as the whole day's would be, by asset: keys (unique by construction across ranges:
    ids are a bijection of block and row), foreign keys, times, the ledger and card lifecycle of its accounts and
    cards, its clickstream, and its fraud but the rate. `entities`: `check_references`; `accounts`, `opening` (each
    account's balance at the start of the day): the range's."""
    scenario = task.scenario
    stream = pa.concat_tables([tables["card_transactions"], tables["fraud_transactions"]])
    card = card_findings(scenario, tables["card_transactions"], task.day, entities, cards=cards["cards"]["card_number"])
    card["ledger_balances"] = ledger_findings(stream, tables["account_balances"], opening, accounts)
    card["lifecycle_respected"] = lifecycle_findings(stream, tables["account_balances"], cards["blocked"],
                                                     cards["expiry"])
    return {"card_transactions": card,
            "customer_events": clickstream_findings(scenario, tables["customer_events"], stream, task.day, entities),
            "fraud_transactions": part_findings(scenario, tables["fraud_transactions"], tables["fraud_episodes"],
                                                tables["card_transactions"],
                                                before["home_withdrawals"] if before else None,
                                                before["episodes"] if before else None),
            "aml_cases": aml_findings(scenario, tables["card_transactions"], tables["aml_cases"],
                                      tables["aml_reports"], task.day)}


def _check_context(scenario: Scenario, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """What the next day's fraud checks read of this day (kept with the state, so a day's checks never need the
    day before's tables stored): the withdrawals at home (cash abroad starts from the last one) and the episodes
    (rows of an episode may cross midnight)."""
    genuine = tables["card_transactions"]
    home = genuine.filter(pc.and_(pc.equal(genuine["transaction_type"], "withdrawal"),
                                  pc.equal(genuine["country"], scenario.geography.country_code)))
    return {"home_withdrawals": home.select(["transaction_type", "country", "account_id", "event_time", "lat", "lon"]),
            "episodes": tables["fraud_episodes"]}


def _runs(world: World, block: int, day: date) -> pa.Table:
    """The block's withdrawal runs still to come after `day` (`life.run_state.pending_runs`), with its `block`."""
    runs = pending_runs(world, day)
    return pa.table({BLOCK: np.full(len(runs["account"]), block, np.int32), "run_day": runs["run_day"],
                     "account": runs["account"], "event_ms": runs["event_ms"],
                     **{f"u{i}": runs["u"][:, i] for i in range(3)}, "cash": runs["cash"]})


def _restore_runs(world: World, day: date, rows: pa.Table) -> None:
    """`_runs`' rows of one block back as the block's runs started before `day` (`life.run_state.restore_runs`)."""
    column = {name: rows[name].to_numpy() for name in rows.column_names}
    restore_runs(world, day, {"run_day": column["run_day"], "account": column["account"],
                              "event_ms": column["event_ms"], "cash": column["cash"],
                              "u": np.stack([column[f"u{i}"] for i in range(3)], axis=1)})


@dataclass(frozen=True)
class _DayBefore:
    """What a range's day reads of the day before, once for all its blocks: the stored state by kind, the credits
    sent overnight (every range's outbox), the withdrawal runs still to come (None: a state stored without them),
    and what the day's checks read of the day before (None when a kind is missing)."""

    tables: dict[str, pa.Table]
    inbox: pa.Table
    runs: pa.Table | None
    context: dict[str, pa.Table] | None


def _day_before(task: RangeTask, store: ObjectStore) -> _DayBefore | None:
    """`_DayBefore` of the task's range; None on the calendar's first day."""
    if task.day == task.scenario.start_date:
        return None
    before = (task.day - timedelta(days=1)).isoformat()
    listed = {p.name: p for p in store.listed_parts(*STATE, before)}
    context = {kind: listed[f"{kind}-{task.suffix}"].read() for kind in CHECK_KINDS
               if f"{kind}-{task.suffix}" in listed}
    return _DayBefore(tables={kind: listed[f"{kind}-{task.suffix}"].read() for kind in STATE_KINDS},
                      inbox=pa.concat_tables([p.read() for p in store.listed_parts(*OUTBOX, before)]),
                      runs=listed[f"{RUNS}-{task.suffix}"].read() if f"{RUNS}-{task.suffix}" in listed else None,
                      context=context if len(context) == len(CHECK_KINDS) else None)


def _block_state(task: RangeTask, block: int, world: World, before: _DayBefore | None) -> State:
    """The block's state at the start of the day: the stored one plus the credits sent to it overnight (the
    calendar's start: the initial state). The block's world gets the withdrawal runs still to come stored the day
    before (a state stored without them: it computes them)."""
    if before is None:
        return initial_state(world)
    if before.runs is not None:
        _restore_runs(world, task.day, before.runs.filter(pc.equal(before.runs[BLOCK], block)))
    mine = {kind: t.filter(pc.equal(t[BLOCK], block)).drop_columns([BLOCK]) for kind, t in before.tables.items()}
    state = State.from_tables(task.day, mine)
    credits = Rows.from_table(before.inbox.filter(pc.equal(before.inbox[BLOCK], block)).drop_columns([BLOCK]))
    credits.account = np.searchsorted(world.global_accounts, credits.account)
    state.pending = concat([state.pending, credits])
    return state


def current_state(manifest: dict, scenario: Scenario | None = None) -> bool:
    """Whether a stored state's manifest is of this release's kinds and, given `scenario`, cut into its file ranges
    (a range's task reads its own parts). A state an earlier release stored (before the recipients learned since the
    start replaced the whole set of known ones), or one cut otherwise (`storage.blocks_per_file` changed: it is not
    in the scenario's hash), is walked again, as a missing one is."""
    names = {f["path"] for f in manifest["files"]}
    if scenario is not None:
        return {f"{kind}-{range_name(first, end)}.parquet" for kind in STATE_KINDS
                for first, end in file_ranges(scenario)} <= names
    return all(any(name.startswith(f"{kind}-b") for name in names) for kind in STATE_KINDS)


def start_day(store: ObjectStore, scenario: Scenario, day: date, settings: ExecutorSettings,
              progress: Callable[[TaskDone], None] | None = None) -> int:
    """Make sure the state at the start of `day` is stored: walk from the latest stored state before it (or the
    calendar's start), storing only the state of each day walked. Returns the days walked. Raises ScenarioMismatch
    when a stored state is another scenario's, ValueError for a day before the calendar."""
    if day < scenario.start_date:
        raise ValueError(f"{day} is before the calendar starts ({scenario.start_date})")
    first = day
    while first > scenario.start_date:
        manifest = store.read_manifest(*STATE, (first - timedelta(days=1)).isoformat())
        if manifest is not None:
            if manifest["scenario_hash"] != scenario.content_hash:
                raise ScenarioMismatch(store.mismatch(manifest["scenario_hash"], scenario.content_hash))
            if current_state(manifest, scenario):
                break
        first -= timedelta(days=1)
    walked = [first + timedelta(days=n) for n in range((day - first).days)]
    for _ in run_days(scenario, store, walked, settings, tables=(), progress=progress):
        pass
    return len(walked)


@dataclass
class DayOutcome:
    """A day of the bank, written: per table (by name) what was written, its metrics and preview; per asset its
    checks (the parts' findings merged, the fraud rate on the day's sum); per range the task's progress."""

    day: date
    written: dict[str, WrittenTable]
    findings: dict[str, Findings]
    metrics: dict[str, dict]
    previews: dict[str, pa.Table]
    rows: dict[str, int]
    ranges: int
    blocks: int


def run_days(scenario: Scenario, store: ObjectStore, days: Sequence[date], settings: ExecutorSettings,
             tables: Sequence[str] | None = None,
             progress: Callable[[TaskDone], None] | None = None) -> Iterator[DayOutcome]:
    """The bank's `days` (consecutive, from a stored state or the calendar's start), each day's ranges run where
    `settings` says (its workers kept from day to day), checked, and published together; `tables`: the day's tables
    to write (names of DAY_TABLES' tables; default all) — the state the next day starts from is always written. A
    table whose blocking checks fail on a day is written without a manifest that day. Needs the entity tables in
    `store`. A generator: each day runs when it is asked for and is yielded once published. Raises TaskFailed
    naming the ranges that kept failing (that day's tables then keep no manifest)."""
    names = tuple(name for _, name in DAY_TABLES if tables is None or name in tables)
    if days:
        ensure_world(scenario, store, settings, progress)
    with executor_session(settings):
        for day in days:
            yield _run_day(scenario, store, day, names, settings, progress)


def _run_day(scenario: Scenario, store: ObjectStore, day: date, names: tuple[str, ...], settings: ExecutorSettings,
             progress: Callable[[TaskDone], None] | None) -> DayOutcome:
    tasks = [RangeTask(scenario, store.root_url, store.endpoint_url, day, first, end, names)
             for first, end in file_ranges(scenario)]
    partition = day.isoformat()
    keys = [*(key for key in DAY_TABLES if key[1] in names), STATE, OUTBOX]
    with contextlib.ExitStack() as stack:
        batches = {key: stack.enter_context(store.writing(*key, partition, scenario.content_hash)) for key in keys}
        results = run_tasks(run_range, tasks, [t.label for t in tasks], settings, progress=progress)
        findings = {asset: merged([r.findings[asset] for r in results]) for asset in CHECKED}
        counts = {key: sum(r.rate_counts[key] for r in results) for key in results[0].rate_counts}
        findings["fraud_transactions"] = {"fraud_rate_within_tolerance": rate_findings(scenario, day, counts),
                                          **findings["fraud_transactions"]}
        verdict = {name: passed(findings[asset]) for asset, checked in CHECKED.items() for name in checked}
        written = {}
        for key, batch in batches.items():
            if key == STATE:
                batch.publish([r.records[(STATE[0], f"{STATE[1]}:{kind}")]
                               for kind in (*STATE_KINDS, *CHECK_KINDS, RUNS) for r in results])
            elif key == OUTBOX:
                batch.publish([r.records[key] for r in results])
            else:
                written[key[1]] = batch.publish([r.records[key] for r in results], publish=verdict[key[1]])
    rows = {name: sum(r.rows[name] for r in results) for _, name in DAY_TABLES}
    return DayOutcome(day=day, written=written, findings=findings,
                      metrics={name: partition_metrics.day_metrics(name, [r.tallies[name] for r in results],
                                                                   rows["card_transactions"])
                               for _, name in DAY_TABLES},
                      previews={name: pa.concat_tables([r.previews[name] for r in results]).slice(0, PREVIEW_ROWS)
                                for _, name in DAY_TABLES},
                      rows=rows, ranges=len(tasks), blocks=tasks[-1].end)
