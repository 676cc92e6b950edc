"""Holders of a profile — an age band earning under an income — drawn more often for something: a mule's recruiters
pick them (`aml.mule.recruited`), and a scenario may make them likelier to open an account to take orders on
(`inflows.orders.traders`)."""

from __future__ import annotations

import numpy as np

from fraud_pipeline.scenario.base import HolderProfile
from fraud_pipeline.world.build import World


def profile_weights(world: World, profile: HolderProfile) -> np.ndarray:
    """Per customer (float, shape (n_customers,)): `profile.weight` for holders aged `profile.age` (inclusive) who
    earn under `profile.income_below` a month, 1 for everyone else."""
    fits = (world.age >= profile.age.min) & (world.age <= profile.age.max) & (world.income < profile.income_below)
    return np.where(fits, profile.weight, 1.0)
