"""``LapsingClaims``: first-writer-wins markers that lapse, for work recorded elsewhere.

``Once`` markers never expire, which is right where at-most-once is the point. Some work is
claimed only so that two processes do not both do it, and its completion is recorded somewhere
else (a card copy is recorded on its request): there a taker that died, or whose work failed,
must not block the work for good. A lapsing claim is the same marker (same key, same random
token, so a put whose response was lost is still recognised as ours) with the time it was
taken, ``at``:

- a marker older than ``lapse`` (or released) is retaken by a conditional put on the ETag that
  was read (``if_match``), so of several retakers exactly one wins;
- ``release`` marks our marker released by the same conditional put on the ETag of our own
  write: a marker another caller retook meanwhile is left alone;
- a marker without a readable ``at`` (written by ``Once.first`` before claims lapsed, or
  unreadable) is first stamped with the time it is first seen here, again by a conditional put:
  it lapses ``lapse`` after that. Treating it as lapsed at once could race a process of the
  previous version still posting; never letting it lapse would keep the work blocked for good.

The cost of a lapse shorter than a live taker's work is that work done twice, so callers pick a
lapse that live work never reaches.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore, StoredObject
from core.services.once import marker_doc, safe_key, token_in


@dataclass(frozen=True)
class Claim:
    """A claim this process holds: its marker, token, and the ETag of our write of it."""

    key: str
    marker: str
    token: str
    etag: str


class LapsingClaims:
    def __init__(self, objects: ObjectStore, prefix: str, *, lapse: timedelta) -> None:
        if lapse <= timedelta(0):
            raise ValueError(f"a claim's lapse must be positive, not {lapse}")
        self._objects = objects
        self._prefix = prefix.rstrip("/") + "/"
        self.lapse = lapse

    def take(self, key: str, *, now: datetime) -> Claim | None:
        """The claim on ``key`` when it is free, lapsed or released; None while another holds it."""
        token = secrets.token_hex(16)
        marker = self._prefix + safe_key(key)
        body = _body(key, now, token)
        for _ in range(2):  # a second create only if the marker vanished between put and read
            try:
                etag = self._objects.put(marker, body, if_none_match=True)
            except VersionConflict:
                found = self._objects.get(marker)
                if found is not None:
                    return self._contended(key, found, body, token, now)
                continue
            return Claim(key=key, marker=marker, token=token, etag=etag)
        return None

    def release(self, claim: Claim) -> bool:
        """End our claim now (the work failed and may be retried at once): True when released;
        False when the marker is no longer the one we wrote (retaken or gone)."""
        body = _body(claim.key, None, claim.token, released=True)
        try:
            self._objects.put(claim.marker, body, if_match=claim.etag)
        except VersionConflict:
            return False
        return True

    def _contended(self, key: str, found: StoredObject, body: bytes, token: str, now: datetime) -> Claim | None:
        doc = marker_doc(found.body)
        if token_in(doc) == token:
            return Claim(key=key, marker=found.key, token=token, etag=found.etag)  # our put landed
        if doc.get("released") is not True:
            taken = _at(doc)
            if taken is None:
                self._stamp(found, doc, now)
                return None
            if now < taken + self.lapse:
                return None
        return self._retake(key, found, body, token)

    def _retake(self, key: str, found: StoredObject, body: bytes, token: str) -> Claim | None:
        try:
            etag = self._objects.put(found.key, body, if_match=found.etag)
        except VersionConflict:
            # Another retaker won, or ours landed and its lost response was retried into a 412.
            again = self._objects.get(found.key)
            if again is None or token_in(marker_doc(again.body)) != token:
                return None
            etag = again.etag
        return Claim(key=key, marker=found.key, token=token, etag=etag)

    def _stamp(self, found: StoredObject, doc: dict[str, object], now: datetime) -> None:
        """Give a marker with no readable time the time it is first seen (kept if another
        stamps or retakes it first)."""
        stamped = {**doc, "at": now.isoformat(), "stamped": True}
        with contextlib.suppress(VersionConflict):  # another stamped or retook it: theirs stands
            self._objects.put(found.key, json.dumps(stamped).encode(), if_match=found.etag)


def _body(key: str, at: datetime | None, token: str, *, released: bool = False) -> bytes:
    doc: dict[str, object] = {"key": key, "at": at.isoformat() if at else None, "token": token}
    if released:
        doc["released"] = True
    return json.dumps(doc).encode()


def _at(doc: dict[str, object]) -> datetime | None:
    raw = doc.get("at")
    if not isinstance(raw, str):
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
