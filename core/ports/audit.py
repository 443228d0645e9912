"""``AuditLog``: lifecycle events under ``logs/<requestId>/<iso-ts>.json``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class LifecycleEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    timestamp: datetime
    requestId: str
    event: str  # e.g. request_created, plan_dispatched, approve_blocked, destroyed
    actor: str | None = None
    source: str | None = None  # slack | github | webhook | console | reconciler | api
    data: dict[str, Any] = Field(default_factory=dict)


class AuditLog(Protocol):
    def record(
        self,
        request_id: str,
        event: str,
        *,
        actor: str | None = None,
        source: str | None = None,
        data: dict[str, Any] | None = None,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Append an event. Never raises: a failure is logged and the flow goes on.

        ``event_id`` (with ``at``, when it happened) names a domain event: recording the same
        id for the same request again writes nothing (a replayed outbox event). Returns True
        when this call recorded the event, False when a domain event was recorded before (by
        this or another process) or the write failed: the first recorder of a write's events
        is the one that tells its notices (``MessageBus``)."""
        ...

    def events(self, request_id: str) -> list[LifecycleEvent]:
        """Every event of the request, oldest first."""
        ...
