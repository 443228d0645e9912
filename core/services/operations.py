"""Recorded operations: how a multi-step intent survives crashes, retries and double clicks.

Every intent (create, update, approve, merge, apply, destroy, replan) is an ``Operation`` in
the request document, named by its kind and idempotency key. Each step's result is written to
``operation.steps`` (through the store's compare-and-swap) before the next step starts, so a
retry continues after the last finished step. A lease (owner token + expiry, in the steps)
keeps two workers from running one operation at once: a Slack retry arriving while the first
attempt still works finds the lease held and does nothing. A worker that dies leaves its lease
to expire; one that fails with an exception releases it at once and records the error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.domain.lifecycle import derive_status
from core.domain.request import Operation, Request, TimelineStep
from core.ports.clock import Clock
from core.ports.request_store import RequestStore

LEASE = timedelta(minutes=2)
LEASE_STEP = "lease"


class Start(StrEnum):
    GO = "go"  # this worker holds the lease and runs the steps
    DONE = "done"  # the operation finished earlier: nothing to do
    BUSY = "busy"  # another worker holds the lease
    REFUSED = "refused"  # a new intent the policy refuses now


@dataclass
class Begun:
    start: Start
    request: Request
    key: str
    reason: str | None = None


def lease_held(op: Operation, now: datetime, token: str) -> bool:
    lease = op.steps.get(LEASE_STEP)
    if not isinstance(lease, dict) or lease.get("owner") == token:
        return False
    until = lease.get("until")
    return isinstance(until, str) and datetime.fromisoformat(until) > now


def pending(request: Request, kind: str | None = None) -> list[Operation]:
    return [op for op in request.operations if op.completed_at is None and (kind is None or op.kind == kind)]


class Operations:
    """Begin, record steps of, finish and fail operations of one kind on one request."""

    def __init__(self, store: RequestStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def new_token(self) -> str:
        return secrets.token_hex(8)

    def lease_for(self, token: str) -> dict[str, str]:
        return {"owner": token, "until": (self._clock.now() + LEASE).isoformat()}

    def begin(
        self,
        request_id: str,
        kind: str,
        key: str,
        token: str,
        *,
        actor: str | None,
        refuse: Callable[[Request], str | None] | None = None,
        init: Callable[[Request], dict[str, Any]] | None = None,
    ) -> Begun:
        """Find or start the operation and take its lease.

        An unknown key is a new intent: ``refuse`` may refuse it; an unfinished operation of the
        same kind (another key, e.g. a second click) is continued instead of starting a second.
        """
        now = self._clock.now()
        found: dict[str, Any] = {}

        def mutate(request: Request) -> Request | None:
            found.clear()
            op = request.operation(kind, key)
            if op is None:
                reason = refuse(request) if refuse is not None else None
                if reason is not None:
                    found.update(start=Start.REFUSED, reason=reason)
                    return None
                others = pending(request, kind)
                if others:
                    op = others[0]
                else:
                    steps = init(request) if init is not None else {}
                    op = Operation(kind=kind, key=key, started_at=now, actor=actor, steps=steps)
                    request.operations.append(op)
            found["key"] = op.key
            if op.completed_at is not None:
                found["start"] = Start.DONE
                return None
            if lease_held(op, now, token):
                found["start"] = Start.BUSY
                return None
            op.steps[LEASE_STEP] = self.lease_for(token)
            op.error = None
            request.updated_at = now
            found["start"] = Start.GO
            return request

        stored = self._store.update(request_id, mutate)
        return Begun(found["start"], stored, found.get("key", key), found.get("reason"))

    def record(
        self,
        request_id: str,
        kind: str,
        key: str,
        steps: dict[str, Any],
        *,
        change: Callable[[Request], None] | None = None,
        timeline: str | None = None,
        actor: str | None = None,
        finish: bool = False,
    ) -> Request:
        """Write step results (and the document changes they imply) in one compare-and-swap."""
        now = self._clock.now()

        def mutate(request: Request) -> Request:
            op = request.operation(kind, key)
            if op is None:  # pragma: no cover - begin() always created it
                raise LookupError(f"operation {kind}/{key} vanished from {request_id}")
            op.steps.update(steps)
            if change is not None:
                change(request)
            if timeline:
                request.timeline.append(TimelineStep(step=timeline, at=now, actor=actor))
            if finish:
                op.completed_at = now
                op.error = None
                op.steps.pop(LEASE_STEP, None)
            status = derive_status(request)
            if status.value != request.status:
                request.status, request.status_derived_at = status.value, now
            request.updated_at = now
            return request

        return self._store.update(request_id, mutate)

    def fail(self, request_id: str, kind: str, key: str, error: str) -> None:
        """Record the error and release the lease so a retry can continue at once."""

        def mutate(request: Request) -> Request | None:
            op = request.operation(kind, key)
            if op is None or op.completed_at is not None:
                return None
            op.error = error[:1000]
            op.steps.pop(LEASE_STEP, None)
            request.updated_at = self._clock.now()
            return request

        try:
            self._store.update(request_id, mutate)
        except Exception:
            return
