"""Recorded operations: how a multi-step intent survives crashes, retries and double clicks.

Every intent (create, update, approve, merge, apply, destroy, replan) is an operation in the
request document (``core.domain.operation``: typed steps per kind), named by its kind and
idempotency key. Each step's result is written to ``operation.steps`` (through the store's
compare-and-swap) before the next step that needs it durable starts, so a retry continues after
the last finished step; a step a retry repairs by itself rides on the next write (``defer``), a
dispatch's marker on the write before the dispatch (``Mark``). A lease (owner token + expiry,
``steps.lease``) keeps two workers from running one operation at once: a Slack retry arriving
while the first attempt still works finds the lease held and does nothing. A worker that dies leaves its lease
to expire; one that fails with an exception releases it at once and records the error. An
operation that waits for the code host (a destroy waiting for its cleanup workflow's PR) is
*paused*: unfinished, lease released, continued by the fact it waits for; one that cannot
succeed (the cleanup run failed) is *ended*: finished with its error, never resumed.

Why one file of ~470 lines: begin, record, pause, end, fail and defer are one protocol over the
same compare-and-swap (the lease check, the deferred steps carried by the next write, the
dispatch marker, the outbox of events): split, each part would have to re-state the invariants
the others rely on.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.domain.events import NewEvent, Transition, emit_all, notice
from core.domain.lifecycle import derive_status
from core.domain.operation import (
    OPERATION_TYPES,
    Launch,
    Lease,
    OperationBase,
    OpT,
    Steps,
    new_operation,
)
from core.domain.refusals import Denial
from core.domain.request import Operation, Request
from core.domain.status import Status
from core.domain.timeline import Said, step_of
from core.domain.workflows import RequestRunKind, RunKind
from core.ports.clock import Clock
from core.ports.request_store import Mutation, RequestStore
from core.services.messagebus import MessageBus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
_FRESH_MAX = 10_000  # dispatch markers this process wrote and has not dispatched yet (oldest forgotten)


class Start(StrEnum):
    GO = "go"  # this worker holds the lease and runs the steps
    DONE = "done"  # the operation finished earlier: nothing to do
    BUSY = "busy"  # another worker holds the lease
    REFUSED = "refused"  # a new intent the policy refuses now


@dataclass(frozen=True)
class Mark:
    """Set, in the write that carries it, the marker of the dispatch of ``kind`` that the same
    attempt makes next (``launches.<kind>.at``), so the marker costs no write of its own.
    ``own_run``: the run is the operation's own (the removal PR's plan), no request run precedes it.
    """

    kind: RequestRunKind
    own_run: bool = False


@dataclass(frozen=True)
class _Deferred:
    """A step result recorded with the operation's next write (``Operations.defer``)."""

    op_type: type[OperationBase]
    step: Callable[[Any], None]
    events: tuple[NewEvent, ...]
    timeline: Said | None
    actor: str | None
    at: datetime


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


# A legacy destroy's wait on the cleanup workflow (``cleanup_waiter``, ``cleanup_stage``) is the
# request's own state, read by the fold of facts too: ``core.domain.cleanup_wait``.


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
        # (request id, operation key, run kind) -> token of a dispatch marker this process wrote
        # and has not dispatched yet (``fresh``).
        self._fresh: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._fresh_lock = threading.Lock()
        # (request id, operation key) -> step results waiting for the operation's next write.
        self._deferred: OrderedDict[tuple[str, str], list[_Deferred]] = OrderedDict()

    def update(self, request_id: str, mutate: Mutation, *, written: Callable[[Request], None] | None = None) -> Request:
        """The store's compare-and-swap, with the outbox kept: events this process handled are
        pruned in the write, and the committed events are handled after it (after ``written``
        saw the stored document)."""

        def write(request: Request) -> Request | None:
            self._bus.prune(request)
            return mutate(request)

        stored = self._store.update(request_id, write)
        if written is not None:
            written(stored)
        self._bus.handle(stored)
        return stored

    # -- dispatch markers riding on another write ------------------------------------------

    def _mark(self, request: Request, op: OperationBase, mark: Mark | None, now: datetime) -> str | None:
        """Set the dispatch marker ``mark`` asks for in the write being prepared; its token, or
        None when the operation has one already (an earlier attempt's: that one is looked up)."""
        if mark is None:
            return None
        found = op.steps.launch(mark.kind)
        if found is not None and (found.at is not None or found.recorded):
            return None
        run = None if mark.own_run else request.run(mark.kind)
        previous = run.run_id if run is not None and run.run_id else (found.previous if found else None)
        token = secrets.token_hex(8)
        op.steps.launches = {**op.steps.launches, mark.kind: Launch(at=now, previous=previous, by=token)}
        return token

    def _marked(self, stored: Request, key: str, mark: Mark | None, token: str | None) -> None:
        """Remember the marker the landed write stored (its last attempt's token)."""
        if mark is None or token is None:
            return
        for op in stored.operations:
            launch = op.steps.launch(mark.kind) if op.key == key else None
            if launch is not None and launch.by == token and not launch.recorded:
                with self._fresh_lock:
                    self._fresh[(stored.id, key, mark.kind)] = token
                    while len(self._fresh) > _FRESH_MAX:
                        self._fresh.popitem(last=False)
                return

    # -- step results riding on the operation's next write ---------------------------------

    def defer(
        self,
        request_id: str,
        op_type: type[OpT],
        key: str,
        step: Callable[[OpT], None],
        *,
        events: Sequence[NewEvent] = (),
        timeline: Said | None = None,
        actor: str | None = None,
    ) -> None:
        """Record ``step`` (with its events and timeline line) in the operation's next ``record``
        or ``pause`` write from this process, not in a write of its own. Only for a step whose
        loss is harmless (a crash, or an error ending the attempt, before that write; the next
        attempt's ``begin`` forgets it): one the retry finds again, e.g. a dispatched run its
        marker makes the retry look up."""
        item = _Deferred(op_type, step, tuple(events), timeline, actor, self._clock.now())
        with self._fresh_lock:
            self._deferred.setdefault((request_id, key), []).append(item)
            self._deferred.move_to_end((request_id, key))
            while len(self._deferred) > _FRESH_MAX:
                self._deferred.popitem(last=False)

    def _carry(self, request: Request, key: str) -> list[_Deferred]:
        """Apply the deferred steps of ``key`` to the write being prepared; the ones applied."""
        with self._fresh_lock:
            items = list(self._deferred.get((request.id, key), ()))
        for item in items:
            op = request.find(item.op_type, key)
            if op is None:  # pragma: no cover - deferred by this operation's own flow
                continue
            item.step(op)
            if item.timeline:
                request.timeline.append(step_of(item.timeline, item.at, actor=item.actor))
            emit_all(request, item.events, at=item.at)
        return items

    def _carried(self, request_id: str, key: str, items: list[_Deferred]) -> None:
        """Forget the deferred steps a landed write recorded."""
        if not items:
            return
        with self._fresh_lock:
            left = [d for d in self._deferred.get((request_id, key), ()) if all(d is not i for i in items)]
            if left:
                self._deferred[(request_id, key)] = left
            else:
                self._deferred.pop((request_id, key), None)

    def fresh(self, request_id: str, key: str, kind: RunKind, launch: Launch) -> bool:
        """True, once, when ``launch`` is a marker this process wrote (``Mark``) and has not
        dispatched since: no earlier attempt can have dispatched this run, so no lookup. The
        marker is forgotten as it is answered, before the dispatch: a later attempt (a retry
        after an error, another process, this one after a restart) looks the run up first."""
        with self._fresh_lock:
            token = self._fresh.pop((request_id, key, kind), None)
        return token is not None and token == launch.by

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
        launch: Mark | None = None,
    ) -> Begun:
        """Find or start the operation and take its lease.

        An unknown key is a new intent: ``refuse`` may refuse it; an unfinished operation of the
        same kind (another key, e.g. a second click) is continued instead of starting a second.
        ``launch`` sets the marker of the attempt's first dispatch in the same write (``Mark``).
        """
        now = self._clock.now()
        found: dict[str, object] = {}
        marked: dict[str, str | None] = {}

        def mutate(request: Request) -> Request | None:
            found.clear()
            marked.clear()
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
            marked["token"] = self._mark(request, op, launch, now)
            request.updated_at = now
            found["start"] = Start.GO
            return request

        def written(stored: Request) -> None:
            if found.get("start") is Start.GO:
                self._marked(stored, str(found["key"]), launch, marked.get("token"))
                with self._fresh_lock:  # an earlier attempt's deferred steps are found again
                    self._deferred.pop((request_id, str(found["key"])), None)

        stored = self.update(request_id, mutate, written=written)
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
        timeline: Said | None = None,
        actor: str | None = None,
        finish: bool = False,
        observed: dict[str, Status] | None = None,
        events: Sequence[NewEvent] = (),
        tell: Tell | None = None,
        launch: Mark | None = None,
        pause: Callable[[Request], bool] | None = None,
    ) -> Request:
        """Write step results (and the document changes they imply) in one compare-and-swap,
        with ``events`` (audit records...) and the notices ``tell`` decides committed beside them.

        ``tell`` gets the status of the version this write replaced (the attempt that won the
        compare-and-swap) and the changed request, so it can tell whether this write moved the
        status or a webhook's fold already had; ``observed["before"]`` receives that status too.
        ``launch`` sets the marker of the dispatch the attempt makes next (``Mark``); ``pause``
        releases the lease in the same write when it says the operation now waits for a fact
        (judged on the changed request inside the compare-and-swap, as ``pause`` below)."""
        now = self._clock.now()
        marked: dict[str, str | None] = {}
        carried: list[_Deferred] = []

        def mutate(request: Request) -> Request:
            before = derive_status(request)
            if observed is not None:
                observed["before"] = before
            op = operation_of(request, op_type, key)
            carried[:] = self._carry(request, key)
            if step is not None:
                step(op)
            if change is not None:
                change(request)
            if timeline:
                request.timeline.append(step_of(timeline, now, actor=actor))
            if finish:
                op.finish(now)
            marked["token"] = self._mark(request, op, launch, now)
            restatus(request, now)
            if pause is not None and not finish and pause(request):
                op.release()
            emit_all(request, events, at=now)
            _emit_told(request, tell, before, now)
            request.updated_at = now
            return request

        def written(stored: Request) -> None:
            self._marked(stored, key, launch, marked.get("token"))
            self._carried(request_id, key, carried)

        return self.update(request_id, mutate, written=written)

    def pause(
        self, request_id: str, op_type: type[OpT], key: str, ready: Callable[[Request], bool]
    ) -> tuple[Request, Paused]:
        """Release the lease of an operation that waits for the code host, unless
        ``ready(request)`` says what it waits for is already there (checked in the same
        compare-and-swap, so a fact stored just before is never missed)."""
        outcome: dict[str, Paused] = {}
        carried: list[_Deferred] = []

        def mutate(request: Request) -> Request | None:
            carried.clear()
            op = request.find(op_type, key)
            if op is None or op.completed_at is not None:
                outcome["state"] = Paused.CLOSED
                return None
            if ready(request):
                outcome["state"] = Paused.READY
                return None
            outcome["state"] = Paused.WAITING
            carried[:] = self._carry(request, key)
            op.release()
            request.updated_at = self._clock.now()
            return request

        stored = self.update(request_id, mutate, written=lambda _s: self._carried(request_id, key, carried))
        return stored, outcome["state"]

    def end(
        self,
        request_id: str,
        op_type: type[OpT],
        key: str,
        error: str,
        step: Callable[[OpT], None] | None = None,
        *,
        timeline: Said | None = None,
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
                request.timeline.append(step_of(timeline, now, status="failure", message=error[:500]))
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
