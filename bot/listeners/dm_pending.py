"""The intake a DM is waiting on: ``sessions-dm/<team>/<channel>.json`` points at the thread of
the conversation that asked the last question in that DM.

People answer a DM at its top level, not in the thread the question came from: without this
pointer each top-level message would start a new intake and forget the last one. The pointer
is written with compare-and-swap (create-if-absent, then replace-the-version-read), so two
processes handling two messages of the same DM cannot both believe they own it; any process
can read it and continue the conversation, whose own state stays in ``sessions/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass

from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "sessions-dm/"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class PendingDm:
    thread_ts: str
    user_id: str


def _key(team_id: str | None, channel: str) -> str:
    parts = [(_SAFE.sub("_", part or "")[:100].strip(".") or "_") for part in (team_id, channel)]
    return f"{PREFIX}{parts[0]}/{parts[1]}.json"


class PendingDms:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def get(self, team_id: str | None, channel: str) -> PendingDm | None:
        stored = self._objects.get(_key(team_id, channel))
        return _decode(stored.body) if stored is not None else None

    def point(self, team_id: str | None, channel: str, pending: PendingDm) -> None:
        """Make ``pending`` the DM's waiting intake (the latest question asked wins)."""
        key = _key(team_id, channel)
        body = json.dumps({"thread_ts": pending.thread_ts, "user_id": pending.user_id}).encode()
        for _ in range(MAX_ATTEMPTS):
            stored = self._objects.get(key)
            if stored is not None and _decode(stored.body) == pending:
                return
            try:
                if stored is None:
                    self._objects.put(key, body, if_none_match=True)
                else:
                    self._objects.put(key, body, if_match=stored.etag)
                return
            except VersionConflict:
                continue
        log.warning("could not record the pending intake of DM %s", channel)

    def clear(self, team_id: str | None, channel: str, thread_ts: str) -> None:
        """Forget the pointer when it still points at ``thread_ts`` (a newer intake keeps it)."""
        key = _key(team_id, channel)
        stored = self._objects.get(key)
        if stored is None:
            return
        pending = _decode(stored.body)
        if pending is not None and pending.thread_ts != thread_ts:
            return
        # An empty document (not a delete) keeps the change conditional on what was read: a
        # conflict means someone pointed it at a newer intake meanwhile.
        with contextlib.suppress(VersionConflict):
            self._objects.put(key, b"{}", if_match=stored.etag)


def _decode(body: bytes) -> PendingDm | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    thread_ts, user_id = doc.get("thread_ts"), doc.get("user_id")
    if isinstance(thread_ts, str) and isinstance(user_id, str):
        return PendingDm(thread_ts=thread_ts, user_id=user_id)
    return None
