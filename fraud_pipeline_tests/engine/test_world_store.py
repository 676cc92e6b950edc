"""The bank's world stored once per scenario by file range: a block loaded from it is the block sliced from the bank,
the directory holds what other blocks read and no block's rows, a stale or damaged world is never used, and a process
keeps a range of blocks, not the bank."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.engine import entity_ranges, ranges, world_ranges, world_store
from fraud_pipeline.engine.bank_day import file_ranges
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.executors import ExecutorSettings
from fraud_pipeline.engine.ranges import ENTITIES, ensure_world, run_days
from fraud_pipeline.fraud.scenarios import episode_share
from fraud_pipeline.io.parts import TableCorrupt
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.life.genuine import volume_share
from fraud_pipeline.money import budget
from fraud_pipeline.money.activity import bank_totals, channel_weights
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.entities import BUILDERS, entity_tables
from fraud_pipeline_tests.conftest import scaled
from fraud_pipeline_tests.engine.test_ranges import assert_same


@pytest.fixture(scope="module")
def entities(small_bank):
    return entity_tables(small_bank)


def _store(scenario, entities, root) -> ObjectStore:
    store = ObjectStore(root_url=str(root))
    for name in ENTITIES:
        store.write_table("entities", name, entities[name], scenario.content_hash)
    return store


def test_a_block_loaded_from_the_stored_world_is_the_block_sliced_from_the_bank(small_bank, entities, tmp_path):
    store = _store(small_bank, entities, tmp_path)
    written = ensure_world(small_bank, store)
    assert written == sum(p.stat().st_size for p in (tmp_path / "state" / "world").iterdir()) > 0
    assert ensure_world(small_bank, store) == 0  # built once per scenario
    bank = build_world(small_bank, entities)
    directory = world_store.load_directory(store, small_bank)
    assert file_ranges(small_bank) == [(0, 2), (2, 4)]
    # built from a few columns of the stored tables and block 0's rows: the bank's world without its blocks' rows
    assert_same(directory, world_store.directory_of(bank), "directory")
    assert directory.totals == world_store.directory_of(bank).totals
    for first, end in file_ranges(small_bank):
        for block, loaded in zip(range(first, end), world_store.load_blocks(store, directory, first, end)):
            sliced = block_world(bank, block)
            assert_same(loaded, sliced, f"block {block}")
            assert loaded.block_key == (block,) and loaded.bank is directory
            assert bank_totals(loaded) == bank_totals(sliced) == bank_totals(bank)  # the directory's, to the bit
            for name in ("global_customers", "global_accounts", "global_cards"):
                assert np.array_equal(getattr(loaded, name), getattr(sliced, name)), (block, name)
            assert loaded.caches == {}  # its calibrations are worked out from its rows and the directory's totals
            for channel in range(4):
                assert volume_share(loaded, channel) == volume_share(sliced, channel), (block, channel)
            assert episode_share(loaded) == episode_share(sliced)
            assert_same(budget.of(loaded), budget.of(sliced), f"block {block} budget")
            for channel, weight in channel_weights(sliced).items():
                assert np.array_equal(channel_weights(loaded)[channel], weight), (block, channel)


def test_the_directory_holds_what_other_blocks_read_and_no_block_s_rows(small_bank, entities):
    bank = build_world(small_bank, entities)
    directory = world_store.directory_of(bank)
    for name in world_store.DIRECTORY_ROWS:
        assert_same(getattr(directory, name), getattr(bank, name), name)
    emptied = [name for name in world_store._ROWS if name not in world_store.DIRECTORY_ROWS]
    assert {"known_at_start", "habits", "trips", "ip_address", "devices"} <= set(emptied)
    for name in emptied:
        value = getattr(directory, name)
        rows = {"habits": getattr(value, "local_shops", None), "trips": getattr(value, "customer", None),
                "devices": getattr(value, "first_phone", None)}.get(name, value)
        assert len(rows) == 0, name
    plan, whole = directory.devices, bank.devices  # no customer's devices, the bank's counts
    assert len(plan.phone_change_day) == len(plan.second_device) == 0 < len(whole.phone_change_day)
    assert (plan.n_customers, plan.n_devices, len(plan.computer_rows), plan.n_blocks) == (
        whole.n_customers, whole.n_devices, len(whole.computer_rows), whole.n_blocks)
    assert_same(plan.ring_devices, whole.ring_devices) and assert_same(plan.block_burners(3), whole.block_burners(3))
    assert directory.n_customers == bank.n_customers and directory.n_accounts == bank.n_accounts
    assert directory.n_blocks == 4 and directory.bank is None and directory.caches == {}
    types = directory.beneficiary_type  # a few strings, shared: not a str object per beneficiary
    assert len({id(t) for t in types}) == len(set(types)) < 10 and len(types) == len(bank.beneficiary_id)
    assert_same(directory.merchant_id, bank.merchant_id)


def test_a_stale_or_damaged_world_is_never_used(small_bank, entities, tmp_path):
    store = _store(small_bank, entities, tmp_path)
    ensure_world(small_bank, store)
    other = scaled(small_bank, seed=small_bank.seed + 1)
    assert not world_store.stored(store, other)  # another scenario's world does not count
    part = tmp_path / "state" / "world" / "blocks-b000002-b000003.pkl"
    payload = bytearray(part.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    part.write_bytes(bytes(payload))
    directory = world_store.load_directory(store, small_bank)
    with pytest.raises(TableCorrupt, match="blocks-b000002-b000003"):
        world_store.load_blocks(store, directory, 2, 4)
    with pytest.raises(KeyError, match="blocks-b000001-b000002"):
        world_store.load_blocks(store, directory, 1, 3)  # a range this scenario does not cut
    assert world_store.stored(store, small_bank)  # damaged at the same size: found when read, as above
    part.unlink()  # a file gone: built again, as it was
    assert not world_store.stored(store, small_bank)
    assert ensure_world(small_bank, store) > 0 and part.read_bytes() != bytes(payload)
    assert world_store.load_blocks(store, world_store.load_directory(store, small_bank), 2, 4)[0].block_key == (2,)


def test_a_process_holds_the_blocks_of_one_range(small_bank, entities, tmp_path):
    """Four ranges of one block run in one process: after each, it holds that range's block alone (its memory
    follows a range, not the bank); a bank of one range keeps its blocks' worlds, caches and all, from day to day."""
    days = [date(2026, 1, 1), date(2026, 1, 2)]
    held = []
    original = ranges.run_range

    def watched(task):
        found = original(task)
        held.append({block: id(world) for block, (_, world) in ranges._BLOCK_WORLDS.items()})
        return found

    ranges.run_range = watched
    try:
        for per_file, root in ((1, tmp_path / "four"), (4, tmp_path / "one")):
            scenario = scaled(small_bank, storage={"blocks_per_file": per_file})
            list(run_days(scenario, _store(scenario, entity_tables(scenario), root), days,
                          ExecutorSettings("in_process")))
    finally:
        ranges.run_range = original
    assert [sorted(blocks) for blocks in held[:8]] == [[0], [1], [2], [3]] * 2
    assert held[8].keys() == {0, 1, 2, 3} and held[9] == held[8]  # the same worlds on the second day


def test_runs_started_together_on_a_new_store_build_the_world_once(small_bank, entities, tmp_path, monkeypatch):
    """Two runs' drivers find no world at once: the first builds it under the writer lock, the second waits and uses
    it — it never rewrites the files the first run's workers read."""
    store = _store(small_bank, entities, tmp_path)
    built = []
    original = world_ranges.build_directory

    def slow_build(scenario, stored_in):
        built.append(1)
        time.sleep(1.0)  # the other driver arrives while this one holds the lock
        return original(scenario, stored_in)

    monkeypatch.setattr(world_ranges, "build_directory", slow_build)
    with ThreadPoolExecutor(2) as pool:
        written = sorted(pool.map(lambda _: ensure_world(small_bank, store), range(2)))
    assert written[0] == 0 and written[1] > 0 and len(built) == 1
    assert world_store.stored(store, small_bank)


def test_a_world_of_entities_written_again_is_built_again(small_bank, entities, tmp_path):
    """The scenario's hash does not change when its entities are written again (another release of their code, a
    restore): the world stored from the earlier ones is stale, and so is one built by other code."""
    store = _store(small_bank, entities, tmp_path)
    ensure_world(small_bank, store)
    first = world_store.fingerprint(store)
    customers = entities["customers"]
    edited = customers.set_column(customers.schema.get_field_index("age"), "age",
                                  pa.array(np.asarray(customers["age"]) + 1, customers.schema.field("age").type))
    store.write_table("entities", "customers", edited, small_bank.content_hash)
    assert world_store.fingerprint(store) != first and not world_store.stored(store, small_bank)
    assert ensure_world(small_bank, store) > 0 and world_store.stored(store, small_bank)
    assert np.array_equal(world_store.load_directory(store, small_bank).customer_id.to_numpy(zero_copy_only=False),
                          customers["customer_id"].to_numpy())
    world_store._code_digest.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(world_store, "_code_digest", lambda: "another release")
            assert not world_store.stored(store, small_bank)
    finally:
        world_store._code_digest.cache_clear()


def test_a_world_cut_into_other_file_ranges_is_built_again(small_bank, entities, tmp_path):
    """`storage` is not in the scenario's hash: a root whose world was stored two blocks a file, run one block a
    file, gets its world built again rather than a range it cannot find."""
    store = _store(small_bank, entities, tmp_path)
    ensure_world(small_bank, store)
    finer = scaled(small_bank, storage={"blocks_per_file": 1})
    assert finer.content_hash == small_bank.content_hash and not world_store.stored(store, finer)
    assert ensure_world(finer, store) > 0
    assert world_store.load_blocks(store, world_store.load_directory(store, finer), 3, 4)[0].block_key == (3,)


def test_the_stored_world_is_the_same_bytes_wherever_it_is_stored(small_bank, entities, tmp_path):
    """Two roots (a scenario names where it is stored): the same world files, byte for byte, and the loaded
    directory carries the run's own scenario."""
    found = []
    for name in ("one", "two"):
        scenario = scaled(small_bank, storage={"url": str(tmp_path / name)})
        store = _store(scenario, entities, tmp_path / name)
        ensure_world(scenario, store)
        found.append({p.name: p.read_bytes() for p in (tmp_path / name / "state" / "world").iterdir()})
        assert world_store.load_directory(store, scenario).scenario is scenario
    assert found[0] == found[1] and len(found[0]) == 4  # two ranges, the directory and the bank's totals


def test_a_world_built_from_entities_stored_by_range_is_the_world_of_entities_stored_whole(small_bank, entities,
                                                                                          tmp_path):
    """Each range's task reads its own part of the per-customer tables (the entities assets write them by range) or,
    from a table stored whole, its rows of it: the same blocks, the same directory."""
    whole = _store(small_bank, entities, tmp_path / "whole")
    by_range = ObjectStore(root_url=str(tmp_path / "by_range"))
    for name in [n for n in BUILDERS if n in ENTITIES]:  # each after the tables it is built from
        if name in entity_ranges.BY_BLOCK:
            entity_ranges.write_entity_table(small_bank, by_range, name, ExecutorSettings("in_process"))
        else:
            by_range.write_table("entities", name, entities[name], small_bank.content_hash)
    assert [p.name for p in by_range.listed_parts("entities", "cards")] == [
        "part-b000000-b000001.parquet", "part-b000002-b000003.parquet"]
    for store in (whole, by_range):
        ensure_world(small_bank, store)
    directories = [world_store.load_directory(store, small_bank) for store in (whole, by_range)]
    assert_same(*directories, "directory")
    assert directories[0].totals == directories[1].totals
    for first, end in file_ranges(small_bank):
        for one, other in zip(*(world_store.load_blocks(store, directory, first, end)
                                for store, directory in zip((whole, by_range), directories))):
            assert_same(one, other, f"blocks {first}–{end - 1}")


def test_a_part_s_rows_are_cut_by_their_owner_s_block():
    rows = pa.table({"account_id": ["A00000001", "A00000001", "A00000004", "A00000009"], "n": [0, 1, 2, 3]})
    cut = list(world_ranges.by_owner_block(rows.to_batches(max_chunksize=3), "account_id", np.array([3, 5, 8, 10]),
                                           rows.schema))
    assert [t["n"].to_pylist() for t in cut] == [[0, 1], [2], [], [3]]
    with pytest.raises(ValueError, match="out of block order"):
        list(world_ranges.by_owner_block(rows.take([2, 0]).to_batches(), "account_id", np.array([3, 5]), rows.schema))
    with pytest.raises(ValueError, match="outside the part's blocks"):
        list(world_ranges.by_owner_block(rows.to_batches(), "account_id", np.array([3, 5]), rows.schema))
    with pytest.raises(ValueError, match="outside the part's blocks"):  # an earlier range's account
        list(world_ranges.by_owner_block(rows.slice(0, 1).to_batches(), "account_id", np.array([7, 9]), rows.schema,
                                         start=5))


def test_a_world_built_again_in_the_same_process_reads_the_shared_tables_written_again(small_bank, entities,
                                                                                      tmp_path):
    """Merchants and beneficiaries written again under the same scenario: the process that built the world before
    builds it from the new tables, not from the ones it read then (a reviewer's finding)."""
    store = _store(small_bank, entities, tmp_path)
    ensure_world(small_bank, store)
    merchants, payees = entities["merchants"], entities["beneficiaries"]
    store.write_table("entities", "merchants", merchants.set_column(
        merchants.schema.get_field_index("lat"), "lat", pc.add(merchants["lat"], 0.5)), small_bank.content_hash)
    store.write_table("entities", "beneficiaries", payees.set_column(
        payees.schema.get_field_index("is_high_risk"), "is_high_risk", pc.invert(payees["is_high_risk"])),
        small_bank.content_hash)
    assert ensure_world(small_bank, store) > 0
    bank = ranges.bank_world(small_bank, store)
    directory = world_store.load_directory(store, small_bank)
    assert_same(directory, world_store.directory_of(bank), "directory")
    for block, loaded in zip(range(2), world_store.load_blocks(store, directory, 0, 2)):
        assert_same(loaded, block_world(bank, block), f"block {block}")
