"""A create right after a read that found no document of its id skips its own history read."""

from __future__ import annotations

import pytest

from core.adapters.request_store import ObjectRequestStore
from core.domain.errors import RequestAlreadyExists, RequestNotFound
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.store.helpers import CountingObjectStore, make_request


def _store(objects: CountingObjectStore) -> ObjectRequestStore:
    return ObjectRequestStore(objects, ManualClock(), sleep=lambda _: None)


def test_a_create_after_a_read_that_found_nothing_reads_nothing_more() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    with pytest.raises(RequestNotFound):
        store.get("req_c00001")  # the service's idempotency check: requests/, then history/
    objects.reset()
    store.create(make_request("req_c00001"))
    assert "get" not in objects.calls  # the read just now answered "not archived"
    # The absence answers one create only: another id, or the same one again, reads history/.
    objects.reset()
    store.create(make_request("req_c00002"))
    assert objects.calls["get"] == 1


def test_an_archived_id_is_still_refused() -> None:
    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    store.create(make_request("req_c00003"))
    store.archive("req_c00003")
    found = _store(objects).get("req_c00003")  # another process finds it in history/
    assert found.archived_at is not None
    with pytest.raises(RequestAlreadyExists):
        _store(objects).create(make_request("req_c00003"))
    fresh = _store(objects)
    with pytest.raises(RequestNotFound):
        fresh.get("req_other")
    with pytest.raises(RequestAlreadyExists):
        fresh.create(make_request("req_c00003"))  # an absence of another id answers nothing here


def test_an_old_absence_answers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.adapters.request_store as module

    objects = CountingObjectStore(InMemoryObjectStore())
    store = _store(objects)
    with pytest.raises(RequestNotFound):
        store.get("req_c00004")
    monkeypatch.setattr(module, "_ABSENT_FOR", 0.0)
    objects.reset()
    store.create(make_request("req_c00004"))
    assert objects.calls["get"] == 1
