"""Keyed draws: the same value per entity however the entities are grouped, and choices that blocks make alone and
agree on."""

import numpy as np
import pytest
from scipy import stats

from fraud_pipeline.core.keys import label_key, numbers_of_rows, permute, priority, smallest, uniform


def test_a_draw_depends_on_the_entity_not_on_who_asks_or_with_whom():
    key = label_key(7, "victims", "2026-01-15")
    entities = np.arange(100_000)
    whole = uniform(key, entities)
    pieces = np.concatenate([uniform(key, part) for part in np.array_split(entities[::-1], 13)])[::-1]
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, uniform(label_key(7, "victims", "2026-01-16"), entities))


def test_keyed_uniforms_are_uniform_and_independent_of_their_neighbours():
    u = uniform(label_key(1, "test"), np.arange(200_000))
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # consecutive ids do not move together


def test_blocks_choosing_alone_agree_with_the_whole_bank():
    rng = np.random.default_rng(3)
    entities = np.arange(50_000)
    weights = rng.gamma(0.5, 1.0, len(entities)) * (rng.random(len(entities)) > 0.1)
    key = label_key(11, "ring_members")
    whole = entities[smallest(priority(key, entities, weights), entities, 40)]
    finalists = []
    for block in np.array_split(entities, 17):  # each block keeps its own 40 best
        p = priority(key, block, weights[block])
        finalists.append(block[smallest(p, block, 40)])
    finalists = np.concatenate(finalists)
    merged = finalists[smallest(priority(key, finalists, weights[finalists]), finalists, 40)]
    assert np.array_equal(whole, merged)
    assert weights[whole].min() > 0  # a weight of 0 is never chosen


def test_priority_sampling_follows_the_weights():
    entities = np.arange(4)
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    firsts = np.array([entities[smallest(priority(label_key(5, "draw", k), entities, weights), entities, 1)][0]
                       for k in range(20_000)])
    shares = np.bincount(firsts, minlength=4) / len(firsts)
    assert shares == pytest.approx(weights / weights.sum(), abs=0.015)


@pytest.mark.parametrize("domain", [1, 2, 10, 1_000, 10**8 - 3])
def test_permuted_ids_are_a_bijection_of_their_domain(domain):
    key = label_key(2, "transaction_ids")
    values = np.arange(min(domain, 200_000))
    ids = permute(key, values, domain)
    assert ids.min() >= 0 and ids.max() < domain
    assert len(np.unique(ids)) == len(values)
    if domain <= 1_000:
        assert np.array_equal(np.sort(ids), np.arange(domain))
    assert np.array_equal(ids[::-1], permute(key, values[::-1], domain))


def test_a_value_outside_the_domain_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        permute(label_key(1, "x"), np.array([10]), 10)


def test_blocks_number_their_rows_apart_and_say_when_the_space_is_full():
    key = label_key(3, "transaction_ids", "2026-01-15")
    numbers = np.concatenate([numbers_of_rows(key, b, 7, 1_000 + 10 * b, 10**8) for b in range(7)])
    assert len(np.unique(numbers)) == len(numbers)
    assert np.array_equal(numbers_of_rows(key, 3, 7, 50, 10**8), numbers_of_rows(key, 3, 7, 1_030, 10**8)[:50])
    with pytest.raises(ValueError, match="block 2 has 16 rows in a day.*population.block_customers"):
        numbers_of_rows(key, 2, 7, 16, 100)
