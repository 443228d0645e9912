"""The reconciler's window claims: one object per window, one winner per request, no conditional
PUT lost against our own write. On the in-memory store for call counts, on moto's S3 server
(one request at a time, as S3 applies a conditional write) for the race."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

import boto3

from core.adapters.s3_objects import S3ObjectStore
from core.ports.object_store import ObjectStore, StoredObject
from core.services.reconcile_claims import WindowClaims, claims_key
from tests.fakes import InMemoryObjectStore
from tests.store.helpers import CountingObjectStore

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_one_put_claims_a_batch_and_a_later_pass_knows_it_without_a_call() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    claims = WindowClaims(objects)
    ids = [f"req_{n}" for n in range(100)]
    assert claims.claim(7, ids, AT) == set(ids)
    assert objects.calls == {"put": 1}
    objects.reset()
    assert claims.claim(7, ids, AT) == set(ids)  # the next pass of the window
    assert objects.calls == {}
    assert claims.holder(7, "req_3") == claims.owner
    assert claims.claim(8, ["req_3"], AT) == {"req_3"}  # a new window: a new object
    assert objects.calls == {"put": 1}


def test_a_second_replica_gets_only_what_nobody_holds() -> None:
    objects = InMemoryObjectStore()
    first, second = WindowClaims(objects), WindowClaims(objects)
    assert first.claim(7, ["a", "b"], AT) == {"a", "b"}
    assert second.claim(7, ["b", "c"], AT) == {"c"}
    assert second.holder(7, "b") == first.owner
    # The first replica's next claim meets the second's write: one 412, a read, a merge.
    assert first.claim(7, ["c", "d"], AT) == {"d"}
    assert {rid: WindowClaims(objects).holder(7, rid) for rid in "abcd"} == dict.fromkeys("abcd")  # fresh: no memory
    reader = WindowClaims(objects)
    assert reader.claim(7, ["a", "b", "c", "d"], AT) == set()
    assert [reader.holder(7, rid) for rid in "abcd"] == [first.owner, first.owner, second.owner, first.owner]


class _LostResponse:
    """The claim PUT lands but its response is lost; the retry meets our own write (412)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.lost = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        etag = self.inner.put(key, body, **kwargs)
        if self.lost:
            self.lost -= 1
            return self.inner.put(key, body, **kwargs)  # the retried PUT: a conflict
        return etag

    def get(self, key: str) -> StoredObject | None:
        return self.inner.get(key)


def test_a_retried_put_that_meets_our_own_write_counts_as_ours() -> None:
    objects = _LostResponse(InMemoryObjectStore())
    claims = WindowClaims(objects)  # type: ignore[arg-type]
    assert claims.claim(7, ["a"], AT) == {"a"}


def _moto_objects(endpoint: str, bucket: str) -> S3ObjectStore:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    return S3ObjectStore(client, bucket)


def test_replicas_racing_on_s3_split_the_requests_without_overlap(moto_endpoint: str) -> None:
    objects = _moto_objects(moto_endpoint, "tfpilot-claims-test")
    ids = [f"req_{n:03d}" for n in range(60)]
    replicas = [WindowClaims(_moto_objects(moto_endpoint, "tfpilot-claims-test")) for _ in range(4)]
    held: dict[str, set[str]] = {}
    go = threading.Barrier(len(replicas))

    def run(claims: WindowClaims, offset: int) -> None:
        mine: set[str] = set()
        go.wait()
        for start in range(0, len(ids), 10):  # several passes, each claiming a batch
            batch = ids[(start + offset * 10) % len(ids) :][:10]
            mine |= claims.claim(42, batch, AT)
        held[claims.owner] = mine

    threads = [threading.Thread(target=run, args=(c, n)) for n, c in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [rid for mine in held.values() for rid in mine]
    assert sorted(taken) == ids  # every request claimed, and by exactly one replica
    stored = WindowClaims(objects)
    assert stored.claim(42, ids, AT) == set()
    assert all(stored.holder(42, rid) in held and rid in held[stored.holder(42, rid) or ""] for rid in ids)
    assert objects.get(claims_key(42)) is not None
