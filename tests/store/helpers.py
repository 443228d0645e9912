"""Builders and wrappers shared by the store tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.request import PullRequestRef, Request, Requester, RunRef
from core.ports.object_store import ObjectStore, StoredObject

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def make_request(request_id: str, *, minutes: int = 0, **fields: Any) -> Request:
    """A request received ``minutes`` after T0 (so listings have a known order)."""
    base: dict[str, Any] = {
        "id": request_id,
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "received_at": T0 + timedelta(minutes=minutes),
        "updated_at": T0 + timedelta(minutes=minutes),
        "requester": Requester(id="U_ALICE", email="alice@example.com"),
        "config": {"name": "bucket-" + request_id.replace("_", "-")},
    }
    base.update(fields)
    return Request(**base)


def applied(request: Request) -> Request:
    request.pr = PullRequestRef(number=3, merged=True, head_sha="abc")
    request.plan_run = RunRef(run_id=1, status="completed", conclusion="success")
    request.apply_run = RunRef(run_id=2, status="completed", conclusion="success")
    return request


def failed_plan(request: Request) -> Request:
    request.pr = PullRequestRef(number=4, open=True, head_sha="abc")
    request.plan_run = RunRef(run_id=1, status="completed", conclusion="failure")
    return request


class CountingObjectStore:
    """Wraps an ObjectStore and counts calls and transferred body bytes per operation."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self.bytes_read = 0

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_read = 0

    def get(self, key: str) -> StoredObject | None:
        self._count("get")
        found = self.inner.get(key)
        self.bytes_read += len(found.body) if found else 0
        return found

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        self._count("get_if_changed")
        found = self.inner.get_if_changed(key, etag)
        self.bytes_read += len(found.body) if found else 0
        return found

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/json",
    ) -> str:
        self._count("put")
        return self.inner.put(key, body, if_match=if_match, if_none_match=if_none_match, content_type=content_type)

    def delete(self, key: str) -> None:
        self._count("delete")
        self.inner.delete(key)

    def delete_many(self, keys: Sequence[str]) -> None:
        self._count("delete_many")
        self.inner.delete_many(keys)

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[str]:
        self._count("list_keys")
        return self.inner.list_keys(prefix, start_after=start_after, limit=limit)
