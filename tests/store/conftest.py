"""Store fixtures: the three request stores (in memory, local dir, S3 on moto) and the three object
stores under them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_store import LocalRequestStore, ObjectRequestStore, S3RequestStore
from core.adapters.s3_objects import S3ObjectStore
from core.ports.object_store import ObjectStore
from tests.fakes import InMemoryObjectStore, ManualClock, MemoryRequestStore
from tests.store.moto_server import AtomicMotoServer

BUCKET = "tfpilot-requests-test"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def _moto_s3() -> Iterator[tuple[Any, Any]]:
    # One in-process moto and one client per test module: building a boto3 client costs a few
    # hundred milliseconds, which per test would dominate this area's run time.
    mock = mock_aws()
    mock.start()
    try:
        yield mock, boto3.client("s3", region_name="us-east-1")
    finally:
        mock.stop()


@pytest.fixture
def s3_client(_moto_s3: tuple[Any, Any]) -> Any:
    mock, client = _moto_s3
    mock.reset()  # every test starts from an empty account: no bucket or object leaks between tests
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 over real HTTP (``AtomicMotoServer``), one server per test module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["memory", "local", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return InMemoryObjectStore()
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    client = request.getfixturevalue("s3_client")
    return S3ObjectStore(client, BUCKET)


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> ObjectRequestStore:
    # "memory" is the fake the service, Slack and web tests run on: held to the same contract.
    if request.param == "memory":
        return MemoryRequestStore(clock)
    if request.param == "local":
        return LocalRequestStore(tmp_path / "data", clock)
    client = request.getfixturevalue("s3_client")
    return S3RequestStore(client, BUCKET, clock)
