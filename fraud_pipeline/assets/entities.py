"""The `entities` group: one unpartitioned asset per entity table, in dependency order."""


from collections.abc import Callable

import dagster as dg
import pyarrow as pa

from fraud_pipeline import schemas
from fraud_pipeline.assets.metadata import definition_metadata, materialization_metadata
from fraud_pipeline.generators import entities as generate
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.storage import ObjectStore

GROUP = "entities"

# table -> (generator, the entity tables it is built from)
ENTITY_TABLES: dict[str, tuple[Callable[..., pa.Table], tuple[str, ...]]] = {
    "customers": (generate.customers, ()),
    "devices": (generate.devices, ()),
    "accounts": (generate.accounts, ("customers", "devices")),
    "cards": (generate.cards, ("accounts",)),
    "beneficiaries": (generate.beneficiaries, ()),
    "account_beneficiaries": (generate.account_beneficiaries, ("accounts", "beneficiaries")),
    "merchants": (generate.merchants, ()),
    "feature_catalogue": (lambda scenario: generate.feature_catalogue(schemas.TABLES), ()),
}


def _entity_asset(scenario: Scenario, name: str, kinds: set[str]) -> dg.AssetsDefinition:
    build, upstream = ENTITY_TABLES[name]
    spec = schemas.TABLES[name]

    @dg.asset(name=name, group_name=GROUP, kinds=kinds, description=spec.description,
              deps=list(upstream), metadata=definition_metadata(spec), backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext, store: ObjectStore) -> dg.MaterializeResult:
        inputs = [store.read_table(GROUP, table) for table in upstream]
        table = build(scenario, *inputs)
        written = store.write_table(GROUP, name, table, scenario.content_hash)
        context.log.info(f"{name}: wrote {written.rows:,} rows ({written.bytes:,} bytes) to {written.uri}")
        return dg.MaterializeResult(metadata=materialization_metadata(table, written, scenario.content_hash))

    return _asset


def entity_assets(scenario: Scenario, kinds: set[str]) -> list[dg.AssetsDefinition]:
    return [_entity_asset(scenario, name, kinds) for name in ENTITY_TABLES]
