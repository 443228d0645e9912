"""The list index: what listing and writing cost, crashes between entries, rows in bodies."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from core.adapters.index_keys import decode_cursor, encode_cursor, invert_id
from core.adapters.request_index import ObjectRequestIndex
from core.adapters.request_store import ObjectRequestStore
from core.domain.errors import RequestArchived
from core.domain.index import IndexRow, ListFilter
from core.ports.object_store import ObjectStore, StoredObject
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.store.helpers import T0, CountingObjectStore, applied, failed_plan, make_request


def _store(objects: ObjectStore, **kwargs: Any) -> ObjectRequestStore:
    return ObjectRequestStore(objects, ManualClock(), sleep=lambda _: None, **kwargs)


def test_listing_reads_keys_not_documents() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    for n in range(40):
        store.create(make_request(f"req_l{n:05d}", minutes=n))
    reader = _store(objects)  # a fresh process: nothing cached, and nothing to cache
    objects.reset()
    page = reader.list(ListFilter(project="core"), limit=10)
    assert [row.id for row in page.rows] == [f"req_l{n:05d}" for n in range(39, 29, -1)]
    assert objects.calls == {"list_keys": 1}  # one ListObjectsV2, no document read
    assert objects.bytes_read == 0


def _update_cost(store: ObjectRequestStore, objects: CountingObjectStore, request_id: str) -> dict[str, int]:
    objects.reset()
    store.update(request_id, applied)
    return dict(objects.calls)


def test_a_write_costs_the_same_at_any_size() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_w00000"))
    small = _update_cost(store, objects, "req_w00000")
    for n in range(1, 300):
        store.create(make_request(f"req_w{n:05d}", minutes=n))
    big = _update_cost(store, objects, "req_w00150")
    # One document PUT (its etag was remembered: no GET), three index entries PUT (status,
    # requester, active), and the entries the replaced document was listed by (it says which)
    # deleted in one batch, without listing the index: independent of the size.
    assert small == big == {"put": 4, "delete_many": 1}


def test_an_update_that_changes_no_listed_field_writes_no_index() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_q00001"))
    objects.reset()
    store.update("req_q00001", lambda r: r.model_copy(update={"config": {"name": "renamed"}}))
    assert objects.calls == {"put": 1}
    [row] = store.rows()
    assert (row.version, row.updated_at) == (1, T0)  # the row keeps its last listed change


def test_a_stale_etag_memory_costs_one_conflict_then_reads() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    mine, theirs = _store(objects), _store(objects)
    mine.create(make_request("req_e00001"))
    theirs.update("req_e00001", lambda r: r.model_copy(update={"config": {"by": "them"}}))
    objects.reset()
    updated = mine.update("req_e00001", lambda r: r.model_copy(update={"config": {**r.config, "me": 1}}))
    assert updated.config == {"by": "them", "me": 1} and updated.version == 3
    assert objects.calls == {"put": 2, "get": 1}  # the 412, the read, the write


def test_recent_is_what_this_process_wrote_and_costs_no_call() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_r00001"))
    objects.reset()
    assert store.recent("req_r00001").version == 1
    assert objects.calls == {}
    reader = _store(objects)  # another process: nothing remembered, so it reads (and remembers)
    assert reader.recent("req_r00001").version == 1
    assert reader.recent("req_r00001").version == 1
    assert objects.calls == {"get": 1}


def test_a_stale_recent_copy_never_loses_another_writers_change() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    mine, theirs = _store(objects), _store(objects)
    mine.create(make_request("req_r00002"))
    theirs.update("req_r00002", failed_plan)  # another process writes: ``mine`` does not know
    stale = mine.recent("req_r00002")
    assert stale.version == 1  # the copy is stale, as documented
    objects.reset()
    updated = mine.update("req_r00002", lambda r: r.model_copy(update={"config": {**r.config, "me": 1}}))
    # The write prepared on the stale copy lost its compare-and-swap (412), read, and kept both.
    assert updated.version == 3 and updated.config.get("me") == 1
    assert updated.plan_run is not None and updated.plan_run.conclusion == "failure"  # theirs kept
    assert objects.calls["get"] == 1 and objects.calls["put"] >= 2
    # A mutation that writes nothing is judged on the stored version, not on the stale copy.
    assert _store(objects).recent("req_r00002").version == 3
    theirs.update("req_r00002", applied)
    assert mine.update("req_r00002", lambda r: None).version == 4


def test_rows_too_long_for_a_key_live_in_the_body() -> None:
    objects = InMemoryObjectStore()
    store = _store(objects, inline_limit=120)
    store.create(make_request("req_b00001", minutes=1))
    store.create(applied(make_request("req_b00002", minutes=2)))
    keys = list(objects.list_keys("index/"))
    assert keys and all(key.endswith("~") for key in keys)
    rows = _store(objects, inline_limit=120).rows()
    assert [(r.id, r.status) for r in rows] == [("req_b00002", "applied"), ("req_b00001", "request_created")]


def test_inverted_ids_sort_in_reverse_and_invert_back() -> None:
    ids = ["a", "a-1", "a.b", "a0", "aZ", "a_", "ab", "b", "B", "0", "-"]
    assert sorted(ids, key=invert_id) == sorted(ids, key=lambda i: i + "~", reverse=True)
    assert all(invert_id(invert_id(i)) == i for i in ids)
    # The separator that ends the id sorts above every id character: "a" after "a-1".
    assert sorted(invert_id(i) + "~" for i in ids) == [invert_id(i) + "~" for i in sorted(ids, reverse=True)]


def test_a_crash_between_new_entries_and_deletes_is_repaired_by_the_next_write() -> None:
    objects = InMemoryObjectStore()
    store = _store(objects)
    store.create(make_request("req_k00001"))
    crashed = _NoDeletes()
    crashed.objects = objects.objects  # the same bucket, but deletes are lost (a crash)
    _store(crashed).update("req_k00001", failed_plan)
    # The old entry is still in its stream; the listing of the new status is right already.
    assert [r.id for r in store.rows(ListFilter(status=frozenset({"failed"})))] == ["req_k00001"]
    assert [r.version for r in store.rows()] == [2]  # one row per request: the newest wins
    store.update("req_k00001", applied)  # the next listed change settles every older version
    assert store.rows(ListFilter(status=frozenset({"request_created", "failed"}))) == []
    assert len(list(objects.list_keys("index/"))) == 3  # status, requester, active


def test_reindex_twice_writes_nothing_the_second_time() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    for n in range(5):
        store.create(make_request(f"req_x{n:05d}", minutes=n))
    store.reindex()
    objects.reset()
    store.reindex()
    assert "put" not in objects.calls and "delete" not in objects.calls


def test_whole_index_scans_are_reused_for_a_while_and_dropped_by_own_writes() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    writer, reader = _store(objects), _store(objects)
    now = [0.0]
    reader.index = ObjectRequestIndex(objects, monotonic=lambda: now[0], scan_ttl=60)
    writer.create(make_request("req_m00001"))
    assert [r.id for r in reader.rows()] == ["req_m00001"]
    writer.create(make_request("req_m00002", minutes=1))
    objects.reset()
    assert [r.id for r in reader.rows()] == ["req_m00001"]  # another process's write: not yet
    assert objects.calls == {}
    assert [r.id for r in reader.list().rows] == ["req_m00002", "req_m00001"]  # pages are never cached
    now[0] = 61.0
    assert [r.id for r in reader.rows()] == ["req_m00002", "req_m00001"]
    reader.update("req_m00001", applied)  # this process's own write: seen at once
    assert [(r.id, r.status) for r in reader.rows(ListFilter(status=frozenset({"applied"})))] == [
        ("req_m00001", "applied")
    ]
    assert [r.status for r in reader.rows() if r.id == "req_m00001"] == ["applied"]


def test_an_index_left_in_the_sharded_format_asks_for_a_reindex(caplog: pytest.LogCaptureFixture) -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    writer = _store(objects)
    writer.create(make_request("req_o00001"))
    for key in list(objects.list_keys("index/")):
        objects.delete(key)
    objects.put("index/shard-00.json", b'{"format": "tfpilot.index/v1", "shards": 32, "shard": 0, "rows": {}}')
    reader = _store(objects)
    with caplog.at_level(logging.ERROR):
        assert reader.list().rows == []
        assert reader.rows() == []
    assert caplog.text.count("tfpilot admin reindex") == 1  # said once per process
    reader.reindex()
    assert [r.id for r in reader.list().rows] == ["req_o00001"]
    assert objects.get("index/shard-00.json") is None  # the old shards are removed


def test_cursor_round_trip() -> None:
    row = IndexRow.of(make_request("req_cur001", minutes=5))
    assert decode_cursor(encode_cursor(row)) == (row.received_at, row.id)
    for bad in ["", "!!!", "eyJ0IjogMX0"]:
        with pytest.raises(ValueError):
            decode_cursor(bad)


class _NoDeletes(InMemoryObjectStore):
    def delete(self, key: str) -> None:
        if not key.startswith("index/"):
            super().delete(key)


class _IndexWritesFail(InMemoryObjectStore):
    def put(self, key: str, body: bytes, **kwargs: object) -> str:  # type: ignore[override]
        if key.startswith("index/"):
            raise OSError("disk full")
        return super().put(key, body, **kwargs)  # type: ignore[arg-type]


def test_a_failed_index_write_leaves_a_stale_row_that_reindex_repairs() -> None:
    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock())
    store.create(make_request("req_s00001"))
    broken = _IndexWritesFail()
    broken.objects = objects.objects  # the same bucket, but index writes now fail
    crashed = ObjectRequestStore(broken, ManualClock())
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
    store = ObjectRequestStore(objects, ManualClock())
    store.create(make_request("req_r00001"))
    late = make_request("req_r00002")

    original = objects.list_keys

    def list_then_create(prefix: str, *, start_after: str | None = None, limit: int | None = None):  # type: ignore[no-untyped-def]
        keys = list(original(prefix, start_after=start_after, limit=limit))
        if prefix == "history/" and store.objects.get("requests/req_r00002.json") is None:
            store.create(late)  # created after the scan of requests/ finished
        return iter(keys)

    objects.list_keys = list_then_create  # type: ignore[method-assign]
    report = store.reindex()
    assert report.rows == 1
    assert {row.id for row in store.rows()} == {"req_r00001", "req_r00002"}


def test_naive_timestamps_in_legacy_documents_still_list() -> None:
    objects = InMemoryObjectStore()
    store = ObjectRequestStore(objects, ManualClock())
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
    store = ObjectRequestStore(objects, ManualClock())
    for n in range(3):
        store.create(make_request(f"req_u{n:05d}", minutes=n))  # 10:00, 10:01, 10:02 UTC
    naive = ListFilter(since=datetime(2026, 11, 1, 10, 1), until=datetime(2026, 11, 1, 10, 2))
    assert naive.since is not None and naive.since.tzinfo is not None
    assert [row.id for row in store.rows(naive)] == ["req_u00001"]


def test_every_row_field_survives_the_key_encoding() -> None:
    # A field missing from the key's payload would silently read back as its default: for
    # ``slack_team`` that would show one workspace's requests to another.
    from core.adapters.index_keys import _SHORT
    from core.domain.request import SlackThread

    carried_by_head = {"id", "received_at", "version"}
    assert set(IndexRow.model_fields) - carried_by_head == set(_SHORT)
    store = _store(InMemoryObjectStore())
    store.create(make_request("req_f00001", slack=SlackThread(team_id="T0TEAM", channel="C1", ts="1.2")))
    [row] = store.list(ListFilter(include_archived=True), limit=5).rows
    assert row.slack_team == "T0TEAM"
    assert store.list(ListFilter(slack_team="T0OTHER"), limit=5).rows == []


def _index_keys(objects: InMemoryObjectStore) -> list[str]:
    return sorted(objects.list_keys("index/"))


def test_a_write_that_loses_its_swap_removes_its_entries_but_not_the_winners() -> None:
    objects = InMemoryObjectStore()
    mine, theirs = _store(objects), _store(objects)  # two processes, clocks at the same instant
    mine.create(make_request("req_x00001"))
    theirs.update("req_x00001", failed_plan)
    expected = _index_keys(objects)
    # ``mine`` still remembers version 1: it builds version 2 with the very same entry keys,
    # puts them, loses the compare-and-swap, and must not delete what the winner is listed by.
    mine.update("req_x00001", failed_plan)
    assert _index_keys(objects) == expected
    # A loser whose entries differ from the winner's leaves none of them behind.
    other = _store(objects)
    other.recent("req_x00001")  # remembers version 2
    theirs.update("req_x00001", applied)
    after_theirs = _index_keys(objects)
    other.update("req_x00001", lambda r: r.model_copy(update={"project": "elsewhere"}))
    final = other.get("req_x00001")
    assert final.project == "elsewhere" and final.listed is not None and final.listed.version == final.version
    assert _index_keys(objects) != after_theirs
    assert [(r.id, r.project, r.version) for r in _store(objects).rows()] == [
        ("req_x00001", "elsewhere", final.version)
    ]
    assert len(_index_keys(objects)) == 3


def test_a_document_from_before_listed_settles_by_listing_once() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_y00001"))
    found = objects.get("requests/req_y00001.json")
    assert found is not None
    doc = json.loads(found.body)
    doc.pop("listed")  # as written by a release before documents named their entries
    objects.put("requests/req_y00001.json", json.dumps(doc).encode())
    reader = _store(objects)
    objects.reset()
    reader.update("req_y00001", failed_plan)
    assert objects.calls == {"get": 1, "put": 4, "list_keys": 2, "delete_many": 1}
    assert [(r.status, r.version) for r in reader.rows()] == [("failed", 2)]
    assert len(list(objects.list_keys("index/"))) == 3
    objects.reset()
    reader.update("req_y00001", applied)  # from now on the document says: no LIST
    assert objects.calls == {"put": 4, "delete_many": 1}
    assert len(list(objects.list_keys("index/"))) == 3


def test_an_archived_request_is_remembered_as_archived() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_z00001"))
    store.archive("req_z00001")
    objects.reset()
    assert store.recent("req_z00001").archived_at is not None  # a late webhook: no read
    assert objects.calls == {}
    with pytest.raises(RequestArchived):
        store.update("req_z00001", applied)  # never written again: judged on what is stored
    assert objects.calls == {"get": 2}  # requests/ (gone), then history/


def test_archive_of_a_remembered_request_skips_its_read_and_survives_a_stale_memory() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    mine, theirs = _store(objects), _store(objects)
    mine.create(make_request("req_z00002"))
    objects.reset()
    frozen = mine.archive("req_z00002")  # freeze PUT (no GET first), history PUT, delete
    assert frozen.archived_at is not None and objects.calls.get("get", 0) == 0
    mine.create(make_request("req_z00003"))
    theirs.archive("req_z00003")  # another process archives it: ``mine`` still remembers it active
    again = mine.archive("req_z00003")
    assert again.archived_at is not None and again.version == theirs.get("req_z00003").version
    assert [r.id for r in _store(objects).rows()] == []


def test_rows_written_by_the_previous_layout_list_once_and_leave_with_their_next_change() -> None:
    objects = InMemoryObjectStore()
    store = _store(objects)
    store.create(make_request("req_v00001"))
    store.create(make_request("req_v00002", minutes=1))
    # The previous layout also listed active requests under ``all/`` (the settle's ledger).
    for request_id in ("req_v00001", "req_v00002"):
        row = next(r for r in store.rows() if r.id == request_id)
        for key, body in store.index.entries_of(row, legacy=True).items():
            objects.put(key, body)
    legacy = [k for k in _index_keys(objects) if k.startswith("index/v2/all/")]
    assert len(legacy) == 2
    # ``include_archived`` reads ``active/`` and ``all/``: each request once.
    assert [r.id for r in store.rows(ListFilter(include_archived=True))] == ["req_v00002", "req_v00001"]
    # Its next listed change deletes the ``all/`` key too (a document naming its entries)...
    store.update("req_v00001", failed_plan)
    assert len([k for k in _index_keys(objects) if k.startswith("index/v2/all/")]) == 1
    # ...and so does the settle of a document from before ``listed``.
    found = objects.get("requests/req_v00002.json")
    assert found is not None
    doc = json.loads(found.body)
    doc.pop("listed")
    objects.put("requests/req_v00002.json", json.dumps(doc).encode())
    _store(objects).update("req_v00002", failed_plan)
    assert [k for k in _index_keys(objects) if k.startswith("index/v2/all/")] == []
    assert len(_index_keys(objects)) == 6
    assert [(r.id, r.status) for r in store.rows(ListFilter(include_archived=True))] == [
        ("req_v00002", "failed"),
        ("req_v00001", "failed"),
    ]
    store.archive("req_v00001")  # archived rows live in ``all/``
    assert [r.id for r in store.rows()] == ["req_v00002"]
    assert [r.id for r in store.rows(ListFilter(include_archived=True))] == ["req_v00002", "req_v00001"]
