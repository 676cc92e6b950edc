"""The nearest-terminal index against brute force."""

import numpy as np

from fraud_pipeline.world.spatial import SpatialIndex
from fraud_pipeline_tests.conftest import distance_deg


def test_nearest_terminals_agree_with_brute_force_on_a_country_sized_cloud():
    rng = np.random.default_rng(7)
    terminals = np.column_stack([rng.uniform(-34, -22, 5000), rng.uniform(17, 32, 5000)])
    queries = np.column_stack([rng.uniform(-34, -22, 2000), rng.uniform(17, 32, 2000)])
    index = SpatialIndex(terminals[:, 0], terminals[:, 1])

    found = index.nearest(queries[:, 0], queries[:, 1], k=4)
    truth = np.argsort(distance_deg(queries[:, :1], queries[:, 1:], terminals[:, 0], terminals[:, 1]), axis=1)[:, :4]
    assert (found[:, 0] == truth[:, 0]).mean() > 0.97  # the nearest one, nearly always
    assert np.mean([len(set(f) & set(t)) for f, t in zip(found, truth)]) / 4 > 0.93
    assert (found == found[:, :1]).sum(axis=1).max() == 1  # k distinct terminals per query
    assert np.allclose(index.nearest(terminals[:50, 0], terminals[:50, 1], k=1)[:, 0], np.arange(50))
