"""A k-way merge of sorted sources — the parts of a day — with memory bounded by about a batch per source.

A day's table may be many parts, each a fixed range of the bank's customers, each in the order the bank posts
its rows. A reader that wants the day in that order (the live feed) merges them instead of loading the day:
every source is read a record batch at a time, and rows are given out as soon as no source can still hold an
earlier one.

The assumption, checked as rows are read: each source is sorted by the key (non-decreasing, no nulls). A source
that is not raises `Unsorted` naming it — merging it would silently put rows out of order.

The order is total and deterministic: by key, ties by source order, then by row order within the source — so
the parts' order in the manifest, not the timing of any read, fixes the output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Unsorted(ValueError):
    """A source of a merge is not sorted by the merge's key."""


class _Source:
    """One source: its name (for messages), its batches, and the rows read from it but not yet given out."""

    def __init__(self, name: str, batches: Iterable[pa.RecordBatch | pa.Table], key: str):
        self.name, self.batches, self.key = name, iter(batches), key
        self.rows: pa.Table | None = None  # read, not yet given out
        self.keys = np.empty(0, np.int64)  # their keys
        self.read = 0  # rows read so far, to say where an order breaks
        self.last: int | None = None  # the last key read
        self.done = False

    def pull(self) -> None:
        """Read the next non-empty batch (or learn that there is none), checking its order."""
        for batch in self.batches:
            if batch.num_rows == 0:
                continue
            column = batch.column(self.key)
            if column.null_count:
                raise Unsorted(f"{self.name} has a null {self.key} (in rows {self.read:,}–"
                               f"{self.read + batch.num_rows:,}): a merge by {self.key} needs every row's")
            keys = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
            steps = np.diff(keys) if self.last is None else np.diff(keys, prepend=self.last)
            if (steps < 0).any():
                at = int(np.argmax(steps < 0)) + (1 if self.last is None else 0)
                raise Unsorted(f"{self.name} is not sorted by {self.key}: its row {self.read + at:,} (counting from 0) "
                               f"has a smaller {self.key} than the row before it. Each part must be in {self.key} "
                               "order to be merged with the others")
            table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
            self.rows = table if self.rows is None or self.rows.num_rows == 0 else pa.concat_tables([self.rows, table])
            self.keys = np.concatenate([self.keys, keys])
            self.read += batch.num_rows
            self.last = int(keys[-1])
            return
        self.done = True

    def take_below(self, bound: int | None) -> pa.Table | None:
        """Give out the buffered rows whose key is below `bound` (all of them when None)."""
        if self.rows is None:
            return None
        count = len(self.keys) if bound is None else int(np.searchsorted(self.keys, bound, side="left"))
        if count == 0:
            return None
        taken = self.rows.slice(0, count)
        self.rows, self.keys = self.rows.slice(count), self.keys[count:]
        return taken


def merged(sources: Sequence[tuple[str, Iterable[pa.RecordBatch | pa.Table]]],
           key: str) -> Iterator[tuple[pa.Table | None, int | None]]:
    """The rows of `sources` (name, batches — each source sorted by the integer or timestamp column `key`) in one
    order: by key, ties by source order, then row order. Yields (rows, frontier) steps: `rows` (None when a step
    gave none) are the next rows in that order, and every row of every source whose key is below `frontier` has
    now been given; the last step's frontier is None (every row has).

    All sources must share a schema. Memory: each source's unread rows are at most one batch beyond the frontier
    (more only while a source's rows all tie at it).
    """
    parts = [_Source(name, batches, key) for name, batches in sources]
    while True:
        for source in parts:  # every live source holds a row beyond what was given out
            if not source.done and len(source.keys) == 0:
                source.pull()
        live = [source for source in parts if not source.done]
        # No source can still hold a key below the smallest last key read of a live source: rows below it go out.
        frontier = min(int(source.keys[-1]) for source in live) if live else None
        taken = [(rows, source) for source in parts if (rows := source.take_below(frontier)) is not None]
        yield _in_order(taken, key), frontier
        if frontier is None:
            return
        for source in live:  # those holding the frontier read on, so it can move
            if len(source.keys) and source.keys[-1] == frontier:
                source.pull()


def _in_order(taken: list[tuple[pa.Table, _Source]], key: str) -> pa.Table | None:
    """Rows from several sources (in source order), sorted by key; ties keep source order, then row order."""
    if not taken:
        return None
    if len(taken) == 1:
        return taken[0][0]
    rows = pa.concat_tables([t for t, _ in taken])
    keys = np.concatenate([pc.cast(t[key], pa.int64()).to_numpy(zero_copy_only=False) for t, _ in taken])
    return rows.take(pa.array(np.argsort(keys, kind="stable")))
