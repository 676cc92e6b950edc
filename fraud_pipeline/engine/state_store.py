"""Where a day's carried state is kept: `state/bank_state/date=D/`, the state the day after D starts from.

Written by every run that simulates day D (whatever of its tables the run was asked for), read by
the first day of the next run. A state another scenario wrote stops the run (`ScenarioMismatch`): a root holds one
scenario, so such a state means the root is not this scenario's.
"""

from __future__ import annotations

from datetime import date, timedelta

from fraud_pipeline.engine.bank_day import BankState
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch, WrittenTable
from fraud_pipeline.scenario import Scenario

LAYER, TABLE = "state", "bank_state"


def save_state(store: ObjectStore, scenario: Scenario, state: BankState) -> WrittenTable:
    """Store the state `state.day` starts from, under the day before."""
    return store.write_files(LAYER, TABLE, state.to_tables(), scenario.content_hash,
                             partition=(state.day - timedelta(days=1)).isoformat())


def load_state(store: ObjectStore, scenario: Scenario, day: date) -> BankState | None:
    """The stored state at the start of `day`, or None when it is not stored. Raises ScenarioMismatch when another
    scenario stored it."""
    partition = (day - timedelta(days=1)).isoformat()
    manifest = store.read_manifest(LAYER, TABLE, partition)
    if manifest is None:
        return None
    if manifest["scenario_hash"] != scenario.content_hash:
        raise ScenarioMismatch(store.mismatch(manifest["scenario_hash"], scenario.content_hash))
    return BankState.from_tables(day, store.read_files(LAYER, TABLE, partition))
