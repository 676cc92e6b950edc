"""The metrics a data-quality gate watches, per table and micro-batch, and the baseline profile of them.

Two kinds of metric share one layout (table, batch, metric, then statistics):
- per-batch quantities (row volume, null rates, duplicate keys, funnel conversion): one value per
  day and batch (`batch_metrics`), so the profile's `std` is the day-to-day variation a gate
  compares a new batch with;
- value distributions (amounts, session durations, ages, limit-to-income, arrival lag): the
  profile pools all rows of a batch over the baseline days; `batch_metrics` reports a batch's
  mean and its row count, to be compared with the pooled mean by its standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.core.timeline import BATCHES_PER_DAY

QUANTILES = {"p01": 0.01, "p05": 0.05, "p50": 0.50, "p95": 0.95, "p99": 0.99}
VALUES = {
    "card_transactions": {"amount": lambda t: t["amount"]},
    "web_visits": {"session_duration": lambda t: t["session_duration"]},
    "applications": {"applicant_age": lambda t: t["applicant_age"],
                     "limit_to_income": lambda t: t["req_credit_limit"] / t["annual_income"]},
    "new_accounts": {"approved_limit": lambda t: t["approved_limit"]},
    "new_account_transactions": {"amount": lambda t: t["amount"]},
}
# the columns each table's VALUES read, and what every table's metrics read besides its watched columns (arrival lag,
# the batch): what a reader that needs only some metrics (the anomaly timeline) reads
VALUE_COLUMNS = {"card_transactions": ("amount",), "web_visits": ("session_duration",),
                 "applications": ("applicant_age", "req_credit_limit", "annual_income"),
                 "new_accounts": ("approved_limit",), "new_account_transactions": ("amount",)}
ALWAYS_READ = ("batch", "event_time", "arrival_time")
UNWATCHED = ("arrival_time", "batch", "anomaly_type", "anomaly_id")  # delivery and labels, not data
PER_BATCH = "per_batch"
VALUE = "value"


def kind(metric: str) -> str:
    return VALUE if metric.startswith("value.") or metric == "arrival_lag_seconds" else PER_BATCH


def is_rate(metric: str) -> bool:
    """Null rates, the duplicate-key rate and conversion rates: shares of rows, in [0, 1]."""
    return metric.startswith(("null_rate.", "conversion.")) or metric == "duplicate_key_rate"


UNITS = {"volume": "rows per batch", "arrival_lag_seconds": "seconds", "value.session_duration": "seconds",
         "value.applicant_age": "years", "value.limit_to_income": "limit ÷ income"}


def unit(metric: str, currency: str) -> str:
    """The unit of a metric's values, for a chart's axis (amounts and limits are in the scenario's currency)."""
    return "share of rows" if is_rate(metric) else UNITS.get(metric, f"mean ({currency})")


def _values(table: str, frame: pd.DataFrame) -> dict[str, pd.Series]:
    lag = (frame["arrival_time"] - frame["event_time"]).dt.total_seconds()
    return {"arrival_lag_seconds": lag,
            **{f"value.{name}": value(frame) for name, value in VALUES.get(table, {}).items()}}


def batch_metrics(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """table -> rows with a `day` column: one row per (table, day, batch, metric) with `value` and `rows`.

    Batches without rows are absent (their volume is 0 and nothing else is defined). A frame needs ALWAYS_READ, the
    table's key and VALUE_COLUMNS (and `application_status` for conversion); null rates are of the watched columns
    it holds.
    """
    parts = []
    for table, frame in frames.items():
        grouped = frame.groupby(["day", "batch"])
        size = grouped.size()
        # a frame may hold only some watched columns (a reader that needs only some null rates): those are measured
        watched = [c.name for c in schemas.TABLES[table].columns if c.name not in UNWATCHED and c.name in frame]
        per_batch = {"volume": size}
        per_batch.update({f"null_rate.{c}": v for c, v in frame[watched].isna().groupby(
            [frame["day"], frame["batch"]]).mean().items()})
        key = schemas.TABLES[table].primary_key[0]
        per_batch["duplicate_key_rate"] = frame.duplicated(["day", key]).groupby([frame["day"], frame["batch"]]).mean()
        for metric, values in _values(table, frame).items():
            per_batch[metric] = values.groupby([frame["day"], frame["batch"]]).mean()
        for metric, values in per_batch.items():
            parts.append(pd.DataFrame({"table": table, "metric": metric, "value": values.astype(float),
                                       "rows": size}).reset_index())
    if {"web_visits", "applications"} <= frames.keys():
        visits = frames["web_visits"].groupby(["day", "batch"]).size()
        applications = frames["applications"].groupby(["day", "batch"])
        submitted = applications.size()
        rates = {"conversion.application_rate": (submitted.reindex(visits.index, fill_value=0) / visits, visits),
                 "conversion.approval_rate": (applications["application_status"].agg(
                     lambda s: (s == "approved").mean()), submitted)}
        for metric, (values, rows) in rates.items():
            parts.append(pd.DataFrame({"table": "applications", "metric": metric, "value": values.astype(float),
                                       "rows": rows}).reset_index())
    return pd.concat(parts, ignore_index=True)[["table", "day", "batch", "metric", "value", "rows"]]


def statistics(values: pd.Series) -> dict:
    """Observations, mean, sample std and QUANTILES of the non-null values (NaN without any). The quantiles are
    numpy's linear ones, as `Series.quantile` computes them, in one call instead of one per quantile."""
    values = values.dropna().astype(float)
    found = np.quantile(values.to_numpy(), list(QUANTILES.values())) if len(values) else np.full(len(QUANTILES),
                                                                                               np.nan)
    return {"observations": len(values), "mean": values.mean(), "std": values.std(ddof=1),
            **{name: float(q) for name, q in zip(QUANTILES, found)}}


def baseline_profile(days: dict[str, dict[str, pa.Table]]) -> pa.Table:
    """`days`: table name -> {day key -> that day's partition}. Returns one row per (table, batch, metric)."""
    frames = {table: pd.concat([t.to_pandas().assign(day=day) for day, t in by_day.items()], ignore_index=True)
              for table, by_day in days.items()}
    keys = sorted({day for by_day in days.values() for day in by_day})
    metrics = batch_metrics(frames)
    rows = []
    for (table, metric), found in metrics[metrics["metric"].map(kind) == PER_BATCH].groupby(["table", "metric"]):
        grid = found.set_index(["day", "batch"])["value"].unstack("batch").reindex(
            index=keys, columns=range(BATCHES_PER_DAY))
        if metric == "volume":
            grid = grid.fillna(0)  # a batch without rows has volume 0; other metrics are undefined there
        rows.extend({"table": table, "batch": batch, "metric": metric, **statistics(grid[batch])}
                    for batch in range(BATCHES_PER_DAY))
    for table, frame in frames.items():
        for metric, values in _values(table, frame).items():
            rows.extend({"table": table, "batch": batch, "metric": metric,
                         **statistics(values[frame["batch"] == batch])} for batch in range(BATCHES_PER_DAY))
    return pa.Table.from_pandas(pd.DataFrame(rows), schema=schemas.BASELINE_PROFILE.arrow_schema, preserve_index=False)
