"""Upgrading a store from the sharded index (``index/shard-*.json``) without a manual step.

The key-encoded index (``request_index``) starts empty on a store that an older release filled:
its rows are in the shards, which this release no longer reads. ``LegacyIndexMigration`` finds
that state with one ListObjectsV2 (the reconciler checks at its first pass), and rebuilds the index from
the documents (the store's ``reindex``) under a lease, so that one replica does it while the
others keep serving (their listings show what has been written since the upgrade, plus what the
rebuild has put so far). ``reindex`` deletes the shards last: shards present means "not migrated
yet", so a rebuild that dies half-way is simply run again once its lease has expired.

The lease is one object, ``index/migration.lease``, created with if-none-match; a lease older
than ``lease_ttl`` (its owner died) is taken over with if-match on its etag, so of two replicas
taking over the same expired lease only one wins. ``tfpilot admin reindex`` stays the repair
path (it needs no lease: a rebuild running twice at once is safe, only wasteful).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.errors import VersionConflict
from core.ports.clock import Clock
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

LEGACY_SHARD_PREFIX = "index/shard-"
LEASE_KEY = "index/migration.lease"
DEFAULT_LEASE_TTL = timedelta(minutes=30)


class MigrationOutcome(StrEnum):
    NOT_NEEDED = "not_needed"  # no shard of the previous index: nothing to do
    MIGRATED = "migrated"  # this process rebuilt the index and removed the shards
    RUNNING_ELSEWHERE = "running_elsewhere"  # another process holds a live lease
    INCOMPLETE = "incomplete"  # this process rebuilt, but the rebuild reported it is incomplete
    FAILED = "failed"  # the storage failed: the next check (another process, or later) retries


class LegacyIndexMigration:
    def __init__(
        self,
        objects: ObjectStore,
        clock: Clock,
        reindex: Callable[[], bool],
        *,
        lease_ttl: timedelta = DEFAULT_LEASE_TTL,
    ) -> None:
        self._objects = objects
        self._clock = clock
        self._reindex = reindex  # the store's rebuild from documents; True when complete
        self._lease_ttl = lease_ttl

    def needed(self) -> bool:
        """True while a shard of the previous index exists (one ListObjectsV2 of at most 1 key)."""
        return next(iter(self._objects.list_keys(LEGACY_SHARD_PREFIX, limit=1)), None) is not None

    def run(self) -> MigrationOutcome:
        try:
            if not self.needed():
                return MigrationOutcome.NOT_NEEDED
            token = self._take_lease()
            if token is None:
                log.info("index: another process is rebuilding the index from the previous (sharded) one")
                return MigrationOutcome.RUNNING_ELSEWHERE
            log.warning("index: upgrading from the previous (sharded) index: rebuilding from the documents")
            try:
                complete = self._reindex()
            finally:
                self._release(token)
        except Exception as exc:
            log.error("index: upgrading from the sharded index failed (retried later): %s", exc)
            return MigrationOutcome.FAILED
        if not complete:
            log.error("index: the rebuild from the sharded index is incomplete: run `tfpilot admin reindex`")
            return MigrationOutcome.INCOMPLETE
        log.warning("index: upgrade from the sharded index done")
        return MigrationOutcome.MIGRATED

    def _lease_body(self, token: str) -> bytes:
        return json.dumps({"token": token, "takenAt": self._clock.now().isoformat()}).encode()

    def _take_lease(self) -> str | None:
        """Our token when we hold the lease now, None when a live lease belongs to another."""
        token = secrets.token_hex(16)
        try:
            self._objects.put(LEASE_KEY, self._lease_body(token), if_none_match=True)
            return token
        except VersionConflict:
            pass
        found = self._objects.get(LEASE_KEY)
        if found is None:
            return None  # released just now: the migration it ran is over (the next check says)
        taken_at = _taken_at(found.body)
        if taken_at is not None and self._clock.now() - taken_at < self._lease_ttl:
            return None
        try:  # expired (its owner died) or unreadable: take it over, one winner by if-match
            self._objects.put(LEASE_KEY, self._lease_body(token), if_match=found.etag)
        except VersionConflict:
            return None
        return token

    def _release(self, token: str) -> None:
        found = self._objects.get(LEASE_KEY)
        if found is not None and _token(found.body) == token:
            self._objects.delete(LEASE_KEY)


def _doc(body: bytes) -> dict[str, object]:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _token(body: bytes) -> str | None:
    token = _doc(body).get("token")
    return token if isinstance(token, str) else None


def _taken_at(body: bytes) -> datetime | None:
    raw = _doc(body).get("takenAt")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
