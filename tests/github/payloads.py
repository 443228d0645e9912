"""Minimal GitHub REST response bodies shaped like the description's schemas."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

API = "https://api.github.com/repos/acme/infra"
WEB = "https://github.com/acme/infra"


def sha(char: str) -> str:
    return char * 40


def ref(branch: str, commit: str) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": "REF_x",
        "url": f"{API}/git/refs/heads/{branch}",
        "object": {"type": "commit", "sha": commit, "url": f"{API}/git/commits/{commit}"},
    }


def commit(commit_sha: str, tree: str, parents: list[str]) -> dict[str, Any]:
    return {
        "sha": commit_sha,
        "node_id": "C_x",
        "url": f"{API}/git/commits/{commit_sha}",
        "html_url": f"{WEB}/commit/{commit_sha}",
        "message": "tfpilot",
        "tree": {"sha": tree, "url": f"{API}/git/trees/{tree}"},
        "parents": [{"sha": p, "url": f"{API}/git/commits/{p}", "html_url": f"{WEB}/commit/{p}"} for p in parents],
    }


def tree(tree_sha: str) -> dict[str, Any]:
    return {"sha": tree_sha, "url": f"{API}/git/trees/{tree_sha}", "tree": [], "truncated": False}


def pull(
    number: int,
    *,
    head_sha: str,
    head: str = "request/req_abc123def456",
    base: str = "main",
    state: str = "open",
    merged: bool = False,
    mergeable_state: str = "clean",
    labels: list[str] | None = None,
    merge_commit_sha: str | None = None,
) -> dict[str, Any]:
    return {
        "number": number,
        "html_url": f"{WEB}/pull/{number}",
        "url": f"{API}/pulls/{number}",
        "state": state,
        "title": "tfpilot: s3-bucket in dev",
        "merged": merged,
        "merged_at": "2026-11-26T10:00:00Z" if merged else None,
        "closed_at": "2026-11-26T10:00:00Z" if state == "closed" else None,
        "merge_commit_sha": merge_commit_sha or sha("m"),
        "mergeable_state": mergeable_state,
        "labels": [{"id": i, "name": name} for i, name in enumerate(labels or [])],
        "head": {"ref": head, "sha": head_sha, "label": f"acme:{head}"},
        "base": {"ref": base, "sha": sha("b"), "label": f"acme:{base}"},
    }


def run(
    run_id: int,
    *,
    title: str,
    status: str = "queued",
    conclusion: str | None = None,
    branch: str = "request/req_abc123def456",
    workflow: str = "plan.yml",
    created_at: str = "2026-11-26T09:00:05Z",
) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": "Plan",
        "display_title": title,
        "status": status,
        "conclusion": conclusion,
        "head_branch": branch,
        "head_sha": sha("h"),
        "path": f".github/workflows/{workflow}",
        "event": "workflow_dispatch",
        "html_url": f"{WEB}/actions/runs/{run_id}",
        "created_at": created_at,
        "updated_at": created_at,
    }


def review(review_id: int, *, login: str, state: str, commit_id: str) -> dict[str, Any]:
    return {
        "id": review_id,
        "user": {"login": login, "id": 1},
        "body": "",
        "state": state,
        "commit_id": commit_id,
        "submitted_at": "2026-11-26T09:30:00Z",
        "html_url": f"{WEB}/pull/7#pullrequestreview-{review_id}",
    }


def blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def content_file(path: str, text: str, *, ref: str = "main") -> dict[str, Any]:
    """A ``content-file`` (GET contents of a file); base64 wrapped every 60 characters like GitHub."""
    encoded = base64.b64encode(text.encode()).decode()
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(text.encode()),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
        "sha": blob_sha(text),
        "url": f"{API}/contents/{path}?ref={ref}",
        "git_url": f"{API}/git/blobs/{blob_sha(text)}",
        "html_url": f"{WEB}/blob/{ref}/{path}",
        "download_url": f"https://raw.githubusercontent.com/acme/infra/{ref}/{path}",
        "_links": {"self": f"{API}/contents/{path}?ref={ref}", "git": "", "html": ""},
    }


def file_commit(path: str, text: str, commit_sha: str, tree: str, parents: list[str]) -> dict[str, Any]:
    """A ``file-commit`` (PUT contents answer)."""
    content = content_file(path, text)
    content.pop("content")
    content.pop("encoding")
    return {"content": content, "commit": commit(commit_sha, tree, parents)}
