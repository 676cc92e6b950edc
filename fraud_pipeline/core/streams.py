"""Random streams derived from (seed, labels…), never from wall-clock time or global state.

Each table, and each purpose within it, gets its own stream, so adding a column or a day
changes nothing else: a day regenerated alone equals the same day generated in a range.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa


def stream(seed: int, *labels: str | int) -> np.random.Generator:
    words = [int.from_bytes(hashlib.sha256(str(label).encode()).digest()[:8], "little") for label in labels]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *words])))


def choose(rng: np.random.Generator, shares: dict[str, float], n: int) -> tuple[list[str], np.ndarray]:
    """Draw `n` categories by their shares: the category names and each draw's index into them."""
    names = list(shares)
    probabilities = np.fromiter(shares.values(), dtype=float)
    return names, rng.choice(len(names), size=n, p=probabilities / probabilities.sum())


def categorical(rng: np.random.Generator, shares: dict[str, float], n: int) -> pa.Array:
    """`n` category names drawn by their shares, as an Arrow string array."""
    names, index = choose(rng, shares, n)
    return pa.array(names).take(pa.array(index))


def distinct_per_row(rng: np.random.Generator, rows: int, per_row: int, population: int) -> np.ndarray:
    """A (rows, per_row) matrix of indices below `population`, distinct within each row.

    Draws with replacement and redraws only the rows that repeat a value, which is cheap when
    `per_row` is much smaller than `population` (the common case: a few picks from thousands).
    """
    if per_row > population:
        raise ValueError(f"cannot draw {per_row} distinct values from {population}")
    picks = rng.integers(0, population, size=(rows, per_row))
    while True:
        ordered = np.sort(picks, axis=1)
        repeated = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if repeated.size == 0:
            return picks
        picks[repeated] = rng.integers(0, population, size=(repeated.size, per_row))
