"""Re-aim a shared octokit delivery (a copy) at a TfPilot request: ids, names and branches only.

The octokit examples come from ordinary repositories, so unchanged they are "not ours". For
"ours" we rewrite just what says which request a delivery concerns (a TfPilot workflow path and
a run name carrying the id, or a ``request/<id>`` head branch of the same repository), keeping
GitHub's real payload shape for everything else.
"""

from __future__ import annotations

from typing import Any

# Every shared delivery and the X-GitHub-Event header GitHub sends with it.
from tests.webhooks.conftest import EVENT_OF_FILE

__all__ = ["EVENT_OF_FILE", "aim_at"]

REPO = "acme/infra"


def _repo(part: dict[str, Any] | None) -> dict[str, Any]:
    part = dict(part or {})
    part.update(full_name=REPO, name=REPO.split("/")[1])
    return part


def aim_at(
    event: str,
    payload: dict[str, Any],
    request_id: str,
    *,
    workflow: str = "plan.yml",
    run_id: int | None = None,
    pr_number: int | None = None,
    head_sha: str | None = None,
) -> dict[str, Any]:
    """``payload`` re-aimed at ``request_id``; with ``run_id``/``pr_number``/``head_sha`` also at
    the request's own run, PR and commit (so the fact lands instead of being told apart)."""
    if event == "workflow_run":
        run = payload["workflow_run"]
        run.update(
            path=f".github/workflows/{workflow}",
            display_title=f"{workflow.removesuffix('.yml')} {request_id}",
            head_branch=f"request/{request_id}",
            head_repository=_repo(run.get("head_repository")),
            repository=_repo(run.get("repository")),
        )
        if run_id is not None:
            run["id"] = run_id
        if head_sha is not None:
            run["head_sha"] = head_sha
        if isinstance(payload.get("workflow"), dict):
            payload["workflow"]["path"] = f".github/workflows/{workflow}"
    elif event in ("pull_request", "pull_request_review"):
        pr = payload["pull_request"]
        pr["head"] = {**pr["head"], "ref": f"request/{request_id}", "repo": _repo(pr["head"].get("repo"))}
        pr["base"] = {**pr["base"], "repo": _repo(pr["base"].get("repo"))}
        if pr_number is not None:
            pr["number"] = pr_number
        if head_sha is not None:
            pr["head"]["sha"] = head_sha
            if isinstance(payload.get("review"), dict):
                payload["review"]["commit_id"] = head_sha
    else:
        raise ValueError(f"{event} deliveries are never about a request")
    payload["repository"] = _repo(payload.get("repository"))
    return payload
