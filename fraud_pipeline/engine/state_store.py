"""Where a day's carried state is kept: `state/bank_state/date=D/`, the state the day after D starts from.

One file per state kind and fixed range of blocks (`<kind>-bXXXXXX-bYYYYYY.parquet`, each row with its `block`),
so a range's task reads only its own (`engine.ranges`), and the Python API reads the whole bank's here. Written by
every run that simulates day D (whatever of its tables the run was asked for), read by the first day of the next
run. A state another scenario wrote stops the run (`ScenarioMismatch`): a root holds one scenario, so such a state
means the root is not this scenario's.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from fraud_pipeline.engine.bank_day import BankState
from fraud_pipeline.engine.ranges import STATE, STATE_KINDS, current_state
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch
from fraud_pipeline.scenario import Scenario


def load_state(store: ObjectStore, scenario: Scenario, day: date) -> BankState | None:
    """The stored state at the start of `day`, or None when it is not stored. Raises ScenarioMismatch when another
    scenario stored it."""
    partition = (day - timedelta(days=1)).isoformat()
    manifest = store.read_manifest(*STATE, partition)
    if manifest is None:
        return None
    if manifest["scenario_hash"] != scenario.content_hash:
        raise ScenarioMismatch(store.mismatch(manifest["scenario_hash"], scenario.content_hash))
    if not current_state(manifest):  # an earlier release's: as if not stored
        return None
    parts = store.listed_parts(*STATE, partition)
    return BankState.from_tables(day, {kind: pa.concat_tables([p.read() for p in parts
                                                               if p.name.startswith(f"{kind}-b")])
                                       for kind in STATE_KINDS})
