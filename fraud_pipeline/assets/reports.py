"""The `reports` group: what users score and calibrate against."""

import dagster as dg
import pyarrow.compute as pc

from fraud_pipeline import schemas
from fraud_pipeline.assets.metadata import definition_metadata, materialization_metadata
from fraud_pipeline.generators.funnel import STAGES
from fraud_pipeline.generators.profile import baseline_profile
from fraud_pipeline.generators.timeline import baseline_days
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore

GROUP = LAYER = "reports"
PROFILED = ("card_transactions", *STAGES)


def baseline_profile_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    spec = schemas.BASELINE_PROFILE
    keys = [day.isoformat() for day in baseline_days(scenario.start_date)]
    only_baseline = dg.SpecificPartitionsPartitionMapping(keys)

    @dg.asset(name=spec.name, group_name=GROUP, kinds=kinds, metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              description=spec.description + f" Reads exactly the {len(keys)} baseline days {keys[0]} … {keys[-1]}.",
              deps=[dg.AssetDep(table, partition_mapping=only_baseline) for table in PROFILED])
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore) -> dg.MaterializeResult:
        days = {table: {key: store.read_table("events", table, partition=key) for key in keys} for table in PROFILED}
        profile = baseline_profile(days)
        written = store.write_table(LAYER, spec.name, profile, scenario.content_hash)
        context.log.info(f"baseline profile of {len(keys)} days: {profile.num_rows} rows written to {written.uri}")
        metadata = materialization_metadata(profile, written, scenario.content_hash)
        volumes = profile.filter(pc.equal(profile["metric"], "volume")).to_pandas()
        metadata["volume_by_batch"] = dg.MetadataValue.md(
            volumes.pivot(index="table", columns="batch", values="mean").round(1).to_markdown())
        return dg.MaterializeResult(metadata=metadata)

    return _asset

