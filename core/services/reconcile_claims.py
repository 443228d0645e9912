"""``WindowClaims``: which replica reconciles which request in one lease window, in one object.

Each window (one stale period) has one claim object, ``dedupe/reconcile/<window>/claims``:
``{"window": w, "claims": {request_id: {"owner": token, "at": iso}}}``. A replica claims the
requests it is about to work on by a compare-and-swap of that object (created with
if-none-match, then updated with if-match on the etag it last saw), so of two replicas claiming
one request only one gets it, and one PUT claims a whole pass's batch instead of one marker
each.

The claims of this process are remembered with the etag of its own last write: a later pass in
the same window knows what it holds and what others hold without a call, and never sends a
conditional PUT it would lose against itself. A 412 therefore means another replica wrote:
the object is read again and the claim merged. A PUT whose response was lost and that boto
retried answers 412 against our own write; the read-back shows our token, so it counts as ours.
The claim time is also where an idle check is recorded: a refresh that learns nothing writes
nothing to the request (see ``SyncService.sync``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.domain.errors import VersionConflict
from core.ports.object_store import ObjectStore

LEASE_PREFIX = "dedupe/reconcile"
_MAX_ATTEMPTS = 8


def lease_prefix(window: int) -> str:
    return f"{LEASE_PREFIX}/{window:012d}"


def claims_key(window: int) -> str:
    return f"{lease_prefix(window)}/claims"


class WindowClaims:
    def __init__(self, objects: ObjectStore, *, owner: str | None = None) -> None:
        self._objects = objects
        self.owner = owner or secrets.token_hex(16)
        self._window: int | None = None
        self._etag: str | None = None  # of the claim object as this process last read or wrote it
        self._claims: dict[str, dict[str, Any]] = {}

    def _enter(self, window: int) -> None:
        if window != self._window:
            self._window, self._etag, self._claims = window, None, {}

    def holder(self, window: int, request_id: str) -> str | None:
        """Who holds ``request_id`` in ``window`` as far as this process knows (no call)."""
        self._enter(window)
        claim = self._claims.get(request_id)
        return claim.get("owner") if claim else None

    def claim(self, window: int, request_ids: Iterable[str], at: datetime) -> set[str]:
        """Claim what nobody holds yet; return the ids of ``request_ids`` this process holds.

        No call when every id is already known (ours or another's); else one PUT, plus a GET
        and a PUT again for each replica that wrote in between."""
        self._enter(window)
        wanted = list(dict.fromkeys(request_ids))
        for _ in range(_MAX_ATTEMPTS):
            new = [rid for rid in wanted if rid not in self._claims]
            if not new:
                break
            claims = dict(self._claims)
            for rid in new:
                claims[rid] = {"owner": self.owner, "at": at.isoformat()}
            body = json.dumps({"window": window, "claims": claims}, separators=(",", ":")).encode()
            try:
                if self._etag is None:
                    self._etag = self._objects.put(claims_key(window), body, if_none_match=True)
                else:
                    self._etag = self._objects.put(claims_key(window), body, if_match=self._etag)
            except VersionConflict:
                self._reload(window)  # another replica wrote (or our lost write landed): merge
                continue
            self._claims = claims
            break
        return {rid for rid in wanted if self._claims.get(rid, {}).get("owner") == self.owner}

    def _reload(self, window: int) -> None:
        found = self._objects.get(claims_key(window))
        if found is None:
            self._etag, self._claims = None, {}
            return
        try:
            doc = json.loads(found.body)
            claims = doc.get("claims") if isinstance(doc, dict) else None
        except ValueError:
            claims = None
        self._etag = found.etag
        self._claims = {
            str(rid): claim for rid, claim in (claims or {}).items() if isinstance(claim, dict) and "owner" in claim
        }
