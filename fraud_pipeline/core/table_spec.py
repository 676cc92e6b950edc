"""What a table spec is: its columns (name, Arrow type, meaning, source), keys, and how a table is built to it.
The specs themselves are in `core.schemas`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    source: str
    nullable: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """`column` references `table.ref_column` — or, where it names `also` ("table.column" alternatives), one of
    those (a card reissued during the calendar is in card_events the day it is issued and in account_balances the
    days it is in use, not in cards). A reference into a daily table resolves in the same partition or the day
    before (a card in use since yesterday, an episode's record in the partition of the day it started), except a
    card block's episode (learned up to the longest label delay later) and a funnel stage's parent (an earlier
    stage, up to the funnel's delays before)."""

    column: str
    table: str
    ref_column: str
    also: tuple[str, ...] = ()

    @property
    def targets(self) -> tuple[tuple[str, str], ...]:
        return ((self.table, self.ref_column), *(tuple(t.split(".")) for t in self.also))

    def __str__(self) -> str:
        return " | ".join(f"{table}.{column}" for table, column in self.targets)


# A card reissued after fraud is not in cards (planned before the calendar): it is in card_events on the day it is
# issued, and in account_balances (the account's card) at the end of each day it is in use.
CARD_OR_REPLACEMENT = ("card_events.card_number", "account_balances.card_number")


@dataclass(frozen=True)
class TableSpec:
    name: str
    layer: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default=())

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def build(self, columns: dict[str, Any]) -> pa.Table:
        """An Arrow table in this spec's column order and types; names must match exactly."""
        expected = [c.name for c in self.columns]
        if sorted(columns) != sorted(expected):
            missing, extra = set(expected) - set(columns), set(columns) - set(expected)
            raise ValueError(f"{self.name}: columns do not match the spec (missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)})")
        return pa.Table.from_arrays([_as_arrow(columns[c.name], c.type) for c in self.columns],
                                    schema=self.arrow_schema)


def _as_arrow(values: Any, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """Arrow data is cast (pa.array would iterate it in Python); anything else is converted."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values if values.type == type_ else values.cast(type_)
    return pa.array(values, type=type_)


def column(name, type_, description, source="design", nullable=False) -> Column:
    """A column spec (the schemas' shorthand)."""
    return Column(name, type_, description, source, nullable)


S, F8, I8, I32, B, D = pa.string(), pa.float64(), pa.int8(), pa.int32(), pa.bool_(), pa.date32()
TS = pa.timestamp("ms")  # the region's local wall-clock time


def timing(event_description: str) -> tuple[Column, ...]:
    """The three columns every event row carries: when it happened, when it arrived, its batch."""
    return (
        column("event_time", TS, event_description),
        column("arrival_time", TS, "When the row reached the bank's platform: event time plus a lognormal delivery "
                                   "lag. The partition is the arrival day.", "000/001"),
        column("batch", I8, "The 3-hour micro-batch of the arrival time (0 = 00:00–03:00 … 7 = 21:00–24:00).", "001"),
    )
