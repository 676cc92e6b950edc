"""The per-customer entity tables by range of blocks (stage 4b, step 2): the stored tables equal the bank's tables
built in one process, row for row, and the part files are the same on a pool of processes."""

import hashlib
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraud_pipeline.engine.entity_ranges import BY_BLOCK, by_block, shared_table, write_entity_table
from fraud_pipeline.io import formats
from fraud_pipeline.io.parts import row_groups
from fraud_pipeline.engine.executors import ExecutorSettings
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.world.entities import BUILDERS, entity_tables
from fraud_pipeline_tests.conftest import scaled


_TABLES = {}


def entity_tables_of(bank):
    if bank.content_hash not in _TABLES:
        _TABLES[bank.content_hash] = entity_tables(bank)
    return _TABLES[bank.content_hash]


@pytest.fixture(scope="module")
def bank(small_scenario):
    """Four blocks in two ranges of two (the last block short)."""
    return scaled(small_scenario, population={"block_customers": 110}, storage={"blocks_per_file": 2})


def _write(bank, root, settings: ExecutorSettings) -> dict[str, str]:
    """The entities under `root`: the shared tables whole, the per-customer ones by range; every part's SHA-256."""
    store = ObjectStore(root_url=str(root))
    whole = {}
    for name, (build, inputs) in BUILDERS.items():
        if name in BY_BLOCK:
            written, findings, preview = write_entity_table(bank, store, name, settings)
            assert written.rows == entity_tables_of(bank)[name].num_rows
            assert preview.equals(entity_tables_of(bank)[name].slice(0, 10).cast(preview.schema))
            assert all(f.passed for found in findings.values() for f in found), (name, findings)
        else:
            whole[name] = build(bank, *(whole[i] for i in inputs))
            store.write_table("entities", name, whole[name], bank.content_hash)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))}


def test_the_entities_written_by_range_are_the_bank_s_tables_and_the_same_on_a_pool(bank, tmp_path):
    files = _write(bank, tmp_path / "in_process", ExecutorSettings("in_process"))
    store = ObjectStore(root_url=str(tmp_path / "in_process"))
    expected = entity_tables_of(bank)
    for name in BY_BLOCK:
        stored = store.read_table("entities", name)
        assert stored.equals(expected[name].cast(stored.schema)), name
        parts = [p.name for p in store.listed_parts("entities", name)]
        assert parts == ["part-b000000-b000001.parquet", "part-b000002-b000003.parquet"], (name, parts)
    assert _write(bank, tmp_path / "pool", ExecutorSettings("processes", 2)) == files


def test_blocks_regrouped_write_the_bytes_of_their_rows_written_whole(tmp_path):
    """`row_groups`: a range written block by block is the file of its rows written at once, row groups included."""
    blocks = [pa.table({"n": pa.array(range(start, start + size), pa.int64()),
                        "s": pa.array([str(i % 5) for i in range(size)], pa.string())})
              for start, size in ((0, 5), (5, 0), (5, 9), (14, 3), (17, 7))]
    store = ObjectStore(root_url=str(tmp_path))
    whole = pa.concat_tables(blocks)
    for rows in (1, 7, 24, 100):
        streamed = store.put_part("t", "streamed", None, f"part-{rows}.parquet", row_groups(iter(blocks), rows))
        at_once = io.BytesIO()
        pq.write_table(whole, at_once, row_group_size=rows, **formats.PARQUET_OPTIONS)
        assert streamed.sha256 == hashlib.sha256(at_once.getvalue()).hexdigest(), rows
        assert pq.ParquetFile(tmp_path / "t" / "streamed" / f"part-{rows}.parquet").num_row_groups == -(-24 // rows)


def test_a_part_cut_by_block_must_hold_its_blocks_rows():
    batches = pa.table({"n": pa.array(range(10))}).to_batches(max_chunksize=3)
    assert [t["n"].to_pylist() for t in by_block(batches, [4, 0, 5], trailing=1)] == [
        [0, 1, 2, 3], [], [4, 5, 6, 7, 8]]
    with pytest.raises(ValueError, match="holds 1 rows after its blocks' where 0 were expected"):
        list(by_block(batches, [4, 0, 5]))
    with pytest.raises(ValueError, match="ends after 10 of a block's 11 rows"):
        list(by_block(batches, [11]))


def test_a_bank_of_one_customer_without_payees_writes_its_entities(small_scenario, tmp_path):
    """A block without rows of a table (one customer, no saved payee): an empty preview, the table written."""
    one = scaled(small_scenario, population={"customers": 1, "accounts": 1, "devices": 1, "beneficiaries": 1},
                 beneficiaries={"per_account": {"min": 0, "max": 0}, "new_per_month": 0.0},
                 fraud={"account_takeover": {"enabled": False}},  # a takeover saves its mule as a payee
                 card_transactions={"channels": {"pos": 0.6, "online": 0.3, "transfer": 0.0, "atm": 0.1}})
    assert entity_tables_of(one)["account_beneficiaries"].num_rows == 0
    _write(one, tmp_path, ExecutorSettings("in_process"))
    assert ObjectStore(root_url=str(tmp_path)).read_table("entities", "account_beneficiaries").num_rows == 0


def test_an_upstream_table_stored_whole_or_cut_otherwise_still_feeds_a_table_by_range(bank, tmp_path):
    """A root whose tables an earlier release wrote whole (or another `storage.blocks_per_file` cut: not in the
    scenario's hash) can still build one table by range: each range reads its rows of the tables stored otherwise."""
    store = ObjectStore(root_url=str(tmp_path))
    expected = entity_tables_of(bank)
    for name in ("customers", "devices", "accounts", "merchants", "beneficiaries"):
        store.write_table("entities", name, expected[name], bank.content_hash)  # whole
    for name in ("cards", "account_beneficiaries", "device_history", "customer_merchants"):
        written, findings, preview = write_entity_table(bank, store, name, ExecutorSettings("in_process"))
        assert all(f.passed for found in findings.values() for f in found), (name, findings)
        stored = store.read_table("entities", name)
        assert stored.equals(expected[name].cast(stored.schema)), name
        assert preview.equals(stored.slice(0, 10)), name


def test_a_shared_table_written_again_is_read_again(bank, tmp_path):
    store = ObjectStore(root_url=str(tmp_path))
    merchants = entity_tables_of(bank)["merchants"]
    store.write_table("entities", "merchants", merchants, bank.content_hash)
    assert shared_table(store, "merchants").equals(merchants)
    assert shared_table(store, "merchants") is shared_table(store, "merchants")  # read once while it is the same
    store.write_table("entities", "merchants", merchants.slice(1), bank.content_hash)
    assert shared_table(store, "merchants").num_rows == merchants.num_rows - 1


def test_an_empty_part_is_the_bytes_of_its_empty_table_written_whole(tmp_path):
    empty = pa.table({"n": pa.array([], pa.int64())})
    store = ObjectStore(root_url=str(tmp_path))
    streamed = store.put_part("t", "streamed", None, "part.parquet", row_groups(iter([empty, empty])))
    at_once = io.BytesIO()
    pq.write_table(empty, at_once, **formats.PARQUET_OPTIONS)
    assert streamed.sha256 == hashlib.sha256(at_once.getvalue()).hexdigest()


def test_empty_blocks_anywhere_are_cut_as_empty_tables():
    table = pa.table({"n": pa.array(range(6), pa.int64())})
    for sizes in ([3, 0, 3], [0, 3, 3], [3, 3, 0], [0, 6]):
        cut = list(by_block(table.to_batches(max_chunksize=3), sizes, schema=table.schema))
        assert [t.num_rows for t in cut] == sizes and pa.concat_tables(cut).equals(table), sizes
    assert [t.num_rows for t in by_block([], [0, 0], schema=table.schema)] == [0, 0]
