"""``ObjectAuditLog``: lifecycle events as one small object each under ``logs/<requestId>/``.

Keys are ``logs/<id>/<iso-ts>-<seq><random>.json``: the timestamp first so keys sort oldest
first, a per-process sequence so events recorded at the same instant keep their order, and a
random tail so writers in several processes never collide. A domain event (``event_id``: its
document version and index, from the request's outbox) has a key derived from it instead,
``logs/<id>/<iso-ts>-<event_id>.json``, written only if absent: a replay writes nothing new. Bodies are
``{timestamp, requestId, event, actor, source, data}`` with credentials redacted from
``data`` (a domain event's body also holds ``writer``, a random token of the call that wrote it,
so a put whose answer was lost is still known as ours: ``record`` tells whether it was the first
to record the event, and the bus lets that call tell the write's notices). ``record`` never
raises: the audit trail must not break the flow it records, so a failure is logged (without
the event data) and swallowed.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from core.adapters.local_objects import LocalObjectStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.errors import VersionConflict
from core.domain.redaction import redact_value
from core.ports.audit import LifecycleEvent
from core.ports.clock import Clock
from core.ports.object_store import ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

LOGS_PREFIX = "logs/"
_WRITER = "writer"  # a domain event's body: the token of the call that wrote it
_sequence = itertools.count()


def key_timestamp(when: datetime) -> str:
    """Fixed-width UTC ISO timestamp, so keys sort in time order."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def safe_segment(value: str) -> str:
    """``value`` as one object-key segment (ids come from outside)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in value)[:200]
    return ("_" + cleaned) if not cleaned or cleaned.startswith(".") else cleaned


def unique_suffix() -> str:
    return f"{next(_sequence) % 1_000_000:06d}{secrets.token_hex(3)}"


class ObjectAuditLog:
    def __init__(self, objects: ObjectStore, clock: Clock) -> None:
        self._objects = objects
        self._clock = clock

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
        token = secrets.token_hex(8) if event_id is not None else None
        try:
            entry = LifecycleEvent(
                timestamp=at or self._clock.now(),
                requestId=request_id,
                event=event,
                actor=actor,
                source=source,
                data=redact_value(data or {}),
            )
            tail = f"e{safe_segment(event_id)}" if event_id is not None else unique_suffix()
            key = f"{LOGS_PREFIX}{safe_segment(request_id)}/{key_timestamp(entry.timestamp)}-{tail}.json"
            body = entry.model_dump(mode="json")
            if token is not None:
                # Which call wrote it: S3 may store a put whose answer is lost, and the client's
                # retry then gets 412 for its own write (see ``core.services.once``).
                body[_WRITER] = token
            self._objects.put(key, json.dumps(body).encode(), if_none_match=True)
        except VersionConflict:
            if event_id is None:  # pragma: no cover - a random key never collides
                log.warning("audit: key collision recording %r for %s", event, request_id)
                return False
            return self._written_by(key, token)  # else a replay: this event was recorded before
        except Exception as exc:
            log.warning("audit: could not record %r for %s: %s", event, request_id, type(exc).__name__)
            return False
        return True

    def _written_by(self, key: str, token: str | None) -> bool:
        try:
            found = self._objects.get(key)
            doc = json.loads(found.body) if found is not None else None
        except Exception as exc:
            log.warning("audit: could not read back %s: %s", key, type(exc).__name__)
            return False
        return isinstance(doc, dict) and token is not None and doc.get(_WRITER) == token

    def events(self, request_id: str) -> list[LifecycleEvent]:
        prefix = f"{LOGS_PREFIX}{safe_segment(request_id)}/"
        found: list[tuple[datetime, str, LifecycleEvent]] = []
        for key in self._objects.list_keys(prefix):
            obj = self._objects.get(key)
            if obj is None:
                continue
            try:
                entry = LifecycleEvent.model_validate_json(obj.body)
                if entry.model_extra:
                    entry.model_extra.pop(_WRITER, None)  # bookkeeping, not part of the event
            except (ValidationError, ValueError):
                log.warning("audit: skipping unreadable event %s", key)
                continue
            if entry.requestId != request_id:
                continue  # another id that sanitises to the same segment
            when = entry.timestamp.replace(tzinfo=UTC) if entry.timestamp.tzinfo is None else entry.timestamp
            found.append((when, key, entry))
        found.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in found]


class S3AuditLog(ObjectAuditLog):
    def __init__(self, client: S3Client, bucket: str, clock: Clock) -> None:
        super().__init__(S3ObjectStore(client, bucket), clock)


class LocalAuditLog(ObjectAuditLog):
    def __init__(self, root: Path, clock: Clock) -> None:
        super().__init__(LocalObjectStore(root), clock)
