"""The `aml_scorecard` asset (reports): the busy small bank's 21 stored days scored as the detection CLI scores them,
row for row; a bank whose days hold no laundering gets an empty scorecard that says why, and the run succeeds."""

import dagster as dg
import pandas as pd

from fraud_pipeline.core import schemas
from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.detection import aml_report
from fraud_pipeline.detection.report import protocol
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import with_overrides
from fraud_pipeline_tests.engine.test_events import _range, _run


def _scored(tmp_path, scenario) -> tuple[ObjectStore, dg.ExecuteInProcessResult]:
    store = ObjectStore(root_url=str(tmp_path / "data"))
    definitions = build_definitions(scenario)
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _range(definitions, store, "2026-01-01", "2026-01-21", "events", "fraud").success
    result = _run(definitions, store, dg.AssetSelection.assets("aml_scorecard"))
    assert result.success
    return store, result


def test_the_asset_scores_the_stored_days_as_the_cli_does(tmp_path, busy):
    store, result = _scored(tmp_path, busy)
    stored = store.read_table("reports", "aml_scorecard").to_pandas()
    days = protocol(busy).days
    expected, about = aml_report.run(busy, *aml_report.stored(store, busy, days[0], len(days)), days[0], days[-1])
    assert len(stored) > 3 and set(stored["detector"]) == {"rules", "boosted_all_labels", "boosted_known_labels",
                                                          "boosted_observed_labels"}
    pd.testing.assert_frame_equal(stored, expected[[c.name for c in schemas.AML_SCORECARD.columns]],
                                  check_dtype=False)
    metadata = result.asset_materializations_for_node("aml_scorecard")[0].metadata
    assert metadata["read"].data == about and "AMLworld" in metadata["scorecard"].value
    assert metadata["boosted_all_labels_f1"].value == stored.set_index(["detector", "typology"]).loc[
        ("boosted_all_labels", "all"), "f1"]


def test_days_without_laundering_give_an_empty_scorecard_that_says_why(tmp_path, busy):
    quiet = with_overrides(busy, {"aml": {name: {"enabled": False} for name in AML_TYPOLOGIES}})
    store, result = _scored(tmp_path, quiet)
    assert store.read_table("reports", "aml_scorecard").num_rows == 0
    text = result.asset_materializations_for_node("aml_scorecard")[0].metadata["scorecard"].value
    assert text.startswith("Not scored: the AML scorecard needs laundering on the training days")
    assert "got 0 and 0 rows" in text
