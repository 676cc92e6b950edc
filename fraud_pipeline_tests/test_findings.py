"""The key check numbers keys instead of grouping them: the same count of duplicates as grouping the key's values,
nulls equal to each other, duplicates named in the order their key first appears."""

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings, strategies as st

from fraud_pipeline.core.findings import SAMPLE, key_findings


def _grouped(table: pa.Table, key: tuple[str, ...]) -> tuple[int, int]:
    """Duplicates and distinct repeated keys, by grouping the key's values (what the check did before)."""
    counts = table.select(list(key)).group_by(list(key)).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    return int(pc.sum(repeated["count_all"]).as_py() or 0) - repeated.num_rows, repeated.num_rows


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["C1", "C2", "C3", "C10"])),
                          st.integers(0, 3)), max_size=40))
def test_the_key_check_counts_what_grouping_counts(rows):
    table = pa.table({"customer_id": pa.array([r[0] for r in rows], pa.string()),
                      "slot": pa.array([r[1] for r in rows], pa.int64())})
    for key in (("customer_id",), ("customer_id", "slot"), ("slot",)):
        nulls, unique = key_findings(table, key)
        duplicates, repeated = _grouped(table, key)
        assert unique.failures == duplicates and nulls.failures == sum(table[c].null_count for c in key)
        assert len(unique.examples) == min(repeated, SAMPLE)
        seen, first = set(), []
        for row in table.select(list(key)).to_pylist():  # the repeated keys in the order they first appear
            value = tuple(row.values())
            if value not in seen:
                seen.add(value)
                first.append(row)
        again = [row for row in first if table.select(list(key)).to_pylist().count(row) > 1]
        assert unique.examples == again[:SAMPLE]
