"""Delta mode (`storage.table_format: delta`): each published write of a curated table is one Delta transaction that
replaces exactly its partition, read back by delta-rs and polars; earlier versions stay readable; a withheld write
commits nothing; concurrent writers of one partition leave one copy."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from fraud_pipeline.core import schemas
from fraud_pipeline.io import delta
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch
from fraud_pipeline_tests.conftest import S3_ENVIRONMENT, _free_port

DAY = "2026-01-02"


@pytest.fixture(scope="module")
def s3_process():
    """A loopback S3 server (moto) in a process of its own, its endpoint. Not the suite's in-process server: a
    delta-rs call in this process may hold the GIL while it waits for the answer, which a server thread of the same
    process could then never send (a read timed out after 180 s that way). The credentials are the suite's."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {key: os.environ.get(key) for key in S3_ENVIRONMENT}
    os.environ.update(S3_ENVIRONMENT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(params=["local", "s3"])
def delta_store(request, tmp_path) -> ObjectStore:
    if request.param == "local":
        return ObjectStore(root_url=str(tmp_path / "data"), table_format="delta")
    endpoint = request.getfixturevalue("s3_process")
    store = ObjectStore(root_url=f"s3://delta-{uuid.uuid4().hex[:12]}/fraud", endpoint_url=endpoint,
                        table_format="delta")
    store.filesystem().mkdir(store.root_url.removeprefix("s3://").split("/")[0])
    return store


def _episodes(rows: int, seed: int) -> pa.Table:
    """A fraud_episodes partition of `rows` rows, its values drawn from `seed` (only the schema matters here)."""
    rng = np.random.default_rng(seed)
    columns = {}
    for field in schemas.FRAUD_EPISODES.arrow_schema:
        if pa.types.is_timestamp(field.type):
            values = pa.array(rng.integers(1_767_225_600_000, 1_767_312_000_000, rows), pa.int64()).cast(field.type)
        elif pa.types.is_integer(field.type):
            values = pa.array(rng.integers(0, 100, rows)).cast(field.type)
        elif pa.types.is_floating(field.type):
            values = pa.array(rng.random(rows), field.type)
        elif pa.types.is_boolean(field.type):
            values = pa.array(rng.random(rows) < 0.5)
        else:
            values = pa.array([f"{field.name}-{seed}-{i}" for i in range(rows)]).cast(field.type)
        columns[field.name] = values
    return pa.table(columns, schema=schemas.FRAUD_EPISODES.arrow_schema)


def _table(store: ObjectStore, version: int | None = None) -> DeltaTable:
    return DeltaTable(store.uri("fraud", "fraud_episodes"), version=version, storage_options=store.delta_options())


def test_a_rerun_of_a_day_is_a_new_version_and_the_previous_one_stays_readable(delta_store):
    first, second, other_day = _episodes(30, 1), _episodes(20, 2), _episodes(5, 3)
    assert delta_store.write_table("fraud", "fraud_episodes", first, "h", partition=DAY).delta_version == 0
    assert delta_store.write_table("fraud", "fraud_episodes", other_day, "h", partition="2026-01-03").delta_version == 1
    rerun = delta_store.write_table("fraud", "fraud_episodes", second, "h", partition=DAY)
    assert rerun.delta_version == 2

    table = _table(delta_store)
    now = table.to_pyarrow_table(filters=[("date", "=", date.fromisoformat(DAY))])
    assert now.drop(["date"]).sort_by("episode_id").cast(now.drop(["date"]).schema) == \
        second.sort_by("episode_id").cast(now.drop(["date"]).schema)
    assert table.to_pyarrow_table().num_rows == 20 + 5  # one copy of the rerun day, the other day untouched
    before = _table(delta_store, version=1).to_pyarrow_table(filters=[("date", "=", date.fromisoformat(DAY))])
    assert sorted(before["episode_id"].to_pylist()) == sorted(first["episode_id"].to_pylist())
    assert [entry["operation"] for entry in table.history()] == ["WRITE", "WRITE", "CREATE TABLE"]
    # what our own reader takes is what Delta lists: the manifest and the log name the same content-addressed files
    listed = {part.name for part in delta_store.listed_parts("fraud", "fraud_episodes", DAY)}
    assert {uri.rsplit("/", 1)[-1] for uri in table.file_uris() if f"date={DAY}" in uri} == listed
    assert all(delta.is_kept(name) for name in listed)


def test_polars_reads_the_table_as_written_with_its_data_dictionary(delta_store):
    written = _episodes(40, 4)
    delta_store.write_table("fraud", "fraud_episodes", written, "h", partition=DAY)
    frame = pl.read_delta(delta_store.uri("fraud", "fraud_episodes"), storage_options=delta_store.delta_options())
    assert frame.height == 40
    assert frame["date"].unique().to_list() == [date.fromisoformat(DAY)]
    assert sorted(frame["episode_id"].to_list()) == sorted(written["episode_id"].to_pylist())

    table = _table(delta_store)
    assert table.metadata().name == "fraud_episodes"
    assert table.metadata().description == schemas.FRAUD_EPISODES.description
    assert table.metadata().partition_columns == ["date"]
    comments = {field.name: field.metadata.get("comment") for field in table.schema().fields}
    assert comments == {**{c.name: c.description for c in schemas.FRAUD_EPISODES.columns},
                        "date": "The day of the partition (its date=YYYY-MM-DD folder)."}
    # Databricks Runtime 13.3 LTS+ and Delta Lake 3.0+ on Spark 3.5 read reader 3 / writer 7 with timestampNtz
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (3, 7)
    assert protocol.reader_features == ["timestampNtz"] and protocol.writer_features == ["timestampNtz"]


def test_a_write_withheld_by_a_failing_check_commits_nothing(delta_store):
    kept = _episodes(10, 5)
    delta_store.write_table("fraud", "fraud_episodes", kept, "h", partition=DAY)
    withheld = delta_store.write_table("fraud", "fraud_episodes", _episodes(7, 6), "h", partition=DAY, publish=False)
    assert not withheld.published and withheld.delta_version is None
    table = _table(delta_store)
    assert table.version() == 0
    assert sorted(table.to_pyarrow_table()["episode_id"].to_pylist()) == sorted(kept["episode_id"].to_pylist())


def test_two_concurrent_writers_of_one_partition_leave_one_copy_and_other_days_both_commit(delta_store):
    tables = {seed: _episodes(10 + seed, seed) for seed in (7, 8, 9)}
    outcomes, errors = [], []

    def write(seed: int, day: str) -> None:
        try:
            outcomes.append(delta_store.write_table("fraud", "fraud_episodes", tables[seed], "h", partition=day))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=args) for args in [(7, DAY), (8, DAY), (9, "2026-01-03")]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(o.delta_version for o in outcomes) == [0, 1, 2]  # three commits, one after another
    table = _table(delta_store).to_pyarrow_table()
    day = table.filter(pc.equal(table["date"], pa.scalar(date.fromisoformat(DAY), pa.date32())))
    assert day.num_rows in (17, 18)  # one writer's day, whole: never both, never a mix
    assert sorted(day["episode_id"].to_pylist()) in [sorted(tables[s]["episode_id"].to_pylist()) for s in (7, 8)]
    assert table.num_rows - day.num_rows == 19


def test_files_outside_the_curated_tables_stay_files_and_a_root_keeps_one_table_format(tmp_path):
    store = ObjectStore(root_url=str(tmp_path / "data"), table_format="delta")
    landed = store.write_files("landing", "card_transactions", {"batch_0": _episodes(3, 1)}, "h", partition=DAY)
    assert landed.delta_version is None
    assert not (tmp_path / "data" / "landing" / "card_transactions" / delta.LOG).exists()
    assert json.loads((tmp_path / "data" / "_manifests" / "_scenario.json").read_text()) == \
        {"scenario_hash": "h", "table_format": "delta"}
    with pytest.raises(ScenarioMismatch, match="holds delta tables; this run writes storage.table_format parquet"):
        ObjectStore(root_url=store.root_url).write_table("fraud", "fraud_episodes", _episodes(3, 1), "h", partition=DAY)
    with pytest.raises(ValueError, match="storage.table_format must be one of parquet, delta"):
        ObjectStore(root_url=store.root_url, table_format="iceberg")





CARD = "/DATASET.md"


def _strip_hash(path: str) -> str:
    stem, extension = path.rsplit(".", 1)
    return f"{stem[:-delta.HASH_CHARACTERS - 1]}.{extension}" if delta.is_kept(path.rsplit("/", 1)[-1]) else path


@pytest.mark.slow
def test_the_main_command_in_delta_mode_on_disk_and_on_s3_reads_back_as_parquet_mode_wrote_it(tmp_path, s3_process):
    """The README's main command (a small world, everything over 21 days) in Parquet mode, and in Delta mode to a local folder and
    to the loopback S3 server, side by side: every curated table is a Delta table whose rows — read by delta-rs and by
    polars — are Parquet mode's, row for row, from files of the same bytes."""
    from fraud_pipeline_tests.defs.test_cli import SCENARIO_RUN, SMALL_WORLD, cli_environment, data_tree, run_together

    delta_world = SMALL_WORLD + "storage: {table_format: delta}\n"
    parquet = ObjectStore(root_url=str(tmp_path / "parquet" / "data"))
    local = ObjectStore(root_url=str(tmp_path / "delta" / "data"), table_format="delta")
    remote = ObjectStore(root_url=f"s3://delta-{uuid.uuid4().hex[:12]}/fraud", endpoint_url=s3_process,
                         table_format="delta")
    remote.filesystem().mkdir(remote.root_url.removeprefix("s3://").split("/")[0])
    run_together((cli_environment(tmp_path / "parquet", SMALL_WORLD, parquet.root_url), SCENARIO_RUN),
                 (cli_environment(tmp_path / "delta", delta_world, local.root_url), SCENARIO_RUN),
                 ({**cli_environment(tmp_path / "s3", delta_world, remote.root_url), "AWS_ENDPOINT_URL": s3_process},
                  SCENARIO_RUN))

    plain = {path: payload for path, payload in data_tree(parquet).items()
             if not path.startswith("/_manifests/") and path != CARD}
    for store in (local, remote):
        tree = data_tree(store)
        card = tree.pop(CARD).decode()  # the dataset card says how to read a Delta table, and only in Delta mode
        assert "- table format: delta" in card and "DeltaTable(" in card and "DeltaTable(" not in \
            data_tree(parquet)[CARD].decode()
        parts = {_strip_hash(path): payload for path, payload in tree.items()
                 if "/_delta_log/" not in path and not path.startswith("/_manifests/")}
        assert parts == plain  # the same files, the same bytes; a Delta part's name only adds its content hash
        logs = sorted({path.split("/_delta_log/")[0].lstrip("/") for path in tree if "/_delta_log/" in path})
        curated = sorted({f"{layer}/{name}" for layer, name in
                          (path.lstrip("/").split("/")[:2] for path in plain)
                          if delta.is_delta("delta", layer, name, "parquet")})
        assert logs == curated and len(curated) == 27  # the entities, the day's events and fraud, the reports
        for table in curated:
            layer, name = table.split("/")
            read = DeltaTable(store.uri(layer, name), storage_options=store.delta_options()).to_pyarrow_table()
            days = sorted(parquet.complete_partitions(layer, name))
            expected = (pa.concat_tables([parquet.read_table(layer, name, day).append_column(
                "date", pa.array([date.fromisoformat(day)] * parquet.read_manifest(layer, name, day)["rows"],
                                 pa.date32())) for day in days]) if days else parquet.read_table(layer, name))
            read = read.select(expected.column_names).cast(_microseconds(expected.schema))
            assert _sorted(read).equals(_sorted(expected.cast(_microseconds(expected.schema)))), table
            frame = pl.read_delta(store.uri(layer, name), storage_options=store.delta_options())
            assert frame.height == expected.num_rows and sorted(frame.columns) == sorted(expected.column_names)


def _microseconds(schema: pa.Schema) -> pa.Schema:
    """Delta reads a timestamp back in microseconds (its only precision); the values are the same instants."""
    return pa.schema([field.with_type(pa.timestamp("us")) if pa.types.is_timestamp(field.type) else field
                      for field in schema])


def _sorted(table: pa.Table) -> pa.Table:
    """Rows in one order whatever order the files were read in (every column a key)."""
    return table.sort_by([(name, "ascending") for name in table.column_names
                          if not pa.types.is_nested(table.schema.field(name).type)])
