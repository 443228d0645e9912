"""Pure mapping from GitHub REST JSON to the ``CodeHost`` port's models, and the checks on
names we put into API paths. No I/O: fed with already-parsed JSON."""

from __future__ import annotations

import re
from typing import Any

from core.domain.ids import REQUEST_ID_IN_TEXT_RE
from core.ports.code_host import (
    CodeHostError,
    JobInfo,
    JobStepInfo,
    PullRequestInfo,
    RepoRef,
    ReviewInfo,
    RunInfo,
)

# GitHub account and repository names: letters, digits, '-', '_' and '.' (never '..').
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_BAD_REF_RE = re.compile(r"(\.\.|@\{|//|[\x00-\x20~^:?*\[\\\x7f])")


def check_repo(repo: RepoRef) -> None:
    for part in (repo.owner, repo.name):
        if not _REPO_PART_RE.match(part) or part in (".", ".."):
            raise CodeHostError(f"invalid repository name {repo.full_name!r}")


def check_branch(branch: str) -> None:
    """Git's ref-name rules, enough to keep a branch name from changing the API path."""
    if (
        not branch
        or len(branch) > 250
        or branch.startswith(("/", "-", "refs/"))
        or branch.endswith(("/", ".", ".lock"))
        or _BAD_REF_RE.search(branch)
    ):
        raise CodeHostError(f"invalid branch name {branch!r}")


def check_file_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts) or "\x00" in path:
        raise CodeHostError(f"invalid file path {path!r}")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def pull_request(data: Any) -> PullRequestInfo:
    """From a ``pull-request`` (GET/POST) or a ``pull-request-simple`` (list) document."""
    pr = _dict(data)
    head = _dict(pr.get("head"))
    base = _dict(pr.get("base"))
    merged_at = pr.get("merged_at")
    merged = bool(pr.get("merged")) or merged_at is not None
    return PullRequestInfo(
        number=int(pr["number"]),
        url=str(pr.get("html_url") or pr.get("url") or ""),
        state="closed" if pr.get("state") == "closed" else "open",
        merged=merged,
        head_sha=str(head.get("sha") or ""),
        head_ref=str(head.get("ref") or ""),
        base_ref=str(base.get("ref") or ""),
        # GitHub fills merge_commit_sha with a test-merge commit while the PR is open.
        merge_commit_sha=pr.get("merge_commit_sha") if merged else None,
        merged_at=merged_at,
        closed_at=pr.get("closed_at"),
        mergeable_state=pr.get("mergeable_state"),
        title=pr.get("title"),
    )


def review(data: Any) -> ReviewInfo:
    item = _dict(data)
    user = _dict(item.get("user"))
    return ReviewInfo(
        id=int(item["id"]),
        user_login=str(user.get("login") or "ghost"),
        state=str(item.get("state") or "").upper(),
        commit_id=item.get("commit_id"),
        submitted_at=item.get("submitted_at"),
    )


def workflow_file(path: Any) -> str | None:
    """``.github/workflows/plan.yml`` (possibly ``@refs/heads/main``) -> ``plan.yml``."""
    if not isinstance(path, str) or not path:
        return None
    return path.split("@", 1)[0].rsplit("/", 1)[-1] or None


def run(data: Any, *, web_url: str | None = None, repo: RepoRef | None = None) -> RunInfo:
    item = _dict(data)
    run_id = int(item["id"])
    url = item.get("html_url")
    if not url and web_url and repo is not None:
        url = f"{web_url}/{repo.full_name}/actions/runs/{run_id}"
    return RunInfo(
        run_id=run_id,
        url=str(url or ""),
        status=str(item.get("status") or "queued"),
        conclusion=item.get("conclusion"),
        head_sha=item.get("head_sha"),
        head_branch=item.get("head_branch"),
        workflow=workflow_file(item.get("path")),
        name=item.get("display_title") or item.get("name"),
        event=item.get("event"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
    )


def run_mentions(data: Any, request_id: str) -> bool:
    """Whether the run's run-name (``display_title``) or name holds exactly ``request_id``."""
    item = _dict(data)
    for key in ("display_title", "name"):
        text = item.get(key)
        if isinstance(text, str) and request_id in REQUEST_ID_IN_TEXT_RE.findall(text):
            return True
    return False


def job(data: Any) -> JobInfo:
    """From a ``job`` document (``GET .../actions/runs/{run_id}/jobs``)."""
    item = _dict(data)
    steps = [_dict(step) for step in item.get("steps") or [] if isinstance(step, dict)]
    return JobInfo(
        id=int(item["id"]),
        name=str(item.get("name") or ""),
        url=str(item.get("html_url") or item.get("url") or ""),
        status=str(item.get("status") or "queued"),
        conclusion=item.get("conclusion"),
        steps=tuple(
            JobStepInfo(
                number=int(step.get("number") or 0),
                name=str(step.get("name") or ""),
                status=str(step.get("status") or "queued"),
                conclusion=step.get("conclusion"),
            )
            for step in steps
        ),
    )
