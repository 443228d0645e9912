"""Upgrading from the sharded index without a manual step: once, by one replica, on moto's S3."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import boto3
import pytest

from core.adapters.index_migration import LEASE_KEY, MigrationOutcome
from core.adapters.request_store import ObjectRequestStore, S3RequestStore
from core.domain.index import ListFilter
from tests.fakes import ManualClock
from tests.store.helpers import T0, CountingObjectStore, applied, make_request

BUCKET = "tfpilot-migration-test"
OLD_SHARD = b'{"format": "tfpilot.index/v1", "shards": 32, "shard": 0, "rows": {}}'


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    for start in range(0, len(keys), 1000):
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]})
    client.delete_bucket(Bucket=BUCKET)


def _old_release_store(s3: Any, clock: ManualClock, count: int) -> None:
    """Documents written by the previous release: rows in shards, no key-encoded entries."""
    store = S3RequestStore(s3, BUCKET, clock)
    for n in range(count):
        store.create(make_request(f"req_m{n:05d}", minutes=n))
    store.update("req_m00000", applied)
    for key in list(store.objects.list_keys("index/")):
        store.objects.delete(key)
    for shard in range(3):
        store.objects.put(f"index/shard-{shard:02d}.json", OLD_SHARD)


def test_a_store_with_only_the_sharded_index_is_rebuilt_once(s3: Any) -> None:
    clock = ManualClock(T0)
    _old_release_store(s3, clock, 12)
    store = S3RequestStore(s3, BUCKET, clock)
    assert store.list().rows == []  # what an upgraded replica saw before: nothing listed
    assert store.upgrade_legacy_index() is MigrationOutcome.MIGRATED
    rows = store.list(limit=50).rows
    assert len(rows) == 12
    assert [r.status for r in rows if r.id == "req_m00000"] == ["applied"]
    assert list(store.objects.list_keys("index/shard-")) == []  # the old shards are gone
    assert store.objects.get(LEASE_KEY) is None  # the lease is released
    # From then on the check is one LIST of at most one key, and nothing is written.
    counting = CountingObjectStore(store.objects)
    again = ObjectRequestStore(counting, clock)
    assert again.upgrade_legacy_index() is MigrationOutcome.NOT_NEEDED
    assert counting.calls == {"list_keys": 1}


def test_a_live_lease_elsewhere_leaves_the_rebuild_to_its_holder(s3: Any) -> None:
    clock = ManualClock(T0)
    _old_release_store(s3, clock, 3)
    store = S3RequestStore(s3, BUCKET, clock)
    holder = json.dumps({"token": "other-replica", "takenAt": (T0 - timedelta(minutes=5)).isoformat()})
    store.objects.put(LEASE_KEY, holder.encode(), if_none_match=True)
    assert store.upgrade_legacy_index() is MigrationOutcome.RUNNING_ELSEWHERE
    assert store.list().rows == []  # not rebuilt here
    assert list(store.objects.list_keys("index/shard-")) != []
    assert json.loads(store.objects.get(LEASE_KEY).body)["token"] == "other-replica"  # type: ignore[union-attr]


def test_an_expired_lease_is_taken_over(s3: Any) -> None:
    clock = ManualClock(T0)
    _old_release_store(s3, clock, 3)
    store = S3RequestStore(s3, BUCKET, clock)
    dead = json.dumps({"token": "dead-replica", "takenAt": (T0 - timedelta(hours=2)).isoformat()})
    store.objects.put(LEASE_KEY, dead.encode(), if_none_match=True)
    assert store.upgrade_legacy_index() is MigrationOutcome.MIGRATED
    assert len(store.list().rows) == 3
    assert store.objects.get(LEASE_KEY) is None


def test_replicas_starting_together_rebuild_once_and_lose_no_write(s3: Any) -> None:
    clock = ManualClock(T0)
    _old_release_store(s3, clock, 20)
    replicas = [S3RequestStore(s3, BUCKET, clock) for _ in range(4)]
    outcomes: list[MigrationOutcome] = []
    lock = threading.Lock()
    go = threading.Barrier(len(replicas) + 1)

    def start(store: S3RequestStore) -> None:
        go.wait()
        outcome = store.upgrade_legacy_index()
        with lock:
            outcomes.append(outcome)

    def keep_serving() -> None:
        # Another replica keeps writing while the rebuild runs: its writes must survive it.
        go.wait()
        writer = S3RequestStore(s3, BUCKET, clock)
        for n in range(5):
            writer.create(make_request(f"req_new{n:03d}", minutes=100 + n))

    threads = [threading.Thread(target=start, args=(r,)) for r in replicas]
    threads.append(threading.Thread(target=keep_serving))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(MigrationOutcome.MIGRATED) == 1
    assert set(outcomes) <= {MigrationOutcome.MIGRATED, MigrationOutcome.RUNNING_ELSEWHERE, MigrationOutcome.NOT_NEEDED}
    ids = {row.id for row in replicas[0].rows(ListFilter(include_archived=True))}
    assert ids == {f"req_m{n:05d}" for n in range(20)} | {f"req_new{n:03d}" for n in range(5)}
    assert list(replicas[0].objects.list_keys("index/shard-")) == []
