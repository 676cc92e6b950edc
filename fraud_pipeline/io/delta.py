"""Delta Lake tables (`storage.table_format: delta`): a published write of a curated table is one Delta transaction.

The parts of a write are the same Parquet files, with the same bytes, as in Parquet mode; publishing them
(`storage.ObjectStore`) then also commits them to the table's Delta log (`<root>/<layer>/<table>/_delta_log/`) with
delta-rs: one transaction that adds this write's files and removes the files the partition (a daily table's
`date=…` folder) or the whole table (an entity or report table) had, so a reader of the log sees the old day or the
new one, never half a day or two copies. The files it removes stay where they are, readable by time travel to an
earlier version, until `vacuum` deletes them; so a Delta part's name carries its content hash
(`content_addressed`): a rerun that writes other bytes writes other files, and one that writes the same bytes
(the same scenario, the same release) writes the same files again.

Writers of one partition are serialised by the store's writer lock, held from opening a write to its commit, and
the commits to one table's log by its commit lock (`storage.COMMIT_LOCK`, held for the commit alone): delta-rs
1.6.6's own conflict check let two concurrent overwrites of one partition both commit (both sets of files listed),
and two first writes of different days each create the table (one day lost) — both measured. The log is written
locally by a create-if-absent rename, on S3 by a conditional PUT (If-None-Match, which AWS S3 has supported since
August 2024; delta-rs 1.x needs no DynamoDB lock). A commit is named in the log (`WRITE_KEY`), so the version a write
reports is its own.

Protocol: reader 3, writer 7, with the `timestampNtz` table feature, because the event times are timestamps
without a time zone (South African local time, as the seeds write them). Databricks Runtime 13.3 LTS and later and
Delta Lake 3.0 and later on Apache Spark 3.5 read it; older readers refuse the table rather than misread it.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Sequence

import pyarrow as pa

from fraud_pipeline.core import schemas

TABLE_FORMATS = ("parquet", "delta")
LAYERS = ("entities", "events", "fraud", "reports")  # the curated tables; landing files and the bank's state stay files
PARTITION_COLUMN = "date"  # a daily table's partition column: the day of its `date=YYYY-MM-DD` folder
LOG = "_delta_log"
WRITE_KEY = "fraud_pipeline_write"  # the commit's custom metadata naming the write (its version is looked up by it)
HASH_CHARACTERS = 16  # of the part's SHA-256 in its name: 64 bits, no two parts of one folder alike
RECENT_COMMITS = 8  # the commits read back to find this write's version
_ADDRESSED = re.compile(rf"-[0-9a-f]{{{HASH_CHARACTERS}}}\.parquet$")
_SPECS = {name: spec for name, spec in schemas.TABLES.items() if spec.layer in LAYERS}  # the curated tables


def check_format(table_format: str) -> str:
    """`table_format` when it is one of TABLE_FORMATS; else ValueError naming the field and the allowed values."""
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"storage.table_format must be one of {', '.join(TABLE_FORMATS)} (got {table_format!r})")
    return table_format


def is_delta(table_format: str, layer: str, table: str, fmt: str) -> bool:
    """Whether a write of `layer/table` in file format `fmt` is a Delta table's: in Delta mode, a curated table's
    Parquet (not the landing zone's files, the bank's carried state, or a picture)."""
    return table_format == "delta" and fmt == "parquet" and table in _SPECS and _SPECS[table].layer == layer


def content_addressed(name: str, sha256: str) -> str:
    """A Delta part's file name: `part-00000.parquet` with its content's hash, `part-00000-0123456789abcdef.parquet`
    (the same bytes, the same name; other bytes, another file, so an earlier version's file is never replaced)."""
    stem, extension = name.rsplit(".", 1)
    return f"{stem}-{sha256[:HASH_CHARACTERS]}.{extension}"


def is_kept(name: str) -> bool:
    """Whether a file found in a Delta table's folder is the table's to keep — its log, or a part some version lists
    (content-addressed; `vacuum` deletes those no version within the retention needs) — rather than a killed
    writer's leftover."""
    return name == LOG or bool(_ADDRESSED.search(name))


def storage_options(endpoint_url: str | None, is_s3: bool) -> dict[str, str]:
    """delta-rs's options for the store: on S3 the endpoint (the loopback server's is plain HTTP) and the region
    from the environment; credentials are never passed — delta-rs reads the AWS environment variables itself."""
    if not is_s3:
        return {}
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    options = {"AWS_REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def table_schema(table: str, schema: pa.Schema, partitioned: bool) -> pa.Schema:
    """The Delta table's schema: the parts' columns, each with its data-dictionary description as the column comment
    (what a catalog shows), then the `date` partition column of a daily table (not in the files, as Delta writes
    it: its value is the folder's)."""
    descriptions = {c.name: c.description for c in _SPECS[table].columns}
    fields = [field.with_metadata({"comment": descriptions[field.name]}) if field.name in descriptions else field
              for field in schema]
    if partitioned:
        fields.append(pa.field(PARTITION_COLUMN, pa.date32(), nullable=False,
                               metadata={"comment": "The day of the partition (its date=YYYY-MM-DD folder)."}))
    return pa.schema(fields)


def commit(uri: str, options: dict[str, str], table: str, partition: str | None,
           parts: Sequence[tuple[str, int, int]], schema: pa.Schema) -> int:
    """Make `parts` — (file name in the partition's folder, bytes, rows) — the whole of `partition` (a daily table's
    day) or of the table, in one Delta transaction at `uri`, creating the table with its description and column
    comments on its first write; the version this commit got. The caller holds the writer lock of the partition or
    table and the table's commit lock. Raises what delta-rs raises (nothing is committed then), and RuntimeError if
    the commit is not found in the table's log after it."""
    from deltalake import DeltaTable, Schema
    from deltalake.exceptions import DeltaError, TableNotFoundError
    from deltalake.transaction import AddAction, CommitProperties, create_table_with_add_actions

    described = table_schema(table, schema, partition is not None)
    now = int(time.time() * 1000)
    folder = f"{PARTITION_COLUMN}={partition}/" if partition is not None else ""
    values = {PARTITION_COLUMN: partition} if partition is not None else {}
    actions = [AddAction(f"{folder}{name}", size, values, now, True, json.dumps({"numRecords": rows}))
               for name, size, rows in parts]
    partition_by = [PARTITION_COLUMN] if partition is not None else None
    write = uuid.uuid4().hex  # names this commit in the log: the version it got, whatever other writers committed
    mine = CommitProperties(custom_metadata={WRITE_KEY: write})
    try:
        delta = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        try:
            create_table_with_add_actions(uri, Schema.from_arrow(described), actions, mode="error",
                                          partition_by=partition_by, name=table, description=_SPECS[table].description,
                                          storage_options=options, commit_properties=mine)
            return 0
        except DeltaError:  # another writer (of another partition) created it first: commit as a later version
            delta = DeltaTable(uri, storage_options=options)
    delta.create_write_transaction(actions, mode="overwrite", schema=described, partition_by=partition_by,
                                   partition_filters=[(PARTITION_COLUMN, "=", partition)] if partition else None,
                                   commit_properties=mine)
    delta.update_incremental()
    # not delta.version(): a writer of another day may have committed since (measured: two writes reported one version);
    # commits go one at a time under the table's lock, so this one is among the latest: read a few commit files, not
    # the whole log (a year's daily table has 365, each a GET on S3), unless a writer without the lock got in
    for entries in (delta.history(limit=RECENT_COMMITS), delta.history()):
        for entry in entries:
            if entry.get(WRITE_KEY) == write:
                return entry["version"]
    raise RuntimeError(f"{uri}: the commit of write {write} is not in the table's log")
