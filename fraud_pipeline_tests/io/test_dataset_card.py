"""The dataset card: every table, with the rows and partitions its manifests hold, and the scenario it came from."""

import re

import dagster as dg

from fraud_pipeline.core import schemas
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.io.dataset_card import card
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import scaled
from fraud_pipeline_tests.engine.test_events import _range, _run, tiny  # noqa: F401 (the small scenario fixture)


def test_the_card_lists_every_table_with_the_rows_its_manifests_hold(tmp_path, tiny):
    store = ObjectStore(root_url=str(tmp_path / "data"))
    definitions = build_definitions(tiny)
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _range(definitions, store, "2026-01-01", "2026-01-02", "events", "fraud").success
    result = _run(definitions, store, dg.AssetSelection.assets("dataset_card"))

    text = (tmp_path / "data" / "DATASET.md").read_text()
    [materialization] = result.asset_materializations_for_node("dataset_card")
    assert materialization.metadata["card"].value == text
    assert f"scenario {tiny.content_hash}" in text and f"seed: {tiny.seed}" in text
    listed = {m[0]: (int(m[1].replace(",", "")), m[2].strip()) for m in
              re.findall(r"^\| `([a-z_]+/[a-z_]+)`\s*\| ([\d,]+)\s*\| ([^|]+)\|", text, flags=re.MULTILINE)}
    expected = {}
    for spec in schemas.TABLES.values():
        name = spec.name.removeprefix("landing_") if spec.layer == "landing" else spec.name
        days = store.complete_partitions(spec.layer, name)
        rows = sum(m["rows"] for m in days.values()) if days else (store.read_manifest(spec.layer, name) or {}).get("rows", 0)
        expected[f"{spec.layer}/{name}"] = (rows, f"{len(days)} days, 2026-01-01 … 2026-01-02" if days else "—")
    assert listed == expected
    assert listed["events/card_transactions"][0] > 1000 and listed["landing/web_visits"] == (0, "—")
    for spec in schemas.TABLES.values():  # every column of every table is described
        assert all(f"| `{c.name}`" in text for c in spec.columns), spec.name


def test_the_card_says_what_the_card_numbers_are(scenario):
    """The card travels with the files: it says whether their card numbers are on test BINs or may be real ones."""
    assert "published test BINs (424242, 411111, 401288, 555555, 510510, 222300)" in card(scenario, [])
    realistic = card(scaled(scenario, cards={"bin_ranges": "realistic"}), [])
    assert "some may be issued cards' numbers" in realistic and "test BINs" not in realistic


def test_the_card_lists_the_laundering_typologies_with_their_rates_and_the_threshold(scenario):
    text = card(scaled(scenario, aml={"structuring": {"cases_per_10k_accounts_month": 7.5}}), [])
    assert "cash threshold R49,999.99 since 2022-11-14" in text
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith(("| `structuring`", "| `deposit_and", "| `mule`"))}
    assert rows == {"`structuring`": ["True", "7.5", "0.5", "0.5", "20.0–60.0"],
                    "`deposit_and_send`": ["True", str(scenario.aml.deposit_and_send.cases_per_10k_accounts_month),
                                           "0.5", "0.5", "20.0–60.0"],
                    "`mule`": ["True", str(scenario.aml.mule.cases_per_10k_accounts_month), "0.5", "0.7", "2.0–30.0"]}
