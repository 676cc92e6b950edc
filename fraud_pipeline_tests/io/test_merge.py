"""The k-way merge of sorted parts: one total order (key, then source order, then row order), given out as soon as
no source can hold an earlier row, reading about a batch of each source ahead; a source out of order is named."""

import numpy as np
import pyarrow as pa
import pytest

from fraud_pipeline.io.merge import Unsorted, merged


def _source(rng: np.random.Generator, number: int, rows: int, batch: int, spread: int = 50):
    """A sorted source with many ties (keys from a small range), its rows tagged (source, row) to check order."""
    keys = np.sort(rng.integers(0, spread, rows))
    table = pa.table({"at": pa.array(keys, pa.int64()), "source": pa.array(np.full(rows, number)),
                      "row": pa.array(np.arange(rows))})
    return table.to_batches(max_chunksize=batch)


class Counted:
    """Batches handed out one at a time, counting the rows read."""

    def __init__(self, batches):
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch


@pytest.mark.parametrize("seed", range(6))
def test_the_merge_is_the_stable_sort_of_the_sources_in_their_order(seed):
    rng = np.random.default_rng(seed)
    sources = [_source(rng, i, int(rng.integers(0, 400)), int(rng.integers(1, 60))) for i in range(5)]
    steps = list(merged([(f"part-{i}", batches) for i, batches in enumerate(sources)], "at"))

    out = pa.concat_tables([rows for rows, _ in steps if rows is not None])
    every = pa.concat_tables([pa.Table.from_batches(b) for b in sources if b] or [])
    expected = np.lexsort((every["row"].to_numpy(), every["source"].to_numpy(), every["at"].to_numpy()))
    assert out.select(["at", "source", "row"]).equals(every.take(pa.array(expected)).select(["at", "source", "row"]))
    given = 0
    for rows, frontier in steps:  # a step's rows are below its frontier; later rows are not
        if rows is None:
            continue
        later = out["at"].to_numpy()[given + rows.num_rows:]
        given += rows.num_rows
        if frontier is not None:
            assert (rows["at"].to_numpy() < frontier).all() and (later >= frontier).all()
    assert steps[-1][1] is None


def test_the_merge_reads_about_a_batch_of_each_source_ahead_of_what_it_gives():
    rng = np.random.default_rng(7)
    batch = 25
    sources = [Counted(pa.table({"at": pa.array(np.sort(rng.choice(100_000, 2_000, replace=False)))}).to_batches(
        max_chunksize=batch)) for _ in range(4)]  # no ties: the frontier moves with every batch
    given, ahead = 0, []
    for rows, _ in merged([(str(i), s) for i, s in enumerate(sources)], "at"):
        given += rows.num_rows if rows is not None else 0
        ahead.append(sum(s.rows for s in sources) - given)
    assert given == 8_000
    assert max(ahead) <= 2 * batch * len(sources)  # never a whole source (2,000 rows) read ahead


def test_a_source_out_of_order_is_named_with_the_row_where_the_order_breaks():
    good = pa.table({"at": pa.array([1, 2, 3, 4], pa.int64())}).to_batches(max_chunksize=2)
    bad = pa.table({"at": pa.array([1, 5, 6, 2, 7], pa.int64())}).to_batches(max_chunksize=3)
    broken = r"day/part-00001.parquet is not sorted by at: its row 3 \(counting from 0\) has a smaller at"
    with pytest.raises(Unsorted, match=broken):
        list(merged([("day/part-00000.parquet", good), ("day/part-00001.parquet", bad)], "at"))
    nulls = pa.table({"at": pa.array([1, None], pa.int64())}).to_batches()
    with pytest.raises(Unsorted, match="has a null at"):
        list(merged([("p", nulls)], "at"))


def test_timestamps_merge_by_their_instant_and_empty_sources_are_no_trouble():
    stamps = [pa.table({"at": pa.array(times, pa.timestamp("ms")), "n": pa.array(range(len(times)))}).to_batches()
              for times in ([0, 5, 9], [], [5, 6])]
    out = pa.concat_tables([rows for rows, _ in merged([("a", stamps[0]), ("b", stamps[1]), ("c", stamps[2])], "at")
                            if rows is not None])
    assert out["at"].cast(pa.int64()).to_pylist() == [0, 5, 5, 6, 9] and out["n"].to_pylist() == [0, 1, 0, 1, 2]
    assert list(merged([("a", [])], "at")) == [(None, None)]
