"""What users score and calibrate against: the baseline profile (in the `landing` group, beside the anomalies
measured against it), the detection scorecard and the AML scorecard (`reports`)."""

import base64

import dagster as dg
import pandas as pd
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.timeline import baseline_days
from fraud_pipeline.defs.assets.metadata import definition_metadata, materialization_metadata
from fraud_pipeline.detection import aml_report, report
from fraud_pipeline.detection.aml_scorecard import TooLittleLaundering
from fraud_pipeline.io import dataset_card
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.quality.profile import baseline_profile
from fraud_pipeline.scenario import Scenario

GROUP = LAYER = "reports"


def baseline_profile_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    spec = schemas.BASELINE_PROFILE
    keys = [day.isoformat() for day in baseline_days(scenario.start_date)]
    only_baseline = dg.SpecificPartitionsPartitionMapping(keys)

    @dg.asset(name=spec.name, group_name="landing", kinds=kinds, metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              description=spec.description + f" Reads exactly the {len(keys)} baseline days {keys[0]} … {keys[-1]}.",
              deps=[dg.AssetDep(table, partition_mapping=only_baseline) for table in schemas.EVENT_TABLE_NAMES])
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        days = {table: {key: store.read_table("events", table, partition=key) for key in keys}
                for table in schemas.EVENT_TABLE_NAMES}
        profile = baseline_profile(days)
        written = store.write_table(LAYER, spec.name, profile, scenario.content_hash)
        context.log.info(f"baseline profile of {len(keys)} days: {profile.num_rows} rows written to {written.uri}")
        metadata = materialization_metadata(profile, written, scenario.content_hash)
        volumes = profile.filter(pc.equal(profile["metric"], "volume")).to_pandas()
        metadata["volume_by_batch"] = dg.MetadataValue.md(
            volumes.pivot(index="table", columns="batch", values="mean").round(1).to_markdown())
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def detection_scorecard_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    spec = schemas.DETECTION_SCORECARD
    p = report.protocol(scenario)
    keys = [day.isoformat() for day in p.days]
    days = dg.SpecificPartitionsPartitionMapping(keys)

    fraction = report.share(scenario)
    sampled = (f" Scores a sample of {fraction:.0%} of the customers (detection.sample_share), whole customers chosen "
               "by a keyed hash of the customer number: their features are the bank's; its cost follows the sample."
               if fraction < 1 else " Scores the whole bank.")

    @dg.asset(name=spec.name, group_name=GROUP, kinds=kinds | {"sklearn"}, metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              description=spec.description + f" Trains on {p.train_first} … {p.train_last}, tests on {p.test_first} … "
                                             f"{p.test_last}." + sampled,
              deps=[*(dg.AssetDep(table, partition_mapping=days) for table in ("card_transactions", "fraud_transactions")),
                    *report.ENTITIES])
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        found, picture, about = report.run(scenario, *report.stored(store, scenario))
        table = spec.build({c.name: found[c.name].to_numpy() for c in spec.columns})
        written = store.write_table(LAYER, spec.name, table, scenario.content_hash)
        plot = store.write_file(LAYER, "detection_scorecard_plot", "scorecard.png", picture, scenario.content_hash)
        plot_uri = f"{plot.uri}/scorecard.png"
        overall = found[(found["detector"] == "random_forest") & (found["scenario"] == "all")]
        context.log.info(f"detection scorecard written to {written.uri}; random forest: average precision "
                         f"{overall['average_precision'].iloc[0]:.3f}, card precision@100 "
                         f"{overall['card_precision_at_100'].iloc[0]:.3f} of a ceiling of "
                         f"{overall['ceiling'].iloc[0]:.3f}. {report.sample_note(about)}")
        metadata = materialization_metadata(table, written, scenario.content_hash)
        metadata.pop("preview")
        metadata["scorecard"] = dg.MetadataValue.md(
            report.sample_note(about) + "\n\n" + report.markdown(found)
            + "\n\n![detection scorecard](data:image/png;base64," + base64.b64encode(picture).decode() + ")")
        metadata["plot_uri"] = dg.MetadataValue.path(plot_uri)
        metadata["sample"] = dg.MetadataValue.json(about)
        metadata["sample_share"] = float(about["sample_share"])
        for _, row in found.iterrows():
            if row["scenario"] == "all":
                metadata[f"{row['detector']}_average_precision"] = float(row["average_precision"])
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def aml_scorecard_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    """The AML scorecard of the days the detection scorecard reads (`detection.aml_report`): written empty, with the
    reason in its metadata, when those days hold too little laundering to train and test on."""
    spec = schemas.AML_SCORECARD
    p = report.protocol(scenario)
    first, count = p.days[0], len(p.days)
    keys = [day.isoformat() for day in p.days]
    days = dg.SpecificPartitionsPartitionMapping(keys)

    @dg.asset(name=spec.name, group_name=GROUP, kinds=kinds | {"sklearn"}, metadata=definition_metadata(spec),
              backfill_policy=dg.BackfillPolicy.single_run(),
              description=spec.description + f" Reads {keys[0]} … {keys[-1]}.",
              deps=[*(dg.AssetDep(table, partition_mapping=days)
                      for table in ("card_transactions", "fraud_transactions", "aml_cases", "aml_reports")),
                    *aml_report.ENTITY_COLUMNS])
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        inputs = aml_report.stored(store, scenario, first, count)
        try:
            found, about = aml_report.run(scenario, *inputs, first, p.days[-1])
            text = aml_report.note(about) + "\n\n" + aml_report.markdown(found)
        except TooLittleLaundering as too_little:  # too few cases on these days: say so, score nothing
            found, about = pd.DataFrame(columns=[c.name for c in spec.columns]), {}
            text = (f"Not scored: {too_little}. Score a longer run with `python -m fraud_pipeline.detection --aml "
                    "--simulate --days 120`.")
        table = spec.build({c.name: found[c.name].to_numpy() for c in spec.columns})
        written = store.write_table(LAYER, spec.name, table, scenario.content_hash)
        context.log.info(f"AML scorecard written to {written.uri}: {text.splitlines()[0]}")
        metadata = materialization_metadata(table, written, scenario.content_hash)
        metadata.pop("preview")
        metadata["scorecard"] = dg.MetadataValue.md(text)
        metadata["read"] = dg.MetadataValue.json(about)
        for _, row in found[found["typology"] == "all"].iterrows():
            metadata[f"{row['detector']}_f1"] = float(row["f1"])
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def dataset_card_asset(scenario: Scenario, kinds: set[str]) -> dg.AssetsDefinition:
    """`DATASET.md` at the storage root: every table with its rows and partitions as the manifests say, the labels
    and rates of the effective scenario, the anomaly plan, how to read it, known limitations."""
    upstream = [spec.name for spec in schemas.TABLES.values()] + ["anomaly_timeline"]

    @dg.asset(name="dataset_card", group_name=GROUP, kinds=(kinds - {"parquet"}) | {"markdown"},
              backfill_policy=dg.BackfillPolicy.single_run(), deps=upstream,
              description="DATASET.md at the storage root, generated from the table specs, the scenario and the "
                          "stored manifests: tables with rows and partitions, labels and rates, the anomaly plan, "
                          "how to read it, known limitations. The same text is shown here.")
    def _asset(context: dg.AssetExecutionContext, store: dg.ResourceParam[ObjectStore]) -> dg.MaterializeResult:
        store.check_scenario(scenario.content_hash)  # another scenario's root: stop before reading it
        stored = []
        for spec in schemas.TABLES.values():
            name = spec.name.removeprefix("landing_") if spec.layer == "landing" else spec.name
            partitions = store.complete_partitions(spec.layer, name)
            whole = None if partitions else store.read_manifest(spec.layer, name)
            rows = sum(m["rows"] for m in partitions.values()) if partitions else (whole or {}).get("rows", 0)
            stored.append(dataset_card.StoredTable(spec, spec.layer, name, tuple(partitions), rows))
        text = dataset_card.card(scenario, stored)
        uri = store.put_root_file("DATASET.md", text.encode())
        context.log.info(f"dataset card of {sum(t.rows > 0 for t in stored)} stored tables written to {uri}")
        return dg.MaterializeResult(metadata={"card": dg.MetadataValue.md(text), "dagster/uri": dg.MetadataValue.path(uri),
                                              "tables_stored": sum(t.rows > 0 for t in stored),
                                              "rows_stored": sum(t.rows for t in stored)})

    return _asset
