"""What a fold of facts commits, decided from what it did (pure, inside the write): the audit
events (``audit_events``), the notices (``tell``: one reply for a status or run-conclusion
change, plus the folds' own notices), the reasons text (``reasons``), where a failed run failed
(``failed_at``, from its jobs), and whether a refresh learns anything (``learns_nothing``).
``SyncService`` (``core.services.sync``) reads the facts and writes; this module holds no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.events import NewEvent, Transition
from core.domain.facts import Fact, RunFact
from core.domain.lifecycle import FAILURE_CONCLUSIONS, derive_status
from core.domain.request import Request, RunRef
from core.domain.status import Status
from core.domain.workflows import RequestRunKind
from core.ports.code_host import JobInfo, RunInfo
from core.services.fold import Extras, Folded, fold

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


def reasons(folded: Sequence[Folded], synced: bool) -> str:
    return "; ".join(f.reason for f in folded if f.reason) or ("refreshed" if synced else "nothing to fold")


def audit_events(
    folded: Sequence[Folded], failed: FailedAt | None, *, actor: str | None, source: str
) -> list[NewEvent]:
    events: list[NewEvent] = []
    for item in folded:
        for name, data in item.events:
            extra = {}
            if failed is not None and name == f"{failed.kind}_completed":
                extra = {"failedAt": failed.text, "jobUrl": failed.url}
            events.append(NewEvent(name=name, actor=actor, source=source, data={**data, **extra}))
    return events


def tell(
    folded: Sequence[Folded],
    before: Status,
    after: Status,
    concluded: set[RequestRunKind],
    reasons: str,
    failed: FailedAt | None,
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
        message = reasons if failed is None else f"{reasons}: {failed.text}"
        # A PR closed or re-opened in the same change is said in this one reply.
        asides = tuple(f.notice[1] for f in folded if f.notice is not None and f.notice[0] in _ASIDE_NOTICES)
        told.append(
            Transition(
                event="approval_voided" if voided else "plan_ready" if drift_planned else STATUS_EVENTS[after],
                previous_status=before.value,
                status=after.value,
                actor=actor,
                message=message[:500],
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


@dataclass(frozen=True)
class FailedAt:
    kind: str
    text: str  # "job 'plan' failed at step 6 'terraform plan'"
    url: str | None  # the job's page


_FAILED_WORDS = {"failure": "failed", "timed_out": "timed out", "cancelled": "was cancelled"}
_MAX_NAME = 80


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


def failed_at(kind: str, jobs: Sequence[JobInfo]) -> FailedAt | None:
    """The first job that did not succeed, and its first step that did not (None when no job
    says so: the run failed before any job started, or GitHub lists none)."""
    job = next((j for j in jobs if j.conclusion in FAILURE_CONCLUSIONS), None)
    if job is None:
        return None
    conclusion = job.conclusion or "failure"
    verb = _FAILED_WORDS.get(conclusion, f"ended {conclusion.replace('_', ' ')}")
    text = f"job {_name(job.name)} {verb}"
    step = next((s for s in job.steps if s.conclusion in FAILURE_CONCLUSIONS), None)
    if step is not None:
        text += f" at step {step.number} {_name(step.name)}"
    return FailedAt(kind=kind, text=text, url=job.url or None)


def _name(name: str) -> str:
    name = " ".join(name.split())
    return repr(name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 1] + "…")


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
