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

from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms, days_from
from fraud_pipeline.io import formats
from fraud_pipeline.io.storage import ObjectStore, TableNotReady, partition_dir
from fraud_pipeline.scenario import ScenarioError, load_scenario

LABELS = ("is_fraud", "fraud_scenario", "fraud_episode_id", "label_available_at")
STREAMS = ("transactions", "customer_events", "labels")
KEYS = {"transactions": "transaction_id", "customer_events": "event_id", "labels": "transaction_id"}
TABLES = (("events", "card_transactions"), ("fraud", "fraud_transactions"), ("events", "customer_events"))
HORIZON_MS = MS_PER_DAY  # longer than any row's delivery lag (clickstream.max_lag_ms of any valid scenario)
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
    """One stored day (the rows that arrived on it) as the feed's three streams, unsorted. The clickstream loses
    its delivery columns: a session's events arrive together when it closes, so replayed as they happen they would
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


def windows(store: ObjectStore, first: date, last: date, window_ms: int) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    """(window start in epoch ms, each stream's rows in it, in event-time order) for every window of `window_ms`
    that holds a row, in order, over the rows that arrived on `first` … `last`.

    Windows are aligned to multiples of `window_ms` since the epoch, so their names never depend on where a feed
    starts. A row arrives at most `HORIZON_MS` after it happens (the daily checks hold every table to less), so
    once the days up to D are read, every window ending a horizon before D's end is complete: the feed holds
    about two days in memory, however long the range.
    """
    pending: dict[str, pa.Table] | None = None
    for day in days_from(first, last):
        found = day_streams(store, day)
        pending = found if pending is None else {name: pa.concat_tables([pending[name], found[name]])
                                                 for name in STREAMS}
        pending = {name: table.sort_by([("event_time", "ascending"), (KEYS[name], "ascending")])
                   for name, table in pending.items()}
        complete = (day_start_ms(day + timedelta(days=1)) - HORIZON_MS) // window_ms if day < last else None
        times = {name: pc.cast(t["event_time"], pa.int64()).to_numpy(zero_copy_only=False)
                 for name, t in pending.items()}
        every = np.unique(np.concatenate([t // window_ms for t in times.values()]))
        for index in every[every < complete] if complete is not None else every:
            start, end = index * window_ms, (index + 1) * window_ms
            yield int(start), {name: pending[name].slice(int(np.searchsorted(t, start)), int(
                np.searchsorted(t, end) - np.searchsorted(t, start))) for name, t in times.items()}
        if complete is not None:
            pending = {name: t.slice(int(np.searchsorted(times[name], complete * window_ms)))
                       for name, t in pending.items()}


def file_name(start_ms: int, fmt: str) -> tuple[str, str]:
    """The partition folder and file name of the window starting at `start_ms`: both sort in time order."""
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=start_ms)
    return partition_dir(moment.date().isoformat()), f"{moment:%Y%m%dT%H%M%S}.{fmt}"


class Feed:
    """Replays stored days into `out` window by window; `clock` and `sleep` are injectable for tests."""

    def __init__(self, out: ObjectStore, settings: Settings, speed: float | None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 report_every_s: float = 5.0):
        self.out, self.settings, self.speed = out, settings, speed
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
        for start, rows in windows(source, self.settings.first, self.settings.last, window_ms):
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
    store = ObjectStore(root_url=source, endpoint_url=scenario.storage.endpoint_url)
    out = ObjectStore(root_url=args.out, endpoint_url=scenario.storage.endpoint_url)
    settings = Settings(args.first, args.last, args.window, args.format, source)
    feed = Feed(out, settings, args.speed)
    if not store.complete_partitions("events", "card_transactions"):
        print(f"{store.root_url} holds no stored days (no complete events/card_transactions): is --source (or the "
              f"scenario's storage.url) the folder the days were materialised into?", file=sys.stderr)
        return 2
    try:
        stored_rows(store, args.first, args.last)
        if args.restart:
            _forget(out)
        state = feed.run(store)
    except (TableNotReady, ValueError) as error:
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
