"""One RequestStore contract, run on LocalRequestStore (tmp dir), S3RequestStore (moto) and the
in-memory ``MemoryRequestStore`` the service tests use."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

from core.adapters.index_keys import ACTIVE, invert_id
from core.adapters.request_store import ObjectRequestStore, active_key, history_key
from core.domain.errors import (
    InvalidDocument,
    RequestAlreadyExists,
    RequestArchived,
    RequestNotFound,
    TooManyConflicts,
)
from core.domain.index import ListFilter
from core.domain.request import Request, Requester
from tests.fakes import ManualClock
from tests.store.helpers import T0, applied, failed_plan, make_request


def test_create_then_get(store: ObjectRequestStore) -> None:
    created = store.create(make_request("req_a00001", version=7))
    assert created.version == 1
    got = store.get("req_a00001")
    assert got == created
    assert got.config == {"name": "bucket-req-a00001"}


def test_create_twice_is_refused(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    with pytest.raises(RequestAlreadyExists):
        store.create(make_request("req_a00001", project="other"))
    assert store.get("req_a00001").project == "core"


@pytest.mark.parametrize("request_id", ["req_missing", "../requests/req_a00001", "", "a/b"])
def test_get_unknown_or_unsafe_id(store: ObjectRequestStore, request_id: str) -> None:
    store.create(make_request("req_a00001"))
    with pytest.raises(RequestNotFound):
        store.get(request_id)


def test_create_refuses_an_unsafe_id(store: ObjectRequestStore) -> None:
    with pytest.raises(InvalidDocument):
        store.create(make_request("../escape"))


def test_update_increments_version_and_stamps_updated_at(store: ObjectRequestStore, clock: ManualClock) -> None:
    store.create(make_request("req_a00001"))
    clock.advance(minutes=5)

    def set_size(request: Request) -> Request:
        request.config["size"] = "large"
        return request

    updated = store.update("req_a00001", set_size)
    assert (updated.version, updated.updated_at, updated.config["size"]) == (2, clock.now(), "large")
    again = store.update("req_a00001", set_size)
    assert again.version == 3
    assert store.get("req_a00001") == again


def test_update_that_returns_none_writes_nothing(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    unchanged = store.update("req_a00001", lambda request: None)
    assert unchanged.version == 1 and store.get("req_a00001").version == 1


def test_update_of_a_missing_request(store: ObjectRequestStore) -> None:
    with pytest.raises(RequestNotFound):
        store.update("req_missing", lambda request: request)


def test_update_may_not_change_the_id(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    with pytest.raises(InvalidDocument):
        store.update("req_a00001", lambda request: request.model_copy(update={"id": "req_other1"}))


def test_a_concurrent_writer_makes_update_retry_on_fresh_data(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    seen_versions: list[int] = []

    def mutate(request: Request) -> Request:
        seen_versions.append(request.version)
        if len(seen_versions) == 1:
            # Another writer lands between our read and our write.
            store.update("req_a00001", lambda other: _mark(other, "other"))
        return _mark(request, "mine")

    result = store.update("req_a00001", mutate)
    assert seen_versions == [1, 2]  # the retry saw the other writer's version
    assert result.version == 3
    assert store.get("req_a00001").config["marks"] == ["other", "mine"]


def test_a_read_that_ends_after_a_write_does_not_take_the_memory_back(store: ObjectRequestStore) -> None:
    """A ``get`` reads version 1, another thread of the process writes version 2, then the read
    ends: the next update must still decide on version 2. (The store remembers the version it
    last read or wrote to spare a read; letting the slow read take that memory back to version 1
    made the operation a racing worker had just begun invisible to it: ``LookupError`` instead
    of its next step, the flake of ``test_destroy_racing_its_own_retry``.)"""
    store.create(make_request("req_a00001"))
    objects: Any = store._objects
    real_get = objects.get
    read_started, write_done = threading.Event(), threading.Event()

    def slow_get(key: str) -> Any:
        found = real_get(key)
        if threading.current_thread().name == "slow-reader":
            read_started.set()
            assert write_done.wait(10)
        return found

    objects.get = slow_get
    try:
        reader = threading.Thread(target=lambda: store.get("req_a00001"), name="slow-reader")
        reader.start()
        assert read_started.wait(10)
        store.update("req_a00001", lambda r: _mark(r, "begun"))
        write_done.set()
        reader.join(10)
    finally:
        objects.get = real_get
    seen: list[list[str]] = []

    def needs_the_mark(request: Request) -> Request:
        seen.append(list(request.config.get("marks", [])))
        if "begun" not in request.config.get("marks", []):
            raise LookupError("the mark written by version 2 is missing")
        return _mark(request, "next")

    assert store.update("req_a00001", needs_the_mark).config["marks"] == ["begun", "next"]
    assert seen[-1] == ["begun"]


def _mark(request: Request, mark: str) -> Request:
    request.config["marks"] = [*request.config.get("marks", []), mark]
    return request


def test_endless_conflicts_give_up(store: ObjectRequestStore) -> None:
    bounded = ObjectRequestStore(store.objects, ManualClock(), max_retries=3, sleep=lambda _: None)
    bounded.create(make_request("req_a00001"))
    calls: list[int] = []

    def always_conflicts(request: Request) -> Request:
        calls.append(1)
        bounded.update("req_a00001", lambda other: _mark(other, "rival"))
        return _mark(request, "never")

    with pytest.raises(TooManyConflicts) as caught:
        bounded.update("req_a00001", always_conflicts)
    assert caught.value.attempts == 3 and len(calls) == 3
    assert "never" not in bounded.get("req_a00001").config["marks"]


def test_archive_moves_to_history(store: ObjectRequestStore, clock: ManualClock) -> None:
    store.create(make_request("req_a00001"))
    clock.advance(hours=1)
    archived = store.archive("req_a00001")
    assert archived.archived_at == clock.now() and archived.version == 2
    assert store.objects.get(active_key("req_a00001")) is None
    assert store.objects.get(history_key("req_a00001")) is not None
    assert store.get("req_a00001") == archived  # get falls back to history
    assert store.archive("req_a00001") == archived  # idempotent
    with pytest.raises(RequestArchived):
        store.update("req_a00001", lambda request: request)
    with pytest.raises(RequestAlreadyExists):
        store.create(make_request("req_a00001"))
    assert store.list().rows == []
    rows = store.list(ListFilter(include_archived=True)).rows
    assert [(r.id, r.archived, r.version) for r in rows] == [("req_a00001", True, 2)]


def test_archive_resumes_after_a_crash_half_way(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    # A crash after freezing: the active document carries archived_at, nothing else happened.
    store.update("req_a00001", lambda request: request.model_copy(update={"archived_at": T0}))
    with pytest.raises(RequestArchived):
        store.update("req_a00001", lambda request: request)
    archived = store.archive("req_a00001")
    assert archived.archived_at == T0 and archived.version == 2
    assert store.objects.get(active_key("req_a00001")) is None


def test_archive_of_a_missing_request(store: ObjectRequestStore) -> None:
    with pytest.raises(RequestNotFound):
        store.archive("req_missing")


@pytest.fixture
def populated(store: ObjectRequestStore) -> ObjectRequestStore:
    bob = Requester(id="U_BOB", email="Bob@Example.com")
    store.create(make_request("req_a00001", minutes=1))
    store.create(applied(make_request("req_a00002", minutes=2, project="payments")))
    store.create(make_request("req_a00003", minutes=3, environment="prod", prod=True, requester=bob))
    store.create(failed_plan(make_request("req_a00004", minutes=4, module="sqs-queue", requester=bob)))
    store.create(applied(make_request("req_a00005", minutes=5, project="payments", environment="prod")))
    store.create(make_request("req_a00006", minutes=6))
    store.archive("req_a00006")
    return store


def _ids(store: ObjectRequestStore, filters: ListFilter | None = None) -> list[str]:
    return [row.id for row in store.list(filters, limit=100).rows]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (None, ["req_a00005", "req_a00004", "req_a00003", "req_a00002", "req_a00001"]),
        (ListFilter(project="payments"), ["req_a00005", "req_a00002"]),
        (ListFilter(environment="prod"), ["req_a00005", "req_a00003"]),
        (ListFilter(status=frozenset({"applied"})), ["req_a00005", "req_a00002"]),
        (ListFilter(status=frozenset({"failed", "request_created"})), ["req_a00004", "req_a00003", "req_a00001"]),
        (ListFilter(requester="U_BOB"), ["req_a00004", "req_a00003"]),
        (ListFilter(requester="bob@example.com"), ["req_a00004", "req_a00003"]),
        (ListFilter(module="sqs-queue"), ["req_a00004"]),
        (ListFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)), ["req_a00003", "req_a00002"]),
        (ListFilter(project="payments", environment="prod", status=frozenset({"applied"})), ["req_a00005"]),
        (ListFilter(project="nope"), []),
        (
            ListFilter(include_archived=True),
            ["req_a00006", "req_a00005", "req_a00004", "req_a00003", "req_a00002", "req_a00001"],
        ),
    ],
)
def test_list_filters_newest_first(
    populated: ObjectRequestStore, filters: ListFilter | None, expected: list[str]
) -> None:
    assert _ids(populated, filters) == expected
    assert [row.id for row in populated.rows(filters)] == expected


def test_rows_carry_what_lists_and_metrics_need(populated: ObjectRequestStore) -> None:
    row = next(r for r in populated.rows() if r.id == "req_a00004")
    assert (row.status, row.module, row.requester, row.plan_conclusion, row.version) == (
        "failed",
        "sqs-queue",
        "U_BOB",
        "failure",
        1,
    )


def test_list_follows_updates(populated: ObjectRequestStore) -> None:
    populated.update("req_a00001", applied)
    assert "req_a00001" in _ids(populated, ListFilter(status=frozenset({"applied"})))
    assert next(r for r in populated.rows() if r.id == "req_a00001").version == 2


def test_pagination_with_cursor(store: ObjectRequestStore) -> None:
    for n in range(7):
        store.create(make_request(f"req_p{n:05d}", minutes=n))
    # Two requests received at the same instant: the id breaks the tie, still no duplicates.
    store.create(make_request("req_p99999", minutes=3))
    seen: list[str] = []
    cursor: str | None = None
    sizes: list[int] = []
    while True:
        page = store.list(limit=3, cursor=cursor)
        sizes.append(len(page.rows))
        seen += [row.id for row in page.rows]
        cursor = page.cursor
        if cursor is None:
            break
    assert sizes == [3, 3, 2]
    assert seen == [row.id for row in store.rows()]
    assert len(set(seen)) == 8
    assert seen[:5] == ["req_p00006", "req_p00005", "req_p00004", "req_p99999", "req_p00003"]
    one = store.list(ListFilter(project="core"), limit=1)
    assert len(one.rows) == 1 and one.cursor is not None


def test_a_bad_cursor_is_refused(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    with pytest.raises(ValueError, match="cursor"):
        store.list(cursor="not-a-cursor!")
    with pytest.raises(ValueError):
        store.list(limit=0)


def test_corrupted_and_foreign_documents_are_reported_and_skipped(
    populated: ObjectRequestStore, caplog: pytest.LogCaptureFixture
) -> None:
    objects = populated.objects
    objects.put("requests/req_broken1.json", b'{"id": "req_broken1", "project": ')
    objects.put("requests/req_foreign1.json", b'{"hello": "world"}')
    objects.put("requests/notes.txt", b"not a request")
    objects.put("requests/req_liar0001.json", make_request("req_other001").to_json())
    objects.put("history/req_badhist1.json", b"\xff\xfe")

    assert _ids(populated)[0] == "req_a00005"  # list never reads documents: untouched

    with pytest.raises(InvalidDocument) as caught:
        populated.get("req_broken1")
    assert caught.value.key == "requests/req_broken1.json"

    caplog.set_level(logging.WARNING)
    report = populated.reindex()
    reported = {problem.key for problem in report.problems}
    assert reported == {
        "requests/req_broken1.json",
        "requests/req_foreign1.json",
        "requests/notes.txt",
        "requests/req_liar0001.json",
        "history/req_badhist1.json",
    }
    for key in reported:
        assert key in caplog.text
    assert report.rows == 6 and report.complete
    assert _ids(populated, ListFilter(include_archived=True)) == [
        "req_a00006",
        "req_a00005",
        "req_a00004",
        "req_a00003",
        "req_a00002",
        "req_a00001",
    ]


def _active_entry(store: ObjectRequestStore, request_id: str) -> str:
    row = next(r for r in store.rows() if r.id == request_id)
    return next(key for key in store.index.entries_of(row) if key.startswith(ACTIVE))


def test_a_corrupted_index_entry_is_reported_skipped_and_repaired(
    populated: ObjectRequestStore, caplog: pytest.LogCaptureFixture
) -> None:
    victim = "req_a00002"
    key = _active_entry(populated, victim)
    if key.endswith("~"):  # the row is in the body (local store)
        populated.objects.put(key, b"{ this is not json")
        broken = key
    else:  # the row is in the key (S3): the same head with a payload that is not JSON
        populated.objects.delete(key)
        broken = key.rsplit("~", 1)[0] + "~bm90IGpzb24"
        populated.objects.put(broken, b"")
    caplog.set_level(logging.WARNING)

    listed = _ids(populated)
    assert victim not in listed and {"req_a00001", "req_a00003", "req_a00004", "req_a00005"} <= set(listed)
    assert broken in caplog.text
    assert [(p.key, p.row_id) for p in populated.index_problems()] == [(broken, victim)]

    # reindex brings the row back and removes the unreadable entry.
    report = populated.reindex()
    assert report.complete and report.problems == []
    assert victim in _ids(populated)
    if broken != key:
        assert populated.objects.get(broken) is None
    _ids(populated)
    assert populated.index_problems() == []


def test_foreign_index_keys_and_invalid_rows_are_skipped(
    populated: ObjectRequestStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    foreign = f"{ACTIVE}not-an-entry.json"
    populated.objects.put(foreign, b"{}")
    # A well-formed head whose row lacks required fields (project, status...).
    received = _active_entry(populated, "req_a00003").removeprefix(ACTIVE).split("~")[0]
    invalid_key = f"{ACTIVE}{received}~{invert_id('req_zzz999')}~999999999998~e30"  # e30 = "{}"
    populated.objects.put(invalid_key, b"")

    listed = _ids(populated)
    assert listed == ["req_a00005", "req_a00004", "req_a00003", "req_a00002", "req_a00001"]
    problems = {p.key for p in populated.index_problems()}
    assert problems == {foreign, invalid_key}
    assert foreign in caplog.text and invalid_key in caplog.text
    populated.reindex()
    assert populated.objects.get(foreign) is None and populated.objects.get(invalid_key) is None


def test_reindex_rebuilds_a_lost_index(populated: ObjectRequestStore) -> None:
    before = populated.rows(ListFilter(include_archived=True))
    for key in list(populated.objects.list_keys("index/")):
        populated.objects.delete(key)
    fresh = ObjectRequestStore(populated.objects, ManualClock())
    assert fresh.rows() == []
    report = fresh.reindex()
    assert report.rows == 6 and report.problems == []
    assert fresh.rows(ListFilter(include_archived=True)) == before


def test_a_slow_index_writer_never_rolls_a_row_back(store: ObjectRequestStore) -> None:
    store.create(make_request("req_a00001"))
    stale = next(r for r in store.rows() if r.id == "req_a00001")
    store.update("req_a00001", applied)
    store.index.upsert(stale)  # a writer that read version 1 and is only now writing its row
    row = next(r for r in store.rows() if r.id == "req_a00001")
    assert (row.version, row.status) == (2, "applied")
