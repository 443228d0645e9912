"""The request aggregate's commands (``core.domain.commands``): pure, state before → state and
events after. The services around them (GitHub calls, the compare-and-swap) are tested in
tests/services; here only what a command does to a request and what it says."""

from __future__ import annotations

from datetime import timedelta

from core.domain.commands import (
    begin_destroy,
    record_approval,
    record_commit,
    record_config_update,
    record_created,
    record_dispatch,
    record_merge,
    record_pr_opened,
    record_removal_merged,
)
from core.domain.lifecycle import derive_status
from core.domain.operation import CreateOp, Lease
from core.domain.protection import ApprovalStanding
from core.domain.request import Approval, CleanupPr, PullRequestRef, RunRef
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from tests.domain.builders import T0, at_status, run

NOW = T0 + timedelta(hours=2)
COUNTS = ApprovalStanding(via="review", satisfies=True, reason="reviews_met")
NOT_COUNTED = ApprovalStanding(via="recorded", satisfies=False, reason="recorded_only", required_approvals=1)


def _approve(request, who="U_APP", standing=COUNTS, sha="sha1"):  # type: ignore[no-untyped-def]
    return record_approval(
        request, sha=sha, approver=who, via="tfpilot", standing=standing, actor=who, source="slack", now=NOW
    )


def test_an_approval_of_a_planned_request_approves_it_and_tells_the_move() -> None:
    request = at_status("plan_ready")
    events = _approve(request)
    assert request.approval == Approval(
        approved=True, approvers=["U_APP"], approved_sha="sha1", approved_at=NOW, source="tfpilot", satisfies=True
    )
    assert derive_status(request) is Status.APPROVED
    assert [e.name for e in events] == ["approved", "approved"]
    assert events[0].audit and events[0].data == {
        "sha": "sha1",
        "approver": "U_APP",
        "via": "tfpilot",
        "satisfies": True,
    }
    told = events[1].notice
    assert told is not None and not events[1].audit
    assert (told.previous_status, told.status, told.approval) == ("plan_ready", "approved", COUNTS)


def test_a_second_approval_of_the_same_commit_adds_up_and_says_nothing_new() -> None:
    request = at_status("plan_ready")
    _approve(request)
    events = _approve(request, who="U_APP2")
    assert request.approval is not None and request.approval.approvers == ["U_APP", "U_APP2"]
    assert [e.name for e in events] == ["approved"]  # the status did not move: no second reply


def test_an_approval_that_does_not_count_is_told_to_its_approver_even_without_a_move() -> None:
    request = at_status("plan_ready")
    _approve(request, standing=NOT_COUNTED)
    assert request.approval is not None and request.approval.satisfies is False
    events = _approve(request, who="U_APP2", standing=NOT_COUNTED)
    assert [e.name for e in events] == ["approved", "approval_not_counted"]
    # An earlier approval of the commit that satisfied the protection keeps it satisfied.
    counted = at_status("plan_ready")
    _approve(counted)
    _approve(counted, who="U_APP2", standing=NOT_COUNTED)
    assert counted.approval is not None and counted.approval.satisfies is True


def test_an_approval_of_a_new_commit_starts_the_approvers_over() -> None:
    request = at_status("plan_ready")
    _approve(request)
    _approve(request, who="U_APP2", sha="sha2")
    assert request.approval is not None and request.approval.approvers == ["U_APP2"]


def test_a_merge_closes_the_pr_as_merged_and_tells_it_once() -> None:
    request = at_status("approved")
    events = record_merge(request, number=7, sha="m1", actor="U_APP", source="slack", now=NOW)
    assert request.pr is not None and (request.pr.merged, request.pr.open, request.pr.merged_sha) == (True, False, "m1")
    assert request.pr.merged_at == NOW and request.merged_sha == "m1"
    assert [e.name for e in events] == ["merged", "merged"] and events[0].data == {"number": 7, "sha": "m1"}
    assert events[1].notice is not None and events[1].notice.status == "merged"
    # A webhook folded the merge first: the write records it again and tells nothing.
    again = record_merge(request, number=7, sha="m1", actor="U_APP", source="slack", now=NOW)
    assert [e.name for e in again] == ["merged"]


def test_a_dispatched_plan_clears_the_old_plan_and_keeps_a_run_a_webhook_told_first() -> None:
    request = at_status("plan_ready")
    fresh = RunRef(run_id=5, status="queued", workflow="plan.yml", dispatched_at=NOW)
    record_dispatch(request, "plan", fresh, NOW)
    assert request.plan_run == fresh and request.plan is None and request.cost is None
    # The run's webhook outran the write: what it said stays, the dispatch time is added.
    told = at_status("merged")
    told.apply_run = run(status="in_progress").model_copy(update={"run_id": 9})
    record_dispatch(told, "apply", RunRef(run_id=9, status="queued", workflow="apply.yml"), NOW)
    assert told.apply_run is not None and told.apply_run.status == "in_progress"
    assert (told.apply_run.dispatched_at, told.apply_run.workflow, told.apply_triggered_at) == (NOW, "apply.yml", NOW)


def test_a_config_update_moves_the_head_voids_the_plan_and_the_approval() -> None:
    request = at_status("approved")
    events = record_config_update(
        request,
        config={"name": "b"},
        revision=2,
        sha="sha2",
        files={"envs/dev/tfpilot_x.tf": "x"},
        files_digest="d",
        actor="U_REQ",
        source="slack",
    )
    assert (request.config, request.revision, request.commit_sha) == ({"name": "b"}, 2, "sha2")
    assert request.pr is not None and request.pr.head_sha == "sha2"
    assert request.plan_run is None and request.approval is not None and not request.approval.approved
    assert "envs/dev/tfpilot_x.tf" in request.target_files
    assert [e.name for e in events] == ["config_updated", "approval_voided"]
    plain = at_status("plan_ready")
    unapproved = record_config_update(
        plain, config={}, revision=2, sha="s", files={}, files_digest="d", actor="U", source="slack"
    )
    assert [e.name for e in unapproved] == ["config_updated"]


def test_begin_destroy_holds_the_removal_pr_and_tells_how_the_destroy_goes_on() -> None:
    request = at_status("applied")
    removal = CleanupPr(number=11, url="https://example.invalid/pr/11", open=True, status="open", head_sha="h1")
    events = begin_destroy(
        request,
        removal,
        files=["envs/dev/tfpilot_x.tf"],
        branch="destroy/x",
        base="main",
        before=Status.APPLIED,
        actor="U_ADMIN",
        source="slack",
    )
    assert request.cleanup_pr == removal
    assert [e.name for e in events] == ["destroy_requested", "destroy_requested"]
    assert events[0].data == {
        "removalPr": 11,
        "url": "https://example.invalid/pr/11",
        "branch": "destroy/x",
        "files": ["envs/dev/tfpilot_x.tf"],
    }
    told = events[1].notice
    assert told is not None and told.previous_status == "applied" and told.run_url == removal.url
    assert [r.code for r in told.reasons] == ["removal_destroy_requested"]


def test_the_removal_merged_marks_its_pr_only() -> None:
    request = at_status("destroyed")
    request.cleanup_pr = CleanupPr(number=11, open=True, status="open")
    events = record_removal_merged(request, number=11, sha="m2", actor="U_ADMIN", source="slack")
    assert request.cleanup_pr is not None and request.cleanup_pr.merged and not request.cleanup_pr.open
    assert [e.name for e in events] == ["removal_pr_merged"] and events[0].data == {"number": 11, "sha": "m2"}
    other = at_status("destroyed")
    other.cleanup_pr = CleanupPr(number=12, open=True, status="open")
    record_removal_merged(other, number=11, sha="m2", actor="U_ADMIN", source="slack")
    assert other.cleanup_pr is not None and other.cleanup_pr.open


def test_create_records_its_commit_then_its_pr() -> None:
    request = at_status("request_created")
    assert record_commit(request, "c1") == [] and request.commit_sha == "c1"
    opened = PullRequestRef(number=7, url="https://example.invalid/pr/7", open=True, head_sha="c1")
    events = record_pr_opened(request, opened, actor="U_REQ", source="slack")
    assert request.pr == opened and derive_status(request) is Status.PLANNING
    assert [e.name for e in events] == ["pr_opened"] and events[0].data == {"number": 7, "url": opened.url}


def test_a_new_request_begins_its_create_under_the_lease_and_says_it_was_created() -> None:
    request = at_status("request_created")
    request.timeline, request.operations = [], []
    lease = Lease(owner="tok", until=NOW + timedelta(minutes=5))
    events = record_created(
        request, key="k1", actor="U_DEV", source="slack", lease=lease, files=["b.tf", "a.tf"], now=NOW
    )
    (op,) = request.operations
    assert isinstance(op, CreateOp) and op.key == "k1" and op.actor == "U_DEV" and op.started_at == NOW
    assert op.steps.lease == lease and op.steps.source == "slack" and op.completed_at is None
    assert [(t.code, t.actor, t.at) for t in request.timeline] == [(TimelineCode.REQUEST_CREATED, "U_DEV", NOW)]
    (created,) = events
    assert created.name == "request_created" and created.actor == "U_DEV" and created.source == "slack"
    assert created.data["files"] == ["a.tf", "b.tf"] and created.data["idempotencyKey"] == "k1"
    assert created.data["module"] == request.module and derive_status(request) is Status.REQUEST_CREATED
