"""The object store, on the local disk and on a real loopback S3 server: round trips, atomic re-writes,
concurrent writers, transient errors; parts put by other processes and published together."""

import hashlib
import json
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from fraud_pipeline.io import formats, parts
from fraud_pipeline.io.retries import StorageUnavailable
from fraud_pipeline.io.storage import (ObjectStore, PartMissing, PartRecord, ScenarioMismatch, TableCorrupt,
                                       TableNotReady)
from fraud_pipeline_tests.s3_proxy import S3Proxy


def _table(rows: int, offset: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(offset, offset + rows), pa.int64()),
                     "name": pa.array([f"row {i}" for i in range(offset, offset + rows)])})


def _files(store: ObjectStore, layer: str, table: str, partition: str | None = None) -> list[str]:
    fs = store.filesystem()
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(store.path(layer, table, partition), detail=False))


def test_round_trip_of_chunks_with_manifest(store):
    written = store.write_table("events", "things", [_table(3), _table(2, offset=3)], "hash-1", partition="2026-01-02")

    assert written.rows == 5 and written.files == 2
    assert written.uri.endswith("events/things/date=2026-01-02")
    assert store.read_table("events", "things", partition="2026-01-02").equals(_table(5))
    manifest = store.read_manifest("events", "things", partition="2026-01-02")
    assert manifest["scenario_hash"] == "hash-1"
    assert [(f["path"], f["rows"]) for f in manifest["files"]] == [("part-00000.parquet", 3), ("part-00001.parquet", 2)]
    assert manifest["rows"] == 5


def test_rewrite_replaces_the_partition_and_leaves_no_stale_files(store):
    store.write_table("events", "things", [_table(3), _table(3, 3), _table(3, 6)], "h", partition="2026-01-02")
    store.write_table("events", "things", _table(4, 100), "h", partition="2026-01-02")

    assert _files(store, "events", "things", "2026-01-02") == ["part-00000.parquet"]
    assert store.read_table("events", "things", partition="2026-01-02").equals(_table(4, 100))


def test_a_folder_holds_only_its_data_files_and_its_manifest_lives_in_the_parallel_tree(store):
    """Readers that take a folder (polars refuses one holding a .json beside .parquet files) see only data."""
    store.write_table("events", "things", [_table(3), _table(2, 3)], "h", partition="2026-01-02")
    store.write_table("entities", "things", _table(4), "h")
    fs = store.filesystem()
    root = store.path("x", "y").rsplit("/", 2)[0]
    assert sorted(p.removeprefix(root) for p in fs.find(root) if "/.locks/" not in p) == [
        "/_manifests/_scenario.json", "/_manifests/entities/things.json",
        "/_manifests/events/things/date=2026-01-02.json",
        "/entities/things/part-00000.parquet",
        "/events/things/date=2026-01-02/part-00000.parquet", "/events/things/date=2026-01-02/part-00001.parquet"]
    assert store.manifest_path("events", "things", "2026-01-02") == f"{root}/_manifests/events/things/date=2026-01-02.json"
    assert json.loads(fs.cat_file(store.manifest_path("events", "things", "2026-01-02")))["rows"] == 5
    assert sorted(store.complete_partitions("events", "things")) == ["2026-01-02"]


def test_a_rewrite_removes_a_manifest_the_old_layout_left_in_the_folder(store):
    store.write_table("events", "things", _table(3), "h", partition="2026-01-02")
    fs = store.filesystem()
    old = f"{store.path('events', 'things', '2026-01-02')}/_manifest.json"
    fs.pipe_file(old, b"{}")
    store.write_table("events", "things", _table(3), "h", partition="2026-01-02")
    assert _files(store, "events", "things", "2026-01-02") == ["part-00000.parquet"]


def test_a_picture_is_published_like_a_table_with_a_manifest_written_last(store):
    import hashlib

    store.write_file("reports", "picture", "old.png", b"old", "h")
    written = store.write_file("reports", "picture", "chart.png", b"\x89PNG new", "h")

    assert (written.uri, written.files, written.bytes) == (store.uri("reports", "picture"), 1, 8)
    assert _files(store, "reports", "picture") == ["chart.png"]  # the old picture is gone, no manifest beside it
    assert store.read_manifest("reports", "picture") == {
        "layer": "reports", "table": "picture", "partition": None, "scenario_hash": "h", "format": "png",
        "rows": None, "files": [{"path": "chart.png", "bytes": 8, "sha256": hashlib.sha256(b"\x89PNG new").hexdigest()}]}


def test_rewriting_the_same_data_gives_identical_bytes(store):
    fs = store.filesystem()
    store.write_table("entities", "things", _table(50), "h")
    first = {name: fs.cat_file(f"{store.path('entities', 'things')}/{name}") for name in _files(store, "entities", "things")}
    store.write_table("entities", "things", _table(50), "h")
    second = {name: fs.cat_file(f"{store.path('entities', 'things')}/{name}") for name in _files(store, "entities", "things")}
    assert first == second


def test_a_table_without_manifest_is_not_ready(store):
    with pytest.raises(TableNotReady, match="has no manifest"):
        store.read_table("entities", "never_written")

    store.write_table("entities", "things", _table(5), "h")
    store.filesystem().rm(store.manifest_path("entities", "things"))  # as if the write died before its end
    with pytest.raises(TableNotReady):
        store.read_table("entities", "things")


def test_a_file_that_differs_from_its_manifest_is_refused(store):
    store.write_table("entities", "things", _table(5), "h")
    store.filesystem().pipe_file(f"{store.path('entities', 'things')}/part-00000.parquet",
                                  store.filesystem().cat_file(f"{store.path('entities', 'things')}/part-00000.parquet")[:-1] + b"x")
    with pytest.raises(TableCorrupt, match="checksum"):
        store.read_table("entities", "things")


def test_hive_partitions_are_discovered_by_pyarrow_datasets(store):
    for day, offset in [("2026-01-01", 0), ("2026-01-02", 10)]:
        store.write_table("events", "things", _table(3, offset), "h", partition=day)

    dataset = ds.dataset(store.path("events", "things"), filesystem=store.filesystem(), format="parquet",
                         partitioning="hive")
    table = dataset.to_table().sort_by("id")
    assert table["id"].to_pylist() == [0, 1, 2, 10, 11, 12]
    assert sorted(set(table["date"].to_pylist())) == ["2026-01-01", "2026-01-02"]


def test_the_local_root_is_resolved_to_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = ObjectStore()  # the default root: data/ in the working directory
    written = store.write_table("entities", "things", _table(2), "h")
    assert written.uri == str(tmp_path / "data" / "entities" / "things")
    assert json.loads((tmp_path / "data" / "_manifests" / "entities" / "things.json").read_text())["rows"] == 2


def test_s3_uri_names_the_bucket_and_never_credentials(s3_url):
    store = ObjectStore(root_url=s3_url)
    written = store.write_table("entities", "things", _table(2), "h")
    assert written.uri == f"{s3_url}/entities/things"
    assert "testing" not in json.dumps(store.read_manifest("entities", "things"))


@pytest.mark.parametrize("fmt", ["parquet", "ndjson", "csv"])
def test_every_format_reads_back_exactly_what_was_written(store, fmt):
    awkward = pa.table({
        "text": pa.array(['quote " and \\ backslash', "line\nbreak\ttab", "", None, "Ünïcödé, comma"]),
        "time": pa.array([1768464000123, 0, None, 1768464000000, -1], pa.timestamp("ms")),
        "number": pa.array([0.1 + 0.2, 1e-7, None, -2.5, 123456789.125]),
        "count": pa.array([1, None, -3, 2**31 - 1, 0], pa.int32()),
        "small": pa.array([0, 1, 2, 3, 7], pa.int8()),
        "flag": pa.array([True, False, None, True, False]),
    })
    files = {"batch-0": awkward.slice(0, 3), "batch-1": awkward.slice(3), "batch-2": awkward.slice(0, 0)}
    first = store.write_files("landing", "t", files, "hash", partition="2026-01-15", fmt=fmt)
    assert (first.files, first.rows) == (3, 5)
    assert store.read_table("landing", "t", partition="2026-01-15").equals(awkward)
    assert store.read_table("landing", "t", partition="2026-01-15", columns=["flag", "text"]).equals(
        awkward.select(["flag", "text"]))
    fs = store.filesystem()
    directory = store.path("landing", "t", "2026-01-15")
    payload = fs.cat_file(f"{directory}/batch-0.{fmt}")
    store.write_files("landing", "t", files, "hash", partition="2026-01-15", fmt=fmt)
    assert fs.cat_file(f"{directory}/batch-0.{fmt}") == payload  # deterministic bytes
    if fmt == "ndjson":
        assert [json.loads(line)["text"] for line in payload.decode().splitlines()] == awkward["text"].to_pylist()[:3]


def test_two_writers_of_one_partition_leave_one_of_them_whole_never_a_mix(store):
    """Writers of different content race on one partition, many times over: every write holds the partition's
    writer lock, so what stays is always one writer's complete files."""
    contents = {name: {f"part-{i:05d}": _table(5, offset=1000 * k + 10 * i) for i in range(20)}
                for k, name in enumerate(["first", "second"])}
    errors = []

    def write(name: str):
        try:
            for _ in range(8):
                store.write_files("events", "raced", contents[name], "h", partition="2026-01-02")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(name,)) for name in contents]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert errors == []
    stored = store.read_table("events", "raced", partition="2026-01-02")  # every checksum holds
    [winner] = [name for name, files in contents.items() if stored.equals(pa.concat_tables(files.values()))]
    assert _files(store, "events", "raced", "2026-01-02") == [f"{s}.parquet" for s in contents[winner]]


def test_transient_s3_errors_are_retried_and_each_attempt_is_logged(s3_url, caplog):
    """A real S3 endpoint that answers the first two PUTs of a file with 503 SlowDown."""
    with S3Proxy(os.environ["AWS_ENDPOINT_URL"],
                 slow_down=lambda method, path: method == "PUT" and "part-00001" in path
                 and len(proxy.answered_slow_down) < 2) as proxy:
        flaky = ObjectStore(root_url=s3_url, endpoint_url=proxy.url)
        with caplog.at_level(logging.WARNING):
            flaky.write_table("events", "things", [_table(3), _table(2, 3)], "h", partition="2026-01-02")

    assert len(proxy.answered_slow_down) == 2
    assert ObjectStore(root_url=s3_url).read_table("events", "things", partition="2026-01-02").equals(_table(5))
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [m.split(": attempt ")[1][:6] for m in retries] == ["1 of 4", "2 of 4"]
    assert "things/date=2026-01-02/part-00001.parquet" in retries[0] and "Please reduce your request rate" in retries[0]


def test_an_s3_store_that_stays_away_fails_clearly_and_leaves_no_manifest(s3_url):
    with S3Proxy(os.environ["AWS_ENDPOINT_URL"],
                 slow_down=lambda method, path: method == "PUT" and "part-00001" in path) as proxy:
        flaky = ObjectStore(root_url=s3_url, endpoint_url=proxy.url)
        with pytest.raises(StorageUnavailable, match=r"S3 PUT .*part-00001.parquet failed 4 times"):
            flaky.write_table("events", "things", [_table(3), _table(2, 3)], "h", partition="2026-01-02")

    assert ObjectStore(root_url=s3_url).read_manifest("events", "things", partition="2026-01-02") is None


def test_a_root_holds_one_scenario_and_another_is_refused_before_anything_changes(store):
    assert store.stored_scenario() is None
    store.check_scenario("b")  # an empty root takes any scenario
    store.write_table("events", "things", _table(3), "a", partition="2026-01-02")
    assert store.stored_scenario() == "a"
    fs = store.filesystem()
    root = store.path("x", "y").rsplit("/", 2)[0]
    before = {path: fs.cat_file(path) for path in fs.find(root) if "/.locks/" not in path}

    for refused in (lambda: store.write_table("events", "things", _table(5), "b", partition="2026-01-02"),
                    lambda: store.write_table("entities", "other", _table(5), "b"),
                    lambda: store.write_file("reports", "picture", "p.png", b"png", "b"),
                    lambda: store.check_scenario("b")):
        with pytest.raises(ScenarioMismatch) as refusal:
            refused()
        message = str(refusal.value)
        assert "holds the tables of scenario a (stored); this run's scenario is b" in message
        assert "FRAUD_PIPELINE_STORAGE_URL=" in message and "rebuild everything with this scenario: delete" in message
    assert {path: fs.cat_file(path) for path in fs.find(root) if "/.locks/" not in path} == before
    store.check_scenario("a")
    store.write_table("events", "things", _table(5), "a", partition="2026-01-02")  # its own scenario writes on
    assert store.read_table("events", "things", partition="2026-01-02").num_rows == 5


def test_of_two_first_writers_of_different_scenarios_one_claims_the_root(store):
    """Both find the root empty; the record is created only if absent, so exactly one of them writes."""
    outcomes, start = {}, threading.Barrier(2)

    def write(name: str):
        start.wait()
        try:
            store.write_table("entities", name, _table(3), name)
            outcomes[name] = "written"
        except ScenarioMismatch:
            outcomes[name] = "refused"

    writers = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    [winner] = [name for name, outcome in outcomes.items() if outcome == "written"]
    assert sorted(outcomes.values()) == ["refused", "written"] and store.stored_scenario() == winner
    assert store.read_manifest("entities", {"a": "b", "b": "a"}[winner]) is None


# The two-phase write: parts put by any process, published together by the holder of the writer lock.

def _batches(offset: int, rows: int, size: int):
    """`rows` rows from `offset` as record batches of `size`, each made only when asked for."""
    for start in range(offset, offset + rows, size):
        yield _table(min(size, offset + rows - start), start).to_batches()[0]


def _put_part_in_a_worker(store: ObjectStore, name: str, offset: int, rows: int) -> PartRecord:
    """What a worker process does: put one part, streamed from batches, and report it."""
    return store.put_part("events", "parted", "2026-01-02", name, _batches(offset, rows, 7))


def test_parts_put_by_several_processes_are_published_in_the_drivers_order(store):
    """Workers (spawned processes, sharing only the store) put three parts, finishing in any order; the driver
    publishes them in its own order, and every reader sees that order."""
    spans = {"part-00000.parquet": (0, 30), "part-00001.parquet": (30, 25), "part-00002.parquet": (55, 40)}
    with store.writing("events", "parted", "2026-01-02", "h") as batch:
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {name: pool.submit(_put_part_in_a_worker, store, name, *span)
                       for name, span in reversed(spans.items())}
            records = {name: future.result() for name, future in futures.items()}
        written = batch.publish([records[name] for name in spans])

    assert (written.rows, written.files, written.published) == (95, 3, True)
    assert [(r.name, r.rows) for r in records.values()] == [(n, spans[n][1]) for n in reversed(spans)]
    manifest = store.read_manifest("events", "parted", "2026-01-02")
    assert [(f["path"], f["rows"], f["bytes"]) for f in manifest["files"]] == [
        (name, records[name].rows, records[name].bytes) for name in spans]
    assert store.read_table("events", "parted", "2026-01-02").equals(_table(95))
    assert [t["id"][0].as_py() for t in store.iter_parts("events", "parted", "2026-01-02")] == [0, 30, 55]
    listed = store.listed_parts("events", "parted", "2026-01-02")
    in_batches = [pa.Table.from_batches(list(part.batches(batch_rows=10))) for part in listed]
    assert pa.concat_tables(in_batches).equals(_table(95))
    fs = store.filesystem()
    for name, record in records.items():  # size and checksum were computed as the bytes went out: they hold
        payload = fs.cat_file(f"{store.path('events', 'parted', '2026-01-02')}/{name}")
        assert (len(payload), hashlib.sha256(payload).hexdigest()) == (record.bytes, record.sha256)
        assert pq.ParquetFile(pa.BufferReader(payload)).metadata.num_row_groups == -(-spans[name][1] // 7)


def test_a_whole_table_put_as_a_part_has_the_bytes_of_a_single_encode(store):
    """write_table's parts are today's bytes: one ParquetWriter call on the whole chunk is pq.write_table."""
    table = _table(1000)
    with store.writing("entities", "things", None, "h") as batch:
        record = batch.put_part("part-00000.parquet", table)
        batch.publish([record])
    payload = store.filesystem().cat_file(f"{store.path('entities', 'things')}/part-00000.parquet")
    assert payload == formats.encode(table, "parquet")
    assert record.schema == formats.schema_text(table.schema)


class Interrupted(RuntimeError):
    pass


def _failing(blocks: int):
    """Batches of incompressible bytes (2 MiB each), then a failure, as a generator of a part's rows would fail."""
    for _ in range(blocks):
        yield pa.table({"blob": pa.array([os.urandom(1 << 20) for _ in range(2)], pa.binary())})
    raise Interrupted("the generator of this part failed")


def test_a_part_writer_failing_mid_stream_leaves_no_object_on_s3(s3_url, monkeypatch):
    """The upload is well under way (parts of it sent) when the rows stop coming: it is aborted, so the bucket holds
    no object at the part's key — the previous one stays — and no unfinished upload."""
    monkeypatch.setattr(parts, "UPLOAD_BLOCK_BYTES", 5 << 20)  # S3's smallest part, so the test sends some
    requests = []
    monkeypatch.setattr(parts, "retrying", lambda what, call: requests.append(what) or call())
    store = ObjectStore(root_url=s3_url)
    before = store.put_part("events", "things", "2026-01-02", "part-00000.parquet", _table(3))
    requests.clear()

    with pytest.raises(Interrupted):
        store.put_part("events", "things", "2026-01-02", "part-00000.parquet", _failing(6))

    assert [r.split(" test-")[0] for r in requests][:3] == [
        "S3 start upload of", "S3 PUT part 1 of", "S3 PUT part 2 of"]  # it was a real multipart upload
    fs = store.filesystem()
    bucket = s3_url.removeprefix("s3://").split("/")[0]
    found = [p.rsplit("/", 1)[-1] for p in fs.find(bucket)]
    assert found == ["part-00000.parquet"]
    assert hashlib.sha256(fs.cat_file(f"{store.path('events', 'things', '2026-01-02')}/part-00000.parquet")
                          ).hexdigest() == before.sha256
    assert fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


def test_a_part_writer_failing_mid_stream_leaves_no_file_locally(tmp_path):
    store = ObjectStore(root_url=str(tmp_path / "data"))
    before = store.put_part("events", "things", "2026-01-02", "part-00000.parquet", _table(3))
    with pytest.raises(Interrupted):
        store.put_part("events", "things", "2026-01-02", "part-00001.parquet", _failing(3))
    with pytest.raises(Interrupted):
        store.put_part("events", "things", "2026-01-02", "part-00000.parquet", _failing(3))

    assert _files(store, "events", "things", "2026-01-02") == ["part-00000.parquet"]
    assert hashlib.sha256((tmp_path / "data/events/things/date=2026-01-02/part-00000.parquet").read_bytes()
                          ).hexdigest() == before.sha256
    assert [p for p in (tmp_path / "data" / ".tmp").rglob("*") if p.is_file()] == []  # no temporary file left


def test_a_write_left_without_publishing_leaves_nothing_that_looks_complete(store):
    store.write_table("events", "things", _table(5), "h", partition="2026-01-02")
    with pytest.raises(Interrupted):
        with store.writing("events", "things", "2026-01-02", "h") as batch:
            batch.put_part("part-00000.parquet", _table(7))
            raise Interrupted("the driver failed before publishing")

    assert store.read_manifest("events", "things", "2026-01-02") is None  # the previous manifest is gone too
    assert store.complete_partitions("events", "things") == {}
    with pytest.raises(TableNotReady):
        store.read_table("events", "things", "2026-01-02")
    with pytest.raises(RuntimeError, match="ended without publish"):
        with store.writing("events", "things", "2026-01-02", "h") as batch:
            batch.put_part("part-00000.parquet", _table(7))
    assert store.read_manifest("events", "things", "2026-01-02") is None
    store.write_table("events", "things", _table(4), "h", partition="2026-01-02")  # the lock was released
    assert store.read_table("events", "things", "2026-01-02").equals(_table(4))


def test_publish_deletes_the_parts_of_a_previous_write_with_more_of_them(store):
    def write(count: int) -> None:
        with store.writing("events", "things", "2026-01-02", "h") as batch:
            batch.publish([batch.put_part(f"part-{i:05d}.parquet", _table(2, 10 * i)) for i in range(count)])

    write(4)
    assert len(_files(store, "events", "things", "2026-01-02")) == 4
    write(2)
    assert _files(store, "events", "things", "2026-01-02") == ["part-00000.parquet", "part-00001.parquet"]
    assert store.read_table("events", "things", "2026-01-02").equals(pa.concat_tables([_table(2), _table(2, 10)]))


def test_a_reader_of_a_day_being_published_gets_table_not_ready(store):
    store.write_table("events", "things", _table(5), "h", partition="2026-01-02")
    reader = ObjectStore(root_url=store.root_url)
    with store.writing("events", "things", "2026-01-02", "h") as batch:
        records = [batch.put_part("part-00000.parquet", _table(3))]
        for read in (reader.read_table, reader.listed_parts, lambda *a: list(reader.iter_parts(*a))):
            with pytest.raises(TableNotReady, match="has no manifest"):
                read("events", "things", "2026-01-02")
        records.append(batch.put_part("part-00001.parquet", _table(3, 3)))
        batch.publish(records)
    assert reader.read_table("events", "things", "2026-01-02").equals(_table(6))


def test_withheld_and_unwritten_parts_publish_no_manifest(store):
    with store.writing("events", "things", "2026-01-02", "h") as batch:
        written = batch.publish([batch.put_part("part-00000.parquet", _table(3))], publish=False)
    assert not written.published and store.read_manifest("events", "things", "2026-01-02") is None
    assert _files(store, "events", "things", "2026-01-02") == ["part-00000.parquet"]  # kept for inspection

    elsewhere = store.put_part("events", "other", "2026-01-02", "part-00001.parquet", _table(3))
    with pytest.raises(PartMissing, match="part-00001.parquet"):
        with store.writing("events", "things", "2026-01-02", "h") as batch:
            batch.publish([batch.put_part("part-00000.parquet", _table(3)), elsewhere])
    assert store.read_manifest("events", "things", "2026-01-02") is None


def test_a_corrupt_part_read_in_batches_is_refused_before_any_row(store):
    store.write_table("entities", "things", [_table(5), _table(5, 5)], "h")
    fs = store.filesystem()
    path = f"{store.path('entities', 'things')}/part-00001.parquet"
    payload = fs.cat_file(path)
    fs.pipe_file(path, payload[:-9] + bytes([payload[-9] ^ 1]) + payload[-8:])  # one bit of the footer
    first, second = store.listed_parts("entities", "things")
    assert pa.Table.from_batches(list(first.batches())).equals(_table(5))
    with pytest.raises(TableCorrupt, match="part-00001.parquet does not match its manifest checksum"):
        next(second.batches())
    with pytest.raises(TableCorrupt):
        list(store.iter_parts("entities", "things"))


def test_a_part_streamed_from_many_batches_holds_about_one_batch_in_arrow_memory(tmp_path):
    """Sixty batches of ~1.8 MB each, made only when the writer asks: Arrow's allocations, sampled as each batch is
    made, stay within a few batches (the one being written, the writer's encoding buffers) and do not grow with the
    batches written — never near the table (~110 MB) a whole-table write would hold."""
    store = ObjectStore(root_url=str(tmp_path / "data"))
    size, count = 60_000, 60
    baseline = pa.total_allocated_bytes()
    samples, one_batch = [], []

    def batches():
        for i in range(count):
            batch = pa.record_batch({"id": pa.array(np.arange(i * size, (i + 1) * size)),
                                     "x": pa.array(np.random.default_rng(i).random(size)),
                                     "name": pa.array([f"row {j}" for j in range(i * size, (i + 1) * size)])})
            one_batch.append(batch.nbytes)
            samples.append(pa.total_allocated_bytes() - baseline)
            yield batch
            del batch

    record = store.put_part("events", "big", None, "part-00000.parquet", batches())

    assert record.rows == size * count
    assert pq.ParquetFile(str(tmp_path / "data/events/big/part-00000.parquet")).metadata.num_row_groups == count
    batch = max(one_batch)
    assert max(samples) < 6 * batch < sum(one_batch) / 8, (max(samples), batch)
    assert max(samples[count // 2:]) - max(samples[5:10]) < batch / 4, samples  # no growth with the rows written
