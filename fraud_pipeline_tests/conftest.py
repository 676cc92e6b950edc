"""Shared fixtures: the default scenario and world, a loopback S3 server, and stores on both backends."""

import os
import socket
import uuid

import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from fraud_pipeline import schemas
from fraud_pipeline.generators import entities as generate
from fraud_pipeline.scenario import load_scenario, merge_over, validate_scenario, Scenario
from fraud_pipeline.storage import ObjectStore

S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario({})


def scaled(scenario: Scenario, **overrides) -> Scenario:
    """The scenario with sections overridden the way a user's file would."""
    return validate_scenario(merge_over(Scenario, scenario.model_dump(mode="json"), overrides))


@pytest.fixture(scope="session")
def small_scenario(scenario) -> Scenario:
    return scaled(scenario, population={"customers": 400, "accounts": 500, "devices": 360, "beneficiaries": 600,
                                        "merchants": 100, "atms": 40})


def generate_world(scenario: Scenario) -> dict:
    world = {"customers": generate.customers(scenario), "devices": generate.devices(scenario),
             "beneficiaries": generate.beneficiaries(scenario), "merchants": generate.merchants(scenario),
             "feature_catalogue": generate.feature_catalogue(schemas.TABLES)}
    world["accounts"] = generate.accounts(scenario, world["customers"], world["devices"])
    world["cards"] = generate.cards(scenario, world["accounts"])
    world["account_beneficiaries"] = generate.account_beneficiaries(scenario, world["accounts"],
                                                                    world["beneficiaries"])
    return world


@pytest.fixture(scope="session")
def world(scenario) -> dict:
    """The default-size world, generated once for the distribution tests."""
    return generate_world(scenario)


@pytest.fixture(scope="session")
def world_index(scenario, world):
    """The card world of the default-size world (what a run builds once)."""
    from fraud_pipeline.generators.card_transactions import card_world

    return card_world(scenario, world["customers"], world["accounts"], world["cards"], world["merchants"],
                      world["account_beneficiaries"])


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
