"""The code location: the scenario is loaded and validated here, so a bad one fails at load time."""

from __future__ import annotations

import dagster as dg

from fraud_pipeline import schemas
from fraud_pipeline.assets.entities import ENTITY_TABLES, entity_assets
from fraud_pipeline.checks import table_checks
from fraud_pipeline.quality import entity_expectations
from fraud_pipeline.scenario import Scenario, load_scenario
from fraud_pipeline.storage import ObjectStore


def build_definitions(scenario: Scenario) -> dg.Definitions:
    store = ObjectStore(root_url=scenario.storage.url, endpoint_url=scenario.storage.endpoint_url)
    kinds = {"numpy", "parquet"} | ({"s3"} if store.is_s3 else set())
    expectations = entity_expectations(scenario)
    return dg.Definitions(
        assets=entity_assets(scenario, kinds),
        asset_checks=[check for name in ENTITY_TABLES
                      for check in table_checks(schemas.TABLES[name], expectations.get(name, {}))],
        resources={"store": store},
        # Steps are short numpy work; a process per step (the default) costs more than the work.
        # Parallelism comes from runs instead: one run per partition on the run queue.
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_scenario())
