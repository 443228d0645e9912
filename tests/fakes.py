"""In-memory fakes of the core ports, with the same semantics as the real adapters.

Tests build real services over these and assert on state, not on calls.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.errors import (
    RequestAlreadyExists,
    RequestArchived,
    RequestNotFound,
    VersionConflict,
)
from core.domain.index import IndexRow, ListFilter, Page
from core.domain.request import Request
from core.ports.audit import LifecycleEvent
from core.ports.chat_log import ChatEntry
from core.ports.notifier import Transition
from core.ports.object_store import StoredObject
from core.ports.request_store import Mutation


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredObject | None:
        return self.objects.get(key)

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        obj = self.objects.get(key)
        return None if obj is None or obj.etag == etag else obj

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/json",
    ) -> str:
        with self._lock:
            current = self.objects.get(key)
            if if_none_match and current is not None:
                raise VersionConflict(key)
            if if_match is not None and (current is None or current.etag != if_match):
                raise VersionConflict(key)
            etag = '"' + hashlib.md5(body + key.encode(), usedforsecurity=False).hexdigest() + '"'
            self.objects[key] = StoredObject(key, body, etag)
            return etag

    def delete(self, key: str) -> None:
        with self._lock:
            self.objects.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[str]:
        with self._lock:
            keys = sorted(key for key in self.objects if key.startswith(prefix))
        after = [key for key in keys if start_after is None or key > start_after]
        yield from after[:limit]


class InMemoryRequestStore:
    """Dictionary-backed RequestStore with the real stores' compare-and-swap: ``update`` mutates
    a copy outside the lock and writes only if nobody wrote since it read, else re-reads and
    retries, so concurrent threads never lose an update."""

    def __init__(self) -> None:
        self.active: dict[str, Request] = {}
        self.history: dict[str, Request] = {}
        self.writes = 0
        self.conflicts = 0
        self._lock = threading.RLock()

    def get(self, request_id: str) -> Request:
        with self._lock:
            found = self.active.get(request_id) or self.history.get(request_id)
            if found is None:
                raise RequestNotFound(request_id)
            return found.model_copy(deep=True)

    def create(self, request: Request) -> Request:
        with self._lock:
            if request.id in self.active or request.id in self.history:
                raise RequestAlreadyExists(request.id)
            stored = request.model_copy(deep=True, update={"version": 1})
            self.active[request.id] = stored
            self.writes += 1
            return stored.model_copy(deep=True)

    def update(self, request_id: str, mutate: Mutation) -> Request:
        while True:
            with self._lock:
                if request_id in self.history and request_id not in self.active:
                    raise RequestArchived(request_id)
                current = self.get(request_id)
            result = mutate(current.model_copy(deep=True))
            if result is None:
                return current
            with self._lock:
                latest = self.active.get(request_id)
                if latest is None or latest.version != current.version:
                    self.conflicts += 1  # someone wrote since we read: re-read and mutate again
                    continue
                stored = result.model_copy(deep=True, update={"version": current.version + 1})
                self.active[request_id] = stored
                self.writes += 1
                return stored.model_copy(deep=True)

    def _rows(self, filters: ListFilter | None) -> list[IndexRow]:
        f = filters or ListFilter()
        rows = [IndexRow.of(r) for r in self.active.values()]
        rows += [IndexRow.of(r) for rid, r in self.history.items() if rid not in self.active]
        rows = [r for r in rows if f.matches(r)]
        return sorted(rows, key=lambda r: (r.received_at, r.id), reverse=True)

    def list(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        rows = self._rows(filters)
        start = int(cursor) if cursor else 0
        chunk = rows[start : start + limit]
        nxt = str(start + limit) if start + limit < len(rows) else None
        return Page(rows=chunk, cursor=nxt)

    def rows(self, filters: ListFilter | None = None) -> list[IndexRow]:
        return self._rows(filters)

    def archive(self, request_id: str) -> Request:
        with self._lock:
            if request_id in self.history and request_id not in self.active:
                return self.history[request_id].model_copy(deep=True)
            current = self.get(request_id)
            archived = current.model_copy(deep=True, update={"archived_at": current.updated_at})
            self.history[request_id] = archived
            del self.active[request_id]
            return archived.model_copy(deep=True)


class InMemoryAuditLog:
    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.entries: list[LifecycleEvent] = []

    def record(
        self,
        request_id: str,
        event: str,
        *,
        actor: str | None = None,
        source: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.entries.append(
            LifecycleEvent(
                timestamp=self.clock.now(),
                requestId=request_id,
                event=event,
                actor=actor,
                source=source,
                data=copy.deepcopy(data or {}),
            )
        )

    def events(self, request_id: str) -> list[LifecycleEvent]:
        return [e for e in self.entries if e.requestId == request_id]

    def names(self, request_id: str) -> list[str]:
        return [e.event for e in self.events(request_id)]


class InMemoryChatLog:
    def __init__(self) -> None:
        self.entries: list[ChatEntry] = []

    def append(self, entry: ChatEntry) -> None:
        self.entries.append(entry)

    def read(self, session_id: str) -> list[ChatEntry]:
        return [e for e in self.entries if e.session_id == session_id]


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Transition]] = []

    def request_changed(self, request: Request, transition: Transition) -> None:
        self.sent.append((request.id, transition))

    def events(self, request_id: str | None = None) -> list[str]:
        return [t.event for rid, t in self.sent if request_id is None or rid == request_id]
