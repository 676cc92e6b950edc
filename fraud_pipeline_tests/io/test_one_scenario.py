"""One storage root holds one scenario. A run of another scenario stops before it reads or writes anything, naming
both scenarios' hashes and the two remedies — every asset, in process here; through the real CLI in test_cli."""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.engine.state_store import load_state
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch
from fraud_pipeline_tests.conftest import SMALL_POPULATION, scaled, run_resources
from fraud_pipeline_tests.engine.test_events import _run
from fraud_pipeline_tests.quality.test_landing import _days

MICRO = {"population": SMALL_POPULATION, "card_transactions": {"per_day": 500}, "web_funnel": {"visitors_per_day": 200}}


@pytest.fixture(scope="module")
def root_of_a(tmp_path_factory, scenario) -> tuple[ObjectStore, object]:
    """Scenario A's entities and first two days (with the bank's carried state)."""
    a = scaled(scenario, **MICRO)
    store = ObjectStore(root_url=str(tmp_path_factory.mktemp("scenario_a") / "data"))
    definitions = build_definitions(a)
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _run(definitions, store, dg.AssetSelection.groups("events", "fraud"),
                tags=_days("2026-01-01", "2026-01-02")).success
    return store, a


def _tree(store: ObjectStore) -> dict[str, bytes]:
    fs = store.filesystem()
    return {path: fs.cat_file(path) for path in fs.find(store.root_url)}


def _messages(error) -> str:
    """An error's message with its causes'."""
    return "" if error is None else f"{error.cls_name}: {error.message}\n" + _messages(error.cause)


def test_every_asset_of_another_scenario_stops_before_reading_or_writing(root_of_a, monkeypatch):
    store, a = root_of_a
    b = scaled(a, seed=a.seed + 1, population={"customers": 300})  # the newcomer's my_scenario.yaml
    definitions = build_definitions(b)
    before = _tree(store)
    reads = []
    for method in ("read_files", "read_manifest", "complete_partitions"):
        original = getattr(ObjectStore, method)
        monkeypatch.setattr(ObjectStore, method, lambda self, *args, _f=original, _m=method, **kwargs: (
            reads.append((_m, args)), _f(self, *args, **kwargs))[1])

    refused = []
    for assets in definitions.assets:  # every asset (a multi-asset whole), alone
        day = "2026-01-03" if assets.partitions_def is not None else None
        result = dg.materialize(definitions.assets, selection=list(assets.keys), resources=run_resources(store),
                                instance=dg.DagsterInstance.ephemeral(), partition_key=day, raise_on_error=False)
        [failure] = [event for event in result.all_events if event.is_step_failure]
        message = _messages(failure.step_failure_data.error)
        assert not result.success and "ScenarioMismatch" in message, assets.node_def.name
        assert f"holds the tables of scenario {a.content_hash} (stored); this run's scenario is {b.content_hash}" \
            in message
        assert "FRAUD_PIPELINE_STORAGE_URL=" in message and "rebuild everything with this scenario" in message
        refused.append(assets.node_def.name)
    assert len(refused) == len(definitions.assets) > 15
    assert reads == []  # nothing read
    assert _tree(store) == before  # nothing written
    # A's own runs go on: the store holds one scenario
    assert _run(build_definitions(a), store, dg.AssetSelection.assets("card_transactions"),
                partition_key="2026-01-03").success


def test_a_stored_state_of_another_scenario_stops_the_day_instead_of_being_recomputed(root_of_a, tmp_path):
    """The state is an input like any table: another scenario's is refused, not silently replaced."""
    store, a = root_of_a
    state = load_state(store, a, date(2026, 1, 3))
    assert state is not None and state.day == date(2026, 1, 3)
    own = ObjectStore(root_url=str(tmp_path / "data"))
    for stored in [store.path("state", "bank_state", "2026-01-02"), store.manifest_path("state", "bank_state", "2026-01-02")]:
        copied = Path(stored.replace(store.root_url, str(tmp_path / "data"), 1))
        copied.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if Path(stored).is_dir() else shutil.copyfile)(stored, copied)
    b = scaled(a, seed=a.seed + 1)
    with pytest.raises(ScenarioMismatch, match=f"scenario {a.content_hash} \\(stored\\); this run's scenario is "
                                               f"{b.content_hash}"):
        load_state(own, b, date(2026, 1, 3))
    assert load_state(own, a, date(2026, 1, 4)) is None  # a day not stored: recomputed, as before
