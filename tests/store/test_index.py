"""The list index: shard caching by etag, bulk writes, crash between document and row."""

from __future__ import annotations

import json

import pytest

from core.adapters.request_index import ObjectRequestIndex, decode_cursor, encode_cursor, shard_of
from core.adapters.request_store import ObjectRequestStore
from core.domain.index import IndexRow, ListFilter
from core.ports.object_store import StoredObject
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.store.helpers import CountingObjectStore, applied, make_request


def _store(objects: CountingObjectStore, shards: int = 8) -> ObjectRequestStore:
    return ObjectRequestStore(objects, ManualClock(), index_shards=shards, sleep=lambda _: None)


def test_listing_reads_shards_not_documents() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    for n in range(40):
        store.create(make_request(f"req_l{n:05d}", minutes=n))
    reader = _store(objects)  # a fresh process: nothing cached
    objects.reset()
    page = reader.list(ListFilter(project="core"), limit=10)
    assert len(page.rows) == 10
    assert objects.calls == {"get_if_changed": 8}  # one read per shard, no document read


def test_an_unchanged_shard_costs_no_transfer() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    for n in range(20):
        store.create(make_request(f"req_c{n:05d}", minutes=n))
    reader = _store(objects)
    reader.list()
    objects.reset()
    assert len(reader.rows()) == 20
    assert objects.bytes_read == 0  # every shard answered "unchanged"
    store.update("req_c00003", applied)  # another process changes one shard
    objects.reset()
    assert next(r for r in reader.rows() if r.id == "req_c00003").status == "applied"
    changed = reader.index.shard_key(reader.index.shard_for("req_c00003"))
    assert objects.bytes_read == len(objects.inner.get(changed).body)  # type: ignore[union-attr]


def test_upsert_many_writes_each_shard_once() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    index = ObjectRequestIndex(objects, shards=4)
    rows = [IndexRow.of(make_request(f"req_b{n:05d}", minutes=n)) for n in range(100)]
    assert index.upsert_many(rows)
    assert objects.calls["put"] == 4
    assert len(ObjectRequestIndex(objects, shards=4).rows()) == 100
    objects.reset()
    assert index.upsert_many(rows)  # nothing newer: no write
    assert objects.calls.get("put", 0) == 0


def test_shard_assignment_is_stable_and_spread() -> None:
    assert shard_of("req_abcdef123456", 32) == shard_of("req_abcdef123456", 32)
    used = {shard_of(f"req_{n:012d}", 32) for n in range(1000)}
    assert used == set(range(32))


def test_cursor_round_trip() -> None:
    row = IndexRow.of(make_request("req_cur001", minutes=5))
    assert decode_cursor(encode_cursor(row)) == (row.received_at, row.id)
    for bad in ["", "!!!", "eyJ0IjogMX0"]:
        with pytest.raises(ValueError):
            decode_cursor(bad)


class _IndexWritesFail(InMemoryObjectStore):
    def put(self, key: str, body: bytes, **kwargs: object) -> str:  # type: ignore[override]
        if key.startswith("index/"):
            raise OSError("disk full")
        return super().put(key, body, **kwargs)  # type: ignore[arg-type]


def test_a_failed_index_write_leaves_a_stale_row_that_reindex_repairs() -> None:
    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock(), index_shards=4)
    store.create(make_request("req_s00001"))
    broken = _IndexWritesFail()
    broken.objects = objects.objects  # the same bucket, but index writes now fail
    crashed = ObjectRequestStore(broken, ManualClock(), index_shards=4)
    updated = crashed.update("req_s00001", applied)  # the document write succeeded: no error
    assert updated.version == 2
    assert store.get("req_s00001").version == 2
    assert next(r for r in store.rows() if r.id == "req_s00001").version == 1  # stale row
    report = store.reindex()
    assert report.complete
    row = next(r for r in store.rows() if r.id == "req_s00001")
    assert (row.version, row.status) == (2, "applied")


def test_reindex_keeps_rows_written_during_the_scan() -> None:
    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock(), index_shards=2)
    store.create(make_request("req_r00001"))
    late = make_request("req_r00002")

    original = objects.list_keys

    def list_then_create(prefix: str, *, start_after: str | None = None):  # type: ignore[no-untyped-def]
        keys = list(original(prefix, start_after=start_after))
        if prefix == "history/" and store.objects.get("requests/req_r00002.json") is None:
            store.create(late)  # created after the scan of requests/ finished
        return iter(keys)

    objects.list_keys = list_then_create  # type: ignore[method-assign]
    report = store.reindex()
    assert report.rows == 1
    assert {row.id for row in store.rows()} == {"req_r00001", "req_r00002"}


def test_naive_timestamps_in_legacy_documents_still_list() -> None:
    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock(), index_shards=2)
    store.create(make_request("req_t00001", minutes=1))
    legacy = make_request("req_t00002", minutes=2).to_doc()
    legacy["receivedAt"] = "2026-11-01T10:02:00"  # no offset
    legacy["updatedAt"] = "2026-11-01T10:02:00"
    objects.objects["requests/req_t00002.json"] = StoredObject(
        "requests/req_t00002.json", json.dumps(legacy).encode(), '"legacy"'
    )
    store.reindex()
    assert [row.id for row in store.rows()] == ["req_t00002", "req_t00001"]
    assert all(row.received_at.tzinfo is not None for row in store.rows())


def test_naive_time_bounds_are_read_as_utc() -> None:
    from datetime import datetime

    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock(), index_shards=2)
    for n in range(3):
        store.create(make_request(f"req_u{n:05d}", minutes=n))  # 10:00, 10:01, 10:02 UTC
    naive = ListFilter(since=datetime(2026, 11, 1, 10, 1), until=datetime(2026, 11, 1, 10, 2))
    assert naive.since is not None and naive.since.tzinfo is not None
    assert [row.id for row in store.rows(naive)] == ["req_u00001"]
