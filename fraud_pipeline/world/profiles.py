"""Holders of a profile — an age band earning under an income — drawn more often for something: a mule's recruiters
pick them (`aml.mule.recruited`), and they open the accounts strangers pay in waves more often
(`world.openings`)."""

from __future__ import annotations

import numpy as np

from fraud_pipeline.scenario.base import HolderProfile
from fraud_pipeline.world.build import World


def profile_weights(world: World, profile: HolderProfile) -> np.ndarray:
    """Per customer (float, shape (n_customers,)): `profile.weight` for holders aged `profile.age` (inclusive) who
    earn under `profile.income_below` a month, 1 for everyone else."""
    fits = (world.age >= profile.age.min) & (world.age <= profile.age.max) & (world.income < profile.income_below)
    return np.where(fits, profile.weight, 1.0)
