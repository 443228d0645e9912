"""Runs: the one rule for "is this run ours", and how a reported run merges into a recorded one.

``run_rejection(request, kind, run)`` says why (a typed ``FactReason``) a reported run of
``kind`` (plan, apply, destroy, cleanup) is not the request's current run, or None when it is. A run we dispatched
but whose id the host did not return is recognised by ``found_run_rejection``: newer than the
run before the dispatch, not created before the dispatch (less clock skew). The dispatch itself
(``RequestService``) uses the same function when it looks a run up after a crash.
``merge_run`` folds a report into the recorded ``RunRef`` without ever rolling it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.domain.cleanup_wait import cleanup_waiter
from core.domain.destroy import REMOVAL_PREFIX
from core.domain.doc_model import RunRef
from core.domain.fact_reasons import FactCode, FactReason, said
from core.domain.policy import plans_on_base
from core.domain.request import Request
from core.domain.workflows import request_run_kind
from core.ports.code_host import RunInfo

# How early a run may have been created relative to our recorded trigger and still count as
# the run we dispatched (clock skew between us and GitHub).
DISPATCH_SKEW = timedelta(minutes=2)
_RUN_RANK = {"requested": 0, "waiting": 0, "pending": 0, "queued": 1, "in_progress": 2, "completed": 3}


def found_run_rejection(
    run: RunInfo, *, previous: int | None, since: datetime | None, cleanup: bool = False
) -> FactReason | None:
    """Why ``run`` (found by the request id in its run-name) is not the one dispatched after the
    run ``previous`` at ``since``, or None when it is (the reference's rule for runs found by name).
    ``cleanup``: a cleanup run the destroy dispatched (the reason says so), else a dispatched run."""
    if previous is not None and run.run_id <= previous:
        return said(FactCode.FOUND_RUN_OLDER, run_id=run.run_id, cleanup=cleanup)
    if since is not None and run.created_at is not None and run.created_at < since - DISPATCH_SKEW:
        return said(FactCode.FOUND_RUN_EARLY, run_id=run.run_id, cleanup=cleanup)
    return None


def apply_candidates(request: Request) -> set[str]:
    """SHAs an apply run may have run on and still be this request's (the reference's rule)."""
    shas = {
        request.merged_sha,
        request.commit_sha,
        request.plan.head_sha if request.plan else None,
        request.plan_run.head_sha if request.plan_run else None,
        request.pr.head_sha if request.pr else None,
        request.pr.merged_sha if request.pr else None,
    }
    return {s for s in shas if s}


def run_rejection(request: Request, kind: str, run: RunInfo) -> FactReason | None:
    """Why a run of ``kind`` is not this request's current run, or None when it is."""
    if kind == "cleanup":
        return _cleanup_rejection(request, run)
    held = request_run_kind(kind)
    if held is None:
        return said(FactCode.NOT_A_REQUEST_RUN, kind=kind)
    current = request.run(held)
    if current is not None and current.run_id is not None:
        if run.run_id == current.run_id:
            return None
        if run.run_id < current.run_id:
            return said(FactCode.RUN_OLDER_THAN_RECORDED, kind=kind, run_id=run.run_id, recorded=current.run_id)
    if kind == "plan" and (run.head_branch or "").startswith(REMOVAL_PREFIX):
        # The removal PR's plan belongs to the destroy operation (its check on the PR), not to
        # the request's planRun, which an applied request keeps.
        return said(FactCode.REMOVAL_PLAN, run_id=run.run_id, branch=run.head_branch)
    if kind == "plan" and plans_on_base(request):
        return _drift_plan_rejection(request, current, run)
    if kind == "plan":
        # The PR head is the truth once known (someone may have pushed); else our last commit.
        head = (request.pr.head_sha if request.pr else None) or request.commit_sha
        if run.head_sha and head and run.head_sha != head:
            return said(FactCode.PLAN_NOT_PR_HEAD, run_id=run.run_id, sha=run.head_sha, head=head)
        return None
    if kind == "apply":
        if run.head_sha and run.head_sha in apply_candidates(request):
            return None
        triggered = request.apply_triggered_at
        unrecorded = current is None or current.run_id is None
        if unrecorded and triggered and run.created_at and run.created_at >= triggered - DISPATCH_SKEW:
            return None  # the run our apply dispatched; the base branch moved on since the merge
        return said(FactCode.APPLY_NOT_OURS, run_id=run.run_id, sha=run.head_sha)
    dispatching = bool(request.pending("destroy"))
    if current is None and request.destroy_triggered_at is None and not dispatching:
        return said(FactCode.NO_DESTROY_REQUESTED)
    return None


def _cleanup_rejection(request: Request, run: RunInfo) -> FactReason | None:
    op = cleanup_waiter(request)
    if op is None:
        return said(FactCode.NO_CLEANUP_WAITER)
    known = op.steps.cleanup_run.run_id if op.steps.cleanup_run is not None else None
    if known is not None:
        return None if known == run.run_id else said(FactCode.NOT_THE_CLEANUP_RUN, run_id=run.run_id, known=known)
    launch = op.steps.launch("cleanup")
    return found_run_rejection(
        run,
        previous=launch.previous if launch else None,
        since=launch.at if launch else None,
        cleanup=True,
    )


def _drift_plan_rejection(request: Request, current: RunRef | None, run: RunInfo) -> FactReason | None:
    """After the merge a new plan run is the drift re-plan of the base branch: its commit is the
    base head, not the PR's, so it is told by time instead. The recorded plan run must have been
    dispatched after the drift check, and the run not created before that dispatch."""
    drift = request.drift
    dispatched = current.dispatched_at if current is not None else None
    if drift is None or drift.checked_at is None or dispatched is None or dispatched < drift.checked_at:
        return said(FactCode.NO_DRIFT_REPLAN, run_id=run.run_id)
    if run.created_at is not None and run.created_at < dispatched - DISPATCH_SKEW:
        return said(FactCode.DRIFT_PLAN_EARLY, run_id=run.run_id)
    return None


def merge_run(current: RunRef | None, run: RunInfo) -> RunRef | None:
    """The run as it should be stored, or None when the delivery is stale."""
    same = current is not None and current.run_id == run.run_id
    if same and current is not None:
        old_rank = _RUN_RANK.get(current.status or "", 0)
        new_rank = _RUN_RANK.get(run.status, 0)
        if (current.conclusion is not None and run.conclusion is None) or new_rank < old_rank:
            rerun = run.updated_at and current.completed_at and run.updated_at > current.completed_at
            if not rerun:
                return None
    base = current if same and current is not None else RunRef()
    completed = run.status == "completed"
    started = base.started_at
    if started is None and run.status in ("in_progress", "completed"):
        started = run.created_at
    return base.model_copy(
        update={
            "run_id": run.run_id,
            "url": run.url or base.url,
            "status": run.status,
            "conclusion": run.conclusion if completed else None,
            "head_sha": run.head_sha or base.head_sha,
            "workflow": run.workflow or base.workflow,
            "started_at": started,
            "completed_at": (run.updated_at or base.completed_at) if completed else None,
            "dispatched_at": base.dispatched_at
            if same
            else (current.dispatched_at if current and not current.run_id else None),
        }
    )
