"""The nearest-terminal index against brute force."""

import numpy as np
import pytest

from fraud_pipeline.world import spatial
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


@pytest.mark.parametrize("k", [1, 3, 40])
def test_queries_taken_a_few_at_a_time_find_what_all_at_once_find(monkeypatch, k):
    """A query's answer depends on that query alone: chunks of 7 (the last one short) give the same rows as every
    query in one piece."""
    rng = np.random.default_rng(11)
    index = spatial.SpatialIndex(rng.uniform(-34, -22, 300), rng.uniform(17, 32, 300))
    lat, lon = rng.uniform(-35, -21, 1000), rng.uniform(16, 33, 1000)
    monkeypatch.setattr(spatial, "QUERIES_AT_ONCE", 10**6)
    whole = index.nearest(lat, lon, k=k)
    monkeypatch.setattr(spatial, "QUERIES_AT_ONCE", 7)
    assert whole.shape == (1000, k) and np.array_equal(index.nearest(lat, lon, k=k), whole)
    assert index.nearest(lat[:0], lon[:0], k=k).shape == (0, k)
