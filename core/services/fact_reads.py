"""Reading a request's facts from the code host (``SyncService.sync``, the reconciler's refresh)."""

from __future__ import annotations

from core.domain.cleanup_wait import cleanup_waiter
from core.domain.facts import Fact, PullRequestFact, ReviewFact, RunFact
from core.domain.ids import cleanup_branch
from core.domain.policy import plans_on_base
from core.domain.request import Request
from core.domain.workflows import REQUEST_RUN_KINDS, WorkflowNames
from core.ports.code_host import CodeHost, RepoRef, ReviewInfo, RunInfo


def read_facts(host: CodeHost, workflows: WorkflowNames, request: Request, repo: RepoRef) -> list[Fact]:
    """What the code host says now of ``request``: its PR (and the PR's reviews while open), a
    waiting legacy destroy's cleanup PR and run, and each recorded run still unfinished (found by
    the request id in its run-name when its id is unknown). Reads only; the caller folds them."""
    rid = request.id
    facts: list[Fact] = []
    pr = None
    if request.pr is not None and request.pr.number is not None:
        pr = host.get_pull_request(repo, request.pr.number)
    elif request.branch_name and request.operation("create", request.idempotency_key or "") is not None:
        pr = host.find_pull_request(repo, request.branch_name)
    if pr is not None:
        facts.append(PullRequestFact(request_id=rid, action="sync", pr=pr))
        if pr.state == "open" and not pr.merged:
            reviews = sorted(host.list_reviews(repo, pr.number), key=_review_order)
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
        info = host.get_pull_request(repo, cleanup.number)
        facts.append(PullRequestFact(request_id=rid, action="sync", pr=info, cleanup=True))
    elif waiter is not None and cleanup is None:
        # The cleanup workflow's PR may exist while its webhook was lost.
        opened = host.find_pull_request(repo, cleanup_branch(rid))
        if opened is not None and (opened.state == "open" or opened.merged):
            facts.append(PullRequestFact(request_id=rid, action="sync", pr=opened, cleanup=True))
    step = waiter.steps.cleanup_run if waiter is not None else None
    if step is not None and step.conclusion is None:
        if step.run_id is not None:
            cleanup_run: RunInfo | None = host.get_run(repo, step.run_id)
        else:
            cleanup_run = host.find_run(repo, workflows.cleanup, request_id=rid, ref=request.target_base)
        if cleanup_run is not None:
            facts.append(RunFact(request_id=rid, kind="cleanup", run=cleanup_run))
    for kind in REQUEST_RUN_KINDS:
        run = request.run(kind)
        found: RunInfo | None = None
        if run is None or run.conclusion is not None:
            continue
        if run.run_id is None:
            # A plan after the merge is the drift re-plan, which runs on the base branch.
            on_branch = kind == "plan" and not plans_on_base(request)
            ref = request.branch_name if on_branch else request.target_base
            found = host.find_run(repo, workflows.file(kind), request_id=rid, ref=ref)
        else:
            found = host.get_run(repo, run.run_id)
        if found is not None:
            facts.append(RunFact(request_id=rid, kind=kind, run=found))
    return facts


def _review_order(review: ReviewInfo) -> tuple[str, int]:
    return (review.submitted_at.isoformat() if review.submitted_at else "", review.id)
