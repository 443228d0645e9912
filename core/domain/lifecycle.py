"""Lifecycle: status is a pure function of facts, never written by a handler.

``derive_status`` follows DESIGN.md's priority list; the first rule that matches wins.
"""

from __future__ import annotations

from core.domain.request import Approval, PullRequestRef, Request, RunRef
from core.domain.status import Status

FAILURE_CONCLUSIONS: frozenset[str] = frozenset(
    {"failure", "cancelled", "timed_out", "action_required", "startup_failure", "stale"}
)
# GitHub reports a run that has not finished as queued or in_progress, and on the way there
# as requested, waiting or pending: all of them mean "in flight".
IN_FLIGHT_STATUSES: frozenset[str] = frozenset({"queued", "in_progress", "requested", "waiting", "pending"})


def run_in_flight(run: RunRef | None) -> bool:
    return run is not None and run.status in IN_FLIGHT_STATUSES and run.conclusion is None


def run_failed(run: RunRef | None) -> bool:
    return run is not None and run.conclusion in FAILURE_CONCLUSIONS


def run_succeeded(run: RunRef | None) -> bool:
    return run is not None and run.conclusion == "success"


def approval_valid(approval: Approval | None, pr: PullRequestRef | None) -> bool:
    """An approval counts only for the commit it was given on."""
    if approval is None or not approval.approved:
        return False
    if approval.approved_sha and pr is not None and pr.head_sha and not pr.merged:
        return approval.approved_sha == pr.head_sha
    return True


def derive_status(request: Request) -> Status:
    destroy, apply, plan, pr = request.destroy_run, request.apply_run, request.plan_run, request.pr
    # 1. destroy
    if run_in_flight(destroy):
        return Status.DESTROYING
    if run_succeeded(destroy):
        return Status.DESTROYED
    if run_failed(destroy):
        return Status.FAILED
    # 2. apply or plan failures
    if run_failed(apply) or run_failed(plan):
        return Status.FAILED
    # 3.-4. apply
    if run_in_flight(apply):
        return Status.APPLYING
    if run_succeeded(apply):
        return Status.APPLIED
    # 5. merged
    if pr is not None and pr.merged:
        return Status.MERGED
    # 6. approved (for the current head commit)
    if approval_valid(request.approval, pr):
        return Status.APPROVED
    # 7.-9. plan and PR
    if run_succeeded(plan):
        return Status.PLAN_READY
    if run_in_flight(plan):
        return Status.PLANNING
    if pr is not None and pr.open:
        return Status.PLANNING
    return Status.REQUEST_CREATED
