"""``Once``: first-writer-wins markers, for deduplicating deliveries, events and clicks.

Backed by the object store's create-if-absent, so it holds across processes and replicas:
exactly one caller gets True for a given key.

A conflict on the create does not by itself mean somebody else was first: when S3 stores the
marker but the response is lost, the client retries the same conditional put and gets 412 for
its own write. Each call therefore writes a random token into its marker and, on a conflict,
reads the marker back: our token means our write landed (True), another's means we were second.

A ``Once`` marker never expires: at-most-once is the point for deliveries, clicks and notices
(a retold notice would post twice). Work whose completion is recorded elsewhere, where a taker
that died must not block it for good, takes a lapsing claim instead (``core.services.claims``).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore


class Once:
    def __init__(self, objects: ObjectStore, prefix: str) -> None:
        self._objects = objects
        self._prefix = prefix.rstrip("/") + "/"

    def first(self, key: str, *, at: datetime | None = None) -> bool:
        """True for the first caller with ``key``, False for every later one."""
        token = secrets.token_hex(16)
        marker = self._prefix + safe_key(key)
        body = json.dumps({"key": key, "at": at.isoformat() if at else None, "token": token}).encode()
        try:
            self._objects.put(marker, body, if_none_match=True)
        except VersionConflict:
            return _token_of(self._objects, marker) == token
        return True


def _token_of(objects: ObjectStore, marker: str) -> str | None:
    """The token in the marker at ``marker`` (None: gone, unreadable, or written before tokens)."""
    found = objects.get(marker)
    return token_in(marker_doc(found.body)) if found is not None else None


def marker_doc(body: bytes) -> dict[str, object]:
    """A marker's body as a JSON object (empty when unreadable or not an object)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def token_in(doc: dict[str, object]) -> str | None:
    token = doc.get("token")
    return token if isinstance(token, str) else None


def safe_key(key: str) -> str:
    # Keys come from outside (delivery ids, action ids): keep them to a safe object-key charset.
    return "".join(c if c.isalnum() or c in "-_.:" else "_" for c in key)[:512]
