"""Reading a base branch's protection: classic branch protection and rulesets.

Two reads, merged into one ``BranchProtection``: ``GET .../branches/{branch}/protection``
(classic; GitHub answers 404 "Branch not protected" when there is none, and 403/404 otherwise
when the caller may not read it: an App needs "Administration: read") and ``GET .../rules/
branches/{branch}`` (every active ruleset rule applying to the branch, readable with plain read
access). For each ruleset that requires reviews, ``GET .../rulesets/{id}`` says whether the caller
(the app) may bypass it (``current_user_can_bypass``). The strictest requirement wins.
``ProtectionCache`` keeps the answer a while: protection changes rarely and approvals are many.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.adapters.github.client import GitHubApiError, GitHubClient
from core.domain.protection import Visibility
from core.ports.code_host import BranchProtection, RepoRef

LOG = logging.getLogger("tfpilot.github")

RULES_PAGE = 100
# current_user_can_bypass values that let the app merge a PR without the rule's reviews.
_BYPASSING = frozenset({"always", "pull_requests_only"})


class ProtectionCache:
    """``(repo, branch) -> BranchProtection`` for ``ttl`` seconds."""

    def __init__(self, ttl: float, max_entries: int = 256) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[float, BranchProtection]] = {}

    def get(self, repo: str, branch: str, now: float) -> BranchProtection | None:
        entry = self._entries.get((repo, branch))
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put(self, repo: str, branch: str, now: float, value: BranchProtection) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[(repo, branch)] = (now + self.ttl, value)


@dataclass
class _Found:
    """What the reads found so far (the strictest requirement wins)."""

    required: int = 0
    dismiss: bool = False
    checks: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    bypass: list[bool | None] = field(default_factory=list)  # one per source requiring reviews
    notes: list[str] = field(default_factory=list)
    classic_unknown: bool = False

    def require(self, count: int, bypass: Callable[[], bool | None]) -> None:
        if count > 0:
            self.required = max(self.required, count)
            self.bypass.append(bypass())

    def check(self, context: Any) -> None:
        if isinstance(context, str) and context not in self.checks:
            self.checks.append(context)

    def source(self, label: str) -> None:
        if label not in self.sources:
            self.sources.append(label)

    def can_bypass(self) -> bool | None:
        """The app bypasses only when it may bypass every source that requires reviews."""
        if any(b is False for b in self.bypass):
            return False
        if not self.bypass or any(b is None for b in self.bypass):
            return None
        return True


def read_protection(
    client: GitHubClient, repo: RepoRef, branch: str, *, app_slug: str | None, app_id: int | str | None = None
) -> BranchProtection:
    """The merged requirements of classic protection and rulesets on ``branch``; ``app_slug`` or
    ``app_id`` name the App in classic protection's bypass allowances."""
    found = _Found()
    _read_classic(client, repo, branch, (app_slug, app_id), found)
    for rule in _rules(client, repo, branch, found.notes):
        kind, params = rule.get("type"), _dict(rule.get("parameters"))
        ruleset = rule.get("ruleset_id")
        label = f"ruleset {ruleset}" if ruleset is not None else "ruleset"
        if kind == "pull_request":
            found.source(label)
            found.dismiss = found.dismiss or bool(params.get("dismiss_stale_reviews_on_push"))
            count = _int(params.get("required_approving_review_count"))
            found.require(count, functools.partial(_ruleset_bypass, client, repo, ruleset))
        elif kind == "required_status_checks":
            found.source(label)
            for check in params.get("required_status_checks") or []:
                found.check(_dict(check).get("context"))
    visibility: Visibility = "unknown" if found.classic_unknown else "read" if found.sources else "none"
    return BranchProtection(
        branch=branch,
        visibility=visibility,
        required_approvals=found.required,
        dismiss_stale_reviews=found.dismiss,
        required_checks=tuple(found.checks),
        app_can_bypass=found.can_bypass(),
        sources=tuple(found.sources),
        detail="; ".join(found.notes) or None,
    )


def _read_classic(
    client: GitHubClient, repo: RepoRef, branch: str, app: tuple[str | None, int | str | None], found: _Found
) -> None:
    path = {"owner": repo.owner, "repo": repo.name, "branch": branch}
    try:
        response = client.get("/repos/{owner}/{repo}/branches/{branch}/protection", path=path, use_cache=False)
    except GitHubApiError as exc:
        if exc.status == 404 and exc.mentions("not protected"):
            return
        if exc.status in (403, 404):
            found.classic_unknown = True
            found.notes.append(
                f"branch protection of {branch} not readable ({exc.status} {exc.github_message or 'no message'}): "
                "give the app Administration: read to let TfPilot see it"
            )
            return
        raise
    classic = _dict(response.data)
    found.source("branch protection")
    reviews = _dict(classic.get("required_pull_request_reviews"))
    if reviews:
        found.dismiss = found.dismiss or bool(reviews.get("dismiss_stale_reviews"))
        found.require(_int(reviews.get("required_approving_review_count")), lambda: _classic_bypass(reviews, app))
    for context in _dict(classic.get("required_status_checks")).get("contexts") or []:
        found.check(context)


def _rules(client: GitHubClient, repo: RepoRef, branch: str, notes: list[str]) -> list[dict[str, Any]]:
    try:
        response = client.get(
            "/repos/{owner}/{repo}/rules/branches/{branch}",
            path={"owner": repo.owner, "repo": repo.name, "branch": branch},
            params={"per_page": RULES_PAGE},
            use_cache=False,
        )
    except GitHubApiError as exc:
        if exc.status in (403, 404):
            notes.append(f"rulesets of {branch} not readable ({exc.status} {exc.github_message or 'no message'})")
            return []
        raise
    data = response.data
    return [_dict(item) for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _classic_bypass(reviews: dict[str, Any], app: tuple[str | None, int | str | None]) -> bool | None:
    apps = [_dict(a) for a in _dict(reviews.get("bypass_pull_request_allowances")).get("apps") or []]
    if not apps:
        return False
    slug, app_id = app
    if any(
        (slug is not None and a.get("slug") == slug) or (app_id is not None and str(a.get("id")) == str(app_id))
        for a in apps
    ):
        return True
    return None if slug is None and app_id is None else False


def _ruleset_bypass(client: GitHubClient, repo: RepoRef, ruleset_id: Any) -> bool | None:
    if not isinstance(ruleset_id, int):
        return None
    try:
        response = client.get(
            "/repos/{owner}/{repo}/rulesets/{ruleset_id}",
            path={"owner": repo.owner, "repo": repo.name, "ruleset_id": ruleset_id},
            use_cache=False,
        )
    except GitHubApiError as exc:
        # An organisation ruleset may not be readable from the repository: say "not known".
        LOG.info("ruleset %s of %s not readable (%s)", ruleset_id, repo.full_name, exc.status)
        return None
    said = _dict(response.data).get("current_user_can_bypass")
    if not isinstance(said, str):
        return None
    return said in _BYPASSING


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
