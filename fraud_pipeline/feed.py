"""A live feed for streaming consumers: stored days replayed in event-time order as small files, paced.

    python -m fraud_pipeline.feed --from 2026-01-15 --to 2026-01-16 --speed 3600 --out live/
    python -m fraud_pipeline.feed --from 2026-01-15 --to 2026-01-15 --speed max --out s3://bucket/live

Seeds 000 (a producer writing small NDJSON batches to cloud storage every few seconds), 002 (a
clickstream producer) and 003 (every transaction produced to a topic, its label removed first). The
feed reads the stored partitions of the days asked for (the labelled stream and the clickstream),
cuts them into windows of `--window` seconds of event time, and writes one file per window and
stream, at the moment the window ends on the feed's clock (event time ÷ `--speed`, or at once with
`--speed max`):

    <out>/transactions/date=YYYY-MM-DD/YYYYMMDDTHHMMSS.ndjson     the card authorisation stream, no labels
    <out>/customer_events/date=…/….ndjson                         the clickstream, no labels
    <out>/labels/date=…/….ndjson                                  transaction_id and its labels: for scoring
    <out>/_schemas/<stream>.json                                  each stream's column types
    <out>/_feed_checkpoint.json                                   where the feed is

A stream's folder holds only its data files, so a reader given the folder (polars, pyarrow) reads them all.

Each day's tables may be many parts (fixed ranges of the bank's customers, each in the order the bank posts its
rows: by arrival time). The feed never loads a day: it merges the parts of a day by arrival time, a record batch
of each at a time (`io.merge`), and writes a window once no row still to come can fall in it — a row arrives at
most the delivery horizon after it happens — so it holds about a horizon of rows, however many parts a day has.

Names sort in time order (a streaming file source, Auto Loader or a DuckDB glob picks them up in
order); each file appears whole (a local temporary file renamed into place, a single PUT on S3);
an empty window writes no file. The checkpoint is written after each window's files: a feed stopped
anywhere — Ctrl-C, a kill — resumes from the first window it had not finished when run again with the
same arguments, rewriting that window's files with the same bytes, so a consumer sees no gap and no
duplicate.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.columns import sorted_unique
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms, days_from
from fraud_pipeline.io import formats, merge
from fraud_pipeline.io.parts import BATCH_ROWS
from fraud_pipeline.io.storage import ObjectStore, TableNotReady, partition_dir
from fraud_pipeline.life import clickstream
from fraud_pipeline.scenario import Scenario, ScenarioError, load_scenario

LABELS = ("is_fraud", "fraud_scenario", "fraud_episode_id", "label_available_at")
STREAMS = ("transactions", "customer_events", "labels")
KEYS = {"transactions": "transaction_id", "customer_events": "event_id", "labels": "transaction_id"}
TABLES = (("events", "card_transactions"), ("fraud", "fraud_transactions"), ("events", "customer_events"))
HORIZON_MS = MS_PER_DAY  # longer than any row's delivery lag (clickstream.max_lag_ms of any valid scenario)
BUCKET_MS = 3_600_000  # rows wait for their window in buckets of about this much event time
DELIVERY = ("arrival_time", "batch")
SCHEMAS = "_schemas"  # <out>/_schemas/<stream>.json, outside the stream folders: those hold only data files
DUCKDB_TYPES = {"string": "VARCHAR", "bool": "BOOLEAN", "int8": "TINYINT", "int32": "INTEGER", "int64": "BIGINT",
                "double": "DOUBLE", "timestamp[ms]": "TIMESTAMP", "date32[day]": "DATE"}
CHECKPOINT = "_feed_checkpoint.json"
FORMATS = ("ndjson", "parquet")


@dataclass(frozen=True)
class Settings:
    """What fixes the feed's files: a checkpoint resumes only a feed with the same settings."""

    first: date
    last: date
    window_seconds: int
    fmt: str
    source: str

    def as_json(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "window_seconds": self.window_seconds,
                "format": self.fmt, "source": self.source}


def stored_rows(store: ObjectStore, first: date, last: date) -> int:
    """The rows the feed will write (events and labels), from the manifests. Raises TableNotReady naming the first
    partition that is not stored, before anything is written."""
    rows = 0
    for day in days_from(first, last):
        for layer, name in TABLES:
            manifest = store.read_manifest(layer, name, partition=day.isoformat())
            if manifest is None:
                raise TableNotReady(f"{layer}/{name} of {day} is not stored in {store.root_url}: materialise the "
                                    f"days first (dagster asset materialize -m fraud_pipeline.definitions --select "
                                    f"'{','.join(name for _, name in TABLES)}' --partition-range "
                                    f"{first}...{last}, with storage.url at {store.root_url})")
            rows += manifest["rows"] * (2 if name != "customer_events" else 1)  # transactions and their labels
    return rows


def day_streams(store: ObjectStore, day: date) -> dict[str, pa.Table]:
    """One stored day (the rows that arrived on it), read whole, as the feed's three streams, unsorted — what the
    feed writes, for checking it (the feed merges a day's parts instead: `windows`). The clickstream loses its
    delivery columns: a session's events arrive together when it closes, so replayed as they happen they would
    tell a consumer at the landing page when (and so whether) the session ends."""
    tables = {name: store.read_table(layer, name, partition=day.isoformat()) for layer, name in TABLES}
    stream = pa.concat_tables([tables["card_transactions"], tables["fraud_transactions"]])
    return {"transactions": stream.drop_columns(list(LABELS)),
            "customer_events": tables["customer_events"].drop_columns([*LABELS[:3], *DELIVERY]),
            "labels": stream.select(["transaction_id", "event_time", *LABELS])}


def schema_file(schema: pa.Schema, fmt: str) -> bytes:
    """A stream's `_schemas/<stream>.json`: each column's Arrow type, and the DuckDB types to read NDJSON with (a file whose
    column is all null says nothing of its type, so readers that infer types per file disagree)."""
    return json.dumps({"format": fmt, "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                                                  for f in schema],
                       "duckdb_columns": {f.name: DUCKDB_TYPES[str(f.type)] for f in schema}}, indent=2).encode()


def schema_path(stream: str) -> str:
    """Where a stream's schema file is, below the feed's root."""
    return f"{SCHEMAS}/{stream}.json"


def windows(store: ObjectStore, first: date, last: date, window_ms: int, horizon_ms: int = HORIZON_MS,
            batch_rows: int = BATCH_ROWS) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    """(window start in epoch ms, each stream's rows in it, in event-time order) for every window of `window_ms`
    that holds a row, in order, over the rows that arrived on `first` … `last`.

    Windows are aligned to multiples of `window_ms` since the epoch, so their names never depend on where a feed
    starts. The parts of each day are merged by arrival time (`arrivals`); a row arrives at most `horizon_ms` after
    it happens (the daily checks hold every table to less), so once every row that arrived before T is read, every
    window ending by T - horizon is complete and is written. Memory holds the rows of about a horizon of event time
    plus a batch of each part, however many parts a day has; a row later than the horizon stops the feed
    (`LateRow`) rather than land in a window already written.
    """
    pending = _Pending(window_ms, horizon_ms, stream_schemas(store, first))
    for day in days_from(first, last):
        for name, rows, frontier in arrivals(store, day, batch_rows):
            if rows is not None:
                pending.add(name, rows)
            if math.isfinite(frontier):
                yield from pending.ready(frontier - horizon_ms)
        yield from pending.ready(day_start_ms(day + timedelta(days=1)) - horizon_ms if day < last else None)


SOURCES = {"transactions": ("card_transactions", "fraud_transactions"), "customer_events": ("customer_events",)}


def arrivals(store: ObjectStore, day: date,
             batch_rows: int = BATCH_ROWS) -> Iterator[tuple[str, pa.Table | None, float]]:
    """The rows that arrived on `day` as (source, rows, frontier) steps: `source` is "transactions" (the labelled
    stream: card and fraud transactions) or "customer_events"; each source's rows come in arrival order, merged
    from every part of its tables (card parts before fraud parts on ties, as the feed always concatenated them);
    every row of the day that arrived before `frontier` has been given (-inf: not known yet; inf: all of them).

    Each part must be in arrival order (the order the bank posts its rows); one that is not raises
    `merge.Unsorted` naming it."""
    merges = {}
    for source, tables in SOURCES.items():
        listed = [part for table in tables for part in store.listed_parts(_layer(table), table, day.isoformat())]
        merges[source] = merge.merged([(part.uri, part.batches(batch_rows=batch_rows)) for part in listed],
                                      "arrival_time")
    frontiers = dict.fromkeys(merges, -math.inf)
    while merges:
        source = min(merges, key=frontiers.__getitem__)  # the source that is behind reads on
        step = next(merges[source], None)
        if step is None:
            del merges[source]
            frontiers[source] = math.inf
            continue
        rows, frontier = step
        frontiers[source] = math.inf if frontier is None else frontier
        yield source, rows, min(frontiers.values())


def _layer(table: str) -> str:
    return next(layer for layer, name in TABLES if name == table)


def stream_schemas(store: ObjectStore, day: date) -> dict[str, pa.Schema]:
    """Each source's columns, from the manifests of `day` (what a source has in a window without its rows)."""
    found = {}
    for source, tables in SOURCES.items():
        listed = store.listed_parts(_layer(tables[0]), tables[0], day.isoformat())
        if not listed or listed[0].schema is None:
            raise ValueError(f"{store.uri(_layer(tables[0]), tables[0], day.isoformat())} lists no part with columns")
        found[source] = listed[0].schema
    return found


class LateRow(ValueError):
    """A row arrived later after it happened than the feed's horizon: its window was already written."""


class _Pending:
    """Rows read but not yet written, by source, in buckets of event time (`BUCKET_MS`, a whole number of windows),
    so a row is sorted once, when its bucket is complete."""

    def __init__(self, window_ms: int, horizon_ms: int, schemas: dict[str, pa.Schema]):
        self.window_ms, self.horizon_ms, self.schemas = window_ms, horizon_ms, dict(schemas)
        self.bucket_ms = window_ms * max(1, BUCKET_MS // window_ms)
        self.buckets: dict[str, dict[int, list[pa.Table]]] = {source: {} for source in SOURCES}
        self.written_until: int | None = None  # every window before this event time was given out

    def add(self, source: str, rows: pa.Table) -> None:
        times = _ms(rows["event_time"])
        if self.written_until is not None and times.min() < self.written_until:
            at = int(np.argmin(times))
            raise LateRow(f"a row of {source} that happened at {_when(int(times[at]))} arrived at "
                          f"{_when(int(_ms(rows['arrival_time'])[at]))}, more than the feed's horizon of "
                          f"{self.horizon_ms / 3.6e6:g} h later: its window was already written. Every row must "
                          "arrive within the horizon")
        self.schemas[source] = rows.schema
        bucket = times // self.bucket_ms
        order = np.argsort(bucket, kind="stable")
        bucket = bucket[order]
        if order.size and (order[1:] < order[:-1]).any():
            rows = rows.take(pa.array(order))
        bounds = [0, *(np.flatnonzero(np.diff(bucket)) + 1), len(bucket)]
        for start, end in zip(bounds[:-1], bounds[1:]):
            self.buckets[source].setdefault(int(bucket[start]), []).append(rows.slice(start, end - start))

    def ready(self, until_ms: float | None) -> Iterator[tuple[int, dict[str, pa.Table]]]:
        """Every window of the buckets that end by `until_ms` (all of them when None), in order."""
        for bucket in sorted(set().union(*self.buckets.values())):
            end = (bucket + 1) * self.bucket_ms
            if until_ms is not None and end > until_ms:
                return
            found = {source: self.buckets[source].pop(bucket, []) for source in SOURCES}
            self.written_until = end
            yield from _windows_of({source: pa.concat_tables(tables) if tables else self.schemas[source].empty_table()
                                    for source, tables in found.items()}, self.window_ms)


def _windows_of(found: dict[str, pa.Table], window_ms: int) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    """The windows of some rows of each source (every row of the windows they touch), as the feed's streams."""
    labelled = found["transactions"].sort_by([("event_time", "ascending"), (KEYS["transactions"], "ascending")])
    events = found["customer_events"].sort_by([("event_time", "ascending"), (KEYS["customer_events"], "ascending")])
    streams = {"transactions": labelled.drop_columns(list(LABELS)),
               "customer_events": events.drop_columns([*LABELS[:3], *DELIVERY]),
               "labels": labelled.select(["transaction_id", "event_time", *LABELS])}
    times = {name: _ms(t["event_time"]) for name, t in streams.items()}
    every = sorted_unique(np.concatenate([t // window_ms for t in times.values()]))
    for index in every:
        start, end = index * window_ms, (index + 1) * window_ms
        yield int(start), {name: streams[name].slice(int(np.searchsorted(t, start)), int(
            np.searchsorted(t, end) - np.searchsorted(t, start))) for name, t in times.items()}


def _ms(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False)


def file_name(start_ms: int, fmt: str) -> tuple[str, str]:
    """The partition folder and file name of the window starting at `start_ms`: both sort in time order."""
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=start_ms)
    return partition_dir(moment.date().isoformat()), f"{moment:%Y%m%dT%H%M%S}.{fmt}"


class Feed:
    """Replays stored days into `out` window by window; `clock` and `sleep` are injectable for tests. `horizon_ms`
    bounds how long a row may take to arrive (`windows`): it fixes memory, never the files written."""

    def __init__(self, out: ObjectStore, settings: Settings, speed: float | None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 report_every_s: float = 5.0, horizon_ms: int = HORIZON_MS):
        self.out, self.settings, self.speed, self.horizon_ms = out, settings, speed, horizon_ms
        self.clock, self.sleep, self.report, self.report_every_s = clock, sleep, report, report_every_s
        self.state: dict | None = None  # the last checkpoint written (or found) by `run`

    def checkpoint(self) -> dict | None:
        found = self.out.read_root_file(CHECKPOINT)
        return json.loads(found) if found is not None else None

    def run(self, source: ObjectStore) -> dict:
        """Write every window of the days stored in `source` not yet written; returns the final checkpoint. Raises
        ValueError when `out` holds a feed with other settings, TableNotReady (before writing anything) when a day
        is not stored."""
        found = self.checkpoint()
        if found is not None and found["settings"] != self.settings.as_json():
            differ = [f"{key} {found['settings'].get(key)} there, {value} here"
                      for key, value in self.settings.as_json().items() if found["settings"].get(key) != value]
            raise ValueError(f"{self.out.root_url} holds a feed with other settings ({'; '.join(differ)}): use "
                             f"another --out, or --restart to replace it")
        total = stored_rows(source, self.settings.first, self.settings.last)
        done_until = found["next_window_ms"] if found else None
        window_ms = self.settings.window_seconds * 1000
        written = found["rows"] if found else 0
        files = found["files"] if found else 0
        origin, started, last_report = None, self.clock(), -math.inf
        state = self.state = found or {"settings": self.settings.as_json(), "next_window_ms": None, "rows": 0,
                                       "files": 0}
        for start, rows in windows(source, self.settings.first, self.settings.last, window_ms, self.horizon_ms):
            if done_until is not None and start < done_until:
                continue
            if origin is None:
                origin = start
                for name in STREAMS:
                    self.out.put_root_file(schema_path(name), schema_file(rows[name].schema, self.settings.fmt))
                if found:
                    self.report(f"resuming at {_when(start)} ({written:,} rows in {files:,} files already written)")
            end = start + window_ms
            if self.speed is not None:
                due = started + (end - origin) / 1000 / self.speed
                wait = due - self.clock()
                if wait > 0:
                    self.sleep(wait)
            for name in STREAMS:
                if rows[name].num_rows:
                    folder, filename = file_name(start, self.settings.fmt)
                    self.out.put_file(name, folder, filename, formats.encode(rows[name], self.settings.fmt))
                    files += 1
                    written += rows[name].num_rows
            state = {**state, "next_window_ms": end, "next_window": _when(end), "rows": written, "files": files}
            self.out.put_root_file(CHECKPOINT, json.dumps(state, indent=2).encode())
            self.state = state
            if self.clock() - last_report >= self.report_every_s or written == total:
                last_report = self.clock()
                self.report(f"{_when(end)}: {written:,} of {total:,} rows (events and labels) in {files:,} files "
                            f"({written / max(total, 1):.0%}), {self.clock() - started:,.1f} s")
        return state


def delivery_horizon_ms(scenario: Scenario) -> int:
    """How long after it happens a row of `scenario` arrives at the latest: a clickstream session's wait (its longest
    session, the timeout and the purchase's own delivery) bounds every transaction's too. The daily checks do not
    publish a day holding a later row."""
    return max(clickstream.max_lag_ms(scenario), round(scenario.card_transactions.arrival_lag_seconds.max * 1000))


def _when(ms: int) -> str:
    return f"{datetime(1970, 1, 1) + timedelta(milliseconds=ms):%Y-%m-%d %H:%M:%S}"


def parse_speed(text: str) -> float | None:
    """`max` (no waiting) or a positive number of event seconds per wall second (1: real time, 60, 3600)."""
    if text.lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"--speed must be max or a positive number (got {text!r})")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraud_pipeline.feed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="first", type=_day, required=True, help="first stored day to replay")
    parser.add_argument("--to", dest="last", type=_day, required=True, help="last stored day to replay (inclusive)")
    parser.add_argument("--out", required=True, help="a local folder or s3://bucket/prefix")
    parser.add_argument("--speed", type=parse_speed, default=60.0,
                        help="event seconds per wall second: 1 is real time, 3600 an hour a second, max no waiting "
                             "(default 60)")
    parser.add_argument("--window", type=int, default=60, help="seconds of event time per file (default 60)")
    parser.add_argument("--format", choices=FORMATS, default="ndjson", help="file format (default ndjson)")
    parser.add_argument("--source", default=None,
                        help="where the days are stored (default: the scenario's storage.url)")
    parser.add_argument("--restart", action="store_true", help="replace a feed with other settings in --out")
    args = parser.parse_args(argv)
    if args.last < args.first:
        parser.error(f"--to {args.last} is before --from {args.first}")
    if args.window < 1:
        parser.error(f"--window must be at least 1 second (got {args.window})")
    try:
        scenario = load_scenario()
    except ScenarioError as error:
        print(error, file=sys.stderr)
        return 2
    if args.first < scenario.start_date or (scenario.end_date and args.last > scenario.end_date):
        print(f"--from {args.first} --to {args.last}: the scenario's calendar runs from {scenario.start_date}"
              + (f" to {scenario.end_date}" if scenario.end_date else ""), file=sys.stderr)
        return 2
    source = args.source or scenario.storage.url
    store = ObjectStore.of(scenario.storage, source)
    out = ObjectStore(root_url=args.out, endpoint_url=scenario.storage.endpoint_url)
    settings = Settings(args.first, args.last, args.window, args.format, source)
    # The scenario's own delivery bound when the days are that scenario's (it holds less in memory than the bound of
    # any scenario); a root of another scenario gets the bound of every scenario.
    horizon = delivery_horizon_ms(scenario) if store.stored_scenario() == scenario.content_hash else HORIZON_MS
    feed = Feed(out, settings, args.speed, horizon_ms=horizon)
    if not store.complete_partitions("events", "card_transactions"):
        print(f"{store.root_url} holds no stored days (no complete events/card_transactions): is --source (or the "
              f"scenario's storage.url) the folder the days were materialised into?", file=sys.stderr)
        return 2
    try:
        stored_rows(store, args.first, args.last)
        if args.restart:
            _forget(out)
        state = feed.run(store)
    except (TableNotReady, ValueError) as error:  # also a part out of order (merge.Unsorted), a LateRow
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this message short
        where = (feed.state or {}).get("next_window") or "the start"
        print(f"stopped; every window before {where} is written. Run the same command again to resume.",
              file=sys.stderr)
        return 130
    print(f"done: {state['rows']:,} rows (events and labels) in {state['files']:,} files under {args.out}",
          file=sys.stderr)
    return 0


def _forget(out: ObjectStore) -> None:
    """Remove a previous feed's checkpoint and files (only the feed's own folders)."""
    for name in (CHECKPOINT, SCHEMAS, *STREAMS):
        out.remove(name)


if __name__ == "__main__":
    sys.exit(main())
