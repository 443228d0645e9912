"""``Once``: first-writer-wins markers, for deduplicating deliveries, events and clicks.

Backed by the object store's create-if-absent, so it holds across processes and replicas:
exactly one caller gets True for a given key.
"""

from __future__ import annotations

import json
from datetime import datetime

from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore


class Once:
    def __init__(self, objects: ObjectStore, prefix: str) -> None:
        self._objects = objects
        self._prefix = prefix.rstrip("/") + "/"

    def first(self, key: str, *, at: datetime | None = None) -> bool:
        """True for the first caller with ``key``, False for every later one."""
        body = json.dumps({"key": key, "at": at.isoformat() if at else None}).encode()
        try:
            self._objects.put(self._prefix + _safe(key), body, if_none_match=True)
        except VersionConflict:
            return False
        return True


def _safe(key: str) -> str:
    # Keys come from outside (delivery ids, action ids): keep them to a safe object-key charset.
    return "".join(c if c.isalnum() or c in "-_.:" else "_" for c in key)[:512]
