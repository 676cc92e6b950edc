"""Part files: how one data file of a table is written — by whichever process produced its rows — and read back.

A table (or a day's partition) is a set of part files published together by the holder of its writer lock
(`storage.ObjectStore.writing`). Each part may be written by another process, or another machine sharing only the
object store, so writing one must need nothing but the store, and what it reports back (`PartRecord`) must be
small and picklable (it returns from a Ray task). A part appears whole or not at all, whoever writes it:

- locally, it is written to a temporary file under `<root>/.tmp/`, synced, and renamed into place;
- on S3, it is streamed through s3fs with `autocommit=False` — a multipart upload, completed by `commit()` only
  once every byte is written; on any failure `discard()` aborts the upload, so no object appears. (fsspec's
  `with fs.open(...)` would instead *complete* the upload when an exception escapes, publishing half a file.)
  Each request of the upload goes through `retries`, like every other S3 call, and is logged when retried.

Parquet parts are encoded as they are written: `pq.ParquetWriter` with the project's options
(`formats.PARQUET_OPTIONS`), one row group per table or record batch given, so memory holds one row group (plus,
on S3, one upload block) however large the part. A whole table written in one call gives exactly the bytes of
`formats.encode` (`pq.write_table` is that same writer). The SHA-256 and size are computed from the bytes as they
go out, never by reading the file back.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from fraud_pipeline.io import formats
from fraud_pipeline.io.retries import LOG, retrying

UPLOAD_BLOCK_BYTES = 64 << 20  # S3 multipart upload part: ≥ 5 MiB; 10,000 of them cap an object at 625 GiB
READ_BLOCK_BYTES = 8 << 20  # reading a part to check it: memory holds one such block
BATCH_ROWS = 65_536  # rows per record batch when a part is read in batches
# The words a log line uses for each S3 request of an upload (a failed PUT of a part names its file).
S3_VERBS = {"put_object": "PUT", "upload_part": "PUT", "create_multipart_upload": "start upload of",
            "complete_multipart_upload": "complete upload of"}

PartData = pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch] | bytes


class TableCorrupt(IOError):
    """A file differs from what the manifest recorded."""


class PartMissing(FileNotFoundError):
    """A part handed to `publish` is not in the folder as its writer reported it: the write is not whole."""


@dataclass(frozen=True)
class PartRecord:
    """What the writer of a part reports to the driver that publishes it: small and picklable.

    `schema` is the part's Arrow schema as manifest text (`formats.schema_text`; None for an opaque file): the
    manifest keeps it, because CSV and NDJSON files read back exactly only with it."""

    name: str  # the file name in its folder, with its extension: part-00000.parquet
    rows: int | None  # None: an opaque file (a picture), not a table
    bytes: int
    sha256: str
    schema: str | None = None


class _HashingSink:
    """A binary file-like that passes each write on to `target`, counting and hashing the bytes on the way.

    `tell()` is the count: pyarrow's Parquet writer asks for it to record where each column chunk starts."""

    def __init__(self, target: BinaryIO):
        self.target, self.size, self.digest = target, 0, hashlib.sha256()
        self.closed = False
        self.abandoned = False

    def write(self, data) -> int:
        if self.abandoned:  # a failed part: what a writer still flushes goes nowhere
            return len(data)
        view = memoryview(data)
        self.digest.update(view)
        self.target.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:  # the target is committed, or discarded, by whoever opened it
        self.closed = True


def encode_part(target: BinaryIO, name: str, data: PartData, schema: pa.Schema | None = None) -> PartRecord:
    """Write `data` to `target` as the file `name` (its extension is its format) and describe what was written.

    `data` is a table, a record batch, or an iterable of them (Parquet only: each becomes one row group, written
    and released before the next is asked for — a table larger than pyarrow's 1,048,576-row default becomes
    several), or bytes (an opaque file, written as they are). `schema` is needed only for an iterable that may
    yield nothing (a part with no rows still has columns)."""
    sink = _HashingSink(target)
    fmt = name.rsplit(".", 1)[-1]
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            sink.write(data)
            rows, schema = None, None
        elif fmt == "parquet":
            rows, schema = _parquet(sink, name, data, schema)
        elif isinstance(data, pa.Table):
            sink.write(formats.encode(data, fmt))
            rows, schema = data.num_rows, data.schema
        else:
            raise TypeError(f"{name}: a {fmt} file is encoded whole, so it takes a pa.Table (only Parquet streams "
                            f"row groups), not {type(data).__name__}")
    except BaseException:
        sink.abandoned = True
        raise
    return PartRecord(name=name, rows=rows, bytes=sink.size, sha256=sink.digest.hexdigest(),
                      schema=formats.schema_text(schema) if schema is not None else None)


ROW_GROUP_ROWS = 1_048_576  # pyarrow's default row group: what `pq.write_table` of a whole table gives


def row_groups(tables: Iterable[pa.Table], rows: int = ROW_GROUP_ROWS) -> Iterator[pa.Table]:
    """Consecutive tables (a range's blocks, made one at a time) regrouped into tables of `rows` rows, the last
    shorter, each made once its rows are there: as `put_part` data, the part's bytes are those of the tables
    concatenated and written whole, with at most `rows` rows held besides the table being made. (A row group per
    small block would cost a quarter more bytes and CPU: 5,000 customers a group.)"""
    held: list[pa.Table] = []
    count, given = 0, False
    for table in tables:
        held.append(table)
        count += table.num_rows
        while count >= rows:
            joined = pa.concat_tables(held)
            yield joined.slice(0, rows)
            given = True
            rest = joined.slice(rows)
            held, count = [rest], rest.num_rows
    if count or (held and not given):  # tables without rows: one empty row group, as a whole write has
        yield pa.concat_tables(held)


def _parquet(sink: _HashingSink, name: str, data, schema: pa.Schema | None) -> tuple[int, pa.Schema]:
    pieces = iter([data]) if isinstance(data, (pa.Table, pa.RecordBatch)) else iter(data)
    first = next(pieces, None)
    if first is None and schema is None:
        raise ValueError(f"{name}: no rows and no schema — pass schema= for a part that may be empty")
    schema = first.schema if first is not None else schema
    writer = pq.ParquetWriter(sink, schema, **formats.PARQUET_OPTIONS)
    rows = 0
    try:
        for piece in itertools.chain([first] if first is not None else [], pieces):
            if isinstance(piece, pa.RecordBatch):
                writer.write_batch(piece)
            else:
                writer.write_table(piece)
            rows += piece.num_rows
    except BaseException:
        sink.abandoned = True
        with contextlib.suppress(Exception):
            writer.close()  # its footer goes nowhere; the error that stopped the part is the one to see
        raise
    writer.close()
    return rows, schema


def put_local(path: str, temporary: str, write: Callable[[BinaryIO], PartRecord]) -> PartRecord:
    """`write` into `temporary`, synced, then renamed to `path`: a reader sees the old file or the whole new one.
    On failure the temporary file is removed and `path` is untouched."""
    try:
        with open(temporary, "wb") as handle:
            record = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return record


def put_s3(fs: fsspec.AbstractFileSystem, path: str, write: Callable[[BinaryIO], PartRecord]) -> PartRecord:
    """`write` into the object `path` (bucket/key) as one multipart upload, completed only when `write` returned;
    on failure the upload is aborted, so no object appears (and an older object at `path` stays as it was)."""
    handle = fs.open(path, "wb", block_size=UPLOAD_BLOCK_BYTES, autocommit=False)
    calls = handle._call_s3  # every request of the upload, retried (and logged) like every other S3 call

    def retried(method: str, *args, **kwargs):
        part = f" part {kwargs['PartNumber']} of" if method == "upload_part" else ""
        return retrying(f"S3 {S3_VERBS.get(method, method)}{part} {path}", lambda: calls(method, *args, **kwargs))

    handle._call_s3 = retried
    try:
        record = write(handle)
        handle.close()  # uploads what is buffered; with autocommit=False it does not complete the upload
        handle.commit()
    except BaseException:
        try:
            handle.discard()  # aborts the multipart upload: nothing of this part appears
        except Exception as error:  # noqa: BLE001 - the store may be gone; the failure that stopped us matters
            LOG.warning(f"S3 abort of the upload of {path} failed ({type(error).__name__}: {error}); the incomplete "
                        "upload is invisible to readers and expires by the bucket's lifecycle rule")
        handle.closed = True  # discarded: nothing left to flush when it is collected
        raise
    return record


@contextlib.contextmanager
def checked_copy(fs: fsspec.AbstractFileSystem, path: str, local: bool,
                 call: Callable[[str, Callable], object]) -> Iterator[tuple[pa.NativeFile, str]]:
    """A seekable Arrow file of the bytes of `path`, and their SHA-256 — the bytes hashed being the bytes read.

    Locally the file itself, opened once (a re-write renames a new file into place; this handle keeps the old).
    On S3 a copy spooled to a local temporary file while hashing (one GET, retried from the start by `call` on a
    transient error), so memory holds one block and the disk one part. (An Arrow file, not a Python one: Parquet
    reads it without a Python call per read.)"""
    if local:
        with pa.OSFile(path, "r") as handle:
            digest = hashlib.sha256()
            while block := handle.read(READ_BLOCK_BYTES):
                digest.update(block)
            handle.seek(0)
            yield handle, digest.hexdigest()
            return

    def spool() -> tuple[pa.NativeFile, str]:
        descriptor, spooled = tempfile.mkstemp(prefix="part-", suffix=".copy")
        try:
            digest = hashlib.sha256()
            with os.fdopen(descriptor, "wb") as copy, fs.open(path, "rb", block_size=READ_BLOCK_BYTES) as source:
                while block := source.read(READ_BLOCK_BYTES):
                    digest.update(block)
                    copy.write(block)
            return pa.OSFile(spooled, "r"), digest.hexdigest()
        finally:
            os.remove(spooled)  # the open handle keeps the bytes until it is closed; nothing is left behind

    copy, digest = call(f"GET {path}", spool)
    with copy:
        yield copy, digest


def parquet_batches(handle: pa.NativeFile, columns: list[str] | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """A Parquet file's rows in order, as record batches of at most `batch_rows` (decoded as they are asked for)."""
    yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_rows, columns=columns)


@dataclass(frozen=True)
class ListedPart:
    """A part as its manifest lists it; every read checks its bytes against the manifest's checksum first."""

    store: "ObjectStore"  # storage.ObjectStore (not imported: storage imports this module)
    folder: str  # the table's or partition's location, for messages
    path: str
    name: str  # the file name: part-00000.parquet
    rows: int | None
    sha256: str
    fmt: str
    schema: pa.Schema | None  # the manifest's: CSV and NDJSON need it to read back exactly

    @property
    def uri(self) -> str:
        return f"{self.folder}/{self.name}"

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """The whole part (its bytes in memory while decoding)."""
        return formats.decode(self.payload(), self.fmt, self.schema if self.fmt != "parquet" else None, columns)

    def payload(self) -> bytes:
        """The part's bytes, checked against the manifest's checksum (TableCorrupt if they differ)."""
        fs = self.store.filesystem()
        payload = self.store._call(f"GET {self.path}", fs.cat_file, self.path)
        self._check(hashlib.sha256(payload).hexdigest())
        return payload

    def batches(self, columns: list[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The part's rows in order, in record batches of at most `batch_rows`, decoded as they are asked for
        (Parquet only). The whole file is checked first — locally in place, from S3 through a local temporary
        copy — so a corrupt part raises TableCorrupt before any of its rows is seen."""
        if self.fmt != "parquet":
            raise ValueError(f"{self.uri}: only Parquet parts are read in batches (this one is {self.fmt})")
        store = self.store
        with checked_copy(store.filesystem(), self.path, not store.is_s3, store._call) as (handle, digest):
            self._check(digest)
            yield from parquet_batches(handle, columns, batch_rows)

    def _check(self, digest: str) -> None:
        if digest != self.sha256:
            raise TableCorrupt(f"{self.uri} does not match its manifest checksum")


class Batch:
    """One write of a table or partition, open under its writer lock (`ObjectStore.writing`): its parts are put —
    here (`put_part`), or by workers through `ObjectStore.put_part` — then `publish` lists them in a manifest."""

    def __init__(self, store: "ObjectStore", layer: str, table: str, partition: str | None, scenario_hash: str,
                 fmt: str, still_ours: Callable[[], None]):
        self.store, self.layer, self.table, self.partition = store, layer, table, partition
        self.scenario_hash, self.fmt, self.still_ours = scenario_hash, fmt, still_ours
        self.written: "WrittenTable | None" = None  # storage.WrittenTable, once published

    def put_part(self, name: str, data: PartData, schema: pa.Schema | None = None) -> PartRecord:
        """`ObjectStore.put_part` into this write's folder, from the driver (the lock checked first)."""
        self._open()
        self.still_ours()
        return self.store.put_part(self.layer, self.table, self.partition, name, data, schema)

    def publish(self, records: Sequence[PartRecord], publish: bool = True) -> "WrittenTable":
        """Make `records` the table: delete every other file of the folder, then write the manifest listing them in
        this order (withheld when `publish` is False — a blocking check failed: the files stay for inspection,
        nothing looks complete). Raises PartMissing, publishing nothing, when a part is not in the folder as its
        record says."""
        self._open()
        self.written = self.store._publish(self, list(records), publish)
        return self.written

    def _open(self) -> None:
        if self.written is not None:
            raise RuntimeError(f"the write of {self.written.uri} is already published")
