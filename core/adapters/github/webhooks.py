"""Webhook parsing: one GitHub delivery becomes a fact about one request, or ``NotOurs``.

Pure and total: it reads the event name and the JSON body (already signature-checked by the
web layer) and never raises. ``workflow_run`` deliveries of TfPilot's workflows become
``RunFact`` (the request is found by the id in the run-name, else the ``request/<id>`` branch);
``pull_request`` and ``pull_request_review`` deliveries on ``request/<id>`` or ``cleanup/<id>``
branches become ``PullRequestFact`` / ``ReviewFact``. Everything else, including malformed
bodies and work from forks, is ``NotOurs`` with a reason fit for a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from core.adapters.github.payloads import (
    PullRequestDelivery,
    PullRequestPart,
    PullRequestReviewDelivery,
    RepositoryPart,
    WorkflowRunDelivery,
)
from core.domain.facts import Fact, NotOurs, PullRequestFact, ReviewFact, RunFact
from core.domain.ids import request_id_from_branch, request_id_in_text
from core.domain.workflows import WorkflowNames
from core.ports.code_host import PullRequestInfo, ReviewInfo, RunInfo

TRACKED_EVENTS = ("workflow_run", "pull_request", "pull_request_review")
_MAX_QUOTED = 80  # payload values quoted in a reason are cut: reasons go to logs
_MAX_ERRORS = 3
_GHOST_LOGIN = "ghost"  # how GitHub shows a deleted account


def parse_delivery(
    event: str,
    payload: dict[str, Any],
    *,
    workflows: WorkflowNames,
    delivery_id: str | None = None,
) -> Fact | NotOurs:
    """The fact ``payload`` (the body of an ``X-GitHub-Event: event`` delivery) states."""
    event_name = event if isinstance(event, str) else repr(event)
    if event_name not in TRACKED_EVENTS:
        return NotOurs(event=_cut(event_name), reason=f"event {_quote(event_name)} is not tracked")
    if not isinstance(payload, Mapping):
        return NotOurs(event=event_name, reason=f"malformed {event_name} payload: not a JSON object")
    try:
        if event_name == "workflow_run":
            return _workflow_run(WorkflowRunDelivery.model_validate(payload), workflows, delivery_id)
        if event_name == "pull_request":
            return _pull_request(PullRequestDelivery.model_validate(payload), delivery_id)
        return _review(PullRequestReviewDelivery.model_validate(payload), delivery_id)
    except ValidationError as exc:
        return NotOurs(event=event_name, reason=f"malformed {event_name} payload: {_describe(exc)}")


def _workflow_run(delivery: WorkflowRunDelivery, workflows: WorkflowNames, delivery_id: str | None) -> Fact | NotOurs:
    event = "workflow_run"
    run = delivery.workflow_run
    path = run.path or (delivery.workflow.path if delivery.workflow else None)
    # Some runs report the path with the ref it ran from ("plan.yml@refs/heads/main").
    workflow_file = path.split("@", 1)[0].rsplit("/", 1)[-1] if path else None
    kind = workflows.kind_of(workflow_file)
    if kind is None:
        return NotOurs(event=event, reason=f"workflow {_quote(path)} is not a TfPilot workflow")
    if _from_fork(run.head_repository, delivery.repository):
        fork = run.head_repository.full_name if run.head_repository else None
        return NotOurs(event=event, reason=f"run of {workflow_file} comes from a fork ({_quote(fork)})")
    title = run.display_title or run.name
    request_id = (
        request_id_in_text(run.display_title) or request_id_in_text(run.name) or request_id_from_branch(run.head_branch)
    )
    if request_id is None:
        return NotOurs(
            event=event,
            reason=f"no request id in run name {_quote(title)} or branch {_quote(run.head_branch)}",
        )
    info = RunInfo(
        run_id=run.id,
        url=run.html_url,
        status=run.status,
        conclusion=run.conclusion,
        head_sha=run.head_sha,
        head_branch=run.head_branch,
        workflow=workflow_file,
        name=title,
        event=run.event,
        created_at=run.created_at,
        updated_at=run.updated_at,
    )
    return RunFact(request_id=request_id, delivery_id=delivery_id, kind=kind, run=info)


def _pull_request(delivery: PullRequestDelivery, delivery_id: str | None) -> Fact | NotOurs:
    event = "pull_request"
    pr = delivery.pull_request
    request_id = _our_branch(event, pr)
    if isinstance(request_id, NotOurs):
        return request_id
    return PullRequestFact(
        request_id=request_id,
        delivery_id=delivery_id,
        action=delivery.action,
        pr=_pr_info(pr),
        cleanup=pr.head.ref.startswith(("cleanup/", "destroy/")),
    )


def _review(delivery: PullRequestReviewDelivery, delivery_id: str | None) -> Fact | NotOurs:
    event = "pull_request_review"
    pr = delivery.pull_request
    request_id = _our_branch(event, pr)
    if isinstance(request_id, NotOurs):
        return request_id
    if pr.head.ref.startswith("cleanup/"):
        # Approval belongs to the request's own PR; reviews of the cleanup PR change nothing.
        return NotOurs(event=event, reason=f"review on cleanup pull request #{pr.number} is not tracked")
    review = delivery.review
    info = ReviewInfo(
        id=review.id,
        user_login=review.user.login if review.user else _GHOST_LOGIN,
        # Webhooks say "approved"/"changes_requested"; REST (and ReviewInfo) use upper case.
        state=review.state.upper(),
        commit_id=review.commit_id,
        submitted_at=review.submitted_at,
    )
    return ReviewFact(
        request_id=request_id, delivery_id=delivery_id, action=delivery.action, pr_number=pr.number, review=info
    )


def _our_branch(event: str, pr: PullRequestPart) -> str | NotOurs:
    """The request id of the PR's head branch, or why the PR is not ours."""
    request_id = request_id_from_branch(pr.head.ref)
    if request_id is None:
        return NotOurs(event=event, reason=f"branch {_quote(pr.head.ref)} is not a request or cleanup branch")
    head_repo, base_repo = pr.head.repo, pr.base.repo
    # A fork may name its branch request/<id>; only branches of the infra repo itself count.
    if head_repo is None:
        return NotOurs(event=event, reason=f"pull request #{pr.number} comes from a deleted fork")
    if _from_fork(head_repo, base_repo):
        return NotOurs(
            event=event, reason=f"pull request #{pr.number} comes from a fork ({_quote(head_repo.full_name)})"
        )
    return request_id


def _pr_info(pr: PullRequestPart) -> PullRequestInfo:
    return PullRequestInfo(
        number=pr.number,
        url=pr.html_url,
        state=pr.state,
        merged=bool(pr.merged),
        head_sha=pr.head.sha,
        head_ref=pr.head.ref,
        base_ref=pr.base.ref,
        merge_commit_sha=pr.merge_commit_sha,
        merged_at=pr.merged_at,
        closed_at=pr.closed_at,
        mergeable_state=pr.mergeable_state,
        title=pr.title,
    )


def _from_fork(head: RepositoryPart | None, base: RepositoryPart | None) -> bool:
    if head is None or base is None or head.full_name is None or base.full_name is None:
        return False
    return head.full_name.lower() != base.full_name.lower()


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:_MAX_ERRORS]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{_cut(where)}: {error['msg']}")
    more = exc.error_count() - _MAX_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"


def _quote(value: str | None) -> str:
    return "none" if value is None else repr(_cut(value))
