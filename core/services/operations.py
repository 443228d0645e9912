"""Recorded operations: how a multi-step intent survives crashes, retries and double clicks.

Every intent (create, update, approve, merge, apply, destroy, replan) is an operation in the
request document (``core.domain.operation``: typed steps per kind), named by its kind and
idempotency key. Each step's result is written to ``operation.steps`` (through the store's
compare-and-swap) before the next step starts, so a retry continues after the last finished
step. A lease (owner token + expiry, ``steps.lease``)
keeps two workers from running one operation at once: a Slack retry arriving while the first
attempt still works finds the lease held and does nothing. A worker that dies leaves its lease
to expire; one that fails with an exception releases it at once and records the error. An
operation that waits for the code host (a destroy waiting for its cleanup workflow's PR) is
*paused*: unfinished, lease released, continued by the fact it waits for; one that cannot
succeed (the cleanup run failed) is *ended*: finished with its error, never resumed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.events import NewEvent, Transition, emit_all, notice
from core.domain.lifecycle import derive_status
from core.domain.operation import OPERATION_TYPES, DestroyOp, Lease, OperationBase, OpT, Steps, new_operation
from core.domain.refusals import Denial
from core.domain.request import Operation, Request, TimelineStep
from core.domain.status import Status
from core.ports.clock import Clock
from core.ports.request_store import Mutation, RequestStore
from core.services.messagebus import MessageBus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


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
    reason: Denial | None = None


def pending(request: Request, kind: str | None = None) -> list[Operation]:
    return request.pending(kind)


def operation_of(request: Request, op_type: type[OpT], key: str) -> OpT:
    """The operation ``begin`` created (it never vanishes from a document)."""
    op = request.find(op_type, key)
    if op is None:  # pragma: no cover - begin() created it
        raise LookupError(f"{request.id} has no {op_type.__name__} {key!r}")
    return op


# -- destroy: waiting on the cleanup workflow ------------------------------------------------
#
# A destroy dispatches the infra repo's cleanup workflow, which opens the cleanup PR on its own
# time; the operation then waits, lease released, until that PR (or the run's end) is known.


class CleanupStage(StrEnum):
    WAITING = "waiting"  # the cleanup workflow has not opened its PR (or we have not heard)
    OPEN = "open"  # the cleanup PR is open at a known head: merge it
    MERGED = "merged"  # the cleanup PR is merged already (by us earlier, or by someone)
    CLOSED = "closed"  # the cleanup PR was closed without merging: the destroy cannot go on
    FINISHED = "finished"  # the cleanup run succeeded and no PR of it is known: look it up
    DONE = "done"  # past the cleanup PR


def _past_cleanup(op: DestroyOp) -> bool:
    return op.steps.cleanup_merged is not None or op.steps.cleanup_skipped is not None


def cleanup_waiter(request: Request) -> DestroyOp | None:
    """The unfinished destroy that dispatched the cleanup workflow and is not past its PR."""
    for op in request.pending("destroy"):
        if not isinstance(op, DestroyOp):
            continue
        started = op.steps.launch("cleanup") is not None or op.steps.cleanup_run is not None
        if started and not _past_cleanup(op):
            return op
    return None


def cleanup_stage(request: Request, op: DestroyOp) -> CleanupStage:
    """Where the destroy ``op`` stands with its cleanup PR (pure: from the recorded facts)."""
    if _past_cleanup(op):
        return CleanupStage.DONE
    pr = request.cleanup_pr
    if pr is not None and pr.number is not None:
        if pr.merged:
            return CleanupStage.MERGED
        if pr.open and pr.head_sha:
            return CleanupStage.OPEN
        if not pr.open:
            return CleanupStage.CLOSED
    run = op.steps.cleanup_run
    if run is not None and run.conclusion == "success":
        return CleanupStage.FINISHED
    return CleanupStage.WAITING


# What a write tells, decided inside it: from the status of the version it replaces and the
# changed request, the notices (``Transition``; None: nothing) and events it commits.
Tell = Callable[[Status, Request], Sequence[Transition | NewEvent | None]]


def _emit_told(request: Request, tell: Tell | None, before: Status, now: datetime) -> None:
    """Commit what ``tell`` decides for the write being prepared (notices become events)."""
    if tell is None:
        return
    told = tell(before, request)
    emit_all(request, [t if isinstance(t, NewEvent) else notice(t) for t in told if t is not None], at=now)


class Paused(StrEnum):
    WAITING = "waiting"  # the lease is released; a fact (or resume) continues the operation
    READY = "ready"  # what it waited for arrived meanwhile: go on (lease still held)
    CLOSED = "closed"  # the operation ended meanwhile (e.g. failed by a fact)


def restatus(request: Request, now: datetime) -> None:
    """Store the derived status when it moved (status is never written any other way)."""
    status = derive_status(request)
    if status.value != request.status:
        request.status, request.status_derived_at = status.value, now


class Operations:
    """Begin, record steps of, finish and fail operations of one kind on one request."""

    def __init__(self, store: RequestStore, clock: Clock, bus: MessageBus) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus

    def update(self, request_id: str, mutate: Mutation) -> Request:
        """The store's compare-and-swap, with the outbox kept: events this process handled are
        pruned in the write, and the committed events are handled after it."""

        def write(request: Request) -> Request | None:
            self._bus.prune(request)
            return mutate(request)

        stored = self._store.update(request_id, write)
        self._bus.handle(stored)
        return stored

    def new_token(self) -> str:
        return secrets.token_hex(8)

    def lease_for(self, token: str) -> Lease:
        return Lease(owner=token, until=self._clock.now() + LEASE)

    def begin(
        self,
        request_id: str,
        kind: str,
        key: str,
        token: str,
        *,
        actor: str | None,
        refuse: Callable[[Request], Denial | None] | None = None,
        init: Callable[[Request], Steps] | None = None,
    ) -> Begun:
        """Find or start the operation and take its lease.

        An unknown key is a new intent: ``refuse`` may refuse it; an unfinished operation of the
        same kind (another key, e.g. a second click) is continued instead of starting a second.
        """
        now = self._clock.now()
        found: dict[str, object] = {}

        def mutate(request: Request) -> Request | None:
            found.clear()
            op = request.operation(kind, key)
            if op is None:
                reason = refuse(request) if refuse is not None else None
                if reason is not None:
                    found.update(start=Start.REFUSED, reason=reason)
                    return None
                others = request.pending(kind)
                if others:
                    op = others[0]
                else:
                    steps = init(request) if init is not None else None
                    op = new_operation(kind, key=key, started_at=now, actor=actor, steps=steps)
                    request.operations.append(op)
            found["key"] = op.key
            if op.completed_at is not None:
                found["start"] = Start.DONE
                return None
            if op.lease_held(now, token):
                found["start"] = Start.BUSY
                return None
            op.take(self.lease_for(token))
            request.updated_at = now
            found["start"] = Start.GO
            return request

        stored = self.update(request_id, mutate)
        reason = found.get("reason")
        key_found = found.get("key", key)
        start = found["start"]
        assert isinstance(start, Start) and isinstance(key_found, str)
        return Begun(start, stored, key_found, reason if isinstance(reason, Denial) else None)

    def record(
        self,
        request_id: str,
        op_type: type[OpT],
        key: str,
        step: Callable[[OpT], None] | None = None,
        *,
        change: Callable[[Request], None] | None = None,
        timeline: str | None = None,
        actor: str | None = None,
        finish: bool = False,
        observed: dict[str, Status] | None = None,
        events: Sequence[NewEvent] = (),
        tell: Tell | None = None,
    ) -> Request:
        """Write step results (and the document changes they imply) in one compare-and-swap,
        with ``events`` (audit records...) and the notices ``tell`` decides committed beside them.

        ``tell`` gets the status of the version this write replaced (the attempt that won the
        compare-and-swap) and the changed request, so it can tell whether this write moved the
        status or a webhook's fold already had; ``observed["before"]`` receives that status too."""
        now = self._clock.now()

        def mutate(request: Request) -> Request:
            before = derive_status(request)
            if observed is not None:
                observed["before"] = before
            op = operation_of(request, op_type, key)
            if step is not None:
                step(op)
            if change is not None:
                change(request)
            if timeline:
                request.timeline.append(TimelineStep(step=timeline, at=now, actor=actor))
            if finish:
                op.finish(now)
            restatus(request, now)
            emit_all(request, events, at=now)
            _emit_told(request, tell, before, now)
            request.updated_at = now
            return request

        return self.update(request_id, mutate)

    def pause(
        self, request_id: str, op_type: type[OpT], key: str, ready: Callable[[Request], bool]
    ) -> tuple[Request, Paused]:
        """Release the lease of an operation that waits for the code host, unless
        ``ready(request)`` says what it waits for is already there (checked in the same
        compare-and-swap, so a fact stored just before is never missed)."""
        outcome: dict[str, Paused] = {}

        def mutate(request: Request) -> Request | None:
            op = request.find(op_type, key)
            if op is None or op.completed_at is not None:
                outcome["state"] = Paused.CLOSED
                return None
            if ready(request):
                outcome["state"] = Paused.READY
                return None
            outcome["state"] = Paused.WAITING
            op.release()
            request.updated_at = self._clock.now()
            return request

        stored = self.update(request_id, mutate)
        return stored, outcome["state"]

    def end(
        self,
        request_id: str,
        op_type: type[OpT],
        key: str,
        error: str,
        step: Callable[[OpT], None] | None = None,
        *,
        timeline: str | None = None,
        events: Sequence[NewEvent] = (),
        tell: Tell | None = None,
    ) -> Request:
        """Close an operation that cannot succeed (not retried by ``resume``): the error and
        what ``step`` records are kept, the lease released. A new intent (a new key) starts over.
        ``events`` and what ``tell`` decides are committed with it (as ``record``)."""
        now = self._clock.now()

        def mutate(request: Request) -> Request | None:
            op = request.find(op_type, key)
            if op is None or op.completed_at is not None:
                return None
            before = derive_status(request)
            if step is not None:
                step(op)
            op.end(error, now)
            if timeline:
                request.timeline.append(TimelineStep(step=timeline, status="failure", message=error[:500], at=now))
            emit_all(request, events, at=now)
            _emit_told(request, tell, before, now)
            request.updated_at = now
            return request

        return self.update(request_id, mutate)

    def fail(self, request_id: str, kind: str, key: str, error: str, *, events: Sequence[NewEvent] = ()) -> None:
        """Record the error and release the lease so a retry can continue at once. Called while
        an exception is already on its way up: a failure here is logged, not raised over it."""
        op_type = OPERATION_TYPES.get(kind, OperationBase)
        now = self._clock.now()

        wrote: list[bool] = []

        def mutate(request: Request) -> Request | None:
            wrote.clear()
            op = request.find(op_type, key)
            if op is None or op.completed_at is not None:
                return None
            op.fail(error)
            emit_all(request, events, at=now)
            request.updated_at = now
            wrote.append(True)
            return request

        try:
            stored = self.update(request_id, mutate)
        except Exception:
            # The lease then expires on its own (LEASE); the original error still propagates.
            log.exception("could not record the failure of %s operation %s on %s", kind, key, request_id)
            return
        if not wrote:
            # The operation ended meanwhile (nothing to write): its events are still said, once.
            for new in events:
                self._bus.record(request_id, new, version=stored.version, key=key, at=now)
