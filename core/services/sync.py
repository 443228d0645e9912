"""``SyncService``: GitHub facts in, request state out.

A webhook (or the local runner, or the reconciler's refresh) states a fact about one request;
``apply_fact`` reads what the fact makes due and runs the aggregate's fold
(``core.domain.fold_told.fold_facts``, folding each fact with ``core.domain.folding``) inside the
store's compare-and-swap; the fold derives the status. What the fold did is committed in the same write as domain events
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

The fold is domain logic (``core.domain``: what a fact changes, the events it commits, where a
failed run failed, why a fact changed nothing as a typed ``FactReason``); this module reads
facts, runs the fold inside the write and hands the committed events to the ``MessageBus``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.domain.cost import InvalidCost, parse_cost
from core.domain.destroy import merge_pending
from core.domain.errors import RequestArchived, RequestNotFound
from core.domain.events import NewEvent
from core.domain.fact_reasons import FactCode, FactReason, JobFailure, said
from core.domain.facts import Fact, ReviewFact, RunFact
from core.domain.fold_told import FoldPass, failed_at, fold_facts, learns_nothing, reasons
from core.domain.folding import Extras
from core.domain.lifecycle import FAILURE_CONCLUSIONS, derive_status
from core.domain.plan_summary import render_plan_text, summarize_plan
from core.domain.request import PlanSummary, Request
from core.domain.runs import run_rejection
from core.domain.status import Status
from core.domain.workflows import REQUEST_RUN_KINDS, WorkflowNames, request_run_kind
from core.ports.audit import AuditLog
from core.ports.clock import Clock
from core.ports.code_host import (
    CodeHost,
    CodeHostError,
    RemembersReads,
    RepoRef,
    RunInfo,
    RunJobs,
)
from core.ports.notifier import Notifier
from core.ports.request_store import RequestStore
from core.services.fact_reads import read_facts
from core.services.messagebus import MessageBus
from core.services.run_reports import with_reports

log = logging.getLogger(__name__)

_ARCHIVED = (said(FactCode.REQUEST_ARCHIVED),)


class SyncOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    changed: bool
    previous_status: str | None = None
    status: str | None = None
    notified: bool = False
    # What the folds did, or why nothing changed (said by ``bot.views.fact_text.outcome_text``).
    reasons: tuple[FactReason, ...] = ()


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
            # What this process last wrote or read of the request, when it has it (no GET): the
            # fold's compare-and-swap decides on the stored version, and a stale copy costs one
            # 412 and a read there. It only chooses what to fetch from the code host first.
            current = self._store.recent(fact.request_id)
        except RequestNotFound:
            return SyncOutcome(request_id=fact.request_id, changed=False, reasons=(said(FactCode.UNKNOWN_REQUEST),))
        if current.archived_at is not None:
            return SyncOutcome(request_id=fact.request_id, changed=False, reasons=_ARCHIVED)
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
        return read_facts(self._code_host, self._workflows, request, repo)

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
        passes: list[FoldPass] = []
        # Read before the compare-and-swap, never inside it: where a newly failed run failed.
        failures = self._failure_details(request_id, facts)

        def mutate(request: Request) -> Request | None:
            self._bus.prune(request)
            done = fold_facts(
                request,
                facts,
                now=now,
                extras=extras,
                failures=failures,
                actor=actor,
                source=source,
                synced=synced,
                reads=reads,
            )
            passes[:] = [done]  # the last run of the mutation is the one the store kept
            return request if done.wrote or synced else None

        try:
            stored = self._store.update(request_id, mutate)
        except RequestArchived:
            return SyncOutcome(request_id=request_id, changed=False, reasons=_ARCHIVED)
        state = passes[-1] if passes else None
        folded = state.folded if state is not None else []
        said_by_folds = state.reasons if state is not None else reasons(folded, synced)
        before, after = (state.before, state.after) if state is not None else (None, None)
        archive = any(f.archive for f in folded) or (
            derive_status(stored) is Status.DESTROYED and stored.archived_at is None and not merge_pending(stored)
        )
        self._bus.handle(stored)
        if state is None or not state.wrote or before is None or after is None:
            if archive:
                self._bus.archive(self._store, stored, source=source)
            return SyncOutcome(
                request_id=request_id,
                changed=False,
                previous_status=before.value if before else None,
                status=after.value if after else None,
                reasons=said_by_folds,
            )
        if archive:
            self._bus.archive(self._store, stored, source=source)
        return SyncOutcome(
            request_id=request_id,
            changed=True,
            previous_status=before.value,
            status=after.value,
            notified=state.notified,
            reasons=said_by_folds,
        )

    def _failure_details(self, request_id: str, facts: Sequence[Fact]) -> dict[int, JobFailure]:
        """Where each run fact that reports a failure the request does not know yet failed (its
        job and step), by the fact's index, when the code host can list a run's jobs. One read,
        only for a new failure (the fold decides whether it is one; a replay costs nothing)."""
        host = self._code_host
        candidates = [
            (i, f)
            for i, f in enumerate(facts)
            if isinstance(f, RunFact) and f.kind in REQUEST_RUN_KINDS and f.run.conclusion in FAILURE_CONCLUSIONS
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
        out: dict[int, JobFailure] = {}
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


def _actor_of(fact: Fact) -> str | None:
    if isinstance(fact, ReviewFact):
        return fact.review.user_login
    return None
