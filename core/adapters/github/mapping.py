"""Pure mapping from GitHub REST JSON to the ``CodeHost`` port's models, and the checks on
names we put into API paths. No I/O: fed with already-parsed JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

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

T = TypeVar("T")

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


def _id(item: dict[str, Any], key: str, what: str) -> int:
    """A required integer of a GitHub document; anything else is GitHub (or a proxy in front of
    it, or a wrong API URL) answering something we cannot read: a clear error, not a crash."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodeHostError(f"GitHub returned a {what} without a numeric {key!r}: is TFPILOT_GITHUB_API_URL right?")
    return value


def _model(build: Callable[[], T], what: str) -> T:
    try:
        return build()
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else "?"
        raise CodeHostError(f"GitHub returned a {what} with an unreadable {field!r}") from None


def pull_request(data: Any) -> PullRequestInfo:
    """From a ``pull-request`` (GET/POST) or a ``pull-request-simple`` (list) document."""
    pr = _dict(data)
    head = _dict(pr.get("head"))
    base = _dict(pr.get("base"))
    merged_at = pr.get("merged_at")
    merged = bool(pr.get("merged")) or merged_at is not None
    number = _id(pr, "number", "pull request")
    return _model(lambda: _pull_request(pr, head, base, number, merged, merged_at), "pull request")


def _pull_request(
    pr: dict[str, Any], head: dict[str, Any], base: dict[str, Any], number: int, merged: bool, merged_at: Any
) -> PullRequestInfo:
    return PullRequestInfo(
        number=number,
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
    review_id = _id(item, "id", "review")
    return _model(
        lambda: ReviewInfo(
            id=review_id,
            user_login=str(user.get("login") or "ghost"),
            state=str(item.get("state") or "").upper(),
            commit_id=item.get("commit_id"),
            submitted_at=item.get("submitted_at"),
        ),
        "review",
    )


def workflow_file(path: Any) -> str | None:
    """``.github/workflows/plan.yml`` (possibly ``@refs/heads/main``) -> ``plan.yml``."""
    if not isinstance(path, str) or not path:
        return None
    return path.split("@", 1)[0].rsplit("/", 1)[-1] or None


def run(data: Any, *, web_url: str | None = None, repo: RepoRef | None = None) -> RunInfo:
    item = _dict(data)
    run_id = _id(item, "id", "workflow run")
    url = item.get("html_url")
    if not url and web_url and repo is not None:
        url = f"{web_url}/{repo.full_name}/actions/runs/{run_id}"
    return _model(lambda: _run(item, run_id, url), "workflow run")


def _run(item: dict[str, Any], run_id: int, url: Any) -> RunInfo:
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
    job_id = _id(item, "id", "job")
    return _model(lambda: _job(item, steps, job_id), "job")


def _job(item: dict[str, Any], steps: list[dict[str, Any]], job_id: int) -> JobInfo:
    return JobInfo(
        id=job_id,
        name=str(item.get("name") or ""),
        url=str(item.get("html_url") or item.get("url") or ""),
        status=str(item.get("status") or "queued"),
        conclusion=item.get("conclusion"),
        steps=tuple(
            JobStepInfo(
                number=step["number"] if isinstance(step.get("number"), int) else 0,
                name=str(step.get("name") or ""),
                status=str(step.get("status") or "queued"),
                conclusion=step.get("conclusion"),
            )
            for step in steps
        ),
    )
