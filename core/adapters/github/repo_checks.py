"""Raw reads ``tfpilot doctor`` makes about an infra repository (the verdicts live in the CLI).

Each read returns GitHub's answer as data and lets ``GitHubApiError`` through, so the caller can
tell "not found" (404) from "not allowed" (403). The App's installation (its permissions and the
webhook events it subscribes to) is read with the App's JWT, as GitHub requires.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from core.adapters.github.app_auth import GitHubAppAuth
from core.adapters.github.client import GitHubApiError, GitHubClient
from core.ports.code_host import RepoRef

HOOK_PAGE = 100


def _path(repo: RepoRef, **extra: str | int) -> dict[str, str | int]:
    return {"owner": repo.owner, "repo": repo.name, **extra}


def repository(client: GitHubClient, repo: RepoRef) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}``: exists, readable, default branch, the caller's permissions."""
    data = client.get("/repos/{owner}/{repo}", path=_path(repo), use_cache=False).data
    return data if isinstance(data, dict) else {}


def file_text(client: GitHubClient, repo: RepoRef, path: str, ref: str) -> str | None:
    """A file's text at ``ref``, or None when it is absent there."""
    try:
        response = client.get(
            "/repos/{owner}/{repo}/contents/{path}", path=_path(repo, path=path), params={"ref": ref}, use_cache=False
        )
    except GitHubApiError as exc:
        if exc.status == 404:
            return None
        raise
    data = response.data if isinstance(response.data, dict) else {}
    content = data.get("content")
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


def hooks(client: GitHubClient, repo: RepoRef) -> list[dict[str, Any]]:
    """The repository's webhooks (needs admin access: a 403/404 says the caller may not see them)."""
    data = client.get(
        "/repos/{owner}/{repo}/hooks", path=_path(repo), params={"per_page": HOOK_PAGE}, use_cache=False
    ).data
    return [h for h in data if isinstance(h, dict)] if isinstance(data, list) else []


def installation(client: GitHubClient, repo: RepoRef) -> dict[str, Any] | None:
    """The App installation on the repository (permissions, events), or None when the client
    authenticates with a token rather than as an App."""
    auth = client.auth
    if not isinstance(auth, GitHubAppAuth):
        return None
    data = client.get(
        "/repos/{owner}/{repo}/installation", path=_path(repo), token=auth.app_jwt(), use_cache=False
    ).data
    return data if isinstance(data, dict) else {}
