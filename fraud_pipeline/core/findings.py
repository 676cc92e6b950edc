"""Findings: what a check found, and the generic rules behind every asset's checks (key uniqueness, foreign keys,
allowed values, event times, order). Pure Arrow, no Dagster.

Each domain's checks (world, money, life, fraud, quality) build on these; assets compute them on a table before they
publish it (a table whose blocking rule fails is written without a manifest), and tests and the Python API call the
same functions. Each check function returns {check name: findings}; a check passes when all its findings pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import fixed_width, id_numbers
from fraud_pipeline.core.timeline import batch_of


SAMPLE = 5


@dataclass(frozen=True)
class Between:
    low: object
    high: object

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.or_(pc.less(values, self.low), pc.greater(values, self.high))

    def __str__(self) -> str:
        return f"between {self.low} and {self.high}"


@dataclass(frozen=True)
class OneOf:
    allowed: tuple

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.invert(pc.is_in(values, pa.array(self.allowed)))

    def __str__(self) -> str:
        return f"one of {', '.join(map(str, self.allowed))}"


@dataclass(frozen=True)
class Matches:
    pattern: str

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.invert(pc.match_substring_regex(values, f"^(?:{self.pattern})$"))

    def __str__(self) -> str:
        return f"matching {self.pattern}"


@dataclass(frozen=True)
class Satisfies:
    description: str
    predicate: Callable[[pa.Array], np.ndarray]

    def failing(self, values: pa.ChunkedArray) -> pa.Array:
        return pa.array(~self.predicate(values.combine_chunks()))

    def __str__(self) -> str:
        return self.description


Expectation = "Between | OneOf | Matches | Satisfies | OrNull"


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule over one table: how many rows break it and a few of them."""

    rule: str
    failures: int
    examples: list

    @property
    def passed(self) -> bool:
        return self.failures == 0


def key_findings(table: pa.Table, key: tuple[str, ...]) -> list[Finding]:
    """A key must be complete (no nulls) and unique. The rows' keys are numbered (each column dictionary-encoded,
    the codes combined) and sorted: 3–4× cheaper than grouping the key's strings (a range's 10 million usual
    merchants: 8.2 s grouped). Duplicates are named in the order their key first appears."""
    nulls = sum(table[c].null_count for c in key)
    codes = _key_codes(table, key)
    if codes is None:  # too many distinct values to number in 64 bits: group the key's values
        counts = table.select(list(key)).group_by(list(key)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts["count_all"], 1))
        duplicates = int(pc.sum(repeated["count_all"]).as_py() or 0) - repeated.num_rows
        examples = repeated.slice(0, SAMPLE).select(list(key)).to_pylist()
    else:
        order = np.argsort(codes, kind="stable")
        same = codes[order][1:] == codes[order][:-1]
        duplicates = int(same.sum())
        first_rows = np.sort(order[:-1][same & ~np.r_[False, same[:-1]]])  # each repeated key's first row
        examples = table.select(list(key)).take(pa.array(first_rows[:SAMPLE])).to_pylist()
    return [Finding(f"{'+'.join(key)} has no nulls", nulls, []),
            Finding(f"{'+'.join(key)} is unique", duplicates, examples)]


def _key_codes(table: pa.Table, key: tuple[str, ...]) -> np.ndarray | None:
    """One int64 per row that is equal exactly when the rows' keys are (nulls equal to each other, as grouping
    has them), or None when the columns' distinct values do not fit 63 bits together."""
    codes, span = np.zeros(table.num_rows, np.int64), 1
    for column in key:
        encoded = pc.dictionary_encode(table[column].combine_chunks(), null_encoding="encode")
        size = max(len(encoded.dictionary), 1)
        if span * size >= 2**62:
            return None
        codes = codes * size + encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        span *= size
    return codes


def foreign_key_finding(values: pa.ChunkedArray, referenced: pa.ChunkedArray, rule: str) -> Finding:
    """The values not in `referenced`, counted, the first few distinct ones named. A value that is the id of the row
    its number names (`columns.ids`: C00000042 is row 42) is found by reading its number; only the others are looked
    up in a hash of `referenced` — which a range of a national bank would otherwise build per check, of millions of
    ids, for every range."""
    values, referenced = _one_array(values), _one_array(referenced)
    text = pa.types.is_string(values.type) and pa.types.is_string(referenced.type)
    rest = values.filter(pa.array(~_found_by_number(values, referenced))) if text else values
    orphans = rest.filter(pa.array(~_found_in_sorted(rest, referenced) if text else pc.invert(pc.is_in(
        rest, referenced)))) if len(rest) else rest
    return Finding(rule, len(orphans), orphans.unique().slice(0, SAMPLE).to_pylist())


def _one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`values` as one array: its only chunk as it is (`combine_chunks` copies even one — millions of ids a check)."""
    if isinstance(values, pa.Array):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


_SORTED: dict[tuple, tuple[pa.Array, np.ndarray]] = {}  # per process: `_sorted_ids`, by offsets and data buffers
SORTED_KEPT = 8  # the referenced columns a process keeps sorted: those the checks of one day look up


def _found_in_sorted(values: pa.Array, referenced: pa.Array) -> np.ndarray:
    """Per value: whether `referenced` holds it. Ids of one length (device ids, card numbers) are found in a sorted
    copy of `referenced` kept per process (every range's checks look up the same entity column: it is sorted once,
    not hashed per check and range); others by a hash (`pc.is_in`)."""
    fixed, ids = fixed_width(values), _sorted_ids(referenced)
    if fixed is None or ids is None or fixed.dtype != ids.dtype:
        return pc.fill_null(pc.is_in(values, referenced), False).to_numpy(zero_copy_only=False)
    at = np.minimum(np.searchsorted(ids, fixed), len(ids) - 1)
    return ids[at] == fixed


def _sorted_ids(referenced: pa.Array) -> np.ndarray | None:
    """`referenced` sorted as bytes (None unless its ids are of one length), kept for the `SORTED_KEPT` columns
    used last; an entry holds its array, so its buffers' addresses name the same ids while it is kept (arrow arrays
    are immutable)."""
    buffers = referenced.buffers() if pa.types.is_string(referenced.type) else [None] * 3
    key = tuple(b.address if b is not None else 0 for b in buffers[1:]) + (referenced.offset, len(referenced))
    if key not in _SORTED:
        fixed = fixed_width(referenced)
        if fixed is None:
            return None
        while len(_SORTED) >= SORTED_KEPT:
            _SORTED.pop(next(iter(_SORTED)))
        _SORTED[key] = referenced, np.sort(fixed)
    return _SORTED[key][1]


def forget_sorted_ids() -> None:
    """Let go of the sorted ids kept (a process moving to another bank)."""
    _SORTED.clear()


def _found_by_number(values: pa.Array, referenced: pa.Array) -> np.ndarray:
    """Per value: whether it is `referenced`'s id at the row its number (the digits after a one-letter prefix)
    names, counted from the number of `referenced`'s first id (a block's customers start at the block's first).
    False says nothing (a card number, a foreign id): such values are looked up."""
    rows = id_numbers(values)
    first = id_numbers(referenced.slice(0, 1)) if len(referenced) else np.zeros(1, np.int64)
    if first[0] > 0:
        rows = np.where(rows >= 0, rows - first[0], -1)
    at = np.flatnonzero((rows >= 0) & (rows < len(referenced)))
    found = np.zeros(len(values), bool)
    fixed, names = fixed_width(values), fixed_width(referenced)
    if len(at) and fixed is not None and names is not None and fixed.dtype == names.dtype:
        found[at] = fixed[at] == names[rows[at]]
    elif len(at):
        found[at] = pc.fill_null(pc.equal(values.take(pa.array(at)), referenced.take(pa.array(rows[at]))),
                                 False).to_numpy(zero_copy_only=False)
    return found


@dataclass(frozen=True)
class OrNull:
    """`expectation`, or null (a column that is empty when it does not apply)."""

    expectation: Expectation

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.and_(pc.is_valid(values), pc.fill_null(self.expectation.failing(values), False))

    def __str__(self) -> str:
        return f"{self.expectation} or null"


def value_findings(table: pa.Table, expectations: dict[str, Expectation]) -> list[Finding]:
    findings = []
    for column, expectation in expectations.items():
        failing = pc.fill_null(expectation.failing(table[column]), True)  # null fails unless OrNull allows it
        bad = table[column].filter(failing)
        findings.append(Finding(f"{column} {expectation}", len(bad), bad.unique().slice(0, SAMPLE).to_pylist()))
    return findings


def event_time_findings(table: pa.Table, day: date, max_lag_ms: int) -> list[Finding]:
    """A partition holds the rows that arrive on its day; a row arrives after it happens, and in its batch."""
    day_start = np.datetime64(day, "ms")
    arrival = table["arrival_time"].to_numpy().astype("datetime64[ms]")
    event = table["event_time"].to_numpy().astype("datetime64[ms]")
    day_end = day_start + np.timedelta64(1, "D")
    outside = (arrival < day_start) | (arrival >= day_end)
    lag = (arrival - event).astype(np.int64)
    batch = batch_of(arrival.astype(np.int64), day_start.astype(np.int64))
    return [
        Finding("arrival_time within the partition's day", int(outside.sum()), []),
        Finding(f"arrival_time 0–{max_lag_ms} ms after event_time", int(((lag < 0) | (lag > max_lag_ms)).sum()), []),
        Finding("batch is the 3-hour window of arrival_time", int((batch != table["batch"].to_numpy()).sum()), []),
    ]


def order_finding(children: pa.Table, parents: pa.Table, key: str, rule: str) -> Finding:
    """Children must happen after their parent (joined on `key`, the parent's id)."""
    joined = children.select([key, "event_time"]).join(
        parents.select([key, "event_time"]).rename_columns([key, "parent_time"]), key, join_type="inner")
    late = joined.filter(pc.less_equal(joined["event_time"], joined["parent_time"]))
    return Finding(f"{rule} ({joined.num_rows:,} of {children.num_rows:,} rows have their parent stored)",
                   late.num_rows, late[key].slice(0, SAMPLE).to_pylist())


def summary(findings: list[Finding]) -> str:
    failed = [f for f in findings if not f.passed]
    if not failed:
        return f"all {len(findings)} rules hold"
    return "; ".join(f"{f.rule}: {f.failures:,} rows fail (e.g. {f.examples})" for f in failed)

Findings = dict[str, list[Finding]]


def passed(findings: Findings) -> bool:
    return all(f.passed for found in findings.values() for f in found)


def foreign_key_findings(spec: schemas.TableSpec, table: pa.Table, referenced: dict[str, pa.Table]) -> list[Finding]:
    """Each of the spec's foreign keys into the `referenced` tables by name (nulls are no reference); references into
    other tables (a day's episodes, sessions, the funnel's stages) have checks of their own."""
    return [foreign_key_finding(table[fk.column].drop_null(), referenced[fk.table][fk.ref_column],
                                        f"{fk.column} → {fk.table}.{fk.ref_column}")
            for fk in spec.foreign_keys if fk.table in referenced]


def time_findings(table: pa.Table, day: date, lag) -> list[Finding]:
    return event_time_findings(table, day, round(lag.max * 1000))


def merged(parts: list[Findings]) -> Findings:
    """The findings of a table checked in parts (a day's file ranges) as one: per check and rule, the failures
    summed and the first SAMPLE examples in part order. Every part must hold the same checks and rules in the same
    order (the same check function over another part); raises ValueError otherwise."""
    if not parts:
        return {}
    first = parts[0]
    for part in parts[1:]:
        if [(c, [f.rule for f in found]) for c, found in part.items()] != \
                [(c, [f.rule for f in found]) for c, found in first.items()]:
            raise ValueError("parts were checked by different rules: their findings cannot be merged")
    return {check: [Finding(f.rule, sum(p[check][i].failures for p in parts),
                            [e for p in parts for e in p[check][i].examples][:SAMPLE])
                    for i, f in enumerate(found)] for check, found in first.items()}
