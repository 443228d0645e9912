"""``Once.first``: exactly one True per key, even when the first write's response is lost.

The lost response is real HTTP against moto's server: a botocore ``before-send`` hook sends the
conditional put to the server (the marker lands), then reports a read timeout, so botocore's own
retry sends the same ``If-None-Match: *`` put again and gets 412 for our own marker.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.adapters.local_objects import LocalObjectStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore
from core.services.once import Once
from tests.fakes import InMemoryObjectStore
from tests.store.lost_response import LoseFirstResponse


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # moto's dummy credentials
    )


@pytest.fixture
def lossy(moto_endpoint: str) -> tuple[S3ObjectStore, S3ObjectStore, LoseFirstResponse]:
    """Two clients of one bucket: the first loses its first conditional put's response."""
    bucket = f"once-{uuid.uuid4().hex[:12]}"
    plain = s3_client(moto_endpoint)
    plain.create_bucket(Bucket=bucket)
    flaky = s3_client(moto_endpoint)
    drop = LoseFirstResponse("If-None-Match")
    flaky.meta.events.register("before-send.s3.PutObject", drop)
    return S3ObjectStore(flaky, bucket), S3ObjectStore(plain, bucket), drop


def test_a_lost_response_makes_botocore_retry_into_its_own_marker(
    lossy: tuple[S3ObjectStore, S3ObjectStore, LoseFirstResponse],
) -> None:
    # The mechanism: without reading the marker back, the only writer would see a conflict.
    flaky, plain, drop = lossy
    with pytest.raises(VersionConflict):
        flaky.put("dedupe/test/raw", b'{"token": "mine"}', if_none_match=True)
    assert drop.dropped == [200]
    found = plain.get("dedupe/test/raw")
    assert found is not None and json.loads(found.body) == {"token": "mine"}


def test_the_first_and_only_delivery_is_not_dropped_when_its_response_is_lost(
    lossy: tuple[S3ObjectStore, S3ObjectStore, LoseFirstResponse],
) -> None:
    flaky, plain, drop = lossy
    assert Once(flaky, "dedupe/github").first("delivery-1") is True
    assert drop.dropped == [200]  # the marker landed on the first send; the retry got 412
    # A genuine second caller, on the flaky client or another one, is still refused.
    assert Once(flaky, "dedupe/github").first("delivery-1") is False
    assert Once(plain, "dedupe/github").first("delivery-1") is False
    assert list(plain.list_keys("dedupe/github/")) == ["dedupe/github/delivery-1"]


@pytest.fixture(params=["memory", "local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return InMemoryObjectStore()
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    bucket = f"once-{uuid.uuid4().hex[:12]}"
    client = s3_client(request.getfixturevalue("moto_endpoint"))
    client.create_bucket(Bucket=bucket)
    return S3ObjectStore(client, bucket)


def test_one_true_per_key(objects: ObjectStore) -> None:
    once = Once(objects, "dedupe/slack/")
    assert [once.first("a"), once.first("a"), once.first("b"), Once(objects, "dedupe/slack").first("b")] == [
        True,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize("body", [b'{"key": "a", "at": null}', b"not json", b'["token"]', b'{"token": 7}'])
def test_a_marker_without_our_token_means_second(objects: ObjectStore, body: bytes) -> None:
    # Markers written before tokens existed, or unreadable ones, never count as ours.
    objects.put("dedupe/slack/a", body)
    assert Once(objects, "dedupe/slack").first("a") is False


def test_keys_are_confined_to_the_prefix(objects: ObjectStore) -> None:
    once = Once(objects, "dedupe/slack")
    assert once.first("../requests/req_a00001.json") is True
    assert list(objects.list_keys("requests/")) == []
    assert once.first("../requests/req_a00001.json") is False
