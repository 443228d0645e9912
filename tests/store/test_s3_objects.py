"""S3ObjectStore specifics: SSE on every write, error mapping, paging."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from core.adapters.s3_objects import S3ObjectStore
from core.domain.errors import VersionConflict
from tests.store.conftest import BUCKET


def test_every_put_sets_sse_aes256(s3_client: Any) -> None:
    store = S3ObjectStore(s3_client, BUCKET)
    etag = store.put("requests/a.json", b"1", if_none_match=True)
    store.put("requests/a.json", b"2", if_match=etag)
    store.put("other/b.json", b"3")
    for key in ("requests/a.json", "other/b.json"):
        assert s3_client.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
    assert s3_client.head_object(Bucket=BUCKET, Key="requests/a.json")["ContentType"] == "application/json"


def test_list_keys_follows_continuation_tokens(s3_client: Any) -> None:
    # Pages of 4 keys: the same continuation path as S3's pages of 1,000, on 23 objects.
    store = S3ObjectStore(s3_client, BUCKET, page_size=4)
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    for n in range(23):
        s3_client.put_object(Bucket=BUCKET, Key=f"many/{n:05d}", Body=b"")
    s3_client.put_object(Bucket=BUCKET, Key="other/x", Body=b"")
    s3_client.meta.events.register("provide-client-params.s3.ListObjectsV2", record)
    try:
        keys = list(store.list_keys("many/"))
        assert keys == [f"many/{n:05d}" for n in range(23)]
        assert len(calls) == 6 and all(c["MaxKeys"] == 4 for c in calls)
        assert "ContinuationToken" not in calls[0] and all("ContinuationToken" in c for c in calls[1:])
        after = list(store.list_keys("many/", start_after="many/00016"))
        assert after == [f"many/{n:05d}" for n in range(17, 23)]
        calls.clear()
        assert len(list(S3ObjectStore(s3_client, BUCKET).list_keys("many/"))) == 23
        assert [c["MaxKeys"] for c in calls] == [1000]  # S3's own maximum by default
    finally:
        s3_client.meta.events.unregister("provide-client-params.s3.ListObjectsV2", record)


def _stubbed() -> tuple[S3ObjectStore, Stubber]:
    client = boto3.client("s3", region_name="us-east-1")
    return S3ObjectStore(client, BUCKET), Stubber(client)


@pytest.mark.parametrize(
    ("code", "status"),
    [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409)],
)
def test_condition_failures_become_version_conflict(code: str, status: int) -> None:
    store, stubber = _stubbed()
    stubber.add_client_error("put_object", service_error_code=code, http_status_code=status)
    with stubber, pytest.raises(VersionConflict) as caught:
        store.put("requests/a.json", b"{}", if_match='"e1"')
    assert caught.value.key == "requests/a.json"


def test_other_errors_propagate() -> None:
    store, stubber = _stubbed()
    stubber.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    with stubber:
        with pytest.raises(ClientError):
            store.put("requests/a.json", b"{}")
        with pytest.raises(ClientError):
            store.get("requests/a.json")


def test_conditional_writes_send_the_conditions() -> None:
    store, stubber = _stubbed()
    base = {
        "Bucket": BUCKET,
        "Key": "k",
        "Body": b"x",
        "ContentType": "application/json",
        "ServerSideEncryption": "AES256",
    }
    stubber.add_response("put_object", {"ETag": '"1"'}, {**base, "IfNoneMatch": "*"})
    stubber.add_response("put_object", {"ETag": '"2"'}, {**base, "IfMatch": '"1"'})
    with stubber:
        assert store.put("k", b"x", if_none_match=True) == '"1"'
        assert store.put("k", b"x", if_match='"1"') == '"2"'
    stubber.assert_no_pending_responses()
