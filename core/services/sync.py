"""``SyncService``: GitHub facts in, request state out.

A webhook (or the local runner, or the reconciler's refresh) states a fact about one request;
``apply_fact`` folds it in (``core.services.fold``), derives the status and persists with the
store's compare-and-swap. What the fold did is committed in the same write as domain events
(``core.domain.events``): audit records, the notices to tell (only when the status or a run
conclusion changed, so replayed or duplicated deliveries write nothing and notify nobody) and,
when a fold unblocked a waiting operation (the cleanup PR appeared, the cleanup run finished), a
continuation; the ``MessageBus`` runs them after the write (a continuation's failure is logged:
the fact is stored and the reconciler resumes later). Fetching a successful plan's JSON (and
cost) happens before the compare-and-swap, never inside it; so does reading the jobs of a run
that reports a new failure (when the host can list them: the ``RunJobs`` port), so the reply
names the job and step that failed and links that job's log.
``sync(id)`` is the reconciler's full refresh: it reads the PR, its reviews and the recorded
runs (conditional GETs in the GitHub client make an unchanged answer free) and folds them the
same way; for a destroy waiting on the cleanup workflow it also looks for the cleanup PR and the
cleanup run, so a lost webhook only delays it.

Over 400 lines (about 530): the reading of facts, the fold-and-store and the pure helpers that
shape what a fold commits (``_audit_events``, ``_tell``, ``failed_at``, at the bottom). Those
helpers can move to a file of their own; that move was left out of the engine change only for
lack of time to run the whole suite again after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.domain.cost import InvalidCost, parse_cost
from core.domain.destroy import merge_pending
from core.domain.errors import RequestArchived, RequestNotFound
from core.domain.events import NewEvent, emit_all, notice
from core.domain.facts import Fact, PullRequestFact, ReviewFact, RunFact
from core.domain.ids import cleanup_branch
from core.domain.lifecycle import FAILURE_CONCLUSIONS, derive_status
from core.domain.plan_summary import render_plan_text, summarize_plan
from core.domain.policy import plans_on_base
from core.domain.request import PlanSummary, Request, RunRef
from core.domain.status import Status
from core.domain.workflows import REQUEST_RUN_KINDS, RequestRunKind, WorkflowNames, request_run_kind
from core.ports.audit import AuditLog
from core.ports.clock import Clock
from core.ports.code_host import (
    CodeHost,
    CodeHostError,
    JobInfo,
    RemembersReads,
    RepoRef,
    ReviewInfo,
    RunInfo,
    RunJobs,
)
from core.ports.notifier import Notifier, Transition
from core.ports.request_store import RequestStore
from core.services.fold import Extras, Folded, fold
from core.services.messagebus import MessageBus
from core.services.operations import cleanup_waiter
from core.services.run_reports import with_reports
from core.services.runs import run_rejection

log = logging.getLogger(__name__)

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
_RUN_KINDS = REQUEST_RUN_KINDS
# Notices told on their own only when the status did not change (else they join its reply).
_ASIDE_NOTICES = frozenset({"pr_closed", "pr_reopened"})


class SyncOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    changed: bool
    previous_status: str | None = None
    status: str | None = None
    notified: bool = False
    reason: str = ""


@dataclass
class _Pass:
    """What one run of the mutation found (it may run again when writers race)."""

    folded: list[Folded] = field(default_factory=list)
    before: Status | None = None
    after: Status | None = None
    wrote: bool = False
    reasons: str = ""
    notified: bool = False


def _conclusions(request: Request) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for kind in _RUN_KINDS:
        run = request.run(kind)
        out[kind] = f"{run.run_id}:{run.conclusion}" if run is not None and run.conclusion else None
    return out


def repo_of(request: Request) -> RepoRef | None:
    if not request.target_owner or not request.target_repo:
        return None
    return RepoRef(owner=request.target_owner, name=request.target_repo)


class SyncService:
    def __init__(
        self,
        store: RequestStore,
        code_host: CodeHost,
        notifier: Notifier,
        audit: AuditLog,
        clock: Clock,
        workflows: WorkflowNames,
        *,
        summarize: Callable[[dict[str, Any]], PlanSummary] = summarize_plan,
        plan_text: Callable[[dict[str, Any]], str] = render_plan_text,
        bus: MessageBus | None = None,
    ) -> None:
        self._store = store
        self._code_host = code_host
        self._notifier = notifier
        self._audit = audit
        self._clock = clock
        self._workflows = workflows
        self._summarize = summarize
        self._plan_text = plan_text
        # The events each fold commits (audit, notices, continuations) run on the bus after the write.
        self._bus = bus or MessageBus(audit, notifier)

    # -- webhook facts ---------------------------------------------------------------------

    def apply_fact(self, fact: Fact, *, source: str = "webhook") -> SyncOutcome:
        """Fold one fact into its request. Unknown or archived requests are an outcome, not an error."""
        try:
            current = self._store.get(fact.request_id)
        except RequestNotFound:
            return SyncOutcome(request_id=fact.request_id, changed=False, reason="unknown request")
        if current.archived_at is not None:
            return SyncOutcome(request_id=fact.request_id, changed=False, reason="request is archived")
        extras = self._extras(current, [fact])
        facts = with_reports(current, [fact], self._code_host, repo_of(current), self._bus)
        return self._fold_and_store(current.id, facts, extras, source=source, actor=_actor_of(fact))

    # -- reconciler ------------------------------------------------------------------------

    def sync(self, request_id: str) -> Request:
        """Full refresh from the code host; folds what it finds and sets ``last_synced_at`` when
        it learnt something."""
        current = self._store.get(request_id)
        if current.archived_at is not None:
            return current
        repo = repo_of(current)
        facts: list[Fact] = []
        reads = dict(current.code_host_reads)
        if repo is not None:
            facts = with_reports(
                current, self._read_remembering(current, repo, reads), self._code_host, repo, self._bus
            )
        extras = self._extras(current, facts)
        new_reads = reads if reads != current.code_host_reads else None
        if new_reads is None and learns_nothing(current, facts, extras, self._clock.now()):
            # An idle refresh writes nothing: no document, no index entry, ``last_synced_at``
            # and ``updated_at`` left as they are (the reconciler's window claim records the check).
            return current
        self._fold_and_store(request_id, facts, extras, source="reconciler", actor=None, synced=True, reads=new_reads)
        return self._store.get(request_id)

    def _read_remembering(self, request: Request, repo: RepoRef, reads: dict[str, Any]) -> list[Fact]:
        """``_read_facts``, revalidating the answers kept on the document when the code host can
        (GitHub's ETags: an unchanged answer is a 304, free of rate limit, in any process)."""
        host = self._code_host
        if not isinstance(host, RemembersReads):
            return self._read_facts(request, repo)
        with host.remembering(reads):
            return self._read_facts(request, repo)

    def _read_facts(self, request: Request, repo: RepoRef) -> list[Fact]:
        rid = request.id
        facts: list[Fact] = []
        pr = None
        if request.pr is not None and request.pr.number is not None:
            pr = self._code_host.get_pull_request(repo, request.pr.number)
        elif request.branch_name and request.operation("create", request.idempotency_key or "") is not None:
            pr = self._code_host.find_pull_request(repo, request.branch_name)
        if pr is not None:
            facts.append(PullRequestFact(request_id=rid, action="sync", pr=pr))
            if pr.state == "open" and not pr.merged:
                reviews = sorted(self._code_host.list_reviews(repo, pr.number), key=_review_order)
                facts.extend(
                    ReviewFact(
                        request_id=rid,
                        action="dismissed" if r.state.upper() == "DISMISSED" else "submitted",
                        pr_number=pr.number,
                        review=r,
                    )
                    for r in reviews
                )
        cleanup = request.cleanup_pr
        waiter = cleanup_waiter(request)
        if cleanup is not None and cleanup.number is not None and not cleanup.merged:
            info = self._code_host.get_pull_request(repo, cleanup.number)
            facts.append(PullRequestFact(request_id=rid, action="sync", pr=info, cleanup=True))
        elif waiter is not None and cleanup is None:
            # The cleanup workflow's PR may exist while its webhook was lost.
            opened = self._code_host.find_pull_request(repo, cleanup_branch(rid))
            if opened is not None and (opened.state == "open" or opened.merged):
                facts.append(PullRequestFact(request_id=rid, action="sync", pr=opened, cleanup=True))
        step = waiter.steps.cleanup_run if waiter is not None else None
        if step is not None and step.conclusion is None:
            if step.run_id is not None:
                cleanup_run: RunInfo | None = self._code_host.get_run(repo, step.run_id)
            else:
                cleanup_run = self._code_host.find_run(
                    repo, self._workflows.cleanup, request_id=rid, ref=request.target_base
                )
            if cleanup_run is not None:
                facts.append(RunFact(request_id=rid, kind="cleanup", run=cleanup_run))
        for kind in _RUN_KINDS:
            run = request.run(kind)
            found: RunInfo | None = None
            if run is None or run.conclusion is not None:
                continue
            if run.run_id is None:
                # A plan after the merge is the drift re-plan, which runs on the base branch.
                on_branch = kind == "plan" and not plans_on_base(request)
                ref = request.branch_name if on_branch else request.target_base
                found = self._code_host.find_run(repo, self._workflows.file(kind), request_id=rid, ref=ref)
            else:
                found = self._code_host.get_run(repo, run.run_id)
            if found is not None:
                facts.append(RunFact(request_id=rid, kind=kind, run=found))
        return facts

    # -- shared ----------------------------------------------------------------------------

    def _extras(self, request: Request, facts: Sequence[Fact]) -> Extras | None:
        """Fetch the plan JSON (and cost) of a successful plan run whose summary we lack."""
        candidates: list[RunInfo] = [
            f.run for f in facts if isinstance(f, RunFact) and f.kind == "plan" and f.run.conclusion == "success"
        ]
        stored = request.plan_run
        if not candidates and stored is not None and stored.run_id is not None and stored.conclusion == "success":
            candidates.append(
                RunInfo(
                    run_id=stored.run_id,
                    url=stored.url or "",
                    status="completed",
                    conclusion="success",
                    head_sha=stored.head_sha,
                )
            )
        repo = repo_of(request)
        for run in candidates:
            if repo is None or run_rejection(request, "plan", run) is not None:
                continue
            if request.plan is not None and request.plan.run_id == run.run_id and request.plan.summary is not None:
                continue  # already summarised: a replay costs no call
            return self._fetch_plan(request, repo, run.run_id)
        return None

    def _fetch_plan(self, request: Request, repo: RepoRef, run_id: int) -> Extras | None:
        try:
            doc = self._code_host.get_plan_json(repo, run_id, request.id)
        except CodeHostError as exc:
            self._note(request, "plan_output_unavailable", run_id, str(exc))
            return None
        if doc is None:
            return None
        try:
            summary = self._summarize(doc)
            text = self._plan_text(doc)
        except ValueError as exc:  # InvalidPlan: the artifact is not a plan
            self._note(request, "plan_output_invalid", run_id, str(exc))
            return None
        cost = None
        try:
            cost_doc = self._code_host.get_cost_json(repo, run_id, request.id)
            cost = parse_cost(cost_doc) if cost_doc is not None else None
        except (CodeHostError, InvalidCost) as exc:
            log.warning("cost of run %s unavailable: %s", run_id, exc)
        # The local runner marks its plan documents: a preview computed from the Terraform,
        # not a plan against real infrastructure. Cards must say so.
        preview = doc.get("tfpilot_local_preview") is True
        reason = doc.get("tfpilot_preview_reason")
        return Extras(
            plan_run_id=run_id,
            plan_summary=summary,
            plan_text=text,
            cost=cost,
            preview=preview,
            preview_reason=reason if preview and isinstance(reason, str) else None,
        )

    def _note(self, request: Request, name: str, run_id: int, error: str) -> None:
        """A plan output that could not be used: recorded once per run and document version read
        (read before the write, which may write nothing)."""
        note = NewEvent(name=name, source="github", data={"runId": run_id, "error": error})
        self._bus.record(request.id, note, version=request.version, key=str(run_id))

    def _fold_and_store(
        self,
        request_id: str,
        facts: Sequence[Fact],
        extras: Extras | None,
        *,
        source: str,
        actor: str | None,
        synced: bool = False,
        reads: dict[str, Any] | None = None,
    ) -> SyncOutcome:
        now = self._clock.now()
        state = _Pass()
        # Read before the compare-and-swap, never inside it: where a newly failed run failed.
        failures = self._failure_details(request_id, facts)

        def mutate(request: Request) -> Request | None:
            self._bus.prune(request)
            state.before = derive_status(request)
            conclusions_before = _conclusions(request)
            state.folded = _fold_all(request, facts, extras, now)
            state.after = derive_status(request)
            state.wrote = any(f.changed for f in state.folded)
            if not state.wrote and not synced:
                return None
            if state.after.value != request.status or request.status_derived_at is None:
                request.status = state.after.value
                request.status_derived_at = now
            if synced and state.wrote:
                # Only a sync that learnt something: one that merely keeps new validators
                # (``reads``) leaves the index row as it is (no listed field changes).
                request.last_synced_at = now
            if reads is not None:
                request.code_host_reads = reads
            if state.wrote:
                failed = next(
                    (failures[i] for i, f in enumerate(state.folded) if i in failures and f.run_concluded), None
                )
                now_concluded = _conclusions(request)
                concluded = {k for k in _RUN_KINDS if now_concluded[k] != conclusions_before.get(k)}
                state.reasons = _reasons(state.folded, synced)
                events = _audit_events(state.folded, failed, actor=actor, source=source)
                told = _tell(state.folded, state.before, state.after, concluded, state.reasons, failed, actor)
                state.notified = bool(told)
                events.extend(notice(t) for t in told)
                if any(f.unblocked for f in state.folded):
                    # A waiting operation can go on: continued after the write (``MessageBus``).
                    events.append(NewEvent(name="operation_unblocked", audit=False, resume=True))
                emit_all(request, events, at=now)
            request.updated_at = now
            return request

        try:
            stored = self._store.update(request_id, mutate)
        except RequestArchived:
            return SyncOutcome(request_id=request_id, changed=False, reason="request is archived")
        folded = state.folded
        reasons = _reasons(folded, synced)
        before, after = state.before, state.after
        archive = any(f.archive for f in folded) or (
            derive_status(stored) is Status.DESTROYED and stored.archived_at is None and not merge_pending(stored)
        )
        self._bus.handle(stored)
        if not state.wrote or before is None or after is None:
            if archive:
                self._bus.archive(self._store, stored, source=source)
            return SyncOutcome(
                request_id=request_id,
                changed=False,
                previous_status=before.value if before else None,
                status=after.value if after else None,
                reason=reasons,
            )
        if archive:
            self._bus.archive(self._store, stored, source=source)
        return SyncOutcome(
            request_id=request_id,
            changed=True,
            previous_status=before.value,
            status=after.value,
            notified=state.notified,
            reason=reasons,
        )

    def _failure_details(self, request_id: str, facts: Sequence[Fact]) -> dict[int, FailedAt]:
        """Where each run fact that reports a failure the request does not know yet failed (its
        job and step), by the fact's index, when the code host can list a run's jobs. One read,
        only for a new failure (the fold decides whether it is one; a replay costs nothing)."""
        host = self._code_host
        candidates = [
            (i, f)
            for i, f in enumerate(facts)
            if isinstance(f, RunFact) and f.kind in _RUN_KINDS and f.run.conclusion in FAILURE_CONCLUSIONS
        ]
        if not candidates or not isinstance(host, RunJobs):
            return {}
        try:
            current = self._store.get(request_id)
        except RequestNotFound:
            return {}
        repo = repo_of(current)
        if repo is None:
            return {}
        out: dict[int, FailedAt] = {}
        for i, fact in candidates:
            kind = request_run_kind(fact.kind)
            known = current.run(kind) if kind is not None else None
            if known is not None and known.run_id == fact.run.run_id and known.conclusion == fact.run.conclusion:
                continue  # told already
            if run_rejection(current, fact.kind, fact.run) is not None:
                continue  # not this request's run: the fold ignores it
            try:
                jobs = host.list_jobs(repo, fact.run.run_id)
            except CodeHostError as exc:
                log.warning("jobs of run %s unavailable: %s", fact.run.run_id, exc)
                return out
            found = failed_at(fact.kind, jobs)
            if found is not None:
                out[i] = found
            return out  # the first new failure is the one told
        return out


def _reasons(folded: Sequence[Folded], synced: bool) -> str:
    return "; ".join(f.reason for f in folded if f.reason) or ("refreshed" if synced else "nothing to fold")


def _audit_events(
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


def _tell(
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


def _fold_all(request: Request, facts: Sequence[Fact], extras: Extras | None, now: datetime) -> list[Folded]:
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
    return not any(f.changed or f.archive or f.unblocked for f in _fold_all(trial, facts, extras, now))


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


def _review_order(review: ReviewInfo) -> tuple[str, int]:
    return (review.submitted_at.isoformat() if review.submitted_at else "", review.id)


def _actor_of(fact: Fact) -> str | None:
    if isinstance(fact, ReviewFact):
        return fact.review.user_login
    return None
