"""``RequestStore``: request documents with real compare-and-swap and an index for listing."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Protocol

from core.domain.index import IndexRow, ListFilter, Page
from core.domain.request import Request

# A mutation gets the freshly read request (a copy: mutate it freely) and returns the request
# to write, or None to write nothing. It may run more than once when writers race.
Mutation = Callable[[Request], Request | None]


class RequestStore(Protocol):
    def get(self, request_id: str) -> Request:
        """The active or archived request; ``RequestNotFound`` when neither exists."""
        ...

    def recent(self, request_id: str) -> Request:
        """The request as this process last read or wrote it (no call), else ``get``.

        It may be stale when another process wrote since: use it to prepare an ``update``,
        whose compare-and-swap (and a ``mutate`` that writes nothing, always judged on a fresh
        read) decides on the stored version; never to show a request or to refuse a command."""
        ...

    def create(self, request: Request) -> Request:
        """Store a new request (version 1); ``RequestAlreadyExists`` when the id is taken."""
        ...

    def update(self, request_id: str, mutate: Mutation) -> Request:
        """Read, mutate, compare-and-swap; on a conflict re-read and retry (bounded).

        ``version`` is incremented and ``updated_at`` set by the store. Returns the stored
        request (the unchanged one when ``mutate`` returned None). Archived requests raise
        ``RequestArchived``."""
        ...

    def list(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        """Index rows matching ``filters``, newest first, without reading request documents."""
        ...

    def rows(self, filters: ListFilter | None = None) -> builtins.list[IndexRow]:
        """Every matching index row (for metrics and the reconciler), without pagination."""
        ...

    def archive(self, request_id: str) -> Request:
        """Move the request to ``history/<id>.json`` (idempotent) and mark its index row."""
        ...
