"""Days, micro-batches and instants: times are int64 milliseconds in the generators.

Times are the region's local wall-clock time, stored without a zone (a day always has 24
hours); a day is split into eight 3-hour micro-batches.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

BASELINE_DAYS = 14  # the normal days the baseline profile learns from; the anomaly window follows
BATCHES_PER_DAY = 8
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
MS_PER_BATCH = MS_PER_DAY // BATCHES_PER_DAY


EPOCH = date(1970, 1, 1)


def days_from(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def baseline_days(start: date) -> list[date]:
    return [start + timedelta(days=i) for i in range(BASELINE_DAYS)]


def day_start_ms(day: date) -> int:
    """Milliseconds of midnight at the start of `day`, on the local wall clock."""
    return (day - EPOCH).days * MS_PER_DAY


def batch_of(ms: np.ndarray, day_start: int) -> np.ndarray:
    """The micro-batch (0–7) of instants that fall on the day starting at `day_start`."""
    return ((ms - day_start) // MS_PER_BATCH).astype(np.int8)


def arrival_lag_ms(rng: np.random.Generator, n: int, median_s: float, sigma: float, max_s: float) -> np.ndarray:
    """Lognormal delivery delays: most events arrive within seconds, a few take minutes."""
    seconds = np.minimum(rng.lognormal(np.log(median_s), sigma, n), max_s)
    return np.round(seconds * 1000).astype(np.int64)


def times_in_hours(rng: np.random.Generator, n: int, first_hour: int, weights, day_start: int) -> np.ndarray:
    """`n` instants on one day: an hour from the profile, then a uniform millisecond within it."""
    weights = np.asarray(weights, dtype=float)
    hour = first_hour + rng.choice(len(weights), size=n, p=weights / weights.sum())
    return day_start + hour * MS_PER_HOUR + rng.integers(0, MS_PER_HOUR, size=n)
