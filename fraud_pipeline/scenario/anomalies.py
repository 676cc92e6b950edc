"""The anomalies section: the data-quality faults planned into the landing files.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from fraud_pipeline.core import schemas
from fraud_pipeline.scenario.base import FloatRange, IntRange, Probability, Section


# The event tables that get landing files, and the columns anomalies may not rewrite (they
# decide which file and batch a row lands in).
EVENT_TABLES = schemas.EVENT_TABLE_NAMES
DELIVERY_COLUMNS = ("arrival_time", "batch")
WindowDay = Annotated[int, Field(ge=1)]
MicroBatch = Annotated[int, Field(ge=0, le=7)]


class Anomaly(Section):
    """One planned anomaly: on which window days and micro-batch, in which table (and column)."""

    days: Literal["every"] | Annotated[list[WindowDay], Field(min_length=1)]
    batch: MicroBatch
    table: str
    targets: typing.ClassVar[dict[str, tuple[str, ...]] | None] = None  # table -> columns; None: any event table

    @model_validator(mode="after")
    def _known_target(self):
        allowed = self.targets or {t: () for t in EVENT_TABLES}
        if self.table not in allowed:
            raise ValueError(f"{self.type} cannot target table {self.table!r}; allowed: {', '.join(allowed)}")
        column = getattr(self, "column", None)
        if column is not None and allowed[self.table] and column not in allowed[self.table]:
            raise ValueError(f"{self.type} cannot target {self.table}.{column}; allowed: "
                             f"{', '.join(allowed[self.table])}")
        return self


class NullBurst(Anomaly):
    """A share of the batch's rows lose the value of one column (any column but arrival_time and batch)."""

    type: Literal["null_burst"]
    share: Probability
    column: str

    @model_validator(mode="after")
    def _a_column_of_the_table(self):
        columns = [c.name for c in schemas.TABLES[self.table].columns if c.name not in DELIVERY_COLUMNS] \
            if self.table in schemas.TABLES else []
        if columns and self.column not in columns:
            raise ValueError(f"null_burst cannot target {self.table}.{self.column}; allowed: {', '.join(columns)}")
        return self


class AgeError(Anomaly):
    """Under-age applicants, rejected as such; picked among applications that were not approved,
    so no account ever opens for a minor."""

    type: Literal["age_error"]
    share: Probability
    column: str
    age: IntRange
    status: str
    targets = {"applications": ("applicant_age",)}


class TrafficSpike(Anomaly):
    """Extra rows (copies of the batch's rows with fresh ids and times) until the batch holds
    `volume_multiplier` times its rows; `share` of all its rows get a bot-like value in `column`.
    The added visitors never apply, so conversion falls."""

    type: Literal["traffic_spike"]
    share: Probability
    column: str
    volume_multiplier: Annotated[float, Field(gt=1, le=20)]
    bot_values: FloatRange
    targets = {"web_visits": ("session_duration",), "card_transactions": ("amount",)}


class FraudSpike(Anomaly):
    """A share of the batch's transactions spend `of_limit` of the account's limit (new accounts'
    approved limit; for card transactions, the account's average balance)."""

    type: Literal["fraud_spike"]
    share: Probability
    column: str
    of_limit: FloatRange
    targets = {"new_account_transactions": ("amount",), "card_transactions": ("amount",)}


class LimitSpike(Anomaly):
    """A share of the batch's applications request `of_income` of the declared income."""

    type: Literal["limit_spike"]
    share: Probability
    column: str
    of_income: FloatRange
    targets = {"applications": ("req_credit_limit",)}


class StaleData(Anomaly):
    """A share of the batch's rows carry event times `hours_behind` their arrival."""

    type: Literal["stale_data"]
    share: Probability
    hours_behind: Annotated[float, Field(gt=0, le=72)]


class ConversionDrop(Anomaly):
    """Applications in the batch are withheld until `application_rate` of its visitors apply;
    their accounts and first transactions never happen."""

    type: Literal["conversion_drop"]
    application_rate: Probability
    targets = {"applications": ()}


class DuplicateBurst(Anomaly):
    """A share of the batch's rows are delivered twice: an identical copy arrives later in the same batch."""

    type: Literal["duplicate_burst"]
    share: Probability


class LateArrival(Anomaly):
    """A share of the rows that would arrive `delay_batches` batches earlier arrive in this batch instead
    (event times unchanged), so this batch receives old events and the earlier one is short."""

    type: Literal["late_arrival"]
    share: Probability
    delay_batches: Annotated[int, Field(ge=1, le=7)]

    @model_validator(mode="after")
    def _source_batch_exists(self):
        if self.delay_batches > self.batch:
            raise ValueError(f"late_arrival in batch {self.batch} cannot be {self.delay_batches} batches late: "
                             f"delay_batches must be at most the batch")
        return self


AnomalyEntry = Annotated[Union[NullBurst, AgeError, TrafficSpike, FraudSpike, LimitSpike, StaleData, ConversionDrop,
                               DuplicateBurst, LateArrival], Field(discriminator="type")]
ANOMALY_TYPES = typing.get_args(typing.get_args(AnomalyEntry)[0])


class ByName:
    """Marks a table of named entries that a user's file merges entry by entry (null removes one)."""


class Anomalies(Section):
    window_days: Annotated[int, Field(ge=1, le=366)]
    after_window: Literal["repeat", "clean"]
    landing_format: Literal["parquet", "ndjson", "csv"]
    plan: Annotated[dict[str, AnomalyEntry], ByName()]

    @model_validator(mode="after")
    def _days_in_window(self):
        for name, entry in self.plan.items():
            late = [d for d in ([] if entry.days == "every" else entry.days) if d > self.window_days]
            if late:
                raise ValueError(f"plan.{name}.days: day {late[0]} is outside the {self.window_days}-day window "
                                 f"(allowed: 1–{self.window_days} or every)")
        return self
