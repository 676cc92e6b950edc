"""Shared fixtures: the default scenario and world, a loopback S3 server, and stores on both backends."""

import os
import socket
import uuid

import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.engine.executors import ExecutorSettings
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import Scenario, load_scenario, with_overrides
from fraud_pipeline.world.entities import entity_tables

S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


SMALL_POPULATION = {"customers": 400, "accounts": 500, "devices": 480, "beneficiaries": 600, "merchants": 100,
                    "atms": 40, "online_merchants": 40, "foreign_merchants": 60, "foreign_atms": 20}


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario({})


def scaled(scenario: Scenario, **overrides) -> Scenario:
    """The scenario with sections overridden the way a user's file would."""
    return with_overrides(scenario, overrides)


@pytest.fixture(scope="session")
def small_scenario(scenario) -> Scenario:
    return scaled(scenario, population=SMALL_POPULATION)


def generate_world(scenario: Scenario) -> dict:
    """Every entity table of `scenario`."""
    return entity_tables(scenario)


@pytest.fixture(scope="session")
def world(scenario) -> dict:
    """The default-size world, generated once for the distribution tests."""
    return generate_world(scenario)


def distance_deg(lat1, lon1, lat2, lon2):
    """Equirectangular distance in degrees of latitude: exact enough at the scale of a country."""
    return np.hypot(lat2 - lat1, (lon2 - lon1) * np.cos(np.radians((lat1 + lat2) / 2)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server on 127.0.0.1 (moto's in-process mock does not work with s3fs)."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {key: os.environ.get(key) for key in [*S3_ENVIRONMENT, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENVIRONMENT, AWS_ENDPOINT_URL=endpoint)
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_url(s3_server) -> str:
    """A fresh bucket on the loopback server, as an s3:// root with a prefix."""
    url = f"s3://test-{uuid.uuid4().hex[:12]}/fraud"
    ObjectStore(root_url=url).filesystem().mkdir(url.removeprefix("s3://").split("/")[0])
    return url


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ObjectStore:
    if request.param == "local":
        return ObjectStore(root_url=str(tmp_path / "data"))
    return ObjectStore(root_url=request.getfixturevalue("s3_url"))


def layer_tree(store: ObjectStore, layer: str) -> dict[str, bytes]:
    """Every file of a storage layer — its data files and their manifests — by path below the root."""
    fs = store.filesystem()
    root = store.path(layer, "x").rsplit("/", 2)[0]
    return {path.removeprefix(root): fs.cat_file(path) for folder in (layer, f"_manifests/{layer}")
            if fs.exists(f"{root}/{folder}") for path in fs.find(f"{root}/{folder}")}


def simulated_days(scenario: Scenario, days: int, cache_dir) -> dict:
    """The first `days` days of `scenario` through the pure pipeline, as pandas frames: transactions (genuine),
    fraud (fraud_transactions), episodes, balances (with their date), card_events, and the entity tables.

    Several test files read the same month of the default bank: the first worker to need it computes it and
    leaves it (atomically) in `cache_dir`, shared by the xdist workers of one session, for the others.
    """
    import pickle
    from datetime import timedelta

    import pyarrow as pa

    from fraud_pipeline.engine.bank import Bank

    path = cache_dir / f"bank-{scenario.content_hash}-{days}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    bank = Bank(scenario)
    parts: dict[str, list] = {"transactions": [], "fraud": [], "episodes": [], "balances": [], "card_events": []}
    for offset in range(days):
        day = bank.day(scenario.start_date + timedelta(days=offset))
        parts["transactions"].append(day.transactions)
        parts["fraud"].append(day.fraud_transactions)
        parts["episodes"].append(day.fraud_episodes)
        parts["balances"].append(day.account_balances.append_column(
            "date", pa.array([scenario.start_date + timedelta(days=offset)] * day.account_balances.num_rows)))
        parts["card_events"].append(day.card_events)
    found = {name: pa.concat_tables(tables).to_pandas() for name, tables in parts.items()}
    found["entities"] = {name: table.to_pandas() for name, table in bank.entities.items()}
    partial = path.with_suffix(f".{uuid.uuid4().hex}")
    partial.write_bytes(pickle.dumps(found))
    partial.replace(path)
    return found


@pytest.fixture(scope="session")
def bank_cache(tmp_path_factory):
    """A folder shared by every xdist worker of this session (and only of this session)."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "bank-cache"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def default_month(scenario, bank_cache) -> dict:
    """Four weeks of the default bank (see `simulated_days`)."""
    return simulated_days(scenario, 28, bank_cache)


def run_resources(store: ObjectStore, executor: ExecutorSettings | None = None) -> dict:
    """The resources a run of the code location's assets needs: the store, and where the bank's blocks run
    (by default one after another in the run's process, the reference)."""
    return {"store": store, "executor": executor or ExecutorSettings()}


# laundering about a thousand times the default's rate: a few cases a day in a small bank (`aml`)
BUSY_LAUNDERING = {name: {"cases_per_10k_accounts_month": 1_000} for name in AML_TYPOLOGIES if name != "new_account"}
BUSY_LAUNDERING["new_account"] = {"share_of_openings": 1.0}  # most debit accounts opening (the mule profile's all)
BUSY_LAUNDERING["mule"]["inside_share"] = 0.5  # half the rings' mule slots ours: our own takeovers feed mules often
BUSY_LAUNDERING["front_business"]["days"] = {"min": 7, "max": 12}  # fronts of a week or two: cases finish in 21 days


@pytest.fixture(scope="session")
def small_bank(scenario) -> Scenario:
    """Four blocks of 100 customers, two blocks a file: two ranges of blocks a day, busy transfers between blocks,
    busy laundering."""
    return scaled(scenario, population={**SMALL_POPULATION, "block_customers": 100}, storage={"blocks_per_file": 2},
                  card_transactions={"per_day": 2_000}, money={"p2p_rate": 0.5}, aml=BUSY_LAUNDERING)
