"""Folding facts into a request: pure functions, no I/O. (Over 400 lines on purpose: the folds
of the four fact kinds share the replay rules and helpers written here; apart, each would have
to be read beside the others anyway.)

``fold(request, fact, ...)`` changes the request in place the way the fact says and reports
what happened (audit events, timeline steps, whether a run concluded, why a fact was ignored).
It is written to be replayed: folding the same fact twice changes nothing the second time, and
an older fact never rolls a newer state back. Cleanup PRs and cleanup runs move the destroy
operation that waits for them (``Folded.unblocked``, or an ended attempt with a ``notice``).
The aggregate's fold (``core.domain.fold_told.fold_facts``) runs it inside the store's
compare-and-swap, so it may run more than once per fact. What it did, or why a fact changed
nothing, is a typed ``FactReason`` (``Folded.reason``), said by the views. After the merge,
the only plan run accepted is the drift re-plan (a plan of the base branch dispatched after the
drift was found); the apply that follows it, once it succeeds, resolves the drift
(``drift_resolved``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain.cleanup_wait import CleanupStage, cleanup_stage, cleanup_waiter
from core.domain.destroy import merge_pending, removal_waiter, waits_for_review
from core.domain.events import Reason
from core.domain.fact_reasons import FactCode, FactReason, said
from core.domain.facts import Fact, PullRequestFact, ReviewFact, RunFact
from core.domain.lifecycle import FAILURE_CONCLUSIONS
from core.domain.operation import DestroyFailed
from core.domain.redaction import redact, redact_value
from core.domain.request import (
    Approval,
    CleanupPr,
    Cost,
    PlanOutput,
    PlanSummary,
    PullRequestRef,
    Request,
    RunRef,
)
from core.domain.runs import merge_run, run_rejection
from core.domain.timeline import Line, Said, TimelineCode, step_of
from core.domain.workflows import request_run_kind


@dataclass
class Extras:
    """What ``SyncService`` fetched before folding: the plan's summary and cost, when due."""

    plan_run_id: int | None = None
    plan_summary: PlanSummary | None = None
    plan_text: str | None = None
    cost: Cost | None = None
    preview: bool = False  # the local runner's preview, not a cloud plan
    preview_reason: str | None = None


@dataclass
class Folded:
    changed: bool = False
    reason: FactReason | None = None  # what it did, or why it changed nothing
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    run_concluded: bool = False  # a run got a (new) conclusion
    run_url: str | None = None
    archive: bool = False
    approval_voided: bool = False
    # A waiting operation can go on now (the cleanup PR appeared, the cleanup run finished).
    unblocked: bool = False
    # A Notifier event that is not a status change (e.g. ``destroy_failed``), with its reason.
    notice: tuple[str, Reason] | None = None


def fold(request: Request, fact: Fact, *, now: datetime, extras: Extras | None = None) -> Folded:
    if isinstance(fact, RunFact):
        if fact.kind == "cleanup":
            return fold_cleanup_run(request, fact, now=now)
        return fold_run(request, fact, now=now, extras=extras)
    if isinstance(fact, PullRequestFact):
        return fold_cleanup_pr(request, fact, now=now) if fact.cleanup else fold_pr(request, fact, now=now)
    return fold_review(request, fact, now=now)


# -- runs ----------------------------------------------------------------------------------


def _resolve_drift(request: Request, run: RunRef, now: datetime, out: Folded) -> None:
    """An apply dispatched after the drift was found, and succeeded: the infrastructure matches
    the code again. The last check's time and summary stay as history."""
    drift = request.drift
    if drift is None or not drift.detected or drift.checked_at is None:
        return
    started = run.dispatched_at or run.started_at
    if started is None or started < drift.checked_at:
        return
    request.drift = drift.model_copy(update={"detected": False})
    out.changed = True
    out.events.append(("drift_resolved", {"applyRunId": run.run_id, "checkedAt": drift.checked_at.isoformat()}))
    _step(request, TimelineCode.DRIFT_RESOLVED, now)


def fold_run(request: Request, fact: RunFact, *, now: datetime, extras: Extras | None = None) -> Folded:
    kind, run = request_run_kind(fact.kind), fact.run
    if kind is None:
        return Folded(reason=said(FactCode.NOT_A_REQUEST_RUN, kind=fact.kind))
    reason = run_rejection(request, kind, run)
    if reason is not None:
        return Folded(reason=reason)
    current = request.run(kind)
    merged = merge_run(current, run)
    if merged is None:
        return Folded(reason=said(FactCode.STALE_RUN, kind=kind, status=run.status))
    merged, outputs_changed = _with_report(request, kind, merged, fact)
    out = Folded(run_url=merged.url, changed=outputs_changed)
    if merged != current:
        request.set_run(kind, merged)
        out.changed = True
        previous_conclusion = current.conclusion if current is not None and current.run_id == run.run_id else None
        if merged.conclusion is not None and merged.conclusion != previous_conclusion:
            out.run_concluded = True
            out.events.append((f"{kind}_completed", {"runId": run.run_id, "conclusion": merged.conclusion}))
            _step(
                request,
                Line(TimelineCode.RUN_CONCLUDED, {"kind": kind, "conclusion": merged.conclusion}),
                now,
                status=merged.conclusion,
            )
        elif current is None or current.run_id != run.run_id or current.status != merged.status:
            out.events.append((f"{kind}_run_{merged.status}", {"runId": run.run_id}))
    if kind == "plan":
        out.changed |= _fold_plan_output(request, merged, extras)
    elif kind == "apply" and merged.conclusion == "success":
        if request.applied_at is None:
            request.applied_at = merged.completed_at or now
            out.changed = True
        _resolve_drift(request, merged, now, out)
    elif kind == "destroy" and merged.conclusion == "success":
        if request.destroyed_at is None:
            request.destroyed_at = merged.completed_at or now
            out.changed = True
        # A removal PR still to merge keeps the document (and the operation that merges it).
        out.archive = not merge_pending(request)
    if kind == "destroy" and merged.conclusion is not None and removal_waiter(request) is not None:
        out.unblocked = True  # the destroy goes on: merge its removal PR, or end the attempt
    state = merged.conclusion or merged.status
    out.reason = (
        said(FactCode.RUN_PROGRESS, kind=kind, run_id=run.run_id, state=state)
        if out.changed
        else said(FactCode.ALREADY_KNOWN)
    )
    return out


def _with_report(request: Request, kind: str, run: RunRef, fact: RunFact) -> tuple[RunRef, bool]:
    """Record what a finished run reported: a failed run's diagnostics on the run (redacted),
    an applied run's outputs on the request (named as the definition names them)."""
    report = fact.report
    if report is None or run.conclusion is None:
        return run, False
    if run.conclusion != "success":
        diagnostics = [
            d.model_copy(update={"summary": redact(d.summary), "detail": redact(d.detail)}) for d in report.errors
        ]
        return (run.model_copy(update={"diagnostics": diagnostics}) if diagnostics != run.diagnostics else run), False
    if kind == "apply":
        prefix = f"{request.module.replace('-', '_')}_{request.id}_"
        outputs = {name.removeprefix(prefix): redact_value(value) for name, value in report.outputs.items()}
        if outputs != request.outputs:
            request.outputs = outputs
            return run, True
    return run, False


def _fold_plan_output(request: Request, run: RunRef, extras: Extras | None) -> bool:
    """Keep ``request.plan`` about the current plan run only; fill it when the summary came."""
    plan = request.plan
    if plan is not None and plan.run_id is not None and plan.run_id != run.run_id:
        request.plan = plan = None  # the output of an older run is no answer for this one
        request.cost = None
        changed = True
    else:
        changed = False
    if run.conclusion != "success" or extras is None or extras.plan_run_id != run.run_id:
        return changed
    if extras.plan_summary is None or (plan is not None and plan.summary == extras.plan_summary):
        return changed
    request.plan = PlanOutput(
        summary=extras.plan_summary,
        output=extras.plan_text,
        run_id=run.run_id,
        head_sha=run.head_sha,
        artifact_name=f"tfplan-{request.id}",
        preview=extras.preview,
        preview_reason=extras.preview_reason,
    )
    if extras.cost is not None:
        request.cost = extras.cost
    return True


# -- pull requests -------------------------------------------------------------------------


def fold_pr(request: Request, fact: PullRequestFact, *, now: datetime) -> Folded:
    info = fact.pr
    current = request.pr
    if request.branch_name and info.head_ref != request.branch_name:
        return Folded(
            reason=said(
                FactCode.PR_OTHER_BRANCH, number=info.number, head_ref=info.head_ref, branch=request.branch_name
            )
        )
    if current is not None and current.number is not None and current.number != info.number:
        return Folded(reason=said(FactCode.PR_NOT_THE_REQUESTS, number=info.number, current=current.number))
    if current is not None and current.merged and not info.merged:
        return Folded(reason=said(FactCode.STALE_PR_MERGED))
    merged_sha = info.merge_commit_sha if info.merged else None
    new = (current or PullRequestRef()).model_copy(
        update={
            "number": info.number,
            "url": info.url,
            "merged": info.merged,
            "open": info.state == "open" and not info.merged,
            "head_sha": info.head_sha or (current.head_sha if current else None),
            "merged_sha": merged_sha or (current.merged_sha if current else None),
            "merged_at": info.merged_at or (current.merged_at if current else None),
            "closed_at": info.closed_at if info.state == "closed" else None,
        }
    )
    out = Folded()
    if new == current:
        out.reason = said(FactCode.ALREADY_KNOWN)
        return out
    out.changed = True
    request.pr = new
    if new.merged and (current is None or not current.merged):
        request.merged_sha = new.merged_sha
        out.events.append(("pr_merged", {"number": info.number, "mergedSha": new.merged_sha}))
        _step(request, TimelineCode.MERGED, now)
    elif not new.open and not new.merged and (current is None or current.open):
        out.events.append(("pr_closed", {"number": info.number}))
        _step(request, TimelineCode.PR_CLOSED, now)
        # The status stays what the plan says, but the card's buttons no longer apply: say so.
        out.notice = ("pr_closed", Reason(code="pr_closed", data={"number": info.number}))
    elif new.open and current is not None and not current.open:
        out.events.append(("pr_reopened", {"number": info.number}))
        out.notice = ("pr_reopened", Reason(code="pr_reopened", data={"number": info.number}))
    if current is not None and new.head_sha != current.head_sha and not new.merged:
        out.events.append(("pr_head_changed", {"from": current.head_sha, "to": new.head_sha}))
        out.approval_voided = void_stale_approval(request, new.head_sha, now, out)
        retire_stale_plan(request, new.head_sha, now, out)
    out.reason = said(FactCode.PR_ACTION, number=info.number, action=fact.action)
    return out


def void_stale_approval(request: Request, head_sha: str | None, now: datetime, out: Folded) -> bool:
    """An approval binds to the commit it was given on: a new head voids it."""
    approval = request.approval
    if approval is None or not approval.approved or not approval.approved_sha or approval.approved_sha == head_sha:
        return False
    request.approval = approval.model_copy(update={"approved": False, "approvers": []})
    out.events.append(
        (
            "approval_voided",
            {"approvedSha": approval.approved_sha, "headSha": head_sha, "approvers": approval.approvers},
        )
    )
    _step(request, TimelineCode.APPROVAL_VOIDED, now)
    return True


def retire_stale_plan(request: Request, head_sha: str | None, now: datetime, out: Folded) -> None:
    """A plan of an older commit says nothing about the new head: it must be planned again.

    The stale run is dropped (the status falls back to planning, re-plan is offered), so
    nobody approves a commit whose plan they have not seen."""
    plan_run = request.plan_run
    if plan_run is None or not plan_run.head_sha or plan_run.head_sha == head_sha:
        return
    request.plan_run, request.plan, request.cost = None, None, None
    out.events.append(("plan_stale", {"plannedSha": plan_run.head_sha, "headSha": head_sha}))
    _step(request, TimelineCode.NEW_COMMIT, now)


def fold_cleanup_pr(request: Request, fact: PullRequestFact, *, now: datetime) -> Folded:
    info = fact.pr
    current = request.cleanup_pr
    replaced = current is not None and not current.open and not current.merged
    if current is not None and current.number is not None and current.number != info.number:
        # A cleanup PR closed without merging is history: a later run of the workflow opens a new one.
        if not (replaced and current.number < info.number):
            return Folded(reason=said(FactCode.CLEANUP_PR_NOT_THE_REQUESTS, number=info.number, current=current.number))
        current = None
    if current is not None and current.merged and not info.merged:
        return Folded(reason=said(FactCode.STALE_CLEANUP_PR_MERGED))
    new = (current or CleanupPr()).model_copy(
        update={
            "number": info.number,
            "url": info.url,
            "merged": info.merged,
            "open": info.state == "open" and not info.merged,
            "status": "merged" if info.merged else info.state,
            "head_sha": info.head_sha,
            "branch": info.head_ref,
        }
    )
    if new == current:
        return Folded(reason=said(FactCode.ALREADY_KNOWN))
    request.cleanup_pr = new
    out = Folded(changed=True, reason=said(FactCode.CLEANUP_PR_ACTION, number=info.number, action=fact.action))
    if new.merged and (current is None or not current.merged):
        out.events.append(("cleanup_pr_merged", {"number": info.number}))
        _step(request, TimelineCode.CLEANUP_PR_MERGED, now)
    elif current is None:
        out.events.append(("cleanup_pr_opened", {"number": info.number, "url": info.url}))
        _step(request, TimelineCode.CLEANUP_PR_OPENED, now)
    waiter = cleanup_waiter(request)
    if waiter is not None and cleanup_stage(request, waiter) is not CleanupStage.WAITING:
        out.unblocked = True
    return out


def fold_cleanup_run(request: Request, fact: RunFact, *, now: datetime) -> Folded:
    """A run of the cleanup workflow: progress of the destroy waiting on it. Success unblocks
    it (its PR may not have reached us); a failure ends it with the run's error, status unchanged."""
    run = fact.run
    reason = run_rejection(request, "cleanup", run)
    op = cleanup_waiter(request)
    if reason is not None or op is None:
        return Folded(reason=reason or said(FactCode.NO_CLEANUP_WAITER))
    recorded = op.steps.cleanup_run
    step = merge_run(recorded, run)
    # Only what the destroy waits on counts as news (a report repeating the run's state writes nothing).
    if step is None or _progress(step) == _progress(recorded):
        known = recorded is not None and recorded.run_id == run.run_id
        return Folded(reason=said(FactCode.ALREADY_KNOWN if known else FactCode.STALE_CLEANUP_RUN))
    op.steps.cleanup_run = step
    conclusion = step.conclusion
    progress = said(FactCode.CLEANUP_RUN_PROGRESS, run_id=run.run_id, state=conclusion or run.status)
    out = Folded(changed=True, run_url=step.url, reason=progress)
    if conclusion is None:
        out.events.append((f"cleanup_run_{run.status}", {"runId": run.run_id}))
        return out
    out.events.append(("cleanup_completed", {"runId": run.run_id, "conclusion": conclusion}))
    stage = cleanup_stage(request, op)
    if conclusion == "success":
        out.unblocked = stage is not CleanupStage.WAITING
        return out
    if conclusion not in FAILURE_CONCLUSIONS or stage in (CleanupStage.OPEN, CleanupStage.MERGED):
        return out  # its PR is there: the destroy goes on without the run
    error = f"the cleanup workflow run {run.run_id} concluded {conclusion.replace('_', ' ')}"
    op.steps.failed = DestroyFailed(run_id=run.run_id, conclusion=conclusion, url=step.url)
    op.end(error, now)
    out.events.append(("destroy_failed", {"runId": run.run_id, "conclusion": conclusion, "url": step.url}))
    _step(request, TimelineCode.CLEANUP_OPENED_NO_PR, now, status=conclusion)
    stopped = Reason(code="cleanup_run_failed", data={"runId": run.run_id, "conclusion": conclusion})
    out.notice = ("destroy_failed", stopped)
    return out


def _progress(run: RunRef | None) -> tuple[int | None, str | None, str | None, str | None] | None:
    return (run.run_id, run.url, run.status, run.conclusion) if run is not None else None


# -- reviews -------------------------------------------------------------------------------


def _fold_removal_review(request: Request, fact: ReviewFact, *, now: datetime) -> Folded:
    """A review of the removal PR: an approval at its head continues a destroy waiting for one."""
    review, removal = fact.review, request.cleanup_pr
    op = removal_waiter(request)
    if op is None or not waits_for_review(request, op):
        return Folded(reason=said(FactCode.REMOVAL_REVIEW_UNWAITED, number=fact.pr_number))
    if review.state.upper() != "APPROVED" or fact.action == "dismissed":
        return Folded(reason=said(FactCode.REMOVAL_REVIEW_NO_CHANGE, state=review.state))
    head = removal.head_sha if removal is not None else None
    if head and review.commit_id and review.commit_id != head:
        return Folded(reason=said(FactCode.REMOVAL_REVIEW_OTHER_COMMIT, commit=review.commit_id, head=head))
    approved = said(FactCode.REMOVAL_PR_APPROVED, number=fact.pr_number, login=review.user_login)
    out = Folded(changed=True, unblocked=True, reason=approved)
    out.events.append(("removal_pr_reviewed", {"number": fact.pr_number, "reviewer": review.user_login}))
    _step(request, Line(TimelineCode.REMOVAL_PR_APPROVED, {"by": review.user_login}), now)
    return out


def fold_review(request: Request, fact: ReviewFact, *, now: datetime) -> Folded:
    pr, review = request.pr, fact.review
    removal = request.cleanup_pr
    if removal is not None and removal.number == fact.pr_number and (pr is None or pr.number != fact.pr_number):
        return _fold_removal_review(request, fact, now=now)
    if pr is None or pr.number != fact.pr_number:
        return Folded(reason=said(FactCode.REVIEW_OTHER_PR, number=fact.pr_number))
    state = review.state.upper()
    login = review.user_login
    approval = request.approval
    if fact.action == "dismissed" or state == "DISMISSED":
        if approval is None or not approval.approved:
            return Folded(reason=said(FactCode.DISMISSED_NOTHING_APPROVED))
        keep = [a for a in approval.approvers if a.lower() != login.lower()]
        if len(keep) == len(approval.approvers):
            return Folded(reason=said(FactCode.DISMISSED_NOT_APPROVER, login=login))
        request.approval = approval.model_copy(update={"approvers": keep, "approved": bool(keep)})
        out = Folded(changed=True, reason=said(FactCode.REVIEW_DISMISSED, login=login))
        out.events.append(("approval_dismissed", {"reviewer": login, "reviewId": review.id}))
        if not keep:
            out.approval_voided = True
            out.events.append(("approval_voided", {"reason": "review dismissed", "reviewer": login}))
            _step(request, Line(TimelineCode.APPROVAL_DISMISSED, {"by": login}), now)
        return out
    if state != "APPROVED":
        return Folded(reason=said(FactCode.REVIEW_NO_CHANGE, state=review.state))
    if pr.merged:
        return Folded(reason=said(FactCode.PR_ALREADY_MERGED))
    sha = review.commit_id or pr.head_sha
    if pr.head_sha and sha != pr.head_sha:
        return Folded(reason=said(FactCode.REVIEW_OTHER_COMMIT, commit=sha, head=pr.head_sha))
    requester = request.requester
    if requester is not None and requester.github_login and requester.github_login.lower() == login.lower():
        return Folded(reason=said(FactCode.OWN_APPROVAL))
    same_commit = approval is not None and approval.approved and approval.approved_sha == sha
    approvers = list(approval.approvers) if same_commit and approval is not None else []
    if any(a.lower() == login.lower() for a in approvers):
        return Folded(reason=said(FactCode.ALREADY_KNOWN))
    request.approval = Approval(
        approved=True,
        approvers=[*approvers, login],
        approved_sha=sha,
        approved_at=(approval.approved_at if same_commit and approval else None) or review.submitted_at or now,
        source=(approval.source if same_commit and approval else None) or "github",
    )
    out = Folded(changed=True, reason=said(FactCode.APPROVED_ON_GITHUB, login=login))
    out.events.append(("approved", {"reviewer": login, "sha": sha, "source": "github"}))
    _step(request, Line(TimelineCode.APPROVED_ON_GITHUB, {"by": login}), now, actor=login)
    return out


# -- helpers -------------------------------------------------------------------------------


def _step(request: Request, said: Said, now: datetime, *, status: str | None = None, actor: str | None = None) -> None:
    request.timeline.append(step_of(said, now, status=status, actor=actor))
