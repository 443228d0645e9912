"""Records no write commits (refusals, failed calls, notes), the failure of a command and the
archive: all through the ``MessageBus``, once, after the write (if any)."""

from __future__ import annotations

import pytest

from core.adapters.audit_log import ObjectAuditLog
from core.domain.errors import PermissionDenied
from core.domain.events import NewEvent, Transition
from core.domain.protection import BranchProtection
from core.domain.request import Request
from core.ports.code_host import CodeHostError, MergeBlocked
from core.services.drift import DriftReport
from core.services.messagebus import MessageBus
from core.services.once import Once
from tests.fakes import InMemoryObjectStore, ManualClock, RecordingNotifier
from tests.services.conftest import APPROVER, VIEWER, World
from tests.services.helpers import applied, approved, planned


def _logged(objects: InMemoryObjectStore, request_id: str) -> list[str]:
    return list(objects.list_keys(f"logs/{request_id}/"))


def test_an_event_less_record_is_written_once_across_processes() -> None:
    objects, clock = InMemoryObjectStore(), ManualClock()
    audit = ObjectAuditLog(objects, clock)
    notifier = RecordingNotifier()
    at = clock.now().isoformat()
    request = Request.model_validate(
        {"id": "req_abcdef", "version": 4, "project": "p", "environment": "dev", "module": "s3-bucket"}
        | {"receivedAt": at, "updatedAt": at}
    )
    told = Transition(event="merge_blocked", previous_status="approved", status="approved", message="conflict")
    refused = NewEvent(name="merge_blocked", actor="U1", source="slack", data={"reason": "conflict"}, notice=told)
    first, second = (MessageBus(audit, notifier, Once(objects, "dedupe/events")) for _ in range(2))

    assert first.record(request.id, refused, version=4, key="abc", request=request) is True
    clock.advance(minutes=3)  # a retried click, later, in another process: nothing new
    assert second.record(request.id, refused, version=4, key="abc", request=request) is False
    assert first.record(request.id, refused, version=4, key="abc", request=request) is False
    assert len(_logged(objects, request.id)) == 1 and [t.event for _r, t in notifier.sent] == ["merge_blocked"]
    # Another version read (the document changed since) or another discriminator is another record.
    assert second.record(request.id, refused, version=5, key="abc", request=request) is True
    assert second.record(request.id, refused, version=5, key="def", request=request) is True
    assert len(_logged(objects, request.id)) == 3
    assert [e.event for e in audit.events(request.id)] == ["merge_blocked"] * 3


def test_a_refused_click_replayed_records_one_refusal(world: World) -> None:
    request = planned(world)
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            world.requests.approve(request.id, VIEWER)
    # A second process (replica) receiving the same retried click writes nothing new either.
    with pytest.raises(PermissionDenied):
        world.fresh_requests().approve(request.id, VIEWER)
    assert world.events(request.id).count("approve_blocked") == 1
    assert world.get(request.id).version == request.version  # a refusal writes no document


def test_a_merge_github_refuses_is_recorded_once_per_attempt_keyed_by_the_version_read(world: World) -> None:
    request = approved(world)
    world.host.protections["main"] = BranchProtection(
        branch="main", visibility="read", required_approvals=2, app_can_bypass=False
    )
    versions = []
    for _ in range(2):
        versions.append(world.get(request.id).version + 1)  # the version the attempt's lease wrote
        with pytest.raises(MergeBlocked):
            world.requests.merge(request.id, APPROVER)
    sha = world.get(request.id).approval.approved_sha  # type: ignore[union-attr]
    # Two clicks are two attempts (each writes its lease and its error): each said once, and
    # each record is named by the document version it read, so replaying one adds nothing.
    assert world.events(request.id).count("merge_blocked") == 2
    assert world.notifier.events(request.id).count("merge_blocked") == 2
    ids = {event_id for rid, event_id in world.audit.event_ids if rid == request.id}
    assert {f"r{v:08d}-merge_blocked-{sha}" for v in versions} <= ids
    # The attempt's failure itself rides in the write recording the operation's error.
    stored = world.get(request.id)
    assert world.events(request.id).count("merge_failed") == 2
    assert [e.name for e in stored.outbox] == ["merge_failed"]


def test_a_failed_command_commits_its_failure_with_the_operation_error(world: World) -> None:
    request = approved(world)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise CodeHostError("GitHub is down")

    world.host.merge_pull_request = broken  # type: ignore[method-assign]
    with pytest.raises(CodeHostError):
        world.requests.merge(request.id, APPROVER)
    stored = world.get(request.id)
    op = stored.operation("merge", stored.operations[-1].key)
    assert op is not None and op.error is not None and "GitHub is down" in op.error
    (failed,) = [e for e in stored.outbox if e.name == "merge_failed"]
    assert failed.version == stored.version and "GitHub is down" in failed.data["error"]
    # Handled after that write: its audit record carries the event's id (a replay adds nothing).
    assert world.events(request.id).count("merge_failed") == 1
    assert MessageBus(world.audit, world.notifier).handle(stored) == len(stored.outbox)
    assert world.events(request.id).count("merge_failed") == 1


def test_drift_events_are_committed_with_the_drift_and_told_after_the_write(world: World) -> None:
    request = applied(world)
    seen: list[tuple[int, int]] = []
    tell = world.notifier.request_changed

    def committed_first(current: Request, transition: Transition) -> None:
        # The notifier gets the committed document: the write happened before it runs.
        seen.append((current.version, world.get(current.id).version))
        tell(current, transition)

    world.notifier.request_changed = committed_first  # type: ignore[method-assign]
    report = DriftReport(detected=True, summary="1 to change")
    stored = world.drift.record(request.id, report)
    assert [e.name for e in stored.outbox] == ["drift_checked", "drift_detected", "drift_detected"]
    assert {e.version for e in stored.outbox} == {stored.version}
    assert seen == [(stored.version, stored.version)]
    world.drift.record(request.id, report)  # the same drift again: recorded, not told again
    assert world.events(request.id).count("drift_checked") == 2
    assert world.notifier.events(request.id).count("drift_detected") == 1


def test_archiving_handles_pending_events_before_the_move_and_records_once(world: World) -> None:
    from tests.services.helpers import destroying, finish_run

    request = destroying(world)
    finish_run(world, request, "destroy")
    archived = world.store.get(request.id)
    assert archived.archived_at is not None
    assert world.events(request.id).count("archived") == 1
    # Every event committed before the move ran; a replayed archive records nothing new.
    names = world.events(request.id)
    assert all(e.name in names for e in archived.outbox if e.audit)
    world.requests._bus.archive(world.store, archived, source="reconciler")
    assert world.events(request.id).count("archived") == 1


def test_a_failure_with_no_operation_left_to_fail_is_still_recorded_once(world: World) -> None:
    request = approved(world)
    failed = NewEvent(name="merge_failed", source="tfpilot", data={"error": "boom"})
    for _ in range(2):  # no such unfinished operation: nothing to write, the record still made once
        world.requests._ops.fail(request.id, "merge", "merge:gone", "boom", events=[failed])
    assert world.events(request.id).count("merge_failed") == 1
    assert world.get(request.id).version == request.version
