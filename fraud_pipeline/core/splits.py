"""How a sum is split among its parts unevenly, as people split money: no two parts alike, none far from the rest.

One way for every part of the bank that pays a whole in pieces (an estate's parts, a layer's hops, a mule's
onward transfers, a cash-out's withdrawals) to draw the pieces' shares."""

from __future__ import annotations

import numpy as np


def uneven_shares(rng: np.random.Generator, whole: np.ndarray, low: float = 0.5, high: float = 1.5) -> np.ndarray:
    """Per part, its share of its whole: `whole` (int array, one entry per part) names the whole each part belongs
    to; each part draws a weight uniform in [`low`, `high`) (one draw of `rng` per part, in order) and the weights of
    each whole are scaled to sum to 1. The defaults keep the largest part at most 3 times the smallest
    (an assumption: sums split by hand, not by a formula)."""
    share = rng.uniform(low, high, len(whole))
    share /= np.bincount(whole, weights=share)[whole]
    return share
