"""``ObjectRequestIndex``: the list index as sorted object keys, so listing never reads documents
and a write costs the same at 1 M requests as at 1 k. The key layout (streams, entries, payloads,
cursors) is ``core.adapters.index_keys``.

The request store writes a listed change in three steps (``put_entries`` before the document's
compare-and-swap, ``retire`` of the entries the replaced document names after it: see
``core.adapters.request_store``); no LIST. ``upsert`` (bulk loads, repairs, and documents
written before they named their entries) PUTs the new entries, then *settles*: one
``list_keys`` of the request's group in the ``all`` stream; older versions found there are
deleted (their keys in every stream derived from their own rows), and when a newer version is
found the writer deletes its own entries instead. ``reindex`` repairs everything. Unreadable entries
are logged with their key, kept in ``problems()`` and skipped. See docs/storage.md.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from core.adapters.index_keys import (
    ACTIVE,
    ALL,
    INDEX_PREFIX,
    ROOT,
    S3_KEY_LIMIT,
    V_MAX,
    EntryHead,
    decode_cursor,
    encode_cursor,
    encode_payload,
    invert_id,
    key_segment,
    normalised,
    parse_head,
    payload_doc,
    requester_stream,
    row_from,
    stream_of_key,
    streams_of,
    time_field,
)
from core.adapters.index_migration import LEASE_KEY as MIGRATION_LEASE_KEY
from core.adapters.index_migration import LEGACY_SHARD_PREFIX
from core.domain.index import IndexRow, ListFilter, Page
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)


# How many keys the first ListObjectsV2 of a listing asks for: enough for a page and a few
# filtered-out rows, without transferring 1,000 long keys for a 50-row page.
_FIRST_PAGE_SLACK = 16


@dataclass(frozen=True)
class IndexProblem:
    """Something the index could not use, named by its object key (and row id when a row)."""

    key: str
    reason: str
    row_id: str | None = None


class ObjectRequestIndex:
    """The list index over an ``ObjectStore`` (see module doc)."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        inline_limit: int = S3_KEY_LIMIT,
        workers: int = 4,
        scan_ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._objects = objects
        self._inline_limit = inline_limit
        self._workers = workers
        # Whole-index scans (``rows``: /metrics, insights, the reconciler) cost N/1,000 LISTs:
        # their result is reused for ``scan_ttl`` seconds, and dropped at once by this
        # process's own writes. Pages (``page``) are never cached.
        self._scan_ttl = scan_ttl
        self._monotonic = monotonic
        self._scans: dict[ListFilter, tuple[float, list[IndexRow]]] = {}
        self._legacy_checked = False
        self._problems: dict[str, IndexProblem] = {}
        self._lock = threading.Lock()

    # -- keys ----------------------------------------------------------------------------------

    def entries_of(self, row: IndexRow, *, legacy: bool = False) -> dict[str, bytes]:
        """Every key (and body) that lists ``row``, in write order (``all`` last); with
        ``legacy`` also the keys the previous layout listed it by (``streams_of``)."""
        row = normalised(row)
        head = f"{time_field(row.received_at)}~{invert_id(row.id)}~{V_MAX - row.version:012d}~"
        payload = encode_payload(row)
        body = json.dumps(payload_doc(row), separators=(",", ":"), sort_keys=True).encode()
        entries: dict[str, bytes] = {}
        for stream in streams_of(row, legacy=legacy):
            key = f"{stream}{head}{payload}"
            if len(key.encode()) <= self._inline_limit:
                entries[key] = b""
            else:
                entries[f"{stream}{head}"] = body  # too long for a key: the body carries the row
        return entries

    def _row(self, head: EntryHead) -> IndexRow | None:
        payload = head.key.rsplit("~", 1)[1]
        try:
            if payload:
                doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            else:
                found = self._objects.get(head.key)
                if found is None:
                    return None  # deleted since listed: a newer version replaced it
                doc = json.loads(found.body)
            if not isinstance(doc, dict):
                raise ValueError("payload is not a JSON object")
            return row_from(head, doc)
        except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, ValidationError) as exc:
            self._problem(IndexProblem(head.key, f"unreadable index entry: {exc}", head.request_id))
            return None

    def _problem(self, problem: IndexProblem) -> None:
        with self._lock:
            if problem.key not in self._problems:
                log.warning("index: skipping %s: %s", problem.key, problem.reason)
            self._problems[problem.key] = problem

    def problems(self) -> list[IndexProblem]:
        """Unreadable entries met by the listings so far."""
        with self._lock:
            return list(self._problems.values())

    # -- reading -------------------------------------------------------------------------------

    def _heads(self, stream: str, start_after: str | None, first_page: int) -> Iterator[EntryHead]:
        """The newest version of each request in ``stream``, in order, listing lazily: the
        first ListObjectsV2 asks for ``first_page`` keys, the rest (if read) pages by 1,000."""
        last = start_after
        want: int | None = first_page
        previous: tuple[str, str] | None = None
        while True:
            got = 0
            for key in self._objects.list_keys(stream, start_after=last, limit=want):
                got += 1
                last = key
                try:
                    head = parse_head(key, stream)
                except ValueError as exc:
                    self._problem(IndexProblem(key, str(exc)))
                    continue
                if head.group == previous:
                    continue  # an older version of the request just yielded (V sorts newest first)
                previous = head.group
                yield head
            if want is None or got < want:
                return
            want = None

    def _stream_plan(self, wanted: ListFilter) -> list[str]:
        if wanted.status is not None:
            return [f"{ROOT}status/{key_segment(status)}/" for status in sorted(wanted.status)]
        if wanted.requester is not None and "@" not in wanted.requester:
            return [requester_stream(wanted.requester)]
        # ``all`` holds the archived rows (and, written by the previous layout, every row: a
        # request in both streams is one row, the newest version first).
        return [ACTIVE, ALL] if wanted.include_archived else [ACTIVE]

    def _rows(self, filters: ListFilter | None, after: tuple[datetime, str] | None, want: int | None) -> list[IndexRow]:
        wanted = filters or ListFilter()
        first_page = min(1000, (want or 1000) + _FIRST_PAGE_SLACK)
        streams = self._stream_plan(wanted)
        floor: str | None = None
        if after is not None:
            floor = f"{time_field(after[0])}~{invert_id(after[1])}~~"  # past every version of that request
        if wanted.until is not None:
            # received_at < until: start past every entry received at or after ``until``.
            floor = max(floor or "", f"{time_field(wanted.until)}~~")
        stop = time_field(wanted.since) if wanted.since is not None else None
        iterators = [self._heads(stream, f"{stream}{floor}" if floor else None, first_page) for stream in streams]
        merged: Iterable[EntryHead] = (
            iterators[0]
            if len(iterators) == 1
            else heapq.merge(*iterators, key=lambda h: (h.t, h.inv_id, V_MAX - h.version))
        )
        rows: list[IndexRow] = []
        previous: tuple[str, str] | None = None
        seen = False
        for head in merged:
            seen = True
            if stop is not None and head.t > stop:
                break  # received before ``since``: everything after is older still
            if head.group == previous:
                continue  # the same request in two streams (a stale entry): the newest came first
            previous = head.group
            row = self._row(head)
            if row is None or not wanted.matches(row):
                continue
            rows.append(row)
            if want is not None and len(rows) >= want:
                break
        if not seen and floor is None:
            self._warn_if_legacy()
        return rows

    def _warn_if_legacy(self) -> None:
        # An empty listing right after an upgrade from the sharded index: say what to run (once).
        if self._legacy_checked:
            return
        self._legacy_checked = True
        if next(iter(self._objects.list_keys(LEGACY_SHARD_PREFIX, limit=1)), None) is not None:
            log.error(
                "index: only the previous (sharded) index exists: the reconciler of `tfpilot serve` rebuilds"
                " the index at its first pass (or run `tfpilot admin reindex`)"
            )

    def rows(self, filters: ListFilter | None = None) -> list[IndexRow]:
        """Every matching row, newest first (at most ``scan_ttl`` old, see ``__init__``)."""
        wanted = filters or ListFilter()
        now = self._monotonic()
        with self._lock:
            cached = self._scans.get(wanted)
        if cached is not None and now - cached[0] < self._scan_ttl:
            return list(cached[1])
        rows = self._rows(wanted, None, None)
        with self._lock:
            self._scans[wanted] = (now, rows)
        return list(rows)

    def _changed(self) -> None:
        with self._lock:
            self._scans.clear()

    def all_rows(self) -> list[IndexRow]:
        """Every valid row (archived included), newest first."""
        return self._rows(ListFilter(include_archived=True), None, None)

    def page(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        after = decode_cursor(cursor) if cursor else None
        rows = self._rows(filters, after, limit + 1)
        chunk = rows[:limit]
        more = len(rows) > limit
        return Page(rows=chunk, cursor=encode_cursor(chunk[-1]) if more and chunk else None)

    # -- writing -------------------------------------------------------------------------------

    def upsert(self, row: IndexRow) -> bool:
        """Write one row, then settle its request's entries (see the module docstring)."""
        row = normalised(row)
        mine = self.entries_of(row)
        self._changed()
        for key, body in mine.items():
            self._objects.put(key, body, content_type="application/octet-stream")
        self._settle(row, mine)
        self._changed()
        return True

    def put_entries(self, row: IndexRow) -> dict[str, bytes]:
        """PUT ``row``'s entries, without settling (the request store's write path: it puts the
        entries of a version before the document's compare-and-swap, and retires the entries
        the document listed before after it). Returns the entries."""
        mine = self.entries_of(row)
        self._changed()
        for key, body in mine.items():
            self._objects.put(key, body, content_type="application/octet-stream")
        return mine

    def retire(self, rows: Iterable[IndexRow], keep: Iterable[str] = ()) -> None:
        """Delete the entries of ``rows`` (one DeleteObjects call; ``all`` entries last; keys
        already gone are no error), except the keys in ``keep``."""
        kept = set(keep)
        keys = [k for row in rows for k in self.entries_of(row, legacy=True) if k not in kept]
        keys = list(dict.fromkeys(sorted(keys, key=lambda k: k.startswith((ACTIVE, ALL)))))
        self._changed()
        self._delete(keys)
        self._changed()

    def forget_scans(self) -> None:
        """Drop the cached whole-index scans (this process changed the index)."""
        self._changed()

    def settle(self, row: IndexRow, mine: dict[str, bytes]) -> None:
        """Delete every other listed version of ``row``'s request, found by listing its group in
        ``all`` (for documents that do not say which entries list them)."""
        self._settle(normalised(row), mine)
        self._changed()

    def _group(self, request_id: str, received_at: datetime) -> list[EntryHead]:
        """Every listed version of the request: its group in ``active`` and in ``all`` (2 LISTs;
        only repairs and documents that do not name their entries settle this way)."""
        heads: list[EntryHead] = []
        for stream in (ACTIVE, ALL):
            for key in self._objects.list_keys(f"{stream}{time_field(received_at)}~{invert_id(request_id)}~"):
                try:
                    heads.append(parse_head(key, stream))
                except ValueError as exc:
                    self._problem(IndexProblem(key, str(exc), request_id))
        return heads

    def _settle(self, row: IndexRow, mine: dict[str, bytes]) -> None:
        heads = self._group(row.id, row.received_at)
        newest = max((head.version for head in heads), default=row.version)
        if newest > row.version:
            self._delete(list(mine))  # a newer version is listed: this write came late
            return
        secondary: list[str] = []
        ledger: list[str] = []
        for head in heads:
            # Older versions, and a same-version entry encoded differently (this one wins).
            if head.version < row.version or (head.version == row.version and head.key not in mine):
                old = self._row(head)
                if old is not None:
                    secondary += [
                        k
                        for k in self.entries_of(old, legacy=True)
                        if k not in mine and not k.startswith((ACTIVE, ALL))
                    ]
                ledger.append(head.key)
        # ``active`` and ``all`` go last: if the batch fails half-way, the next settle finds them.
        self._delete(list(dict.fromkeys([*secondary, *ledger])))

    def _body(self, key: str) -> bytes | None:
        found = self._objects.get(key)
        return found.body if found else None

    def _delete(self, keys: list[str]) -> None:
        if keys:
            self._objects.delete_many(keys)  # one call on S3; the ``all`` entry comes last

    def upsert_many(self, rows: Iterable[IndexRow]) -> bool:
        """Write many rows in parallel (bulk loads, reindex)."""
        with ThreadPoolExecutor(self._workers) as pool:
            return all(pool.map(self.upsert, rows))

    def rebuild(self, rows: Iterable[IndexRow], exists: Callable[[str], bool]) -> bool:
        """Make the index hold exactly ``rows``, keeping entries written meanwhile by live writers
        (a higher version, or a request that ``exists`` but was not in the scan)."""
        wanted = {row.id: normalised(row) for row in rows}
        wanted_keys: dict[str, bytes] = {}
        for row in wanted.values():
            wanted_keys.update(self.entries_of(row))
        stale: list[str] = []
        present: set[str] = set()
        for key in self._objects.list_keys(INDEX_PREFIX):
            if key in wanted_keys:
                body = wanted_keys[key]
                if not body or self._body(key) == body:  # a row in a body is checked, not trusted
                    present.add(key)
                continue
            if key.startswith(f"{INDEX_PREFIX}quarantine/") or key == MIGRATION_LEASE_KEY:
                continue
            stream = stream_of_key(key)
            try:
                head = parse_head(key, stream) if stream else None
            except ValueError:
                head = None
            if head is not None:
                mine = wanted.get(head.request_id)
                if (mine is None and exists(head.request_id)) or (mine is not None and head.version > mine.version):
                    continue  # written by a live writer since the scan: it settles itself
            stale.append(key)  # an older version, a deleted request, a legacy shard or garbage
        missing = [(key, body) for key, body in wanted_keys.items() if key not in present]
        with ThreadPoolExecutor(self._workers) as pool:
            list(pool.map(lambda kb: self._objects.put(kb[0], kb[1], content_type="application/octet-stream"), missing))
        if stale:
            self._objects.delete_many(stale)
        with self._lock:
            self._problems.clear()
        self._changed()
        return True
