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

from core.adapters.request_store import ACTIVE_PREFIX, HISTORY_PREFIX, ObjectRequestStore, id_from_key
from core.domain.errors import VersionConflict
from core.domain.request import Request
from core.ports.audit import LifecycleEvent
from core.ports.chat_log import ChatEntry
from core.ports.clock import Clock
from core.ports.notifier import Transition
from core.ports.object_store import StoredObject


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
        self.landed: list[str] = []  # keys of the writes that landed, in order (for assertions)
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
            self.landed.append(key)
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


class MemoryRequestStore(ObjectRequestStore):
    """The real ``ObjectRequestStore`` over ``InMemoryObjectStore``: the same store the service
    runs on S3 or a directory, so it passes the same contract suite
    (tests/store/test_request_store_contract.py). It adds read-only views for assertions only:
    ``active`` / ``history`` (id -> request, parsed from the documents) and ``writes`` (document
    writes that landed)."""

    def __init__(self, clock: Clock | None = None, objects: InMemoryObjectStore | None = None) -> None:
        # ``objects``: the graph's object store, shared as in production (sessions, dedupe...).
        self.memory = objects if objects is not None else InMemoryObjectStore()
        super().__init__(self.memory, clock or ManualClock())

    def _documents(self, prefix: str) -> dict[str, Request]:
        found: dict[str, Request] = {}
        for key in self.memory.list_keys(prefix):
            request_id = id_from_key(key, prefix)
            stored = self.memory.get(key)
            if request_id is not None and stored is not None:
                found[request_id] = Request.from_json(stored.body, key=key)
        return found

    @property
    def active(self) -> dict[str, Request]:
        return self._documents(ACTIVE_PREFIX)

    @property
    def history(self) -> dict[str, Request]:
        return self._documents(HISTORY_PREFIX)

    @property
    def writes(self) -> int:
        return sum(1 for key in self.memory.landed if key.startswith((ACTIVE_PREFIX, HISTORY_PREFIX)))


class InMemoryAuditLog:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.entries: list[LifecycleEvent] = []
        self.event_ids: set[tuple[str, str]] = set()  # domain events recorded: a replay adds none

    def record(
        self,
        request_id: str,
        event: str,
        *,
        actor: str | None = None,
        source: str | None = None,
        data: dict[str, Any] | None = None,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        if event_id is not None:
            if (request_id, event_id) in self.event_ids:
                return False
            self.event_ids.add((request_id, event_id))
        self.entries.append(
            LifecycleEvent(
                timestamp=at or self.clock.now(),
                requestId=request_id,
                event=event,
                actor=actor,
                source=source,
                data=copy.deepcopy(data or {}),
            )
        )
        return True

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
