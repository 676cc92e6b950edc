"""Uneven shares: each whole's parts sum to it, none more than high/low times another, drawn one per part."""

import numpy as np

from fraud_pipeline.core.splits import uneven_shares


def test_each_wholes_shares_sum_to_one_and_stay_within_the_drawn_range():
    whole = np.repeat(np.arange(2000), np.arange(2000) % 6 + 1)  # 1–6 parts a whole
    share = uneven_shares(np.random.default_rng(3), whole)
    assert np.allclose(np.bincount(whole, weights=share), 1.0)
    ratio = np.maximum.reduceat(share, np.r_[0, np.flatnonzero(np.diff(whole)) + 1]) \
        / np.minimum.reduceat(share, np.r_[0, np.flatnonzero(np.diff(whole)) + 1])
    assert ratio.max() < 3 and ratio[np.bincount(whole)[np.unique(whole)] >= 4].min() > 1  # uneven, never > 3×
    # the same draws as uniform weights scaled by hand: one draw per part, in order
    weights = np.random.default_rng(3).uniform(0.5, 1.5, len(whole))
    assert np.array_equal(share, weights / np.bincount(whole, weights=weights)[whole])
    narrow = uneven_shares(np.random.default_rng(3), whole, 0.7, 1.3)
    relative = narrow * np.bincount(whole)[whole]  # a part's weight over its whole's mean weight
    assert 0.7 / 1.3 < relative.min() and relative.max() < 1.3 / 0.7
    assert len(uneven_shares(np.random.default_rng(3), np.zeros(0, np.int64))) == 0
