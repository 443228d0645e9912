"""``ObjectRequestIndex``: the list index, so listing, filtering and metrics never read documents.

Rows (``IndexRow``) live in K hash shards ``index/shard-<nn>.json``; a row's shard is a stable
hash of its request id. Every shard write is a compare-and-swap (``if_none_match`` to create,
``if_match`` to replace) retried with jitter, so writers in several processes never overwrite
each other's rows; a merge keeps the row with the higher ``version``, so a slow writer never
rolls a row back (and gives up early when the shard already holds a newer row). Listing reads
the K shards, re-fetching a shard only when its etag changed (``get_if_changed``; parsed bodies
are cached by etag), filters with ``ListFilter.matches``, sorts newest first and pages with an
opaque keyset cursor. A corrupted or foreign shard or row is logged with its key, kept in
``problems()`` and skipped; it never fails a listing. See docs/storage.md.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.domain.errors import VersionConflict
from core.domain.index import IndexRow, ListFilter, Page
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

SHARD_FORMAT = "tfpilot.index/v1"
INDEX_PREFIX = "index/"
QUARANTINE_PREFIX = "index/quarantine/"
_DATETIME_FIELDS = tuple(name for name, info in IndexRow.model_fields.items() if "datetime" in str(info.annotation))


@dataclass(frozen=True)
class IndexProblem:
    """Something the index could not use, named by its object key (and row id when a row)."""

    key: str
    reason: str
    row_id: str | None = None


@dataclass
class _Shard:
    etag: str | None
    rows: dict[str, IndexRow] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[IndexProblem] = field(default_factory=list)
    corrupt: bool = False


def shard_of(request_id: str, shards: int) -> int:
    # A stable hash (not Python's salted ``hash``): every process must agree on the shard.
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") % shards


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _normalised(row: IndexRow) -> IndexRow:
    # Legacy documents may hold naive timestamps: read them as UTC so rows always compare.
    naive = {
        name: _utc(value)
        for name in _DATETIME_FIELDS
        if isinstance(value := getattr(row, name), datetime) and value.tzinfo is None
    }
    return row.model_copy(update=naive) if naive else row


def _sort_key(row: IndexRow) -> tuple[datetime, str]:
    return (_utc(row.received_at), row.id)


def encode_cursor(row: IndexRow) -> str:
    payload = json.dumps({"t": _utc(row.received_at).isoformat(), "id": row.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return _utc(datetime.fromisoformat(payload["t"])), str(payload["id"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("invalid list cursor: start the listing again without one") from exc


class ObjectRequestIndex:
    def __init__(
        self,
        objects: ObjectStore,
        *,
        shards: int = 32,
        max_attempts: int = 64,
        backoff: float = 0.005,
        max_backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= shards <= 1000:
            raise ValueError("index shards must be between 1 and 1000")
        self._objects = objects
        self._shards = shards
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._cache: dict[int, _Shard] = {}
        self._lock = threading.Lock()
        self._width = max(2, len(str(shards - 1)))

    @property
    def shards(self) -> int:
        return self._shards

    def shard_key(self, shard: int) -> str:
        return f"{INDEX_PREFIX}shard-{shard:0{self._width}d}.json"

    def shard_for(self, request_id: str) -> int:
        return shard_of(request_id, self._shards)

    # -- reading -----------------------------------------------------------------------------

    def _parse(self, shard: int, key: str, etag: str, body: bytes) -> _Shard:
        state = _Shard(etag=etag)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict) or doc.get("format") != SHARD_FORMAT or not isinstance(doc.get("rows"), dict):
            state.corrupt = True
            state.problems.append(IndexProblem(key, "not an index shard (corrupted or foreign JSON)"))
        elif doc.get("shards") != self._shards or doc.get("shard") != shard:
            state.corrupt = True
            state.problems.append(
                IndexProblem(key, f"shard written for {doc.get('shards')} shards (now {self._shards}): run reindex")
            )
        else:
            for row_id, raw in doc["rows"].items():
                try:
                    row = IndexRow.model_validate(raw)
                except ValidationError as exc:
                    reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                    state.problems.append(IndexProblem(key, f"invalid row: {reason}", str(row_id)))
                    continue
                if row.id != row_id or self.shard_for(row.id) != shard:
                    state.problems.append(IndexProblem(key, "foreign row (belongs to another id or shard)", row_id))
                    continue
                state.rows[row_id] = _normalised(row)
                state.raw[row_id] = raw
        for problem in state.problems:
            log.warning(
                "index: skipping %s%s: %s",
                problem.key,
                f" row {problem.row_id}" if problem.row_id else "",
                problem.reason,
            )
        return state

    def _load(self, shard: int, *, fresh: bool = False) -> _Shard:
        key = self.shard_key(shard)
        with self._lock:
            cached = None if fresh else self._cache.get(shard)
        found = self._objects.get_if_changed(key, cached.etag if cached else None)
        if found is None:
            # Unchanged since cached (a 304: no transfer), or absent.
            return cached if cached is not None else _Shard(etag=None)
        state = self._parse(shard, key, found.etag, found.body)
        with self._lock:
            self._cache[shard] = state
        return state

    def _forget(self, shard: int) -> None:
        with self._lock:
            self._cache.pop(shard, None)

    def all_rows(self) -> list[IndexRow]:
        """Every valid row of every shard (archived included), newest first."""
        rows: list[IndexRow] = []
        for shard in range(self._shards):
            rows.extend(self._load(shard).rows.values())
        return sorted(rows, key=_sort_key, reverse=True)

    def rows(self, filters: ListFilter | None = None) -> list[IndexRow]:
        wanted = filters or ListFilter()
        return [row for row in self.all_rows() if wanted.matches(row)]

    def page(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        rows = self.rows(filters)
        if cursor:
            after = decode_cursor(cursor)
            rows = [row for row in rows if _sort_key(row) < after]
        chunk = rows[:limit]
        more = len(rows) > limit
        return Page(rows=chunk, cursor=encode_cursor(chunk[-1]) if more and chunk else None)

    def problems(self) -> list[IndexProblem]:
        """Problems found in the shards as last read (call after a listing)."""
        with self._lock:
            return [p for state in self._cache.values() for p in state.problems]

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, row: IndexRow) -> bool:
        """Write one row (after its document). False when the shard stayed contended: logged,
        and repaired by the next write of the request or by ``reindex``."""
        return self.upsert_many([row])

    def upsert_many(self, rows: Iterable[IndexRow]) -> bool:
        """Write many rows with one compare-and-swap per shard touched (bulk loads, reindex)."""
        by_shard: dict[int, list[IndexRow]] = {}
        for row in rows:
            by_shard.setdefault(self.shard_for(row.id), []).append(_normalised(row))
        ok = True
        for shard, shard_rows in sorted(by_shard.items()):
            ok = self._write(shard, functools.partial(_merge, new=shard_rows)) and ok
        return ok

    def rebuild(self, rows: Iterable[IndexRow], exists: Callable[[str], bool]) -> bool:
        """Replace every shard with ``rows``, keeping rows written meanwhile by live writers
        (a higher version, or a document that ``exists`` but was not in the scan)."""
        by_shard: dict[int, dict[str, IndexRow]] = {n: {} for n in range(self._shards)}
        for row in rows:
            by_shard[self.shard_for(row.id)][row.id] = _normalised(row)
        ok = True
        for shard, wanted in by_shard.items():

            def replace(current: dict[str, IndexRow], wanted: dict[str, IndexRow] = wanted) -> dict[str, IndexRow]:
                merged = dict(wanted)
                for row_id, row in current.items():
                    mine = merged.get(row_id)
                    if (mine is None and exists(row_id)) or (mine is not None and row.version > mine.version):
                        merged[row_id] = row
                return merged

            ok = self._write(shard, replace, replace_all=True) and ok
        return ok

    def _write(
        self,
        shard: int,
        merge: Callable[[dict[str, IndexRow]], dict[str, IndexRow] | None],
        *,
        replace_all: bool = False,
    ) -> bool:
        key = self.shard_key(shard)
        for attempt in range(self._max_attempts):
            state = self._load(shard)
            if state.corrupt and state.etag is not None:
                self._quarantine(key, state.etag)
            merged = merge(dict(state.rows))
            if merged is None or (not replace_all and merged == state.rows):
                return True  # the shard already holds these rows or newer ones
            if replace_all and merged == state.rows and not state.corrupt and not state.problems:
                return True
            # Rows kept as read reuse their stored JSON: a write re-serialises only what changed.
            rows_doc = {
                row_id: state.raw[row_id]
                if state.rows.get(row_id) is row
                else row.model_dump(mode="json", exclude_defaults=True)
                for row_id, row in merged.items()
            }
            body = json.dumps(
                {"format": SHARD_FORMAT, "shards": self._shards, "shard": shard, "rows": rows_doc},
                separators=(",", ":"),
                sort_keys=True,
            ).encode()
            try:
                if state.etag is None:
                    etag = self._objects.put(key, body, if_none_match=True)
                else:
                    etag = self._objects.put(key, body, if_match=state.etag)
            except VersionConflict:
                self._forget(shard)
                self._sleep(self._rng.uniform(0, min(self._max_backoff, self._backoff * 2**attempt)))
                continue
            with self._lock:
                self._cache[shard] = _Shard(etag=etag, rows=merged, raw=rows_doc)
            return True
        log.error("index: gave up writing %s after %d conflicting attempts; run reindex", key, self._max_attempts)
        return False

    def _quarantine(self, key: str, etag: str) -> None:
        # Keep the unreadable body for inspection before the shard is rewritten.
        found = self._objects.get(key)
        if found is None or found.etag != etag:
            return
        digest = hashlib.sha256(found.body).hexdigest()[:16]
        name = key.removeprefix(INDEX_PREFIX).removesuffix(".json")
        self._objects.put(
            f"{QUARANTINE_PREFIX}{name}-{digest}.json", found.body, content_type="application/octet-stream"
        )
        log.warning("index: rewriting corrupted %s (its old body kept under %s)", key, QUARANTINE_PREFIX)


def _merge(current: dict[str, IndexRow], new: list[IndexRow]) -> dict[str, IndexRow] | None:
    changed = False
    for row in new:
        existing = current.get(row.id)
        # The higher version wins; an equal version replaces only when it differs (idempotent).
        if existing is None or row.version > existing.version or (row.version == existing.version and row != existing):
            current[row.id] = row
            changed = True
    return current if changed else None
