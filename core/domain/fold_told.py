"""The aggregate's fold of facts (``fold_facts``: what ``SyncService`` runs inside the store's
compare-and-swap) and what it commits, decided from what the folds did (pure): the audit
events (``audit_events``), the notices (``tell``: one reply for a status or run-conclusion
change, plus the folds' own notices), what the folds did (``reasons``: typed, said by
``bot.views.fact_text``), where a failed run failed (``failed_at``, from its jobs: a
``JobFailure``), and whether a refresh learns anything (``learns_nothing``).
``SyncService`` (``core.services.sync``) reads the facts, runs ``fold_facts`` inside the write
and hands the committed events to the bus; this module holds no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain.events import NewEvent, Transition, emit_all, notice
from core.domain.fact_reasons import FactCode, FactReason, JobFailure, said
from core.domain.facts import Fact, RunFact
from core.domain.folding import Extras, Folded, fold
from core.domain.lifecycle import FAILURE_CONCLUSIONS, derive_status
from core.domain.request import Request, RunRef
from core.domain.status import Status
from core.domain.workflows import REQUEST_RUN_KINDS, RequestRunKind
from core.ports.code_host import JobInfo, RunInfo

# The Notifier event for arriving at a status.
STATUS_EVENTS: dict[Status, str] = {
    Status.REQUEST_CREATED: "created",
    Status.PLANNING: "planning",
    Status.PLAN_READY: "plan_ready",
    Status.APPROVED: "approved",
    Status.MERGED: "merged",
    Status.APPLYING: "applying",
    Status.APPLIED: "applied",
    Status.DESTROYING: "destroying",
    Status.DESTROYED: "destroyed",
    Status.FAILED: "failed",
}
# Notices told on their own only when the status did not change (else they join its reply).
_ASIDE_NOTICES = frozenset({"pr_closed", "pr_reopened"})


@dataclass
class FoldPass:
    """What one run of ``fold_facts`` did (the mutation may run again when writers race)."""

    before: Status
    after: Status
    folded: list[Folded] = field(default_factory=list)
    wrote: bool = False  # a fold changed the request: the write is due
    reasons: tuple[FactReason, ...] = ()
    notified: bool = False  # the write commits a notice


def fold_facts(
    request: Request,
    facts: Sequence[Fact],
    *,
    now: datetime,
    extras: Extras | None = None,
    failures: Mapping[int, JobFailure] | None = None,
    actor: str | None = None,
    source: str = "webhook",
    synced: bool = False,
    reads: dict[str, Any] | None = None,
) -> FoldPass:
    """Fold ``facts`` into ``request`` (in place) and record the domain events of the change in its
    outbox: the audit records, the notices to tell (only when the status or a run conclusion
    changed) and, when a fold unblocked a waiting operation, a continuation. The stored status
    follows the derived one. ``failures`` (by the fact's index, read before the write) say where a
    newly failed run failed; ``synced`` marks a full refresh (``last_synced_at`` when it learnt
    something; ``reads``: the code host's validators to keep). Nothing is written to ``request``
    when no fact changes it and it is no refresh (``FoldPass.wrote`` False: no write is due)."""
    before = derive_status(request)
    conclusions_before = _conclusions(request)
    folded = fold_all(request, facts, extras, now)
    after = derive_status(request)
    done = FoldPass(before=before, after=after, folded=folded, wrote=any(f.changed for f in folded))
    done.reasons = reasons(folded, synced)
    if not done.wrote and not synced:
        return done
    if after.value != request.status or request.status_derived_at is None:
        request.status, request.status_derived_at = after.value, now
    if synced and done.wrote:
        # Only a sync that learnt something: one that merely keeps new validators (``reads``)
        # leaves the index row as it is (no listed field changes).
        request.last_synced_at = now
    if reads is not None:
        request.code_host_reads = reads
    if done.wrote:
        found = failures or {}
        failed = next((found[i] for i, f in enumerate(folded) if i in found and f.run_concluded), None)
        now_concluded = _conclusions(request)
        concluded = {k for k in REQUEST_RUN_KINDS if now_concluded[k] != conclusions_before.get(k)}
        events = audit_events(folded, failed, actor=actor, source=source)
        told = tell(folded, before, after, concluded, done.reasons, failed, actor)
        done.notified = bool(told)
        events.extend(notice(t) for t in told)
        if any(f.unblocked for f in folded):
            # A waiting operation can go on: continued after the write (``MessageBus``).
            events.append(NewEvent(name="operation_unblocked", audit=False, resume=True))
        emit_all(request, events, at=now)
    request.updated_at = now
    return done


def _conclusions(request: Request) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for kind in REQUEST_RUN_KINDS:
        run = request.run(kind)
        out[kind] = f"{run.run_id}:{run.conclusion}" if run is not None and run.conclusion else None
    return out


def reasons(folded: Sequence[Folded], synced: bool) -> tuple[FactReason, ...]:
    said_by_folds = tuple(f.reason for f in folded if f.reason is not None)
    return said_by_folds or (said(FactCode.REFRESHED if synced else FactCode.NOTHING_TO_FOLD),)


def audit_events(
    folded: Sequence[Folded], failed: JobFailure | None, *, actor: str | None, source: str
) -> list[NewEvent]:
    events: list[NewEvent] = []
    for item in folded:
        for name, data in item.events:
            extra = {}
            if failed is not None and name == f"{failed.kind}_completed":
                extra = {"failedAt": failed.audit_data(), "jobUrl": failed.url}
            events.append(NewEvent(name=name, actor=actor, source=source, data={**data, **extra}))
    return events


def tell(
    folded: Sequence[Folded],
    before: Status,
    after: Status,
    concluded: set[RequestRunKind],
    reasons: tuple[FactReason, ...],
    failed: JobFailure | None,
    actor: str | None,
) -> list[Transition]:
    """One reply for a status or run-conclusion change, plus the folds' notices. A drift plan
    that succeeded leaves the status at applied: its reply is the plan's (``plan_ready``), not a
    second "applied"."""
    told: list[Transition] = []
    status_told = after != before or bool(concluded)
    if status_told:
        voided = any(f.approval_voided for f in folded) and before is Status.APPROVED
        drift_planned = before is after is Status.APPLIED and concluded == {"plan"}
        run_url = next((f.run_url for f in reversed(folded) if f.run_url), None)
        # A PR closed or re-opened in the same change is said in this one reply.
        asides = tuple(f.notice[1] for f in folded if f.notice is not None and f.notice[0] in _ASIDE_NOTICES)
        told.append(
            Transition(
                event="approval_voided" if voided else "plan_ready" if drift_planned else STATUS_EVENTS[after],
                previous_status=before.value,
                status=after.value,
                actor=actor,
                facts=reasons,
                failed=failed,
                reasons=asides,
                run_url=(failed.url if failed else None) or run_url,
            )
        )
    for item in folded:
        if item.notice is None or (status_told and item.notice[0] in _ASIDE_NOTICES):
            continue
        event, reason = item.notice
        told.append(
            Transition(
                event=event,
                previous_status=before.value,
                status=after.value,
                actor=actor,
                reasons=(reason,),
                run_url=item.run_url,
            )
        )
    return told


def fold_all(request: Request, facts: Sequence[Fact], extras: Extras | None, now: datetime) -> list[Folded]:
    """Fold every fact into ``request`` (in place); a refresh that found the stored successful
    plan unsummarised also fills it in."""
    folded = [fold(request, fact, now=now, extras=extras) for fact in facts]
    if extras is not None and not any(isinstance(f, RunFact) and f.kind == "plan" for f in facts):
        plan_run = request.plan_run
        if plan_run is not None and plan_run.run_id == extras.plan_run_id:
            run = RunFact(request_id=request.id, kind="plan", run=_run_info(plan_run))
            folded.append(fold(request, run, now=now, extras=extras))
    return folded


def learns_nothing(current: Request, facts: Sequence[Fact], extras: Extras | None, now: datetime) -> bool:
    """True when folding ``facts`` into ``current`` would change nothing that a write would keep:
    no fact changes the request, its stored status is the derived one, and it is not waiting to
    be archived. Judged on a copy; ``current`` is untouched."""
    if current.status_derived_at is None or derive_status(current).value != current.status:
        return False
    if derive_status(current) is Status.DESTROYED and current.archived_at is None:
        return False
    trial = current.model_copy(deep=True)
    return not any(f.changed or f.archive or f.unblocked for f in fold_all(trial, facts, extras, now))


def failed_at(kind: str, jobs: Sequence[JobInfo]) -> JobFailure | None:
    """The first job that did not succeed, and its first step that did not (None when no job
    says so: the run failed before any job started, or GitHub lists none)."""
    job = next((j for j in jobs if j.conclusion in FAILURE_CONCLUSIONS), None)
    if job is None:
        return None
    step = next((s for s in job.steps if s.conclusion in FAILURE_CONCLUSIONS), None)
    return JobFailure(
        kind=kind,
        job=job.name,
        conclusion=job.conclusion or "failure",
        step=step.number if step is not None else None,
        step_name=step.name if step is not None else None,
        url=job.url or None,
    )


def _run_info(run: RunRef) -> RunInfo:
    return RunInfo(
        run_id=run.run_id or 0,
        url=run.url or "",
        status=run.status or "completed",
        conclusion=run.conclusion,
        head_sha=run.head_sha,
        workflow=run.workflow,
        updated_at=run.completed_at,
    )
