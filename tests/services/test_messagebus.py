"""Domain events: committed with the write, run after it once, drained by whoever finds them."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from core.adapters.audit_log import ObjectAuditLog
from core.domain.errors import VersionConflict
from core.domain.events import NewEvent, Transition, emit_all
from core.domain.request import Request
from core.services.messagebus import MessageBus
from core.services.once import Once
from core.services.reconcile import ReconcilePolicy, ReconcileService
from tests.fakes import InMemoryObjectStore, ManualClock, RecordingNotifier
from tests.services.conftest import APPROVER, World, create_cmd
from tests.services.helpers import planned
from tests.store.helpers import make_request


def _other_process_bus(world: World) -> MessageBus:
    return MessageBus(world.audit, world.notifier, Once(world.deps.objects, "dedupe/events"))


def test_each_write_commits_its_events_and_they_run_once(world: World) -> None:
    request = world.requests.create(create_cmd())
    stored = world.get(request.id)
    # The events handled here left the outbox with the next write: only the last write's remain.
    assert stored.outbox and {e.version for e in stored.outbox} == {stored.version}
    assert [e.name for e in stored.outbox] == ["plan_dispatched", "created"]
    audited, told = list(world.audit.entries), list(world.notifier.sent)
    assert [e.event for e in audited].count("plan_dispatched") == 1 and world.notifier.events() == ["created"]
    # Another process (or the reconciler) finding the same events runs them: nothing new happens.
    assert _other_process_bus(world).handle(stored) == 2
    assert world.audit.entries == audited and world.notifier.sent == told


def test_a_writer_that_died_before_its_events_leaves_them_to_the_reconciler(world: World) -> None:
    request = planned(world)
    now = world.clock.now()
    notice = Transition(event="approved", previous_status="plan_ready", status="plan_ready", actor=APPROVER.id)

    def died_after_writing(current: Request) -> Request:
        emit_all(current, [NewEvent(name="approved", actor=APPROVER.id, source="slack", data={"sha": "abc"})], at=now)
        emit_all(current, [NewEvent(name="approved", audit=False, notice=notice)], at=now)
        return current

    world.store.update(request.id, died_after_writing)  # the process died here: nothing ran them
    assert "approved" not in world.events(request.id)
    reconciler = ReconcileService(
        world.store,
        world.deps.objects,
        world.clock,
        ReconcilePolicy(timedelta(hours=6)),
        sync=world.sync.sync,
        resume=world.requests.resume,
        drain=_other_process_bus(world).handle,
    )
    world.clock.advance(minutes=5)
    report = reconciler.run_once()
    assert report.drained == [request.id]
    assert world.events(request.id).count("approved") == 1 and world.notifier.events(request.id)[-1] == "approved"
    # Another pass (or another replica's) changes nothing: the audit key and the notice marker hold.
    world.clock.advance(minutes=5)
    _other_process_bus(world).handle(world.get(request.id))
    assert world.events(request.id).count("approved") == 1
    assert world.notifier.events(request.id).count("approved") == 1


def test_the_audit_key_of_an_event_is_written_once() -> None:
    objects, clock = InMemoryObjectStore(), ManualClock()
    audit = ObjectAuditLog(objects, clock)
    for _ in range(2):
        audit.record(
            "req_abcdef", "approved", actor="U1", data={"sha": "abc"}, event_id="v00000003-000", at=clock.now()
        )
    audit.record("req_abcdef", "approved", actor="U1", event_id="v00000003-001", at=clock.now())
    keys = list(objects.list_keys("logs/req_abcdef/"))
    assert len(keys) == 2 and keys[0].endswith("-ev00000003-000.json")
    assert [e.event for e in audit.events("req_abcdef")] == ["approved", "approved"]


def test_a_failing_continuation_is_logged_and_the_event_stays_handled(world: World, caplog) -> None:
    bus = MessageBus(world.audit, world.notifier)

    def broken(_request_id: str) -> None:
        raise RuntimeError("resume is down")

    bus.on_resume(broken)
    request = planned(world)
    now = world.clock.now()

    def unblock(current: Request) -> Request:
        emit_all(current, [NewEvent(name="operation_unblocked", audit=False, resume=True)], at=now)
        return current

    stored = world.store.update(request.id, unblock)
    with caplog.at_level("ERROR", logger="core.services.messagebus"):
        # This bus (a new process) runs every event it finds, the earlier write's too.
        assert bus.handle(stored) == len(stored.outbox)
    assert any("continuing" in r.getMessage() for r in caplog.records)
    assert bus.handle(stored) == 0  # claimed: not run again by this process


class _LostAnswer(InMemoryObjectStore):
    """S3 stores a put but its answer is lost: the client's retry then gets 412 (its own write)."""

    def __init__(self, objects: InMemoryObjectStore) -> None:
        super().__init__()
        self.objects = objects.objects
        self.lost = 0

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        super().put(key, body, **kwargs)
        if key.startswith("logs/") and kwargs.get("if_none_match"):
            self.lost += 1
            raise VersionConflict(key)
        return "etag"


def _object_bus(objects: InMemoryObjectStore, clock: ManualClock, notifier: RecordingNotifier) -> MessageBus:
    return MessageBus(ObjectAuditLog(objects, clock), notifier, Once(objects, "dedupe/events"))


def _committed(clock: ManualClock, *, audited: bool) -> Request:
    """A request whose last write committed an audit record (or not) and a notice."""
    request = make_request("req_n00001")
    notice = Transition(event="approved", previous_status="plan_ready", status="plan_ready", actor=APPROVER.id)
    events = [NewEvent(name="approved", actor=APPROVER.id, source="slack")] if audited else []
    emit_all(request, [*events, NewEvent(name="approved", audit=False, notice=notice)], at=clock.now(), version=2)
    return request.model_copy(update={"version": 2})


def test_the_first_recorder_of_a_writes_audit_tells_its_notice_and_no_marker_is_written() -> None:
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    request = _committed(clock, audited=True)
    # Three processes find the same committed write (its writer, a later writer, the reconciler).
    for _ in range(3):
        assert _object_bus(objects, clock, notifier).handle(request) == 2
    assert notifier.events(request.id) == ["approved"]
    assert list(objects.list_keys("dedupe/")) == []  # the audit record was the marker
    assert len(list(objects.list_keys("logs/"))) == 1


def test_a_lost_answer_to_the_audit_put_still_tells_once() -> None:
    shared, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    request = _committed(clock, audited=True)
    lossy = _LostAnswer(shared)
    assert _object_bus(lossy, clock, notifier).handle(request) == 2
    assert lossy.lost == 1 and notifier.events(request.id) == ["approved"]  # its own write: told
    _object_bus(shared, clock, notifier).handle(request)  # another process: the record is not its
    assert notifier.events(request.id) == ["approved"]
    [event] = ObjectAuditLog(shared, clock).events(request.id)
    assert event.event == "approved" and not event.model_extra  # the writer token stays internal


def test_a_notice_without_audit_records_takes_a_marker() -> None:
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    request = _committed(clock, audited=False)
    for _ in range(2):
        _object_bus(objects, clock, notifier).handle(request)
    assert notifier.events(request.id) == ["approved"]
    assert len(list(objects.list_keys("dedupe/events/"))) == 1


def test_a_failed_audit_write_does_not_tell(caplog: pytest.LogCaptureFixture) -> None:
    clock, notifier = ManualClock(), RecordingNotifier()
    request = _committed(clock, audited=True)

    class Down(InMemoryObjectStore):
        def put(self, key: str, body: bytes, **kwargs: Any) -> str:
            raise OSError("S3 is down")

    with caplog.at_level("WARNING"):
        _object_bus(Down(), clock, notifier).handle(request)
    # Whether the record (the marker) exists is unknown: not telling twice outranks telling.
    assert notifier.events(request.id) == []
    assert any("could not record" in r.getMessage() for r in caplog.records)


def test_two_threads_handling_one_write_tell_its_notice_once() -> None:
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    request = _committed(clock, audited=True)
    started, release = threading.Event(), threading.Event()

    class SlowAudit(ObjectAuditLog):
        def record(self, *args: Any, **kwargs: Any) -> bool:
            started.set()
            release.wait(5)
            return super().record(*args, **kwargs)

    bus = MessageBus(SlowAudit(objects, clock), notifier, Once(objects, "dedupe/events"))
    writer = threading.Thread(target=bus.handle, args=(request,))
    writer.start()
    assert started.wait(5)
    # Another thread of the same process (a webhook, the background runner) finds the same
    # write while the first still records it: it waits, then finds every event handled.
    ran: list[int] = []
    other = threading.Thread(target=lambda: ran.append(bus.handle(request)))
    other.start()
    other.join(0.2)
    release.set()
    writer.join(5)
    other.join(5)
    assert ran == [0] and notifier.events(request.id) == ["approved"]


def test_a_record_without_notice_is_deduped_by_its_audit_key_alone() -> None:
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    done = NewEvent(name="archived", source="tfpilot", data={"to": "history/req_n00001.json"})
    # The recording process, then a replay in another process (the reconciler, a retry).
    assert _object_bus(objects, clock, notifier).record("req_n00001", done, version=7, key="history", at=clock.now())
    assert not _object_bus(objects, clock, notifier).record("req_n00001", done, version=7, key="history")
    assert list(objects.list_keys("dedupe/")) == []  # the audit key is the only marker
    assert [e.event for e in ObjectAuditLog(objects, clock).events("req_n00001")] == ["archived"]


def test_a_record_with_a_notice_still_takes_its_marker() -> None:
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    request = make_request("req_n00001")
    notice = Transition(event="merge_blocked", previous_status="approved", status="approved", actor=APPROVER.id)
    refused = NewEvent(name="merge_blocked", actor=APPROVER.id, source="slack", notice=notice)
    for _ in range(2):
        _object_bus(objects, clock, notifier).record(request.id, refused, version=3, key="sha", request=request)
    assert notifier.events(request.id) == ["merge_blocked"]
    assert len(list(objects.list_keys("dedupe/events/"))) == 1
    assert len(list(objects.list_keys("logs/"))) == 1


def test_a_continuation_between_a_writes_record_and_its_notice_takes_no_marker() -> None:
    """The record asks to resume; the continuation writes (pruning) before the write's notice
    ran: the notice is still the record's first writer's to tell, with no marker, and another
    process finding the continuation's document tells nothing more."""
    objects, clock, notifier = InMemoryObjectStore(), ManualClock(), RecordingNotifier()
    bus = _object_bus(objects, clock, notifier)
    notice = Transition(event="destroyed", previous_status="destroying", status="destroyed", actor=None)
    request = make_request("req_n00001")
    events = [NewEvent(name="destroyed", source="github", resume=True), NewEvent(name="d", audit=False, notice=notice)]
    emit_all(request, events, at=clock.now(), version=2)
    request = request.model_copy(update={"version": 2})
    continued: list[Request] = []

    def resume(request_id: str) -> None:
        written = request.model_copy(deep=True, update={"version": 3})
        bus.prune(written)  # the continuation's write (Operations.update prunes in the mutation)
        continued.append(written)
        bus.handle(written)

    bus.on_resume(resume)
    bus.handle(request)
    assert notifier.events(request.id) == ["destroyed"]
    assert list(objects.list_keys("dedupe/")) == []
    # The write's events left together or not at all: the record stayed beside its notice.
    assert [e.name for e in continued[0].outbox] == ["destroyed", "d"]
    _object_bus(objects, clock, notifier).handle(continued[0])
    assert notifier.events(request.id) == ["destroyed"] and list(objects.list_keys("dedupe/")) == []
