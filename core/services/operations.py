"""Recorded operations: how a multi-step intent survives crashes, retries and double clicks.

Every intent (create, update, approve, merge, apply, destroy, replan) is an ``Operation`` in
the request document, named by its kind and idempotency key. Each step's result is written to
``operation.steps`` (through the store's compare-and-swap) before the next step starts, so a
retry continues after the last finished step. A lease (owner token + expiry, in the steps)
keeps two workers from running one operation at once: a Slack retry arriving while the first
attempt still works finds the lease held and does nothing. A worker that dies leaves its lease
to expire; one that fails with an exception releases it at once and records the error. An
operation that waits for the code host (a destroy waiting for its cleanup workflow's PR) is
*paused*: unfinished, lease released, continued by the fact it waits for; one that cannot
succeed (the cleanup run failed) is *ended*: finished with its error, never resumed.
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
from core.domain.status import Status
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


# -- destroy: waiting on the cleanup workflow ------------------------------------------------
#
# A destroy dispatches the infra repo's cleanup workflow, which opens the cleanup PR on its own
# time; the operation then waits, lease released, until that PR (or the run's end) is known.
CLEANUP_STEPS = ("cleanup_dispatch", "cleanup_run")
CLEANUP_DONE_STEPS = ("cleanup_merged", "cleanup_skipped")


class CleanupStage(StrEnum):
    WAITING = "waiting"  # the cleanup workflow has not opened its PR (or we have not heard)
    OPEN = "open"  # the cleanup PR is open at a known head: merge it
    MERGED = "merged"  # the cleanup PR is merged already (by us earlier, or by someone)
    CLOSED = "closed"  # the cleanup PR was closed without merging: the destroy cannot go on
    FINISHED = "finished"  # the cleanup run succeeded and no PR of it is known: look it up
    DONE = "done"  # past the cleanup PR


def cleanup_waiter(request: Request) -> Operation | None:
    """The unfinished destroy that dispatched the cleanup workflow and is not past its PR."""
    for op in pending(request, "destroy"):
        started = any(step in op.steps for step in CLEANUP_STEPS)
        if started and not any(step in op.steps for step in CLEANUP_DONE_STEPS):
            return op
    return None


def cleanup_stage(request: Request, op: Operation) -> CleanupStage:
    """Where the destroy ``op`` stands with its cleanup PR (pure: from the recorded facts)."""
    if any(step in op.steps for step in CLEANUP_DONE_STEPS):
        return CleanupStage.DONE
    pr = request.cleanup_pr
    if pr is not None and pr.number is not None:
        if pr.merged:
            return CleanupStage.MERGED
        if pr.open and pr.head_sha:
            return CleanupStage.OPEN
        if not pr.open:
            return CleanupStage.CLOSED
    run = op.steps.get("cleanup_run")
    if isinstance(run, dict) and run.get("conclusion") == "success":
        return CleanupStage.FINISHED
    return CleanupStage.WAITING


class Paused(StrEnum):
    WAITING = "waiting"  # the lease is released; a fact (or resume) continues the operation
    READY = "ready"  # what it waited for arrived meanwhile: go on (lease still held)
    CLOSED = "closed"  # the operation ended meanwhile (e.g. failed by a fact)


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
        observed: dict[str, Status] | None = None,
    ) -> Request:
        """Write step results (and the document changes they imply) in one compare-and-swap.

        ``observed["before"]`` receives the status of the version this write replaced (the
        attempt that won the compare-and-swap), so a caller can tell whether its own write
        moved the status or a webhook's fold already had."""
        now = self._clock.now()

        def mutate(request: Request) -> Request:
            if observed is not None:
                observed["before"] = derive_status(request)
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

    def pause(self, request_id: str, kind: str, key: str, ready: Callable[[Request], bool]) -> tuple[Request, Paused]:
        """Release the lease of an operation that waits for the code host, unless
        ``ready(request)`` says what it waits for is already there (checked in the same
        compare-and-swap, so a fact stored just before is never missed)."""
        outcome: dict[str, Paused] = {}

        def mutate(request: Request) -> Request | None:
            op = request.operation(kind, key)
            if op is None or op.completed_at is not None:
                outcome["state"] = Paused.CLOSED
                return None
            if ready(request):
                outcome["state"] = Paused.READY
                return None
            outcome["state"] = Paused.WAITING
            op.steps.pop(LEASE_STEP, None)
            op.error = None
            request.updated_at = self._clock.now()
            return request

        stored = self._store.update(request_id, mutate)
        return stored, outcome["state"]

    def end(
        self,
        request_id: str,
        kind: str,
        key: str,
        error: str,
        steps: dict[str, Any],
        *,
        timeline: str | None = None,
    ) -> Request:
        """Close an operation that cannot succeed (not retried by ``resume``): the error and
        ``steps`` are kept, the lease released. A new intent (a new key) starts over."""
        now = self._clock.now()

        def mutate(request: Request) -> Request | None:
            op = request.operation(kind, key)
            if op is None or op.completed_at is not None:
                return None
            op.steps.update(steps)
            op.steps.pop(LEASE_STEP, None)
            op.error, op.completed_at = error[:1000], now
            if timeline:
                request.timeline.append(TimelineStep(step=timeline, status="failure", message=error[:500], at=now))
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
