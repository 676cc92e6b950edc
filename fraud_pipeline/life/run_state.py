"""The withdrawal runs a block carries from one day to the next, so its next day need not recompute two months of them.

Seed 003's runs of withdrawals last up to `genuine.lookback_days` days; a day's withdrawals come from every run started
in that window (`genuine.withdrawals`). The runs are pure functions of the world and their start day, so a block's day
may recompute them all — two months of draws, for a block whose world a process did not keep. Instead, a range stores
with its state the withdrawals still to come (`pending_runs`), and the next day's block gets them back
(`restore_runs`): the same withdrawals, whichever process runs the block.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.life.genuine import lookback_days, withdrawal_runs
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number

RUN_COLUMNS = ("account", "event_ms", "u", "cash")  # a run's withdrawals, as `withdrawal_runs` keeps them


def pending_runs(world: World, day: date) -> dict[str, np.ndarray]:
    """The withdrawals still to come after `day` of the runs started by then: what the next day needs of the runs,
    so a block's next day need not recompute two months of them (`restore_runs`). Per withdrawal: its run's start
    (`run_day`, a day number), then RUN_COLUMNS, in run start and row order. Computes the runs not yet known."""
    end = day_start_ms(day) + MS_PER_DAY
    parts = []
    for back in range(lookback_days(world) - 1, -1, -1):
        run_day = day - timedelta(days=back)
        found = withdrawal_runs(world, run_day)
        later = np.flatnonzero(found["event_ms"] >= end)
        parts.append({"run_day": np.full(len(later), day_number(run_day), np.int32),
                      **{name: found[name][later] for name in RUN_COLUMNS}})
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def restore_runs(world: World, day: date, pending: dict[str, np.ndarray]) -> None:
    """Keep `pending` (`pending_runs` of the day before `day`) as the runs started before `day`: `withdrawals` then
    finds the same withdrawals on `day` and after as from the runs computed afresh (they are pure, and a run's
    earlier withdrawals are never looked at again)."""
    for back in range(1, lookback_days(world) + 1):
        run_day = day - timedelta(days=back)
        rows = np.flatnonzero(pending["run_day"] == day_number(run_day))
        world.caches[("atm_runs", run_day)] = {name: pending[name][rows] for name in RUN_COLUMNS}
