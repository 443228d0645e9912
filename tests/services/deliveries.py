"""Real GitHub webhook deliveries (octokit fixtures), re-aimed at a request in the fake host.

Each builder deep-copies a fixture from ``tests/fixtures/github/webhooks/`` and sets only
the fields that say which run/PR/review it is (ids, names, branches, SHAs, states), so parsing
sees GitHub's real payload shape.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from core.ports.code_host import ReviewInfo
from tests.conftest import SHARED_FIXTURES
from tests.services.fake_code_host import FakeCodeHost, Run

WEBHOOKS = SHARED_FIXTURES / "github" / "webhooks"
RUN_FIXTURES = {
    "requested": "octokit__workflow_run_requested.payload.json",
    "in_progress": "octokit-webhooks.net__workflow_run_in_progress.payload.json",
    "completed": "octokit__workflow_run_completed.payload.json",
}
PR_FIXTURES = {
    "opened": "octokit__pull_request_opened.payload.json",
    "synchronize": "octokit__pull_request_synchronize.payload.json",
    "closed": "octokit__pull_request_closed.payload.json",
}
REVIEW_FIXTURES = {
    "submitted": "octokit__pull_request_review_submitted.payload.json",
    "dismissed": "octokit__pull_request_review_dismissed.payload.json",
}


@cache
def _fixture(name: str) -> str:
    return (WEBHOOKS / name).read_text()


def load(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(_fixture(name)))


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _repo_part(part: dict[str, Any] | None, full_name: str) -> dict[str, Any]:
    part = dict(part or {})
    name = full_name.split("/", 1)[1]
    part.update(full_name=full_name, name=name)
    return part


def workflow_run(run: Run, *, repo: str = "acme/infra") -> tuple[str, dict[str, Any]]:
    """The ``workflow_run`` delivery GitHub sends for ``run`` in its current state."""
    status = run.status if run.status in RUN_FIXTURES else "requested"
    payload = load(RUN_FIXTURES[status])
    payload["action"] = {"requested": "requested", "in_progress": "in_progress", "completed": "completed"}[status]
    wr = payload["workflow_run"]
    wr.update(
        id=run.run_id,
        name=run.workflow.removesuffix(".yml"),
        display_title=run.name,
        path=f".github/workflows/{run.workflow}",
        head_branch=run.ref,
        head_sha=run.head_sha,
        status=run.status,
        conclusion=run.conclusion,
        html_url=f"https://github.com/{repo}/actions/runs/{run.run_id}",
        event="workflow_dispatch",
        created_at=_iso(run.created_at),
        updated_at=_iso(run.updated_at),
        head_repository=_repo_part(wr.get("head_repository"), repo),
        repository=_repo_part(wr.get("repository"), repo),
    )
    if isinstance(payload.get("workflow"), dict):
        payload["workflow"]["path"] = f".github/workflows/{run.workflow}"
    payload["repository"] = _repo_part(payload.get("repository"), repo)
    return "workflow_run", payload


def _pr_part(host: FakeCodeHost, ref: Any, number: int, base: dict[str, Any]) -> dict[str, Any]:
    info = host.pr_info(ref, number)
    part = copy.deepcopy(base)
    part.update(
        number=number,
        html_url=info.url,
        state=info.state,
        merged=info.merged,
        merge_commit_sha=info.merge_commit_sha,
        merged_at=_iso(info.merged_at),
        closed_at=_iso(info.closed_at),
        title=info.title,
    )
    part["head"] = {
        **part["head"],
        "ref": info.head_ref,
        "sha": info.head_sha,
        "repo": _repo_part(part["head"].get("repo"), ref.full_name),
    }
    part["base"] = {**part["base"], "ref": info.base_ref, "repo": _repo_part(part["base"].get("repo"), ref.full_name)}
    return part


def pull_request(host: FakeCodeHost, ref: Any, number: int, action: str) -> tuple[str, dict[str, Any]]:
    payload = load(PR_FIXTURES[action])
    payload["number"] = number
    payload["pull_request"] = _pr_part(host, ref, number, payload["pull_request"])
    payload["repository"] = _repo_part(payload.get("repository"), ref.full_name)
    return "pull_request", payload


def review(
    host: FakeCodeHost, ref: Any, number: int, info: ReviewInfo, action: str = "submitted"
) -> tuple[str, dict[str, Any]]:
    payload = load(REVIEW_FIXTURES[action])
    payload["action"] = action
    payload["pull_request"] = _pr_part(host, ref, number, payload["pull_request"])
    payload["pull_request"]["merged"] = None  # review deliveries do not carry it
    payload["review"].update(
        id=info.id,
        state=info.state.lower(),  # webhooks say "approved", REST says "APPROVED"
        commit_id=info.commit_id,
        submitted_at=_iso(info.submitted_at),
    )
    payload["review"]["user"] = {**(payload["review"].get("user") or {}), "login": info.user_login}
    payload["repository"] = _repo_part(payload.get("repository"), ref.full_name)
    return "pull_request_review", payload


def exists() -> bool:
    return Path(WEBHOOKS).is_dir()
