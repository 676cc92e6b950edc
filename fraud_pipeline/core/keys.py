"""Draws keyed by the entity, not by the order of a stream: the same value for a customer, a card or an account
whichever block or worker computes it. What makes choices that span the bank (victims, ring members, compromised
cards) and ids that need no coordination give the same answer under any blocking (scale-out reference §5.1–5.2,
after LDBC SNB's datagen and counter-based generators: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC 2011).

Everything here is vectorised uint64 arithmetic; nothing depends on how many values are asked for at once.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TOP53 = 2.0 ** -53


def label_key(seed: int, *labels: str | int) -> np.uint64:
    """One 64-bit key for (seed, labels…): what names a purpose, as `streams.stream` does for streams."""
    digest = hashlib.sha256(repr((int(seed), *map(str, labels))).encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over uint64 values: a bijection that scatters neighbouring inputs (Steele et al. 2014)."""
    z = np.asarray(values, np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def hashed(key: np.uint64, entities: np.ndarray) -> np.ndarray:
    """A uint64 per entity number, a pure function of (key, entity)."""
    with np.errstate(over="ignore"):
        return mix(np.asarray(entities, np.int64).astype(np.uint64) * _GOLDEN + key)


def uniform(key: np.uint64, entities: np.ndarray) -> np.ndarray:
    """A uniform in (0, 1) per entity number (53 bits), the same whichever block asks."""
    return ((hashed(key, entities) >> np.uint64(11)).astype(np.float64) + 0.5) * _TOP53


def priority(key: np.uint64, entities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Efraimidis–Spirakis priorities, smaller first: −ln(u)/w per entity (inf for weight 0). The n smallest over any
    union of blocks are a weighted sample without replacement of n entities, and the n smallest of the whole bank are
    the n smallest of each block's n smallest: blocks choose alone and agree (Efraimidis & Spirakis, "Weighted random
    sampling with a reservoir", Inf. Proc. Letters 97(5), 2006)."""
    weights = np.asarray(weights, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(weights > 0, -np.log(uniform(key, entities)) / np.where(weights > 0, weights, 1.0), np.inf)


def smallest(priorities: np.ndarray, entities: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` smallest priorities (ties broken by entity number), in that order; fewer when fewer are
    finite."""
    order = np.lexsort((np.asarray(entities), priorities))
    return order[:n][np.isfinite(priorities[order[:n]])]


def permute(key: np.uint64, values: np.ndarray, domain: int) -> np.ndarray:
    """A keyed bijection of [0, domain): ids drawn for entity numbers without coordination and without repeats (a
    four-round Feistel network over the smallest even power of two ≥ domain, cycle-walking back into range; Black &
    Rogaway, "Ciphers with arbitrary finite domains", CT-RSA 2002).

    Raises ValueError when a value is outside [0, domain)."""
    values = np.asarray(values, np.int64)
    if values.size and (values.min() < 0 or values.max() >= domain):
        raise ValueError(f"values must be in [0, {domain})")
    half = max(1, (int(domain - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    rounds = [label_key(int(key), "feistel", r) for r in range(4)]

    def once(x: np.ndarray) -> np.ndarray:
        left, right = x >> np.uint64(half), x & mask
        for k in rounds:
            left, right = right, left ^ (mix(right ^ k) & mask)
        return (left << np.uint64(half)) | right

    out = once(values.astype(np.uint64))
    outside = out >= np.uint64(domain)
    while outside.any():  # cycle-walking: at most a few steps, as the square holds < 4 × domain values
        out[outside] = once(out[outside])
        outside = out >= np.uint64(domain)
    return out.astype(np.int64)


def numbers_of_rows(key: np.uint64, block: int, blocks: int, rows: int, space: int) -> np.ndarray:
    """Distinct numbers in [0, space) for a block's `rows` rows of a day: row r of block b is `permute`d from
    r × blocks + b, so every block of a bank draws its own without coordination and no two rows of the day share one.

    Raises ValueError when the day's rows do not fit: `space` holds about space ÷ blocks rows per block."""
    if rows and (rows - 1) * blocks + block >= space:
        raise ValueError(f"block {block} has {rows:,} rows in a day; a number space of {space:,} holds "
                         f"{(space - 1 - block) // blocks + 1:,} per block at {blocks:,} blocks: use smaller blocks "
                         "(population.block_customers)")
    return permute(key, np.arange(rows, dtype=np.int64) * blocks + block, space)
