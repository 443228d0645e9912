"""``ObjectRequestStore``: request documents with real compare-and-swap on any ``ObjectStore``.

Active requests live at ``requests/<id>.json``, archived ones at ``history/<id>.json``. Create
is a create-if-absent put; ``update(id, mutate)`` is the one read-mutate-CAS helper: on a lost
race it re-reads and retries with bounded, jittered backoff, then gives up with
``TooManyConflicts``. The store remembers the etag of the documents it last read or wrote (a
small LRU), so an update of a request this process just touched skips its GET and writes with
``if_match`` straight away (a 412 falls back to a read); ``recent`` hands that memory to
callers that only prepare an update. The request's row goes to the list index
(``ObjectRequestIndex``) only when an indexed field changed: its entries before the document,
the entries the replaced document names (``Request.listed``) deleted after it, so listing
never reads documents, most updates cost no index call and none costs a LIST. ``S3RequestStore`` and
``LocalRequestStore`` are the same store on an S3 bucket or a directory.
"""

from __future__ import annotations

import builtins
import contextlib
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

from pydantic import ValidationError

from core.adapters.index_keys import S3_KEY_LIMIT
from core.adapters.index_migration import LegacyIndexMigration, MigrationOutcome
from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_index import IndexProblem, ObjectRequestIndex
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
from core.domain.request import Listed, Request
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
_ABSENT_FOR = 5.0  # seconds a read that found no document of an id answers a create's check


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
        # id -> monotonic time this process read neither its active nor its archived document:
        # a create right after (the service's idempotency check) skips its own history read.
        self._absent: OrderedDict[str, float] = OrderedDict()
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
        archived = self._objects.get(history_key(request_id))
        if archived is None:
            with self._known_lock:
                self._absent[request_id] = time.monotonic()
                self._absent.move_to_end(request_id)
                while len(self._absent) > self._known_max:
                    self._absent.popitem(last=False)
        return None, archived

    def _just_read_absent(self, request_id: str) -> bool:
        """Whether this process has just found no document of ``request_id`` (once)."""
        with self._known_lock:
            at = self._absent.pop(request_id, None)
        return at is not None and time.monotonic() - at < _ABSENT_FOR

    def get(self, request_id: str) -> Request:
        active, archived = self._read(request_id)
        found = active or archived
        if found is None:
            raise RequestNotFound(request_id)
        request = self._parse(found)
        if active is not None:
            self._remember(request_id, active.etag, request)
        return request

    def recent(self, request_id: str) -> Request:
        known = self._recall(request_id)
        return known[1] if known is not None else self.get(request_id)

    def create(self, request: Request) -> Request:
        if not _SAFE_ID.match(request.id):
            raise InvalidDocument([FieldProblem("id", "letters, digits, '_', '-' or '.', at most 128")])
        # An archived id is never created again. A read that just found neither document (the
        # service's idempotency check) answers that: the create-if-absent below closes the same
        # window the history read would leave open.
        if not self._just_read_absent(request.id) and self._objects.get(history_key(request.id)) is not None:
            raise RequestAlreadyExists(request.id)
        stored = request.model_copy(deep=True, update={"version": 1})
        entries = self._list_first(stored, None)
        try:
            etag = self._objects.put(active_key(request.id), stored.to_json(), if_none_match=True)
        except VersionConflict as exc:
            self._drop_orphans(request.id, entries)
            raise RequestAlreadyExists(request.id) from exc
        except Exception:
            self._drop_orphans(request.id, entries)
            raise
        self._remember(request.id, etag, stored)
        return stored

    def update(self, request_id: str, mutate: Mutation) -> Request:
        return self._update(request_id, mutate, allow_archived=False)

    def _update(self, request_id: str, mutate: Mutation, *, allow_archived: bool) -> Request:
        key = active_key(request_id)
        # First try the version this process last read or wrote: no GET. Its write is
        # conditional like any other, so a stale memory costs one 412 and then a real read.
        known = self._recall(request_id)
        for attempt in range(self._max_retries):
            etag, current = known if known is not None else self._stored(request_id)
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
            entries = self._list_first(stored, current)
            try:
                new_etag = self._objects.put(key, stored.to_json(), if_match=etag)
            except VersionConflict:
                self._forget(request_id)
                self._drop_orphans(request_id, entries)
                if known is not None:
                    known = None  # the remembered version was stale: read, without backing off
                    continue
                self._sleep(self._rng.uniform(0, min(self._max_backoff, self._backoff * 2**attempt)))
                continue
            except Exception:
                self._forget(request_id)
                self._drop_orphans(request_id, entries)
                raise
            self._remember(request_id, new_etag, stored)
            if entries is not None:
                self._retire(stored, current, entries)
            return stored
        raise TooManyConflicts(key, self._max_retries)

    def _stored(self, request_id: str) -> tuple[str, Request]:
        """(etag, document) of the active document as stored; refuses archived or missing ones."""
        active, archived = self._read(request_id)
        if active is None:
            self._forget(request_id)
            if archived is not None:
                raise RequestArchived(request_id)
            raise RequestNotFound(request_id)
        return active.etag, self._parse(active)

    def archive(self, request_id: str) -> Request:
        known = self._recall(request_id)
        if known is None or known[1].archived_at is not None:
            active, archived = self._read(request_id)
            if active is None:
                if archived is None:
                    raise RequestNotFound(request_id)
                return self._parse(archived)  # already archived: idempotent
        # else this process just wrote or read the active document: the freeze's
        # compare-and-swap checks it (no GET first).
        # Freeze the active document first (a CAS write), so an update racing the archive
        # either lands before it or is refused; a crash after this step is resumed here.
        now = self._clock.now()

        def freeze(request: Request) -> Request | None:
            if request.archived_at is not None:
                return None
            request.archived_at = now
            return request

        try:
            frozen = self._update(request_id, freeze, allow_archived=True)
        except RequestArchived:
            return self.get(request_id)  # another process finished the archive meanwhile
        archived_etag = self._objects.put(history_key(request_id), frozen.to_json())
        self._objects.delete(active_key(request_id))
        # Remembered as archived (it never changes again): a late webhook's ``recent`` sees it
        # without reading; an update still reads (archived documents are never written).
        self._remember(request_id, archived_etag, frozen)
        if frozen.archived_at != now:
            # Resuming an archive that crashed half-way: its freeze may never have been indexed.
            self._reindex_one(frozen)
        return frozen

    # -- the list index's share of a write ---------------------------------------------------
    #
    # A listed change PUTs the new version's entries *before* the document's compare-and-swap
    # and deletes the entries the replaced document was listed by *after* it. Documents are
    # serialised by their compare-and-swap, so whoever replaces version n read it after n was
    # written, hence after n's entries were: its delete always finds them (no slow writer can
    # bring back an entry that a newer writer already retired). A write that loses its
    # compare-and-swap deletes the entries it put, except those the winner's document is
    # listed by (two writers can build the same key). See docs/storage.md.

    def _list_first(self, stored: Request, current: Request | None) -> dict[str, bytes] | None:
        """Decide whether ``stored`` changes its listing; when it does, record on it which
        entries list it and PUT them (before the document). None: the entries stay as they are."""
        row = IndexRow.of(stored)
        if current is not None and same_listing(IndexRow.of(current), row):
            stored.listed = current.listed  # nothing a listing reads has changed: no index call
            return None
        before = listed_row(current) if current is not None else None
        stored.listed = Listed(
            version=stored.version,
            at=stored.updated_at,
            previous=before.model_dump(mode="json") if before is not None else None,
        )
        # The document is the record: an index failure must not fail its write (a caller would
        # retry it). The old row then stays (not retired), stale until the request's next
        # listed change (which retires what this write may have put) or ``reindex``.
        try:
            return self.index.put_entries(row)
        except Exception as exc:
            log.error("index: row of %s (version %d) not written: %s", stored.id, stored.version, exc)
            return None

    def _retire(self, stored: Request, current: Request, entries: dict[str, bytes]) -> None:
        """Delete the entries ``current`` was listed by (after ``stored`` replaced it)."""
        try:
            before = listed_row(current)
            if before is None:
                # A document written before it said which entries list it: find them by listing.
                self.index.settle(IndexRow.of(stored), entries)
                return
            older = [before]
            if current.listed is not None and current.listed.previous is not None:
                with contextlib.suppress(ValidationError):
                    older.append(IndexRow.model_validate(current.listed.previous))
            self.index.retire(older, keep=entries)
        except Exception as exc:
            log.error("index: older rows of %s (version %d) not deleted: %s", stored.id, stored.version, exc)

    def _drop_orphans(self, request_id: str, entries: dict[str, bytes] | None) -> None:
        """After a write that did not land: delete the entries it put, except those the stored
        document is listed by (read now: the writer that won may have built the same keys)."""
        if not entries:
            return
        try:
            active, archived = self._read(request_id)
            found = active or archived
            winner = listed_row(self._parse(found)) if found is not None else None
            keep = set(self.index.entries_of(winner)) if winner is not None else set()
            self.index.forget_scans()
            orphans = [key for key in entries if key not in keep]
            if orphans:
                self._objects.delete_many(orphans)
        except Exception as exc:
            log.error("index: entries of a lost write of %s not deleted: %s", request_id, exc)

    def _reindex_one(self, request: Request) -> None:
        try:
            self.index.upsert(listed_row(request) or IndexRow.of(request))
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
        versions: dict[str, int] = {}  # the document version ``best`` was read from
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
                row = listed_row(request) or IndexRow.of(request)
                if prefix == HISTORY_PREFIX and not row.archived:
                    row = row.model_copy(update={"archived": True})
                if request_id not in best or request.version > versions[request_id]:
                    best[request_id], versions[request_id] = row, request.version
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


def listed_row(request: Request) -> IndexRow | None:
    """The row the index lists ``request`` by (its last listed change: ``Request.listed``), or
    None for a document written before documents said so."""
    if request.listed is None:
        return None
    return IndexRow.of(request).model_copy(update={"version": request.listed.version, "updated_at": request.listed.at})


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
