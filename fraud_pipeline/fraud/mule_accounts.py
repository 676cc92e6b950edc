"""Which of the fraud rings' mules hold accounts at this bank: the product's own takeovers pay them, and they launder
what they receive (`aml.mules`, `../shared/reference/aml-anchors.md` §8.2 row 2).

A ring pays its victims' money to its mule slots (`World.mules`: payees at other banks, `world.fraud_plan.mules`).
Each calendar month `aml.mule.inside_share` of the slots are instead accounts of ours (default 0.03: well below a
large bank's share of South Africa's accounts, as rings favour banks that open accounts online in minutes and a
ring's busiest slots take most of its victims; assumption). They are drawn uniformly among salary accounts active
and open to the end of the next month, from a stream keyed by the seed and the month over the bank's directory —
never by a block or a worker — so every block sees the same mules. A slot of ours is ours for the month, but its
account serves the ring's victims for about a week (ROTATION_DAYS): then the ring has burnt it and moved on to
another of ours (mules are burnt in days to weeks; a fresh analyst found one account of ours taking seven victims'
cases in a month).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import NONE
from fraud_pipeline.core.streams import stream
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.fraud_plan import inside_slots

SERVED_DAYS = 62  # a month's mule stays open to the end of the next month: its last victims' money reaches it
ROTATION_DAYS = 8  # a slot's account of ours serves this many days of the month (the 25th on: to its end)


def inside_mules(world: World, day: date) -> np.ndarray:
    """(2, `fraud.rings.count`, `fraud.rings.mules.max`) int64: the bank's account number of each ring's mule slot in
    `day`'s month and period of ROTATION_DAYS, and another for a victim who holds the first; NONE where the slot is a
    payee at another bank (`world.fraud_plan.inside_slots`). Kept in the directory's caches, a period a key."""
    bank = world.directory
    first = date(day.year, day.month, 1)
    period = (day.day - 1) // ROTATION_DAYS
    key = ("inside_mules", first, period)
    if key not in bank.caches:
        s = bank.scenario
        r = s.fraud.rings
        g = stream(s.seed, "aml", "inside_mules", first.isoformat(), period)
        eligible = np.flatnonzero((bank.status == STATUS_NAMES.index("active")) & bank.salary
                                  & (bank.closed_day > day_number(first) + SERVED_DAYS))
        shape = (2, r.count, r.mules.max)
        chosen = eligible[g.integers(0, len(eligible), shape)] if len(eligible) else np.full(shape, NONE)
        bank.caches[key] = np.where(inside_slots(s, first), chosen, NONE).astype(np.int64)
    return bank.caches[key]
