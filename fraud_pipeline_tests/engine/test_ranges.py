"""Ranges of blocks as tasks: the same files in one process and on a pool of processes, with the executor changed
between days, and the same rows as the bank's day in memory."""

import dataclasses
import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline.engine import ranges
from fraud_pipeline.engine.bank_day import file_ranges, initial_bank_state, simulate_bank_day
from fraud_pipeline.engine.executors import ExecutorSettings
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.ranges import ENTITIES, LEDGER_COLUMNS, bank_world, check_references, run_days, world_entities
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.world.build import WORLD_COLUMNS, build_world
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.conftest import SMALL_POPULATION, scaled

DAYS = [date(2026, 1, 1) + timedelta(days=k) for k in range(3)]


@pytest.fixture(scope="module")
def small(small_bank):
    return small_bank


@pytest.fixture(scope="module")
def entities(small):
    return entity_tables(small)


def stored_bank(small, root: Path, executors: list[ExecutorSettings], progress=None) -> dict[str, str]:
    """The bank's entities and a day per executor in `executors` written under `root`, day by day: every file's
    SHA-256 by its path."""
    return _stored(small, entity_tables(small), root, executors, progress)


def _stored(small, entities, root: Path, executors: list[ExecutorSettings], progress=None) -> dict[str, str]:
    store = ObjectStore(root_url=str(root))
    for name in ENTITIES:
        store.write_table("entities", name, entities[name], small.content_hash)
    for day, settings in zip(DAYS, executors):
        list(run_days(small, store, [day], settings, progress=progress))
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}


@pytest.fixture(scope="module")
def reference(small, entities, tmp_path_factory):
    root = tmp_path_factory.mktemp("in_process")
    return root, _stored(small, entities, root, [ExecutorSettings("in_process")] * len(DAYS))


def test_a_pool_of_processes_writes_the_same_files_even_when_the_executor_changes_between_days(
        small, entities, reference, tmp_path):
    _, files = reference
    pooled = _stored(small, entities, tmp_path, [ExecutorSettings("processes", 2), ExecutorSettings("in_process"),
                                                 ExecutorSettings("processes", 1)])
    assert len(files) > 40
    assert any("part-b000002-b000003" in name for name in files)  # two ranges a day, each its own file
    assert pooled == files


@pytest.mark.parametrize("kept", [0, 100])
def test_blocks_unpacked_afresh_each_day_write_the_same_files(small, entities, reference, tmp_path, monkeypatch,
                                                              kept):
    """A process that keeps no block's world (or one of a range's two) unpacks the others each day, and lets each go
    once its day is done: the same files as one that keeps them all."""
    _, files = reference
    monkeypatch.setattr(ranges, "KEPT_CUSTOMERS", kept)
    held = []
    original = ranges.simulate_day

    def watched(world, state, day):
        held.append(sorted(ranges._BLOCK_WORLDS))
        return original(world, state, day)

    monkeypatch.setattr(ranges, "simulate_day", watched)
    assert _stored(small, entities, tmp_path, [ExecutorSettings("in_process")] * len(DAYS)) == files
    assert held == [[]] * 12 if kept == 0 else held == [[0], [0], [2], [2]] * 3


def test_the_ranges_hold_the_rows_of_the_bank_in_memory(small, entities, reference):
    root, _ = reference
    store = ObjectStore(root_url=str(root))
    bank = bank_world(small, store)
    assert file_ranges(small) == [(0, 2), (2, 4)] and bank.n_blocks == 4
    state = initial_bank_state(bank)
    for day in DAYS:
        found = simulate_bank_day(bank, state, day)
        state = found.state
        for layer, table, field in (("events", "card_transactions", "transactions"),
                                    ("fraud", "fraud_episodes", "fraud_episodes"),
                                    ("events", "customer_events", "customer_events")):
            stored = store.read_table(layer, table, partition=day.isoformat())
            assert stored.equals(getattr(found, field)), (day, table)  # the same rows in the same order
            assert pa.compute.count_distinct(stored[stored.schema.names[0]]).as_py() == stored.num_rows


def test_a_worker_keeps_of_the_entities_only_what_the_checks_look_up(small, entities, tmp_path):
    """What a range's checks read of the entities: every column a day table's foreign key points at, each account's
    limits, nothing else; a range's accounts taken by their rows in the bank are the range's blocks' accounts, in
    order (the ledger check's floors would silently be missing otherwise); and a bank's days checked this way pass
    every check, transfers to accounts in other ranges included."""
    kept = check_references(entities)
    assert {name: sorted(t.column_names) for name, t in kept.items()} == {
        "accounts": sorted(LEDGER_COLUMNS), "beneficiaries": ["beneficiary_id"], "cards": ["card_number"],
        "customers": ["customer_id"], "devices": ["device_id"], "merchants": ["merchant_id"]}
    assert kept["accounts"].num_rows == entities["accounts"].num_rows
    bank = build_world(small, entities)
    for first, end in file_ranges(small):
        worlds = [block_world(bank, b) for b in range(first, end)]
        taken = kept["accounts"].take(pa.array(np.concatenate([w.global_accounts for w in worlds])))
        assert taken["account_id"].to_pylist() == [a for w in worlds for a in w.account_id.to_pylist()]

    store = ObjectStore(root_url=str(tmp_path))
    for name in ENTITIES:
        store.write_table("entities", name, entities[name], small.content_hash)
    outcomes = list(run_days(small, store, DAYS[:2], ExecutorSettings("in_process")))
    failures = {(o.day, asset, check): f.failures for o in outcomes for asset, found in o.findings.items()
                for check, listed in found.items() for f in listed if f.failures}
    assert failures == {}
    transfers = store.read_table("events", "card_transactions", partition=DAYS[1].isoformat())
    paid = set(transfers["counterparty_account_id"].drop_null().to_pylist())
    size = small.population.block_customers * small.storage.blocks_per_file
    other_range = {a for a, c in zip(bank.account_id.to_pylist(), bank.account_customer) if c >= size}
    assert paid & other_range and paid - other_range  # both ranges are paid into: cross-range keys were checked


@pytest.mark.slow
def test_a_local_ray_writes_the_same_files(small, entities, reference, tmp_path):
    _, files = reference
    on_ray = _stored(small, entities, tmp_path, [ExecutorSettings("in_process"), ExecutorSettings("ray", 2),
                                                 ExecutorSettings("ray", 2)])
    assert on_ray == files


def assert_same(a, b, path: str = "world") -> None:
    """Two worlds (or parts of them) hold the same values, of the same types: arrays, tables, frames, plans."""
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), path
    elif isinstance(a, (pa.Array, pa.ChunkedArray)):
        assert a.equals(b), path
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in ("bank", "scenario", "caches", "totals"):  # totals: the bank's (`bank_totals`)
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key}]")
    elif hasattr(a, "__dict__"):
        assert_same(vars(a), vars(b), path)
    else:
        assert a == b, path


def test_a_worker_builds_the_world_from_its_columns_and_the_usual_merchants_in_batches(small, entities, tmp_path,
                                                                                      monkeypatch):
    """What a worker reads (each table's WORLD_COLUMNS, the usual merchants as record batches of a few rows, so a
    customer's pairs are split between batches) builds the world the whole tables build, value for value."""
    store = ObjectStore(root_url=str(tmp_path))
    for name in ENTITIES:
        store.write_table("entities", name, entities[name], small.content_hash)
    monkeypatch.setattr("fraud_pipeline.world.build.PAIRS_AT_ONCE", 997)
    monkeypatch.setattr("fraud_pipeline.engine.ranges.PAIRS_AT_ONCE", 991)
    read = world_entities(store)
    assert {name: read[name].column_names for name in ENTITIES if name != "customer_merchants"} == {
        name: list(columns) for name, columns in WORLD_COLUMNS.items() if name != "customer_merchants"}
    assert not isinstance(read["customer_merchants"], pa.Table)  # batches, read while the world keys them
    assert entities["customer_merchants"].num_rows > 5 * 991
    whole = build_world(small, entities)
    assert_same(build_world(small, read), whole)
    assert_same(build_world(small, read).known_at_start, whole.known_at_start)  # the batches are read again


@pytest.mark.parametrize("block_customers", [100, 7, 1])  # four full blocks; 58, the last of 1; 400 of one each
def test_a_block_world_holds_what_its_blocks_accounts_hold_in_the_bank(small, block_customers):
    """Block worlds cut by the bank's block index (cost of a block, not of the bank) against a plain cut by masks
    over the bank's rows: the same accounts, cards, salary accounts, keys of what was paid before, debit orders,
    trips; and a block's per-customer columns are read-only views of the bank's."""
    scenario = scaled(small, population={**SMALL_POPULATION, "block_customers": block_customers})
    bank = build_world(scenario, entity_tables(scenario))
    size = block_customers
    owner_block = bank.account_customer // size
    without_bills = 0
    for b in range(bank.n_blocks):
        world = block_world(bank, b)
        accounts = np.flatnonzero(owner_block == b)
        np.testing.assert_array_equal(world.global_accounts, accounts)
        np.testing.assert_array_equal(world.global_cards, np.flatnonzero(owner_block[bank.card_account] == b))
        salary = bank.salary_of[b * size:(b + 1) * size]
        np.testing.assert_array_equal(np.where(world.salary_of >= 0, world.global_accounts[world.salary_of], -1),
                                      salary)
        mine = owner_block[bank.known_at_start // bank.key_space] == b
        np.testing.assert_array_equal(world.global_accounts[world.known_at_start // bank.key_space],
                                      bank.known_at_start[mine] // bank.key_space)
        np.testing.assert_array_equal(world.known_at_start % bank.key_space, bank.known_at_start[mine] % bank.key_space)
        bills = bank.bills[owner_block[bank.bills["account"].to_numpy()] == b]
        np.testing.assert_array_equal(world.global_accounts[world.bills["account"].to_numpy()], bills["account"])
        np.testing.assert_array_equal(world.bills["cents"], bills["cents"])
        without_bills += len(bills) == 0
        trips = (bank.trips.customer >= b * size) & (bank.trips.customer < (b + 1) * size)
        np.testing.assert_array_equal(world.trips.first_day, bank.trips.first_day[trips])
        assert len(world.known_at_start) > 0 or size == 1
        with pytest.raises(ValueError, match="read-only"):
            world.income[0] = 0.0
    assert bank.n_blocks == -(-len(bank.customer_id) // size)
    assert without_bills > 0 or size > 1  # blocks of one customer include some without a debit order


def test_the_state_carries_only_the_recipients_learned_since_the_start(small, reference):
    """What accounts had paid before the calendar is the world's (`known_at_start`), so the stored state holds only
    the recipients first paid since: sorted, none of them known at the start, one per approved payment to a new
    recipient on the days before."""
    import pyarrow.parquet as pq

    root, _ = reference
    store = ObjectStore(root_url=str(root))
    bank = bank_world(small, store)
    for number, day in enumerate(DAYS):
        parts = sorted((root / "state" / "bank_state" / f"date={day.isoformat()}").glob("learned-*.parquet"))
        assert len(parts) == len(file_ranges(small))
        learned = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
        first_paid = sum(  # genuine payments and fraud's
            int(((t["status"] == "approved") & (t["recipient_status"] == "NEW_RECIPIENT")).sum())
            for t in (store.read_table(layer, table, partition=d.isoformat()).select(
                ["status", "recipient_status"]).to_pandas() for d in DAYS[:number + 1]
                for layer, table in (("events", "card_transactions"), ("fraud", "fraud_transactions"))))
        assert len(learned) == first_paid > 0
        for block, keys in learned.groupby("block")["key"]:
            world = block_world(bank, block)
            assert np.all(np.diff(keys.to_numpy()) > 0)
            assert not np.isin(keys.to_numpy(), world.known_at_start).any()


def test_a_state_an_earlier_release_stored_is_walked_again(small, reference, tmp_path):
    """A state stored before the recipients learned since the start replaced the whole known set (its parts are
    `known-…`) is not read as this release's: the day is walked again from the state before it, and the store ends
    as a store written by this release alone."""
    import json
    import shutil

    root, files = reference
    shutil.copytree(root, tmp_path / "data")
    folder = tmp_path / "data" / "state" / "bank_state" / f"date={DAYS[1].isoformat()}"
    for part in folder.glob("learned-*.parquet"):
        part.rename(folder / part.name.replace("learned-", "known-"))
    manifest_path = tmp_path / "data" / "_manifests" / "state" / "bank_state" / f"date={DAYS[1].isoformat()}.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"]:
        entry["path"] = entry["path"].replace("learned-", "known-")
    manifest_path.write_text(json.dumps(manifest))
    store = ObjectStore(root_url=str(tmp_path / "data"))
    from fraud_pipeline.engine.state_store import load_state

    assert load_state(store, small, DAYS[2]) is None and load_state(store, small, DAYS[1]) is not None
    assert ranges.start_day(store, small, DAYS[2], ExecutorSettings("in_process")) == 1  # DAYS[1] again
    found = {str(p.relative_to(tmp_path / "data")): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((tmp_path / "data").rglob("*")) if p.is_file()
             and not p.relative_to(tmp_path / "data").parts[0].startswith(".")}
    assert found == files


def test_a_state_cut_into_other_file_ranges_is_walked_again(small, reference, tmp_path):
    """`storage.blocks_per_file` is not in the scenario's hash: a day run with one block a file after days stored with
    two finds no state of its ranges, so it walks again from the calendar's start instead of failing on a missing
    part, and its states are cut into its own ranges."""
    import shutil

    from fraud_pipeline.engine.state_store import load_state
    from fraud_pipeline_tests.conftest import scaled

    root, _ = reference
    shutil.copytree(root, tmp_path / "data")
    store = ObjectStore(root_url=str(tmp_path / "data"))
    one_a_file = scaled(small, storage={"blocks_per_file": 1})
    assert one_a_file.content_hash == small.content_hash and len(file_ranges(one_a_file)) == 4
    assert load_state(store, one_a_file, DAYS[2]) is not None  # the whole bank's state reads any cut
    assert ranges.start_day(store, one_a_file, DAYS[2], ExecutorSettings("in_process")) == 2
    parts = sorted(p.name for p in (tmp_path / "data" / "state" / "bank_state" / f"date={DAYS[1]}").glob("learned-*"))
    assert parts == [f"learned-b{b:06d}-b{b:06d}.parquet" for b in range(4)]
