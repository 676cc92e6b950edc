"""A bank day's memory, the entities' and the world's build's follow a range of blocks, not the bank: the benchmark's steps, each in its
own process, for two banks four times apart at the same block size and blocks per file."""

import pytest

from fraud_pipeline.bench_scale import _child

GROWTH_MB = 100  # what the directory (about 0.5 MB per thousand customers) and the allocator's noise may add


@pytest.mark.slow
def test_the_peak_memory_of_the_entities_the_world_and_a_bank_day_does_not_grow_with_the_bank(tmp_path):
    found = {}
    for customers in (20_000, 80_000):
        root = str(tmp_path / str(customers))
        entities = _child("entities-step", str(customers), root, "1")  # one block of 5,000 customers a file
        world = _child("world-step", str(customers), root, "1")
        found[customers] = entities, world, _child("days-step", str(customers), root, "1", "in_process", "1")
    (small_entities, small_world, small_day), (large_entities, large_world, large_day) = found[20_000], found[80_000]
    assert large_entities["rows"] > 3 * small_entities["rows"]  # the entities grew with the bank …
    assert large_entities["peak_mb"] < small_entities["peak_mb"] + GROWTH_MB, (small_entities, large_entities)
    assert (small_day["ranges"], large_day["ranges"]) == (4, 16)
    assert large_world["bytes"] > 3 * small_world["bytes"]  # the bank's world grew with the bank …
    assert large_world["peak_mb"] < small_world["peak_mb"] + GROWTH_MB, (small_world, large_world)  # … its build not
    assert large_day["payments"] > 3 * small_day["payments"]
    assert large_day["peak_mb"] < small_day["peak_mb"] + GROWTH_MB, (small_day, large_day)  # … a day's memory did not
