"""The amount distribution of seeds 002/003: a mixture of uniform buckets, optionally restricted to a range.

Seed 003 gives a category its amounts by keeping only the bucket draws inside the category's
price range; drawing from the restricted mixture directly (inverse CDF) does the same without
rejection, vectorised over rows whose ranges differ.
"""

from __future__ import annotations

import numpy as np


class BucketDistribution:
    def __init__(self, buckets):
        self.shares = np.array([b.share for b in buckets], dtype=float)
        self.low = np.array([b.min for b in buckets], dtype=float)
        self.high = np.array([b.max for b in buckets], dtype=float)
        self.knots = np.unique(np.concatenate([self.low, self.high]))
        self.cdf_at_knots = self.cdf(self.knots)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)[..., None]
        fraction = np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        return (fraction * self.shares).sum(axis=-1) / self.shares.sum()

    def sample(self, rng: np.random.Generator, low: np.ndarray | float, high: np.ndarray | float,
               n: int) -> np.ndarray:
        """`n` draws, each restricted to its own [low, high] (seed 003's category price ranges)."""
        return self.quantile(rng.random(n), low, high)

    def quantile(self, u: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        """The amounts at positions `u` in [0, 1) of the distribution restricted to [low, high]."""
        lower = np.interp(low, self.knots, self.cdf_at_knots)
        upper = np.interp(high, self.knots, self.cdf_at_knots)
        return np.interp(lower + u * (upper - lower), self.cdf_at_knots, self.knots)
