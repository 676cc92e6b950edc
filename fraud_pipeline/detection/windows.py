"""Per-group rolling aggregates over time, vectorised: what "the card's count over the last 7 days" means.

Rows are sorted by (group, time) once; a window's rows are then a contiguous range found by binary search
on a combined key, and its sums come from a cumulative sum — no per-row loop, no pandas rolling per group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIME_BITS = 40  # ms since the stream's first row: 2**40 ms is 34 years


def times_ms(times: pd.Series) -> np.ndarray:
    """Timestamps as integer milliseconds since the epoch."""
    return times.to_numpy("datetime64[ms]").astype(np.int64)


def codes(values: pd.Series) -> np.ndarray:
    """Integer codes of the values (the groups `rolling` takes); nulls share one code of their own (after every
    value's)."""
    found = pd.factorize(values, use_na_sentinel=True)[0].astype(np.int64)
    return np.where(found < 0, found.max(initial=-1) + 1, found)


def _keys(group: np.ndarray, time_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order that sorts by group then time, the sorted combined keys)."""
    t = np.asarray(time_ms, np.int64)
    t = t - (t.min() if len(t) else 0)
    key = np.asarray(group, np.int64) << TIME_BITS | t
    order = np.argsort(key, kind="stable")
    return order, key[order]


def rolling(group: np.ndarray, time_ms: np.ndarray, values: np.ndarray, window_ms: int,
            lag_ms: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each row: how many rows of its group, and the sum of their `values`, have a time in
    (t − lag − window, t − lag] — the row itself included when `lag_ms` is 0 (the Fraud Detection Handbook's
    customer windows), excluded when positive (its delayed terminal windows).

    `group`: non-negative integer codes below 2**23; times in ms. Returns (count, sum), in the rows' order.
    """
    n = len(group)
    order, key = _keys(group, time_ms)
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(values, float)[order])])
    floor = (key >> TIME_BITS << TIME_BITS) - 1  # a window never reaches into the group before
    high = np.searchsorted(key, np.maximum(key - lag_ms, floor), side="right")
    low = np.searchsorted(key, np.maximum(key - lag_ms - window_ms, floor), side="right")
    count, total = np.empty(n, np.int64), np.empty(n)
    count[order] = high - low
    total[order] = cumulative[high] - cumulative[low]
    return count, total


def previous(group: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """For each row, the position of the previous row of its group in time (−1 for its first)."""
    order, key = _keys(group, time_ms)
    same = np.r_[False, (key[1:] >> TIME_BITS) == (key[:-1] >> TIME_BITS)]
    before = np.where(same, np.r_[-1, order[:-1]], -1)
    found = np.empty(len(order), np.int64)
    found[order] = before
    return found


def first_seen(group: np.ndarray, item: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """Whether each row is the first (in time) of its (group, item) pair."""
    pair = np.unique(np.stack([group, item], axis=1), axis=0, return_inverse=True)[1].ravel()
    return previous(pair, time_ms) < 0


def distinct_so_far(group: np.ndarray, item: np.ndarray, time_ms: np.ndarray,
                    counted: np.ndarray | None = None) -> np.ndarray:
    """For each row, how many distinct items its group has had up to and including it (e.g. the accounts a device
    has served: a device shared by a ring's victims); only rows where `counted` is true bring an item (rows without
    one: a credit has no payee)."""
    new = first_seen(group, item, time_ms) if counted is None else counted & first_seen(group, item, time_ms)
    _, total = rolling(group, time_ms, new.astype(float), window_ms=1 << TIME_BITS)  # all time
    return total.astype(np.int64)
