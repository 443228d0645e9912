"""``ObjectChatLog``: every chat turn, redacted, one object each under ``chats/<session-id>/``.

Keys are ``chats/<session>/<iso-ts>-<role>-<seq><random>.json`` so a session's turns sort
oldest first. The whole entry (text, data and any extra field) passes through
``redact_value`` before it is written: credentials pasted into a conversation never reach
storage. ``append`` never raises into the conversation; a failure is logged (without the text).
``S3ChatLog`` uses its own bucket (``TFPILOT_CHAT_LOGS_BUCKET``); ``LocalChatLog`` a directory.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from core.adapters.audit_log import key_timestamp, safe_segment, unique_suffix
from core.adapters.local_objects import LocalObjectStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.redaction import redact_value
from core.ports.chat_log import ChatEntry
from core.ports.clock import Clock
from core.ports.object_store import ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

CHATS_PREFIX = "chats/"


class ObjectChatLog:
    def __init__(self, objects: ObjectStore, clock: Clock) -> None:
        self._objects = objects
        self._clock = clock

    def append(self, entry: ChatEntry) -> None:
        try:
            doc = redact_value(entry.model_dump(mode="json"))
            doc["stored_at"] = self._clock.now().isoformat()
            stored = ChatEntry.model_validate(doc)
            key = (
                f"{CHATS_PREFIX}{safe_segment(entry.session_id)}/"
                f"{key_timestamp(entry.timestamp)}-{safe_segment(entry.role)}-{unique_suffix()}.json"
            )
            self._objects.put(key, stored.model_dump_json().encode(), if_none_match=True)
        except Exception as exc:
            log.warning(
                "chat log: could not store a %s turn of %s: %s", entry.role, entry.session_id, type(exc).__name__
            )

    def read(self, session_id: str) -> list[ChatEntry]:
        prefix = f"{CHATS_PREFIX}{safe_segment(session_id)}/"
        found: list[tuple[datetime, str, ChatEntry]] = []
        for key in self._objects.list_keys(prefix):
            obj = self._objects.get(key)
            if obj is None:
                continue
            try:
                entry = ChatEntry.model_validate_json(obj.body)
            except (ValidationError, ValueError):
                log.warning("chat log: skipping unreadable turn %s", key)
                continue
            if entry.session_id != session_id:
                continue  # another session that sanitises to the same segment
            when = entry.timestamp.replace(tzinfo=UTC) if entry.timestamp.tzinfo is None else entry.timestamp
            # Same-instant turns keep their recording order through the sequence in the suffix.
            found.append((when, key.rsplit("-", 1)[-1], entry))
        found.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in found]


class S3ChatLog(ObjectChatLog):
    def __init__(self, client: S3Client, chat_bucket: str, clock: Clock) -> None:
        super().__init__(S3ObjectStore(client, chat_bucket), clock)


class LocalChatLog(ObjectChatLog):
    def __init__(self, root: Path, clock: Clock) -> None:
        super().__init__(LocalObjectStore(root), clock)
