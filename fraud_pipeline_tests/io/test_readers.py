"""Every table folder the product writes, read the way a user first tries it — the folder's own path with pandas,
pyarrow datasets, polars and DuckDB, on the local disk and on the loopback S3 server: each reader finds exactly the
rows the manifests hold (and the partitions' dates, from the folder names). A folder holding anything but its data
files (a manifest, a temporary file) breaks polars, so this is what keeps manifests out of the table folders."""

import json

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

from fraud_pipeline.core import schemas
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.io import dataset_card
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import S3_ENVIRONMENT, SMALL_POPULATION, scaled
from fraud_pipeline_tests.engine.test_events import _run
from fraud_pipeline_tests.quality.test_landing import _days

MICRO = {"population": SMALL_POPULATION, "card_transactions": {"per_day": 500}, "web_funnel": {"visitors_per_day": 200}}
# every table the product stores (entities, events, fraud, landing, reports), where it stores it
TABLES = [(spec.layer, spec.name.removeprefix("landing_") if spec.layer == "landing" else spec.name)
          for spec in schemas.TABLES.values()]


def _materialise(store: ObjectStore, scenario, landing_days: tuple[str, str], event_days: tuple[str, str]) -> None:
    definitions = build_definitions(scenario)
    landing = dg.AssetSelection.groups("landing") - dg.AssetSelection.assets("baseline_profile", "anomaly_schedule")
    assert _run(definitions, store, dg.AssetSelection.groups("entities")).success
    assert _run(definitions, store, dg.AssetSelection.groups("events", "fraud"), tags=_days(*event_days)).success
    if event_days[1] >= "2026-01-21":  # the baseline days and the scorecard's test days are there
        assert _run(definitions, store, dg.AssetSelection.assets("baseline_profile", "anomaly_schedule",
                                                                 "detection_scorecard", "aml_scorecard")).success
    assert _run(definitions, store, landing, tags=_days(*landing_days)).success
    if event_days[1] >= "2026-01-21":
        assert _run(definitions, store, dg.AssetSelection.assets("anomaly_timeline", "dataset_card")).success


@pytest.fixture(scope="module")
def stored(tmp_path_factory, scenario) -> ObjectStore:
    """A small bank's 21 days with its reports, pictures and card, and landing files for a baseline day and a window
    day."""
    store = ObjectStore(root_url=str(tmp_path_factory.mktemp("readers") / "data"))
    _materialise(store, scaled(scenario, **MICRO), ("2026-01-14", "2026-01-15"), ("2026-01-01", "2026-01-21"))
    return store


S3_DAYS = ("2026-01-14", "2026-01-15")  # the days uploaded to S3 (every table has them): fewer requests, same folders


@pytest.fixture(scope="module")
def on_s3(stored, s3_server) -> tuple[ObjectStore, str, dict]:
    """The same files, of two days, on the loopback S3 server (a test of the CLI shows that a run to S3 writes them
    byte for byte), with what their manifests say."""
    remote = ObjectStore(root_url="s3://readers/fraud")
    fs = remote.filesystem()
    fs.mkdir("readers")
    local = [path for path in stored.filesystem().find(stored.root_url) if "/.locks/" not in path
             and ("date=" not in path or any(f"date={day}" in path for day in S3_DAYS))]
    fs.put(local, [f"readers/fraud/{path.removeprefix(stored.root_url + '/')}" for path in local])
    return remote, s3_server, {f"{layer}/{table}": _expected(remote, layer, table) for layer, table in TABLES}


def _expected(store: ObjectStore, layer: str, table: str) -> tuple[int, set[str] | None]:
    """Rows by the manifests, and the dates of the partitions that hold any (None: unpartitioned)."""
    partitions = store.complete_partitions(layer, table)
    if not partitions:
        manifest = store.read_manifest(layer, table)
        assert manifest is not None, f"{layer}/{table} is not stored: the fixture must write every table"
        return manifest["rows"], None
    return sum(m["rows"] for m in partitions.values()), {day for day, m in partitions.items() if m["rows"]}


def _pandas(folder: str, **_) -> tuple[int, pd.Series | None]:
    frame = pd.read_parquet(folder)
    return len(frame), frame["date"].astype(str) if "date" in frame else None


def _pyarrow(folder: str, store: ObjectStore, **_):
    path = folder.removeprefix("s3://")
    table = ds.dataset(path, filesystem=store.filesystem(), partitioning="hive").to_table()
    return table.num_rows, table["date"].to_pandas().astype(str) if "date" in table.column_names else None


def _polars(folder: str, endpoint: str | None = None, **_):
    if endpoint:  # an object store has no folders: polars takes a prefix ending in "/"
        options = {"aws_endpoint_url": endpoint, "aws_allow_http": "true", "aws_region": "us-east-1",
                   "aws_access_key_id": S3_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": S3_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]}
        frame = pl.scan_parquet(f"{folder}/", storage_options=options)
    else:
        frame = pl.scan_parquet(folder)
    found = frame.collect()
    return found.height, found["date"].cast(pl.String).to_pandas() if "date" in found.columns else None


def _duckdb(folder: str, store: ObjectStore, endpoint: str | None = None, **_):
    connection = duckdb.connect()
    if endpoint:
        connection.register_filesystem(store.filesystem())  # s3:// through fsspec (httpfs: see below)
    found = connection.sql(f"SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)").df()
    return len(found), found["date"].astype(str) if "date" in found else None


READERS = {"pandas": _pandas, "pyarrow": _pyarrow, "polars": _polars, "duckdb": _duckdb}


def _read_every_table(store: ObjectStore, reader, endpoint: str | None = None) -> dict:
    """For each stored table: (rows, dates) as the reader sees the folder."""
    found = {}
    for layer, table in TABLES:
        rows, dates = reader(store.uri(layer, table), store=store, endpoint=endpoint)
        found[f"{layer}/{table}"] = (rows, set(dates) if dates is not None else None)
    return found


@pytest.fixture(scope="module")
def expected(stored) -> dict:
    return {f"{layer}/{table}": _expected(stored, layer, table) for layer, table in TABLES}


@pytest.mark.parametrize("reader", READERS)
def test_every_table_folder_reads_whole_with_each_reader(stored, expected, reader):
    assert _read_every_table(stored, READERS[reader]) == expected
    assert len(expected) == len(schemas.TABLES) and expected["events/card_transactions"][0] > 1000
    assert expected["events/card_transactions"][1] == {f"2026-01-{d:02d}" for d in range(1, 22)}
    assert expected["landing/web_visits"][1] == {"2026-01-14", "2026-01-15"}


@pytest.mark.parametrize("reader", READERS)
def test_every_table_folder_reads_whole_on_s3(on_s3, reader):
    remote, endpoint, expected = on_s3
    assert _read_every_table(remote, READERS[reader], endpoint) == expected
    assert expected["entities/customers"] == (SMALL_POPULATION["customers"], None)
    assert expected["events/card_transactions"][1] == set(S3_DAYS)


def test_duckdb_reads_s3_with_its_own_httpfs_extension_where_it_can_be_installed(on_s3):
    remote, endpoint, expected = on_s3
    connection = duckdb.connect()
    try:
        connection.sql("INSTALL httpfs")
        connection.sql("LOAD httpfs")
    except duckdb.Error as error:
        pytest.skip(f"DuckDB's httpfs extension cannot be installed here (it is downloaded on first use, and this "
                    f"machine reaches only 127.0.0.1): {str(error).splitlines()[0]}. DuckDB reads s3:// through fsspec "
                    f"in test_every_table_folder_reads_whole_on_s3 instead")
    connection.sql(f"CREATE SECRET (TYPE s3, KEY_ID '{S3_ENVIRONMENT['AWS_ACCESS_KEY_ID']}', SECRET "
                   f"'{S3_ENVIRONMENT['AWS_SECRET_ACCESS_KEY']}', REGION 'us-east-1', ENDPOINT "
                   f"'{endpoint.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false)")
    folder = remote.uri("events", "card_transactions")
    [(rows,)] = connection.sql(f"SELECT count(*) FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
                               ).fetchall()
    assert rows == expected["events/card_transactions"][0]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_landing_folders_in_text_formats_read_whole_as_folders(tmp_path, scenario, fmt):
    """NDJSON and CSV landing folders hold only their batch files too: polars scans the folder, DuckDB its glob.
    (Days after the funnel's first week, so every table has rows: polars skips empty NDJSON files, and a folder of
    nothing but empty ones is no dataset to it.)"""
    store = ObjectStore(root_url=str(tmp_path / "data"))
    text = scaled(scenario, **MICRO, anomalies={"landing_format": fmt})
    _materialise(store, text, ("2026-01-08", "2026-01-09"), ("2026-01-08", "2026-01-09"))
    scan = {"ndjson": pl.scan_ndjson, "csv": pl.scan_csv}[fmt]
    read = {"ndjson": "read_json", "csv": "read_csv"}[fmt]
    for layer, table in TABLES:
        if layer != "landing":
            continue
        folder = store.uri(layer, table)
        rows, dates = _expected(store, layer, table)
        assert json.loads(open(store.manifest_path(layer, table, "2026-01-08")).read())["format"] == fmt
        assert rows > 0, table
        assert scan(folder).select(pl.len()).collect().item() == rows, table
        [(counted, days)] = duckdb.sql(f"SELECT count(*), count(DISTINCT date) FROM {read}('{folder}/**/*.{fmt}', "
                                       "hive_partitioning = true)").fetchall()
        assert (counted, days) == (rows, 2), table
    assert _expected(store, "landing", "card_transactions")[0] > 500


def test_the_dataset_cards_reading_examples_read_whole_tables(stored, expected, scenario, monkeypatch):
    """DATASET.md's snippets (pandas, pyarrow, polars, DuckDB), run as written from the folder that holds data/."""
    tables = [dataset_card.StoredTable(spec, layer, name, (), 0) for spec, (layer, name) in
              zip(schemas.TABLES.values(), TABLES)]
    text = dataset_card.card(scaled(scenario, **MICRO), tables)
    monkeypatch.chdir(stored.root_url.removesuffix("/data"))
    found = {}
    for block in text.split("```python\n")[1:]:
        code = block.split("```")[0]
        found[code.split()[1]] = namespace = {}  # by the module it imports
        exec(code, namespace)
    [sql] = [block.split("```")[0] for block in text.split("```sql\n")[1:]]
    cards, fraud = expected["events/card_transactions"][0], expected["fraud/fraud_transactions"][0]
    assert len(found["pandas"]["stream"]) == cards + fraud
    assert found["pyarrow.dataset"]["visits"].num_rows == expected["landing/web_visits"][0]
    assert found["polars"]["stream"].select(pl.len()).collect().item() == cards
    assert len(duckdb.sql(sql.strip().removesuffix(";")).df()) == cards


def test_every_folder_written_has_a_manifest_listing_exactly_its_files(stored):
    """Tables, pictures and the carried state alike: a folder without a manifest reads as unfinished, so every
    folder a complete run leaves has one, in the parallel tree, naming each of its files with its checksum."""
    import hashlib
    from pathlib import Path

    root = Path(stored.root_url)
    folders = {p.parent for p in root.rglob("*") if p.is_file() and p.parent != root
               and not {"_manifests", ".locks", ".tmp"} & set(p.relative_to(root).parts)}
    assert {f.relative_to(root).parts[0] for f in folders} == {"entities", "events", "fraud", "landing", "reports",
                                                                "state"}
    assert {root / "reports/anomaly_timeline", root / "reports/detection_scorecard_plot"} <= folders
    manifests = set((root / "_manifests").rglob("*.json")) - {root / "_manifests" / "_scenario.json"}
    for folder in folders:
        manifest = root / "_manifests" / f"{folder.relative_to(root)}.json"
        listed = {f["path"]: f["sha256"] for f in json.loads(manifest.read_text())["files"]}
        assert listed == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}, folder
        manifests.discard(manifest)
    assert manifests == set()  # and no manifest without its folder
