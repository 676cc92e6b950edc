"""The code location: the scenario is loaded and validated here, so a bad one fails at load time."""

import warnings
from importlib.metadata import version

import dagster as dg

from fraud_pipeline.defs.assets.anomalies import anomaly_schedule_asset, anomaly_timeline_asset, landing_asset
from fraud_pipeline.defs.assets.entities import entity_assets
from fraud_pipeline.defs.assets.events import bank_day_asset, web_funnel_asset
from fraud_pipeline.defs.assets.reports import (aml_scorecard_asset, baseline_profile_asset, dataset_card_asset,
                                                detection_scorecard_asset)
from fraud_pipeline.defs.automation import jobs_and_automation
from fraud_pipeline.defs.partitions import daily_partitions
from fraud_pipeline.defs.resources import ExecutorResource, StoreResource
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import Scenario, load_scenario


def build_definitions(scenario: Scenario) -> dg.Definitions:
    store = ObjectStore.of(scenario.storage)
    kinds = {"parquet"} | ({"s3"} if store.is_s3 else set())
    days = daily_partitions(scenario)
    # Every asset, partitioned or not, has a single-run backfill policy (beta in 1.13, deliberate): any
    # selection over any partition range is one run, so `--select '*' --partition-range` runs the scenario.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = [*entity_assets(scenario, kinds), bank_day_asset(scenario, days, kinds),
                  web_funnel_asset(scenario, days, kinds),
                  baseline_profile_asset(scenario, kinds), anomaly_schedule_asset(scenario, kinds),
                  landing_asset(scenario, days, kinds), anomaly_timeline_asset(scenario, kinds),
                  detection_scorecard_asset(scenario, kinds), aml_scorecard_asset(scenario, kinds),
                  dataset_card_asset(scenario, kinds)]
    # A stored partition is stale when the generators' release or the scenario changed: the UI marks it unsynced.
    code_version = f"{version('fraud_pipeline')}-{scenario.content_hash}"
    assets = dg.map_asset_specs(lambda spec: spec.replace_attributes(code_version=code_version), assets)
    jobs, schedules, sensors = jobs_and_automation(scenario, store)
    return dg.Definitions(
        assets=assets, jobs=jobs, schedules=schedules, sensors=sensors,
        resources={"store": StoreResource(root_url=store.root_url, endpoint_url=store.endpoint_url,
                                                table_format=store.table_format),
                   "executor": ExecutorResource()},
        # Steps are short numpy work; a process per step (the default) costs more than the work. A day's
        # blocks of customers run in parallel inside the bank_day step, where the `executor` resource says.
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_scenario())
