"""The withdrawal runs a block carries to its next day: restored into a world that never ran, they give the day the
same withdrawals as the world that ran every day before, and the day computes only its own new runs."""

import dataclasses
from datetime import date, timedelta

import numpy as np

from fraud_pipeline.life.genuine import lookback_days, withdrawals
from fraud_pipeline.life.run_state import pending_runs, restore_runs
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.entities import entity_tables


def test_restored_runs_give_the_next_day_the_same_withdrawals(small_scenario):
    entities = entity_tables(small_scenario)
    warm, cold = build_world(small_scenario, entities), build_world(small_scenario, entities)
    first = date(2026, 1, 1)
    for k in range(6):  # the warm world runs every day; its runs of two months are kept in its caches
        withdrawals(warm, first + timedelta(days=k))
    day = first + timedelta(days=5)
    pending = pending_runs(warm, day)
    assert len(pending["account"]) > 50  # runs still withdrawing after the day
    assert (pending["event_ms"] >= (day_number(day) + 1) * 86_400_000).all()
    assert set(np.unique(pending["run_day"])) <= set(range(day_number(day) - lookback_days(warm) + 1,
                                                           day_number(day) + 1))
    restore_runs(cold, day + timedelta(days=1), pending)
    for k in (1, 2):  # the day after, and the one after it (runs restored on one day serve the next ones too)
        found, expected = withdrawals(cold, day + timedelta(days=k)), withdrawals(warm, day + timedelta(days=k))
        assert len(expected.account) > 0
        for field in dataclasses.fields(expected):
            assert np.array_equal(getattr(found, field.name), getattr(expected, field.name)), (k, field.name)
    computed = [key for key in cold.caches if key[0] == "atm_runs" and key[1] > day]
    assert sorted(key[1] for key in computed) == [day + timedelta(days=1), day + timedelta(days=2)]
    restored = [cold.caches[("atm_runs", day - timedelta(days=back))] for back in range(lookback_days(cold))]
    assert sum(len(runs["account"]) for runs in restored) == len(pending["account"])  # kept, never recomputed
