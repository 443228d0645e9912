"""``MessageBus``: runs the handlers of the events a write committed, after the write.

Every change to a request commits its domain events in the document's ``outbox`` (see
``core.domain.events``) in the same compare-and-swap as the change. Whoever wrote the document,
or whoever later reads one with events still pending (the reconciler), passes the stored
document to ``handle``; each event then goes, in (version, index) order, to:

- the audit log, with the event's id: one record per event, a replay writes nothing new;
- the notifier, when the event carries a ``notice``, at most once per event across processes:
  told by the process that created the audit record of the write's last audited event (a
  write's records run before its notices), or, for a write without audit records, by the one
  that took a ``Once`` marker named by request id and event id (the Slack notifier's own
  render idempotency stays behind both). The notifier gets the committed document;
- the continuation handlers, when the event asks to ``resume`` the request's operations (a
  fact unblocked a waiting destroy). Their failures are logged: the event is committed and the
  reconciler resumes the operation later.

A change that writes nothing (a refusal, a failed call to the code host that left the document
as it was, a report that could not be read) has no write to commit its event with: ``record``
runs it through the same handlers once, named by the request id, the document version read, the
event's name and a discriminator the caller gives (the action and actor, the run id...), so a
replay (a Slack retry, a redelivered webhook) writes nothing new. ``archive`` moves a destroyed
request to ``history/`` without losing the events still pending in it: they are handled before
the move and again from the archived copy (events another writer committed meanwhile), and the
``archived`` record is one such event-less record.

The bus also carries the two commands one service asks of another without holding it:
``resume(request_id)`` and ``refresh(request_id)``; the composition root registers their
handlers (``RequestService.resume``, ``SyncService.sync``).

Handled events leave the outbox with a later write: every engine mutation calls ``prune`` (pure,
inside the compare-and-swap), which drops the events this process has handled. Events handled
elsewhere stay until a write of a process that handled them, or the reconciler's drain; running
them again is harmless (every handler is idempotent), so nothing is lost and nothing is done twice.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from core.domain.events import DomainEvent, NewEvent
from core.domain.request import Request
from core.ports.audit import AuditLog
from core.ports.notifier import Notifier
from core.ports.request_store import RequestStore
from core.services.once import Once

log = logging.getLogger(__name__)

Handler = Callable[[str], object]
_REMEMBERED = 10_000  # requests whose handled events this process remembers (oldest forgotten)


class MessageBus:
    def __init__(self, audit: AuditLog, notifier: Notifier, once: Once | None = None) -> None:
        self._audit = audit
        self._notifier = notifier
        self._once = once
        self._resume: Handler | None = None
        self._refresh: Handler | None = None
        self._lock = threading.Lock()
        # request id -> ids of events claimed by this process (claimed before running, so a
        # handler that writes again and handles the newer document never re-runs its own event).
        self._claimed: OrderedDict[str, set[str]] = OrderedDict()
        self._locks: OrderedDict[str, threading.RLock] = OrderedDict()
        # (request id, version) -> whether this process was first to record that write's last
        # audited event (its notices are then this process's to tell), kept across calls: a
        # continuation's write handles, inside the first call, notices of the write before it.
        self._recorded: OrderedDict[tuple[str, int], bool] = OrderedDict()

    # -- registration (the composition root) ----------------------------------------------

    def on_resume(self, handler: Handler | None) -> None:
        self._resume = handler

    def on_refresh(self, handler: Handler | None) -> None:
        self._refresh = handler

    @property
    def handlers(self) -> dict[str, Handler | None]:
        """The command handlers registered (for the composition root's tests)."""
        return {"resume": self._resume, "refresh": self._refresh}

    # -- commands between services --------------------------------------------------------

    def resume(self, request_id: str) -> None:
        """Continue the request's unfinished operations (failures logged, never raised)."""
        if self._resume is None:
            return
        try:
            self._resume(request_id)
        except Exception:
            # The fact is stored; the operation stays unfinished and the reconciler resumes it.
            log.exception("continuing %s failed", request_id)

    def refresh(self, request_id: str) -> bool:
        """Ask the code host for the request's facts (a lost webhook); False when nobody can."""
        if self._refresh is None:
            return False
        self._refresh(request_id)
        return True

    # -- events ---------------------------------------------------------------------------

    def pending(self, request: Request) -> list[DomainEvent]:
        """The events of ``request`` this process has not handled, oldest first."""
        with self._lock:
            claimed = self._claimed.get(request.id, set())
            return sorted((e for e in request.outbox if e.id not in claimed), key=lambda e: (e.version, e.index))

    def handle(self, request: Request) -> int:
        """Run the handlers of ``request``'s pending events (the committed document); returns
        how many ran. Call it after the write, never inside a mutation."""
        ran = 0
        audited = {e.version for e in request.outbox if e.audit}
        # One call at a time per request in this process (re-entrant: a continuation's writes
        # handle their own events inside it), so the call that ran a write's audit records is
        # the one that reaches its notices, not another thread that claimed them meanwhile.
        with self._request_lock(request.id):
            for event in sorted(request.outbox, key=_order):
                if not self._claim(request.id, event.id):
                    continue
                ran += 1
                self._run(request, event, audited)
        return ran

    def _request_lock(self, request_id: str) -> threading.RLock:
        with self._lock:
            lock = self._locks.get(request_id)
            if lock is None:
                lock = self._locks[request_id] = threading.RLock()
                while len(self._locks) > _REMEMBERED:
                    self._locks.popitem(last=False)
            self._locks.move_to_end(request_id)
            return lock

    def prune(self, request: Request) -> None:
        """Drop the events this process handled from ``request`` (inside a mutation: pure).

        A write's events leave together, once this process handled all of them: a continuation
        writing between a write's audit record and its notice (the record's ``resume``) keeps
        the record beside the notice, so whoever finds the notice knows it is an audited
        write's (told by the record's first writer, no marker of its own)."""
        if not request.outbox:
            return
        with self._lock:
            claimed = self._claimed.get(request.id)
            if not claimed:
                return
            open_writes = {e.version for e in request.outbox if e.id not in claimed}
            request.outbox = [e for e in request.outbox if e.id not in claimed or e.version in open_writes]

    def record(
        self,
        request_id: str,
        new: NewEvent,
        *,
        version: int,
        key: str,
        at: datetime | None = None,
        request: Request | None = None,
    ) -> bool:
        """Handle ``new``, an event no write commits, once per (``request_id``, ``version`` read,
        ``new.name``, ``key``): its audit record, and its notice (told with ``request``, the
        document as read). Returns False when it was handled before (a replay: nothing written)."""
        event_id = f"r{version:08d}-{_segment(new.name)}-{_segment(key)}"
        if not self._claim(request_id, event_id):
            return False
        if new.notice is None and not new.resume:
            # Nothing but its audit record, whose key is the event's and is written only if
            # absent: that is the whole dedupe, no marker of its own.
            return (
                self._audit.record(
                    request_id, new.name, actor=new.actor, source=new.source, data=new.data, event_id=event_id, at=at
                )
                if new.audit
                else True
            )
        if not self._first_record(request_id, event_id, at):
            return False
        if new.audit:
            self._audit.record(
                request_id, new.name, actor=new.actor, source=new.source, data=new.data, event_id=event_id, at=at
            )
        if new.notice is not None and request is not None:
            self._notifier.request_changed(request, new.notice)
        if new.resume:
            self.resume(request_id)
        return True

    def archive(self, store: RequestStore, current: Request, *, source: str, at: datetime | None = None) -> Request:
        """Move ``current`` (destroyed) to ``history/`` with no pending event lost: its events are
        handled before the move, the archived copy's after it (committed by another writer
        meanwhile), then ``archived`` is recorded once (keyed by the archived version)."""
        self.handle(current)
        archived = store.archive(current.id)
        self.handle(archived)
        done = NewEvent(name="archived", source=source, data={"to": f"history/{current.id}.json"})
        self.record(current.id, done, version=archived.version, key="history", at=at)
        return archived

    def _first_record(self, request_id: str, event_id: str, at: datetime | None) -> bool:
        if self._once is None:
            return True
        try:
            return self._once.first(f"record:{request_id}:{event_id}", at=at)
        except Exception:
            # Without the marker store a duplicate record beats a lost one: record anyway.
            log.exception("record %s of %s: its marker could not be written", event_id, request_id)
            return True

    def _claim(self, request_id: str, event_id: str) -> bool:
        with self._lock:
            claimed = self._claimed.setdefault(request_id, set())
            self._claimed.move_to_end(request_id)
            while len(self._claimed) > _REMEMBERED:
                self._claimed.popitem(last=False)
            if event_id in claimed:
                return False
            claimed.add(event_id)
            return True

    def _run(self, request: Request, event: DomainEvent, audited: set[int]) -> None:
        if event.audit:
            first = self._audit.record(
                request.id,
                event.name,
                actor=event.actor,
                source=event.source,
                data=event.data,
                event_id=event.id,
                at=event.at,
            )
            with self._lock:
                # The audit records of a write run before its notices (``_order``): the last wins.
                self._recorded[(request.id, event.version)] = first
                self._recorded.move_to_end((request.id, event.version))
                while len(self._recorded) > _REMEMBERED:
                    self._recorded.popitem(last=False)
        if event.notice is not None and self._first(request.id, event, audited):
            self._notifier.request_changed(request, event.notice)
        if event.resume:
            self.resume(request.id)

    def _first(self, request_id: str, event: DomainEvent, audited: set[int]) -> bool:
        """Whether this process tells ``event``'s notice: at most one process does.

        A write that commits audit records needs no marker of its own: the audit key of its
        last audited event is written only if absent, so exactly one handler creates it, and
        that one tells the write's notices (``record`` returns True only to it, also when S3's
        answer to its put was lost). A write without audit records takes a ``Once`` marker."""
        if self._once is None:
            return True
        if event.version in audited:
            with self._lock:
                first = self._recorded.get((request_id, event.version))
            if first is None:
                # This process ran the write's audit records in an earlier call that stopped
                # half-way: whether it was first is not known here, so it does not tell.
                log.warning("notice %s of %s not sent: its audit record ran earlier", event.id, request_id)
            return bool(first)
        try:
            return self._once.first(f"notice:{request_id}:{event.id}", at=event.at)
        except Exception:
            # Without the marker store, telling twice is worse than a missed reply the
            # render backlog cannot know of: skip, loudly.
            log.exception("notice %s of %s not sent: its marker could not be written", event.id, request_id)
            return False


def _order(event: DomainEvent) -> tuple[int, bool, int]:
    # Within a write, audit records first, then notices: the last record is the notices' marker.
    return (event.version, event.notice is not None and not event.audit, event.index)


def _segment(value: str) -> str:
    # Event names and discriminators become part of a key: keep them to a safe charset.
    return "".join(c if c.isalnum() or c in "-_.:" else "_" for c in value)[:120]
