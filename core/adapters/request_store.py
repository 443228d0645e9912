"""``ObjectRequestStore``: request documents with real compare-and-swap on any ``ObjectStore``.

Active requests live at ``requests/<id>.json``, archived ones at ``history/<id>.json``. Create
is a create-if-absent put; ``update(id, mutate)`` is the one read-mutate-CAS helper: on a lost
race it re-reads and retries with bounded, jittered backoff, then gives up with
``TooManyConflicts``. The store remembers the etag of the documents it last read or wrote (a
small LRU), so an update of a request this process just touched skips its GET and writes with
``if_match`` straight away (a 412 falls back to a read). After a document write the request's
row goes to the list index (``ObjectRequestIndex``) only when an indexed field changed, so
listing never reads documents and most updates cost no index call. ``S3RequestStore`` and
``LocalRequestStore`` are the same store on an S3 bucket or a directory.
"""

from __future__ import annotations

import builtins
import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.adapters.index_migration import LegacyIndexMigration, MigrationOutcome
from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_index import S3_KEY_LIMIT, IndexProblem, ObjectRequestIndex
from core.adapters.s3_objects import S3ObjectStore
from core.domain.errors import (
    FieldProblem,
    InvalidDocument,
    RequestAlreadyExists,
    RequestArchived,
    RequestNotFound,
    TooManyConflicts,
    VersionConflict,
)
from core.domain.index import IndexRow, ListFilter, Page
from core.domain.request import Request
from core.ports.clock import Clock
from core.ports.object_store import ObjectStore, StoredObject
from core.ports.request_store import Mutation

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

ACTIVE_PREFIX = "requests/"
HISTORY_PREFIX = "history/"
# Ids become object keys: keep them to a safe charset so a crafted id cannot address another key.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def active_key(request_id: str) -> str:
    return f"{ACTIVE_PREFIX}{request_id}.json"


def history_key(request_id: str) -> str:
    return f"{HISTORY_PREFIX}{request_id}.json"


def id_from_key(key: str, prefix: str) -> str | None:
    """The request id a document key names, or None for a foreign object."""
    if not key.startswith(prefix) or not key.endswith(".json"):
        return None
    candidate = key[len(prefix) : -len(".json")]
    return candidate if _SAFE_ID.match(candidate) else None


@dataclass
class ReindexReport:
    rows: int = 0
    problems: list[IndexProblem] = field(default_factory=list)
    complete: bool = True


class ObjectRequestStore:
    def __init__(
        self,
        objects: ObjectStore,
        clock: Clock,
        *,
        inline_limit: int | None = None,
        max_retries: int = 12,
        backoff: float = 0.01,
        max_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        known_etags: int = 256,
    ) -> None:
        self._objects = objects
        self._clock = clock
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        if inline_limit is None:
            # A local file name is limited to 255 bytes: there the entries' bodies hold the rows.
            inline_limit = 0 if isinstance(objects, LocalObjectStore) else S3_KEY_LIMIT
        self.index = ObjectRequestIndex(objects, inline_limit=inline_limit)
        # id -> (etag, document) last read or written here: lets an update skip its GET.
        self._known: OrderedDict[str, tuple[str, Request]] = OrderedDict()
        self._known_max = known_etags
        self._known_lock = threading.Lock()
        self.migration = LegacyIndexMigration(objects, clock, lambda: self.reindex().complete)

    @property
    def objects(self) -> ObjectStore:
        return self._objects

    # -- documents ---------------------------------------------------------------------------

    def _parse(self, found: StoredObject) -> Request:
        return Request.from_json(found.body, key=found.key)

    def _remember(self, request_id: str, etag: str, request: Request) -> None:
        with self._known_lock:
            known = self._known.get(request_id)
            if known is not None and known[1].version > request.version:
                # A read that began before a concurrent write of this process ends after it: the
                # memory never goes back (an update would run its mutation on the older version,
                # which may lack what the write added, e.g. the operation that write began).
                return
            self._known[request_id] = (etag, request.model_copy(deep=True))
            self._known.move_to_end(request_id)
            while len(self._known) > self._known_max:
                self._known.popitem(last=False)

    def _forget(self, request_id: str) -> None:
        with self._known_lock:
            self._known.pop(request_id, None)

    def _recall(self, request_id: str) -> tuple[str, Request] | None:
        with self._known_lock:
            known = self._known.get(request_id)
        return (known[0], known[1].model_copy(deep=True)) if known else None

    def _read(self, request_id: str) -> tuple[StoredObject | None, StoredObject | None]:
        """(active, archived) objects; the archive is read only when there is no active one."""
        if not _SAFE_ID.match(request_id):
            return None, None
        active = self._objects.get(active_key(request_id))
        if active is not None:
            return active, None
        return None, self._objects.get(history_key(request_id))

    def get(self, request_id: str) -> Request:
        active, archived = self._read(request_id)
        found = active or archived
        if found is None:
            raise RequestNotFound(request_id)
        request = self._parse(found)
        if active is not None:
            self._remember(request_id, active.etag, request)
        return request

    def create(self, request: Request) -> Request:
        if not _SAFE_ID.match(request.id):
            raise InvalidDocument([FieldProblem("id", "letters, digits, '_', '-' or '.', at most 128")])
        if self._objects.get(history_key(request.id)) is not None:
            raise RequestAlreadyExists(request.id)
        stored = request.model_copy(deep=True, update={"version": 1})
        try:
            etag = self._objects.put(active_key(request.id), stored.to_json(), if_none_match=True)
        except VersionConflict as exc:
            raise RequestAlreadyExists(request.id) from exc
        self._remember(request.id, etag, stored)
        self._index(stored, None)
        return stored

    def update(self, request_id: str, mutate: Mutation) -> Request:
        return self._update(request_id, mutate, allow_archived=False)

    def _update(self, request_id: str, mutate: Mutation, *, allow_archived: bool) -> Request:
        key = active_key(request_id)
        # First try the version this process last read or wrote: no GET. Its write is
        # conditional like any other, so a stale memory costs one 412 and then a real read.
        known = self._recall(request_id)
        for attempt in range(self._max_retries):
            if known is not None:
                etag, current = known
            else:
                active, archived = self._read(request_id)
                if active is None:
                    self._forget(request_id)
                    if archived is not None:
                        raise RequestArchived(request_id)
                    raise RequestNotFound(request_id)
                etag, current = active.etag, self._parse(active)
            if current.archived_at is not None and not allow_archived:
                if known is not None:
                    known = None  # decide on what is stored, not on what was remembered
                    continue
                raise RequestArchived(request_id)  # archiving has begun: the document is frozen
            try:
                result = mutate(current.model_copy(deep=True))
            except Exception:
                if known is None:
                    raise
                known = None  # the remembered version may be stale: decide on what is stored
                continue
            if result is None:
                if known is not None:
                    known = None  # "nothing to do" must be judged on the stored document
                    continue
                return current
            if result.id != request_id:
                raise InvalidDocument([FieldProblem("id", "an update may not change the request id")], key=key)
            stored = result.model_copy(
                deep=True, update={"version": current.version + 1, "updated_at": self._clock.now()}
            )
            try:
                new_etag = self._objects.put(key, stored.to_json(), if_match=etag)
            except VersionConflict:
                self._forget(request_id)
                if known is not None:
                    known = None  # the remembered version was stale: read, without backing off
                    continue
                self._sleep(self._rng.uniform(0, min(self._max_backoff, self._backoff * 2**attempt)))
                continue
            self._remember(request_id, new_etag, stored)
            self._index(stored, current)
            return stored
        raise TooManyConflicts(key, self._max_retries)

    def archive(self, request_id: str) -> Request:
        active, archived = self._read(request_id)
        if active is None:
            if archived is None:
                raise RequestNotFound(request_id)
            return self._parse(archived)  # already archived: idempotent
        # Freeze the active document first (a CAS write), so an update racing the archive
        # either lands before it or is refused; a crash after this step is resumed here.
        now = self._clock.now()

        def freeze(request: Request) -> Request | None:
            if request.archived_at is not None:
                return None
            request.archived_at = now
            return request

        frozen = self._update(request_id, freeze, allow_archived=True)
        self._objects.put(history_key(request_id), frozen.to_json())
        self._objects.delete(active_key(request_id))
        self._forget(request_id)
        if frozen.archived_at != now:
            # Resuming an archive that crashed half-way: its freeze may never have been indexed.
            self._index(frozen, None)
        return frozen

    def _index(self, request: Request, previous: Request | None) -> None:
        row = IndexRow.of(request)
        if previous is not None and same_listing(IndexRow.of(previous), row):
            return  # nothing a listing, a filter or a metric reads has changed: no index call
        # The document is the record and is already written: an index failure must not turn a
        # successful write into an error (a caller would retry it). The row stays stale until
        # the request's next indexed write or ``reindex``.
        try:
            self.index.upsert(row)
        except Exception as exc:
            log.error("index: row of %s (version %d) not written: %s", request.id, request.version, exc)

    # -- listing -----------------------------------------------------------------------------

    def list(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return self.index.page(filters, limit, cursor)

    def rows(self, filters: ListFilter | None = None) -> builtins.list[IndexRow]:
        return self.index.rows(filters)

    def index_problems(self) -> builtins.list[IndexProblem]:
        return self.index.problems()

    def reindex(self) -> ReindexReport:
        """Rebuild the index from the documents (the repair path: reads every document).

        Corrupted documents and foreign objects are reported with their key and skipped."""
        report = ReindexReport()
        best: dict[str, IndexRow] = {}
        for prefix in (ACTIVE_PREFIX, HISTORY_PREFIX):
            for key in self._objects.list_keys(prefix):
                request_id = id_from_key(key, prefix)
                if request_id is None:
                    report.problems.append(IndexProblem(key, "foreign object (not <prefix><request-id>.json)"))
                    continue
                found = self._objects.get(key)
                if found is None:
                    continue  # deleted since listed (archived meanwhile)
                try:
                    request = self._parse(found)
                except InvalidDocument as exc:
                    why = "; ".join(f"{p.loc}: {p.message}" for p in exc.problems) or "invalid document"
                    report.problems.append(IndexProblem(key, why, request_id))
                    continue
                if request.id != request_id:
                    report.problems.append(IndexProblem(key, f"document id {request.id!r} differs from its key"))
                    continue
                row = IndexRow.of(request)
                if prefix == HISTORY_PREFIX and not row.archived:
                    row = row.model_copy(update={"archived": True})
                if request_id not in best or row.version > best[request_id].version:
                    best[request_id] = row
        for problem in report.problems:
            log.warning("reindex: skipping %s: %s", problem.key, problem.reason)
        report.complete = self.index.rebuild(best.values(), self._exists)
        report.rows = len(best)
        return report

    def upgrade_legacy_index(self) -> MigrationOutcome:
        """Rebuild the index once when the store still holds the previous (sharded) one: one
        LIST when there is nothing to do; the rebuild runs under a lease, so one replica does it
        (see ``core.adapters.index_migration``)."""
        return self.migration.run()

    def _exists(self, request_id: str) -> bool:
        active, archived = self._read(request_id)
        return active is not None or archived is not None


def same_listing(before: IndexRow, after: IndexRow) -> bool:
    """True when two rows differ at most in ``version`` and ``updated_at``: the row in the index
    then stays as it is (its ``updated_at`` is the time of its last listed change)."""
    ignored = {"version", "updated_at"}
    return before.model_dump(exclude=ignored) == after.model_dump(exclude=ignored)


class S3RequestStore(ObjectRequestStore):
    """The request store on an S3 bucket (SSE AES256, conditional writes)."""

    def __init__(self, client: S3Client, bucket: str, clock: Clock, *, max_retries: int = 12) -> None:
        super().__init__(S3ObjectStore(client, bucket), clock, max_retries=max_retries)


class LocalRequestStore(ObjectRequestStore):
    """The embedded request store on a directory (``TFPILOT_DATA_DIR``)."""

    def __init__(self, root: Path, clock: Clock, *, max_retries: int = 12) -> None:
        super().__init__(LocalObjectStore(root), clock, max_retries=max_retries)
