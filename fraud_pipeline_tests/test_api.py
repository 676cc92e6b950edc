"""The Python API: a day's tables without Dagster, equal to what the assets store."""

from datetime import date

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

import fraud_pipeline
from fraud_pipeline.api import DAY_TABLES, ENTITY_TABLES, LABELLED
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline_tests.engine.test_events import _range, _run, tiny  # noqa: F401 (the small scenario fixture)

LAYERS = {"fraud_transactions": "fraud", "fraud_episodes": "fraud", "aml_cases": "fraud", "aml_reports": "fraud"}


def test_a_day_from_the_api_equals_the_day_the_assets_store(tmp_path, tiny):
    store = ObjectStore(root_url=str(tmp_path / "data"))
    definitions = build_definitions(tiny)
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _range(definitions, store, "2026-01-01", "2026-01-03", "events", "fraud").success

    world = fraud_pipeline.entities(tiny)
    assert list(world) == list(ENTITY_TABLES)
    for name, table in world.items():
        assert table.num_rows > 0 and table.equals(store.read_table("entities", name)), name
    some = fraud_pipeline.entities(tiny, tables=("accounts",), pandas=True)
    assert list(some) == ["accounts"] and some["accounts"].equals(world["accounts"].to_pandas())

    days = dict(fraud_pipeline.generate_days("2026-01-02", "2026-01-03", tiny))
    assert list(days) == [date(2026, 1, 2), date(2026, 1, 3)]
    for day, tables in days.items():
        assert set(tables) == {*DAY_TABLES, LABELLED}
        for name in DAY_TABLES:
            stored = store.read_table(LAYERS.get(name, "events"), name, partition=day.isoformat())
            assert tables[name].equals(stored), (day, name)
        stream = tables[LABELLED]
        assert stream.num_rows == tables["card_transactions"].num_rows + tables["fraud_transactions"].num_rows
        assert pa.compute.sum(stream["is_fraud"]).as_py() == tables["fraud_transactions"].num_rows > 0
    alone = fraud_pipeline.generate(date(2026, 1, 3), tiny, tables=("card_transactions",), pandas=True)
    assert list(alone) == ["card_transactions"] and isinstance(alone["card_transactions"], pd.DataFrame)
    assert alone["card_transactions"].equals(days[date(2026, 1, 3)]["card_transactions"].to_pandas())


def test_scenarios_load_from_a_file_or_overrides_with_the_code_locations_validation(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("seed: 7\n")
    assert fraud_pipeline.load_scenario(path).seed == fraud_pipeline.load_scenario({"seed": 7}).seed == 7
    assert fraud_pipeline.load_scenario().seed != 7
    with pytest.raises(ScenarioError, match=r"customers.kyc_level: shares must sum to 1 \(got 1.1\)"):
        fraud_pipeline.load_scenario({"customers": {"kyc_level": {"low": 0.5, "high": 0.6}}})


@pytest.mark.parametrize("call, message", [
    (lambda: fraud_pipeline.generate("2025-12-31"), "start_date 2026-01-01"),
    (lambda: fraud_pipeline.generate("31/12/2026"), "not a date"),
    (lambda: fraud_pipeline.generate("2026-01-02", tables=("transactions",)), r"tables: unknown \['transactions'\]"),
    (lambda: fraud_pipeline.entities(tables=("clients",)), r"tables: unknown \['clients'\]; allowed: \['customers'"),
])
def test_bad_arguments_are_refused_naming_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
