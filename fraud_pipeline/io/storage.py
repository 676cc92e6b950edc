"""Object storage: Parquet tables in a Hive layout, on the local disk or S3, written atomically.

Layout: a table's data files, and nothing else, in `<root>/<layer>/<table>/[date=YYYY-MM-DD/]<file>.<format>`
— Parquet `part-NNNNN` files; landing tables one file per micro-batch in the scenario's format; a picture its
one PNG — so every reader that takes a folder (pandas, pyarrow, polars, DuckDB, Spark) reads it as written.
Each folder's manifest lives apart, in a parallel tree: the manifest of `<root>/<path>` is
`<root>/_manifests/<path>.json`, e.g. `_manifests/events/card_transactions/date=2026-01-02.json` and
`_manifests/entities/customers.json`. Writer locks are in `<root>/.locks/`, local temporary files in
`<root>/.tmp/`, and `_manifests/_scenario.json` names the one scenario the root holds.

A write holds the table's or partition's writer lock (`locks`), then (1) removes the manifest, so
the table stops looking complete; (2) puts each data file — a part — atomically (`parts`: a local temp file
renamed into place; an S3 multipart upload completed only when the part is whole); (3) deletes files a previous
write left in the folder that this one did not write; (4) writes the manifest last, listing every part with its
row count and SHA-256 — unless the caller withholds it because a blocking check failed: then the files stay for
inspection, but nothing looks complete, so a manifest always means the data passed its checks. Readers trust only
what a manifest lists, so a write that dies at any point — the store gone, the process killed —
leaves nothing that looks complete, and two writers never mix their files. File names and contents
are deterministic, so a re-write of the same data leaves byte-identical files. Every S3 call is
retried on transient errors (`retries`), each retry logged to the run.

The write is in two phases so the parts can come from many processes, or machines sharing only the store:
the driver opens it (`with store.writing(...) as batch`: lock, scenario, manifest removed), workers put parts
(`store.put_part(...)`, no lock of their own: they act for the driver, whose lease covers them), each returning
a small `PartRecord`, and the driver publishes (`batch.publish(records)`: stale files deleted, manifest written in
the order given). `write_table`, `write_files` and `write_file` are that same write done in one process. Readers
take a table whole (`read_table`), file by file (`read_files`, `iter_parts`), or part by part in batches
(`listed_parts`), always checked against the manifest's checksums.

In Delta mode (`table_format="delta"`, `io.delta`) a curated table's write is the same, and publishing it renames
each part to its content-addressed name and commits the parts to the table's Delta log — one transaction replacing
the partition — before the manifest; files a Delta table's earlier versions list are left to `vacuum`.

One root holds one scenario: the first write records the scenario's content hash in
`_manifests/_scenario.json` (created only if absent, so of two first writers one wins), and a write — or a
`check_scenario` — by another scenario raises `ScenarioMismatch` before anything changes. Tables of two
scenarios side by side would join ids that do not belong together; to switch scenario, use another root or
delete this one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import fsspec
import pyarrow as pa
from fsspec.asyn import sync
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraud_pipeline.io import delta, formats, parts
from fraud_pipeline.io.locks import local_lock, s3_lock
from fraud_pipeline.io.retries import CLIENT_OPTIONS, S3FS_TRIES, retrying
from fraud_pipeline.scenario.storage import Storage

MANIFESTS = "_manifests"  # the parallel tree of manifests: <root>/_manifests/<layer>/<table>[/date=…].json
SCENARIO_RECORD = f"{MANIFESTS}/_scenario.json"  # the one scenario the root holds
LOCKS = ".locks"
TEMPORARY = ".tmp"  # local files being written, renamed into place when whole
# a Delta table's commits, one at a time: delta-rs 1.6.6 let two concurrent first writes of different days each create
# the table (one day lost) and two overwrites of one day both commit (`io.delta`)
COMMIT_LOCK = "_delta_commit"
CHUNK_ROWS = 1_000_000  # rows per Parquet file: each write holds a bounded amount in memory
# A part's record, its reader, a write's handle and their errors live with the parts; importable from here too.
PartRecord, ListedPart, Batch, TableCorrupt, PartMissing = (parts.PartRecord, parts.ListedPart, parts.Batch,
                                                             parts.TableCorrupt, parts.PartMissing)


class TableNotReady(FileNotFoundError):
    """The table or partition has no manifest: never written, or its write did not finish."""


class ScenarioMismatch(RuntimeError):
    """The storage root holds another scenario's tables: reading them would join ids that do not belong together,
    writing beside them would leave a root of two scenarios."""


@dataclass(frozen=True)
class WrittenTable:
    uri: str
    rows: int
    files: int
    bytes: int
    published: bool = True  # False: written without a manifest, because a blocking check failed
    delta_version: int | None = None  # the Delta table's version this write committed (Delta mode's curated tables)


def partition_dir(partition: str) -> str:
    """The Hive directory name of a daily partition key."""
    return f"date={partition}"


class ObjectStore(BaseModel):
    """Where every table goes: a local folder (default `data`) or an `s3://bucket/prefix` URL.

    S3 credentials come from the standard AWS environment variables only; they are never fields
    here, so they never reach run config, logs or metadata. Pure: Dagster hands it to assets through
    `defs.resources.StoreResource`, and everything else constructs it directly.
    """

    model_config = ConfigDict(frozen=True)

    root_url: str = Field(default="data", description="Local folder, or s3://bucket/prefix.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (else AWS_ENDPOINT_URL).")
    table_format: str = Field(default="parquet", description="parquet, or delta: the curated tables are also Delta "
                                                             "tables, each write one transaction (`delta`).")

    @field_validator("table_format")
    @classmethod
    def _known_format(cls, table_format: str) -> str:
        return delta.check_format(table_format)

    @classmethod
    def of(cls, storage: Storage, root_url: str | None = None) -> ObjectStore:
        """The store a scenario's `storage` section describes (`root_url` instead of its url, when given)."""
        return cls(root_url=root_url or storage.url, endpoint_url=storage.endpoint_url,
                   table_format=storage.table_format)

    @property
    def is_s3(self) -> bool:
        return urlsplit(self.root_url).scheme == "s3"

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem of the root: pass it to pyarrow datasets to read what is stored."""
        if self.is_s3:
            # No listing cache: a listing must see what another writer did a moment ago. The
            # endpoint is passed explicitly so fsspec's instance cache is keyed by it.
            endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
            s3 = fsspec.filesystem("s3", use_listings_cache=False, endpoint_url=endpoint, **CLIENT_OPTIONS)
            s3.retries = S3FS_TRIES
            return s3
        return fsspec.filesystem("file")

    def _root(self) -> str:
        if self.is_s3:
            return self.root_url.removeprefix("s3://").rstrip("/")
        return os.path.abspath(self.root_url.removeprefix("file://"))

    def _relative(self, layer: str, table: str, partition: str | None = None) -> str:
        return "/".join([layer, table] + ([partition_dir(partition)] if partition else []))

    def path(self, layer: str, table: str, partition: str | None = None) -> str:
        """The folder of the table (or partition): its data files and nothing else."""
        return f"{self._root()}/{self._relative(layer, table, partition)}"

    def manifest_path(self, layer: str, table: str, partition: str | None = None) -> str:
        """Where the folder's manifest lives: `<root>/_manifests/<layer>/<table>[/date=…].json`."""
        return f"{self._root()}/{MANIFESTS}/{self._relative(layer, table, partition)}.json"

    def uri(self, layer: str, table: str, partition: str | None = None) -> str:
        """A location a person can paste: s3://… on S3, an absolute path locally."""
        return self._uri(self.path(layer, table, partition))

    def _uri(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path

    def write_table(self, layer: str, table: str, data: pa.Table | Iterable[pa.Table], scenario_hash: str,
                    partition: str | None = None, publish: bool = True) -> WrittenTable:
        """Replace the table (or one partition of it) with `data`: one Parquet file per chunk, `part-00000`…"""
        chunks = [data] if isinstance(data, pa.Table) else data
        with self.writing(layer, table, partition, scenario_hash) as batch:
            return batch.publish([batch.put_part(f"part-{i:05d}.parquet", chunk) for i, chunk in enumerate(chunks)],
                                 publish=publish)

    def write_files(self, layer: str, table: str, files: dict[str, pa.Table], scenario_hash: str,
                    partition: str | None = None, fmt: str = "parquet", publish: bool = True) -> WrittenTable:
        """Replace the table (or one partition of it) with the named files, each encoded in `fmt`.

        `publish=False` writes the files but no manifest: the table then reads as unfinished
        (`TableNotReady`), which is what a table that failed a blocking check must look like.
        """
        with self.writing(layer, table, partition, scenario_hash, fmt) as batch:
            return batch.publish([batch.put_part(f"{stem}.{fmt}", chunk) for stem, chunk in files.items()],
                                 publish=publish)

    def write_file(self, layer: str, name: str, filename: str, payload: bytes, scenario_hash: str) -> WrittenTable:
        """One opaque file (a picture, say) as the whole content of `<layer>/<name>/`, published with a manifest like
        a table (its format is the file's extension; no rows, no schema)."""
        with self.writing(layer, name, None, scenario_hash, filename.rsplit(".", 1)[-1]) as batch:
            return batch.publish([batch.put_part(filename, payload)])

    @contextlib.contextmanager
    def writing(self, layer: str, table: str, partition: str | None, scenario_hash: str,
                fmt: str = "parquet", skip_if: Callable[[], bool] | None = None) -> Iterator[Batch | None]:
        """The driver's side of a write: claims the root for the scenario, holds the writer lock for the whole
        block, removes the manifest (so the table stops looking complete), and yields the `Batch` to publish.
        With `skip_if`, asked once the lock is held: when it says True (another writer did the work while this one
        waited), nothing is removed and the block gets None.

        Leaving the block by an exception leaves no manifest — the parts written stay, unlisted — and releases the
        lock; leaving it normally without `publish` is a mistake, reported as one."""
        fs = self.filesystem()
        directory = self.path(layer, table, partition)
        manifest_path = self.manifest_path(layer, table, partition)
        self.claim(scenario_hash)
        with self._writer_lock(layer, table, partition) as still_ours:
            if skip_if is not None and skip_if():
                yield None
                return
            self._call(f"create {directory}", fs.makedirs, directory, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self._call(f"delete {manifest_path}", fs.rm, manifest_path)
            batch = Batch(self, layer, table, partition, scenario_hash, fmt, still_ours)
            yield batch
            if batch.written is None:
                raise RuntimeError(f"the write of {self.uri(layer, table, partition)} ended without publish(): it "
                                   "has no manifest (call publish(parts, publish=False) to withhold it on purpose)")

    def put_part(self, layer: str, table: str, partition: str | None, name: str, data: parts.PartData,
                 schema: pa.Schema | None = None) -> PartRecord:
        """Write one part file, `name` (with its extension), into the folder of the table or partition, whole or
        not at all; its record, for the driver's `publish`. Safe in any process or machine that reaches the store:
        it takes no lock — it acts for the driver holding the write open (`writing`), and until that driver
        publishes, nothing lists it. See `parts.encode_part` for what `data` may be."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"a part is a file name in its folder, not {name!r}")
        path = f"{self.path(layer, table, partition)}/{name}"

        def write(target) -> PartRecord:
            return parts.encode_part(target, name, data, schema)

        if self.is_s3:
            return parts.put_s3(self.filesystem(), path, write)
        return parts.put_local(path, self._temporary(path), write)

    def _publish(self, batch: Batch, records: list[PartRecord], publish: bool) -> WrittenTable:
        """Step (3) and (4) of a write: stale files deleted, the manifest written listing `records` in order."""
        names = [r.name for r in records]
        if len(set(names)) != len(names):
            raise ValueError(f"parts named twice: {sorted({n for n in names if names.count(n) > 1})}")
        fs = self.filesystem()
        layer, table, partition = batch.layer, batch.table, batch.partition
        directory = self.path(layer, table, partition)
        manifest_path = self.manifest_path(layer, table, partition)
        batch.still_ours()
        in_delta = delta.is_delta(self.table_format, layer, table, batch.fmt)
        if in_delta:  # each part under its content's name, so no earlier version's file is ever replaced
            records = [self._content_addressed(fs, directory, r) for r in records]
            names = [r.name for r in records]
        found = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry
                 for entry in self._call(f"list {directory}", fs.ls, directory, detail=True)}
        missing = [r.name for r in records if r.name not in found or found[r.name].get("size") != r.bytes]
        if missing:  # a worker's part lost, or replaced since: publishing would list what is not there
            raise PartMissing(f"{self.uri(layer, table, partition)}: {missing} not in the folder as written; "
                              "nothing was published")
        for name, entry in found.items():
            # a killed writer's files (we hold the lock); a Delta table keeps its log and earlier versions' parts
            if name not in names and not (in_delta and delta.is_kept(name)):
                with contextlib.suppress(FileNotFoundError):
                    self._call(f"delete {entry['name']}", fs.rm, entry["name"], recursive=True)

        entries = [{"path": r.name, **({"rows": r.rows} if r.rows is not None else {}), "bytes": r.bytes,
                    "sha256": r.sha256} for r in records]
        schema = records[-1].schema if records else None
        rows = sum(r.rows for r in records) if schema is not None else None
        manifest = {"layer": layer, "table": table, "partition": partition, "scenario_hash": batch.scenario_hash,
                    "format": batch.fmt, **({"schema": schema} if schema is not None else {}), "rows": rows,
                    "files": entries}
        if publish:
            batch.still_ours()
            if in_delta:  # the Delta log first: the manifest still means the write is whole and checked
                with self._lock_at(layer, table, COMMIT_LOCK):  # one commit to the table's log at a time
                    version = delta.commit(self._uri(self.path(layer, table)), self.delta_options(), table,
                                           partition, [(r.name, r.bytes, r.rows) for r in records],
                                           formats.schema_from_text(schema))
            self._call(f"create {manifest_path.rsplit('/', 1)[0]}", fs.makedirs, manifest_path.rsplit("/", 1)[0],
                       exist_ok=True)
            self._put(fs, manifest_path, json.dumps(manifest, indent=2).encode())
        return WrittenTable(uri=self.uri(layer, table, partition), rows=rows or 0, files=len(entries),
                            bytes=sum(r.bytes for r in records), published=publish,
                            delta_version=version if publish and in_delta else None)

    def delta_options(self) -> dict[str, str]:
        """delta-rs's storage options for this root (`delta.storage_options`; no credentials)."""
        return delta.storage_options(self.endpoint_url, self.is_s3)

    def _content_addressed(self, fs: fsspec.AbstractFileSystem, directory: str, record: PartRecord) -> PartRecord:
        """The part renamed to its content-addressed name (`delta.content_addressed`); its record under that name."""
        name = delta.content_addressed(record.name, record.sha256)
        if self.is_s3:
            self._call(f"rename {directory}/{record.name}", fs.mv, f"{directory}/{record.name}", f"{directory}/{name}")
        else:
            os.replace(f"{directory}/{record.name}", f"{directory}/{name}")
        return dataclasses.replace(record, name=name)

    def stored_scenario(self) -> str | None:
        """The content hash of the scenario this root holds, or None when nothing was written to it yet."""
        record = self._stored_record()
        return record["scenario_hash"] if record is not None else None

    def _stored_record(self) -> dict | None:
        payload = self.read_root_file(SCENARIO_RECORD)
        return json.loads(payload) if payload is not None else None

    def check_scenario(self, scenario_hash: str) -> None:
        """Raise `ScenarioMismatch` when the root holds another scenario than `scenario_hash`'s (a run calls it
        before it reads or writes anything)."""
        stored = self.stored_scenario()
        if stored is not None and stored != scenario_hash:
            raise ScenarioMismatch(self.mismatch(stored, scenario_hash))

    def claim(self, scenario_hash: str) -> None:
        """Make sure the root holds `scenario_hash`'s scenario in this store's table format, recording both when the
        root holds none yet (created only if absent: of two first writers of different scenarios, one wins and the
        other is refused). A Parquet root's record names only the scenario, as before Delta mode existed."""
        record = self._stored_record()
        if record is None:
            mine = {"scenario_hash": scenario_hash} | ({"table_format": "delta"} if self.table_format == "delta"
                                                       else {})
            self._create_once(SCENARIO_RECORD, json.dumps(mine, indent=2).encode())
            record = self._stored_record()
        if record["scenario_hash"] != scenario_hash:
            raise ScenarioMismatch(self.mismatch(record["scenario_hash"], scenario_hash))
        stored_format = record.get("table_format", "parquet")
        if stored_format != self.table_format:
            root = self._uri(self._root())
            raise ScenarioMismatch(f"{root} holds {stored_format} tables; this run writes storage.table_format "
                                   f"{self.table_format}. A storage root holds one table format, so the run stops "
                                   f"before writing anything: give this run another root, or set table_format back "
                                   f"to {stored_format}.")

    def mismatch(self, stored: str, wanted: str) -> str:
        """What a user reads when this root holds scenario `stored` and a run of scenario `wanted` meets it."""
        root = self._uri(self._root())
        delete = f"every object under {root}" if self.is_s3 else f"the folder {root}"
        return (f"{root} holds the tables of scenario {stored} (stored); this run's scenario is {wanted}. A storage "
                f"root holds one scenario, so the run stops before writing anything. Either give this scenario a "
                f"storage root of its own (FRAUD_PIPELINE_STORAGE_URL=data_my_scenario, a folder or "
                f"s3://bucket/prefix; or storage.url in the scenario file), or rebuild everything with this scenario: "
                f"delete {delete}, then materialise again (--select '*' over the partition range).")

    def _create_once(self, relative: str, payload: bytes) -> None:
        """`payload` at `<root>/<relative>`, whole, unless a file is there already (then nothing changes)."""
        path = f"{self._root()}/{relative}"
        if self.is_s3:
            fs = self.filesystem()
            bucket, key = path.split("/", 1)
            with contextlib.suppress(FileExistsError):  # s3fs: a failed If-None-Match
                retrying(f"S3 PUT {path}", lambda: sync(fs.loop, fs._call_s3, "put_object", Bucket=bucket, Key=key,
                                                        Body=payload, IfNoneMatch="*"))
            return
        temporary = self._staged(path, payload)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)  # whole, and only if absent
        finally:
            os.remove(temporary)

    def _writer_lock(self, layer: str, table: str, partition: str | None):
        """One writer per table or partition; the lock lives in `<root>/.locks/`, outside the data."""
        return self._lock_at(layer, table, partition_dir(partition) if partition else "_",
                             self.uri(layer, table, partition))

    def _lock_at(self, layer: str, table: str, name: str, what: str | None = None):
        """The lock `<root>/.locks/<layer>/<table>/<name>.lock` (flock locally, a conditional-PUT lease on S3)."""
        lock = "/".join([self._root(), LOCKS, layer, table, f"{name}.lock"])
        what = what or f"{self.uri(layer, table)} ({name})"
        if self.is_s3:
            return s3_lock(self.filesystem(), lock, what)
        return local_lock(lock, what)

    def _call(self, what: str, function, *args, **kwargs):
        """A store operation; on S3, retried on transient errors (see `retries`)."""
        if not self.is_s3:
            return function(*args, **kwargs)
        return retrying(f"S3 {what}", lambda: function(*args, **kwargs))

    def _temporary(self, path: str) -> str:
        """A local temporary file for `path`, under `<root>/.tmp/` (mirroring the folders), so no data folder ever
        holds anything but its data files — not even while a file is written, or after a writer was killed."""
        relative = os.path.relpath(path, self._root())
        staging = os.path.join(self._root(), TEMPORARY, os.path.dirname(relative))
        os.makedirs(staging, exist_ok=True)
        return os.path.join(staging, f".{os.path.basename(relative)}.{uuid.uuid4().hex}.tmp")

    def _staged(self, path: str, payload: bytes) -> str:
        """`payload` written and synced to a temporary file for `path` (`_temporary`); its path."""
        temporary = self._temporary(path)
        try:
            with open(temporary, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            os.remove(temporary)
            raise
        return temporary

    def _put(self, fs: fsspec.AbstractFileSystem, path: str, payload: bytes) -> None:
        """A reader sees the old file or the new one, never a partial one."""
        if self.is_s3:
            self._call(f"PUT {path}", fs.pipe_file, path, payload)  # one PUT: the object appears whole or not at all
            return
        temporary = self._staged(path, payload)
        try:
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def put_file(self, layer: str, name: str, filename: str, payload: bytes) -> str:
        """One opaque file at `<layer>/<name>/<filename>`, written atomically, without a manifest (the live feed's
        files); its location."""
        fs = self.filesystem()
        directory = self.path(layer, name)
        self._call(f"create {directory}", fs.makedirs, directory, exist_ok=True)
        self._put(fs, f"{directory}/{filename}", payload)
        return f"{self.uri(layer, name)}/{filename}"

    def read_manifest(self, layer: str, table: str, partition: str | None = None) -> dict | None:
        fs = self.filesystem()
        path = self.manifest_path(layer, table, partition)
        try:
            return json.loads(self._call(f"GET {path}", fs.cat_file, path))
        except FileNotFoundError:
            return None

    def complete_partitions(self, layer: str, table: str) -> dict[str, dict]:
        """Each partition of the table that has a manifest (a complete write), by key, with its manifest."""
        fs = self.filesystem()
        folder = f"{self._root()}/{MANIFESTS}/{self._relative(layer, table)}"
        try:
            found = self._call(f"LIST {folder}", fs.ls, folder, detail=False)
        except FileNotFoundError:
            return {}
        names = (path.rstrip("/").rsplit("/", 1)[-1] for path in found)
        keys = sorted(name.removeprefix("date=").removesuffix(".json") for name in names
                      if name.startswith("date=") and name.endswith(".json"))
        manifests = {key: self.read_manifest(layer, table, key) for key in keys}
        return {key: manifest for key, manifest in manifests.items() if manifest is not None}

    def put_root_file(self, filename: str, payload: bytes) -> str:
        """One file at a path under the storage root (the dataset card; `a/b.json`), written atomically; its
        location."""
        fs = self.filesystem()
        path = f"{self._root()}/{filename}"
        self._call(f"create {path.rsplit('/', 1)[0]}", fs.makedirs, path.rsplit("/", 1)[0], exist_ok=True)
        self._put(fs, path, payload)
        return self._uri(path)

    def read_root_file(self, filename: str) -> bytes | None:
        """A file at the storage root, or None when there is none."""
        fs = self.filesystem()
        path = f"{self._root()}/{filename}"
        try:
            return self._call(f"GET {path}", fs.cat_file, path)
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> None:
        """A file or folder at the storage root and everything under it (nothing when absent)."""
        fs = self.filesystem()
        path = f"{self._root()}/{name}"
        if self._call(f"HEAD {path}", fs.exists, path):
            self._call(f"delete {path}", fs.rm, path, recursive=True)

    def read_table(self, layer: str, table: str, partition: str | None = None,
                   columns: list[str] | None = None) -> pa.Table:
        """The complete table or partition, each file checked against its manifest checksum."""
        return pa.concat_tables(list(self.read_files(layer, table, partition, columns).values()))

    def read_files(self, layer: str, table: str, partition: str | None = None,
                   columns: list[str] | None = None) -> dict[str, pa.Table]:
        """Each file of the table or partition by its name without extension, checked against its manifest
        checksum (files of one write may hold different tables: a day's carried state, say)."""
        return {part.name.rsplit(".", 1)[0]: part.read(columns)
                for part in self.listed_parts(layer, table, partition)}

    def iter_parts(self, layer: str, table: str, partition: str | None = None,
                   columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The parts the manifest lists, in its order, one table at a time (each checked against its checksum):
        memory holds one part. Raises TableNotReady before yielding anything when there is no manifest."""
        listed = self.listed_parts(layer, table, partition)
        return (part.read(columns) for part in listed)

    def listed_parts(self, layer: str, table: str, partition: str | None = None) -> list[ListedPart]:
        """The parts the manifest lists, in its order, to read whole or in batches. Raises TableNotReady when the
        table or partition has no manifest."""
        manifest = self.read_manifest(layer, table, partition)
        if manifest is None:
            raise TableNotReady(f"{self.uri(layer, table, partition)} has no manifest "
                                f"({self._uri(self.manifest_path(layer, table, partition))}): it was never written, "
                                "or its last write did not finish")
        schema = formats.schema_from_text(manifest["schema"]) if "schema" in manifest else None
        directory = self.path(layer, table, partition)
        return [ListedPart(self, self.uri(layer, table, partition), f"{directory}/{entry['path']}", entry["path"],
                           entry.get("rows"), entry["sha256"], manifest["format"], schema)
                for entry in manifest["files"]]


def in_chunks(table: pa.Table, rows: int = CHUNK_ROWS) -> list[pa.Table]:
    """The table as consecutive slices of at most `rows` rows (one file each); an empty table stays one file."""
    return [table.slice(offset, rows) for offset in range(0, max(table.num_rows, 1), rows)]
