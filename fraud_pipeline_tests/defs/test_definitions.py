"""The code location: its asset graph and checks, and in-process materialisation on both backends."""

import re
from importlib.metadata import version

import dagster as dg
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.definitions import build_definitions, defs
from fraud_pipeline.engine import entity_ranges
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import scaled, run_resources

ENTITY_NAMES = [spec.name for spec in schemas.ENTITY_TABLES]


def _materialize(definitions: dg.Definitions, store: ObjectStore, selection=None) -> dg.ExecuteInProcessResult:
    selection = selection or dg.AssetSelection.groups("entities")
    return dg.materialize(definitions.assets, selection=selection,
                          resources=run_resources(store), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _stored_bytes(store: ObjectStore) -> dict[str, bytes]:
    """Every file under the root (data and manifests) but the writer locks."""
    fs = store.filesystem()
    root = store.path("entities", "x").rsplit("/", 2)[0]
    return {path.removeprefix(root): fs.cat_file(path) for path in fs.find(root) if "/.locks/" not in path}


def test_the_code_location_loads_with_every_entity_in_its_group():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {**{name: "entities" for name in ENTITY_NAMES}, "card_transactions": "events",
                      "account_balances": "events", "card_events": "events", "customer_events": "events",
                      "web_visits": "events", "applications": "events", "new_accounts": "events",
                      "new_account_transactions": "events", "baseline_profile": "landing",
                      "fraud_transactions": "fraud", "fraud_episodes": "fraud", "aml_cases": "fraud",
                      "aml_reports": "fraud",
                      **{f"landing_{name}": "landing" for name in ("card_transactions", "customer_events", "web_visits",
                                                                   "applications", "new_accounts",
                                                                   "new_account_transactions")},
                      "anomaly_schedule": "landing", "anomaly_manifest": "landing", "anomaly_timeline": "reports",
                      "detection_scorecard": "reports", "aml_scorecard": "reports", "dataset_card": "reports"}
    # the collapsed graph reads left to right: no asset depends on an asset of a later group
    story = ["entities", "events", "fraud", "landing", "reports"]
    backwards = [(parent.to_user_string(), key.to_user_string()) for key in graph.get_all_asset_keys()
                 for parent in graph.get(key).parent_keys
                 if story.index(groups[parent.to_user_string()]) > story.index(groups[key.to_user_string()])]
    assert backwards == []
    for name in set(groups) - {"anomaly_timeline", "dataset_card"}:  # a picture and a text, not tables
        node = graph.get(dg.AssetKey(name))
        assert node.metadata["dagster/column_schema"].columns[0].name == schemas.TABLES[name].columns[0].name
        assert node.description.startswith(schemas.TABLES[name].description)


def test_lineage_follows_what_each_table_is_built_from():
    graph = defs.resolve_asset_graph()
    parents = {name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys} for name in ENTITY_NAMES}
    assert parents["accounts"] == {"customers", "devices"}
    assert parents["cards"] == {"accounts", "customers"}  # customers: its foreign key is checked against them
    assert parents["account_beneficiaries"] == {"accounts", "beneficiaries"}
    assert parents["customers"] == set()


def _check_specs(definitions: dg.Definitions) -> dict[tuple[str, str], dg.AssetCheckSpec]:
    return {(spec.asset_key.to_user_string(), spec.name): spec
            for asset in definitions.assets for spec in asset.check_specs}


def test_every_key_and_foreign_key_has_a_blocking_check():
    specs = _check_specs(defs)
    for table in schemas.ENTITY_TABLES:
        name = table.name
        assert specs[(name, "primary_key_unique")].blocking
        if table.foreign_keys:
            assert specs[(name, "foreign_keys_valid")].blocking
    assert {name for name, check in specs if check == "foreign_keys_valid" and name in ENTITY_NAMES} == {
        "accounts", "cards", "account_beneficiaries", "device_history", "customer_merchants"}


def test_materialising_the_entities_writes_every_table_passes_every_check_and_is_repeatable(store, small_scenario):
    definitions = build_definitions(small_scenario)
    result = _materialize(definitions, store)

    assert result.success
    evaluations = result.get_asset_check_evaluations()
    entity_checks = [key for key in _check_specs(definitions) if key[0] in ENTITY_NAMES]
    assert len(evaluations) == len(entity_checks) == 25
    assert all(e.passed for e in evaluations), [e.description for e in evaluations if not e.passed]
    for name in ENTITY_NAMES:
        [materialization] = result.asset_materializations_for_node(name)
        metadata = materialization.metadata
        table = store.read_table("entities", name)
        assert table.schema == schemas.TABLES[name].arrow_schema
        assert metadata["dagster/row_count"].value == table.num_rows > 0
        assert metadata["dagster/uri"].value == store.uri("entities", name) and "storage_uri" not in metadata
        assert metadata["scenario_hash"].value == small_scenario.content_hash
        header = metadata["preview"].value.splitlines()[0]
        assert [cell.strip() for cell in header.strip("|").split("|")] == [c.name for c in schemas.TABLES[name].columns]
        assert store.read_manifest("entities", name)["scenario_hash"] == small_scenario.content_hash
    assert store.read_table("entities", "customers").num_rows == small_scenario.population.customers

    first = _stored_bytes(store)
    assert _materialize(definitions, store).success
    assert _stored_bytes(store) == first
    assert sorted(path for path in first if path.startswith("/_manifests/")) == sorted(
        ["/_manifests/_scenario.json", *(f"/_manifests/entities/{name}.json" for name in ENTITY_NAMES)])


def test_a_different_seed_writes_different_data(tmp_path, small_scenario):
    stores = [ObjectStore(root_url=str(tmp_path / name)) for name in ("a", "b")]
    for store, seed in zip(stores, (1, 2)):
        assert _materialize(build_definitions(scaled(small_scenario, seed=seed)), store, selection=["customers"]).success
    assert not stores[0].read_table("entities", "customers").equals(stores[1].read_table("entities", "customers"))


def test_a_broken_foreign_key_fails_its_check_and_blocks_the_tables_built_on_it(tmp_path, small_scenario, monkeypatch):
    generate, upstream = entity_ranges.BY_BLOCK["accounts"]  # a customer's own rows: built by range of blocks

    def accounts_with_an_orphan(scenario, block, customers, devices):
        table = generate(scenario, block, customers, devices)
        orphaned = pa.concat_arrays([pa.array(["C99999999"]), table["customer_id"].combine_chunks()[1:]])
        return table.set_column(1, "customer_id", orphaned)

    monkeypatch.setitem(entity_ranges.BY_BLOCK, "accounts", (accounts_with_an_orphan, upstream))
    store = ObjectStore(root_url=str(tmp_path / "data"))
    result = _materialize(build_definitions(small_scenario), store)

    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [("accounts", "foreign_keys_valid")]
    assert "customer_id → customers.customer_id: 1 rows fail (e.g. ['C99999999'])" in failed[0].description
    assert store.read_manifest("entities", "cards") is None
    assert store.read_manifest("entities", "account_beneficiaries") is None
    # the failing table itself is not published: its files are there to inspect, but no manifest
    assert store.read_manifest("entities", "accounts") is None
    assert store.filesystem().exists(store.path("entities", "accounts") + "/part-b000000-b000000.parquet")
    assert store.read_manifest("entities", "customers") is not None


def test_every_text_the_ui_renders_as_markdown_is_free_of_html_like_tags():
    """The UI renders descriptions and column descriptions as markdown, where `<date>` becomes an HTML tag and
    vanishes; placeholders are written `{date}`."""
    graph = defs.resolve_asset_graph()
    texts = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        texts[key.to_user_string()] = node.description or ""
        schema = node.metadata.get("dagster/column_schema")
        for column in (schema.columns if schema else []):
            texts[f"{key.to_user_string()}.{column.name}"] = column.description or ""
        texts.update({f"{key.to_user_string()} {name}": value for name, value in node.metadata.items()
                      if isinstance(value, str)})
    for check in graph.asset_check_keys:
        texts[str(check)] = graph.get_check_spec(check).description or ""
    tagged = {where: text for where, text in texts.items() if re.search(r"<[A-Za-z/!]", text)}
    assert len(texts) > 300 and tagged == {}


def test_every_asset_has_a_code_version_that_changes_with_the_scenario(scenario):
    """Dagster marks a stored partition unsynced when the code version it was written with is not the current one."""
    def versions(s):
        graph = build_definitions(s).resolve_asset_graph()
        return {graph.get(key).code_version for key in graph.get_all_asset_keys()}
    assert versions(scenario) == {f"{version('fraud_pipeline')}-{scenario.content_hash}"}
    other = scaled(scenario, seed=scenario.seed + 1)
    assert versions(other) == {f"{version('fraud_pipeline')}-{other.content_hash}"} != versions(scenario)
