"""The baseline profile: what normal looks like per table and per micro-batch, learnt from the baseline days.

Two kinds of metric share one layout (table, batch, metric, then statistics):
- per-day quantities (row volume, null rates, funnel conversion): one observation per baseline day
  and batch, so `std` is the day-to-day variation a data-quality gate compares a new batch with;
- value distributions (amounts, session durations, ages, limit-to-income, arrival lag): all rows
  of that batch over the baseline days, pooled.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from fraud_pipeline import schemas
from fraud_pipeline.generators.timeline import BATCHES_PER_DAY

QUANTILES = {"p01": 0.01, "p05": 0.05, "p50": 0.50, "p95": 0.95, "p99": 0.99}
VALUES = {
    "card_transactions": {"amount": lambda t: t["amount"]},
    "web_visits": {"session_duration": lambda t: t["session_duration"]},
    "applications": {"applicant_age": lambda t: t["applicant_age"],
                     "limit_to_income": lambda t: t["req_credit_limit"] / t["annual_income"]},
    "new_accounts": {"approved_limit": lambda t: t["approved_limit"]},
    "new_account_transactions": {"amount": lambda t: t["amount"]},
}


def statistics(values: pd.Series) -> dict:
    values = values.dropna().astype(float)
    return {"observations": len(values), "mean": values.mean(), "std": values.std(ddof=1),
            **{name: values.quantile(q) for name, q in QUANTILES.items()}}


def _per_batch(by_day_and_batch: pd.Series, days: list, fill: float | None) -> dict[int, pd.Series]:
    """A (day, batch) series as one series over the baseline days per batch."""
    grid = by_day_and_batch.unstack("batch").reindex(index=days, columns=range(BATCHES_PER_DAY))
    return {batch: grid[batch].fillna(fill) if fill is not None else grid[batch] for batch in range(BATCHES_PER_DAY)}


def baseline_profile(days: dict[str, dict[str, pa.Table]]) -> pa.Table:
    """`days`: table name -> {day key -> that day's partition}. Returns one row per (table, batch, metric)."""
    frames = {table: pd.concat([t.to_pandas().assign(day=day) for day, t in by_day.items()], ignore_index=True)
              for table, by_day in days.items()}
    keys = sorted({day for by_day in days.values() for day in by_day})
    rows = []

    def add(table: str, metric: str, per_batch: dict[int, pd.Series]):
        rows.extend({"table": table, "batch": batch, "metric": metric, **statistics(values)}
                    for batch, values in per_batch.items())

    for table, frame in frames.items():
        grouped = frame.groupby(["day", "batch"])
        add(table, "volume", _per_batch(grouped.size(), keys, fill=0))
        for column in (c.name for c in schemas.TABLES[table].columns if c.nullable):
            add(table, f"null_rate.{column}", _per_batch(grouped[column].agg(lambda s: s.isna().mean()), keys, None))
        batch = frame["batch"]
        lag = (frame["arrival_time"] - frame["event_time"]).dt.total_seconds()
        add(table, "arrival_lag_seconds", {b: lag[batch == b] for b in range(BATCHES_PER_DAY)})
        for metric, value in VALUES.get(table, {}).items():
            add(table, f"value.{metric}", {b: value(frame)[batch == b] for b in range(BATCHES_PER_DAY)})

    if {"web_visits", "applications"} <= frames.keys():
        visits = frames["web_visits"].groupby(["day", "batch"]).size()
        applications = frames["applications"].groupby(["day", "batch"])
        add("applications", "conversion.application_rate", _per_batch(applications.size() / visits, keys, None))
        add("applications", "conversion.approval_rate",
            _per_batch(applications["application_status"].agg(lambda s: (s == "approved").mean()), keys, None))
    return pa.Table.from_pandas(pd.DataFrame(rows), schema=schemas.BASELINE_PROFILE.arrow_schema, preserve_index=False)
