"""Pull requests on the local forge: opening, reviews, comments and the squash merge (a real
commit on the base branch computed with ``git merge-tree``, so a behind branch merges cleanly
and a conflicting one is refused). Each change is reported as a fact after the call returns."""

from __future__ import annotations

import uuid
from typing import Any

from core.adapters.local_forge_base import ForgeBase
from core.adapters.local_forge_records import pr_fact, pr_info
from core.adapters.local_git import check_branch
from core.domain.facts import Fact, ReviewFact
from core.domain.ids import request_id_from_branch
from core.ports.code_host import (
    BranchProtection,
    CodeHostError,
    MergeBlocked,
    MergeResult,
    PullRequestInfo,
    RepoRef,
    ReviewInfo,
)

_BOT_LOGIN = "tfpilot[bot]"


class PullRequestsMixin(ForgeBase):
    """The pull request half of the ``CodeHost`` port for ``LocalCodeHost``."""

    def find_pull_request(self, repo: RepoRef, head_branch: str) -> PullRequestInfo | None:
        git = self._git(repo)
        for pr in reversed(self._records.pr_records(repo)):
            if pr["head"] == head_branch:
                return pr_info(pr, git)
        return None

    def open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> PullRequestInfo:
        info, fact = self._open_pull_request(repo, head=head, base=base, title=title, body=body, labels=labels)
        self._tasks.queue_fact(fact)
        self._tasks.after_call()
        return info

    def _open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> tuple[PullRequestInfo, Fact | None]:
        """Open (or find the open) PR of ``head``; the ``opened`` fact is the caller's to deliver."""
        check_branch(head)
        check_branch(base)
        git = self._git(repo)
        fact: Fact | None = None
        with self._lock(repo).hold():
            existing = self._records.open_pr(repo, head)
            if existing is not None:
                return pr_info(existing, git), None
            head_sha, base_sha = git.branch_head(head), git.branch_head(base)
            if head_sha is None or base_sha is None:
                raise CodeHostError(f"branch {head if head_sha is None else base!r} not found", status=422)
            if head == base or git.is_ancestor(head_sha, base_sha):
                raise CodeHostError(f"no commits between {base} and {head}", status=422)
            number = self._records.next_id(repo, "pulls")
            now = self._now_iso()
            pr: dict[str, Any] = {
                "number": number,
                "url": self._records.pr_url(repo, number),
                "title": title,
                "body": body,
                "labels": list(labels),
                "head": head,
                "base": base,
                "head_sha": head_sha,
                "state": "open",
                "merged": False,
                "merge_commit_sha": None,
                "merged_at": None,
                "closed_at": None,
                "mergeable_state": None,
                "created_at": now,
                "updated_at": now,
                "reviews": [],
                "comments": [],
            }
            self._records.write(self._records.pr_path(repo, number), pr)
            fact = pr_fact(pr, "opened")
            info = pr_info(pr, git)
        return info, fact

    def get_pull_request(self, repo: RepoRef, number: int) -> PullRequestInfo:
        git = self._git(repo)
        return pr_info(self._records.pr_or_404(repo, number), git)

    def pull_request_record(self, repo: RepoRef, number: int) -> dict[str, Any]:
        """The stored record (body, labels, reviews, comments), for the console and tests."""
        return self._records.pr_or_404(repo, number)

    def list_reviews(self, repo: RepoRef, number: int) -> list[ReviewInfo]:
        pr = self._records.pr_or_404(repo, number)
        return [ReviewInfo.model_validate(r) for r in pr.get("reviews", [])]

    def submit_review(
        self, repo: RepoRef, number: int, *, commit_sha: str, body: str, user_token: str | None = None
    ) -> ReviewInfo:
        # The local forge has no accounts: a review made with a user's token is recorded under
        # a stable pseudonym of that token (never the token itself).
        login = _BOT_LOGIN if user_token is None else f"local-user-{uuid.uuid5(uuid.NAMESPACE_OID, user_token).hex[:8]}"
        fact: Fact | None = None
        with self._lock(repo).hold():
            pr = self._records.pr_or_404(repo, number)
            if pr["state"] != "open":
                raise CodeHostError(f"pull request #{number} is closed; it cannot be reviewed", status=422)
            if self._git(repo).rev(commit_sha) != commit_sha:
                raise CodeHostError(f"commit {commit_sha!r} not found", status=422)
            for existing in pr.get("reviews", []):
                same = existing["user_login"] == login and existing["commit_id"] == commit_sha
                if same and existing["state"] == "APPROVED":
                    return ReviewInfo.model_validate(existing)
            review = {
                "id": self._records.next_id(repo, "reviews"),
                "user_login": login,
                "state": "APPROVED",
                "commit_id": commit_sha,
                "submitted_at": self._now_iso(),
                "body": body,
            }
            pr.setdefault("reviews", []).append(review)
            pr["updated_at"] = review["submitted_at"]
            self._records.write(self._records.pr_path(repo, number), pr)
            info = ReviewInfo.model_validate(review)
            request_id = request_id_from_branch(str(pr["head"]))
            if request_id is not None:
                fact = ReviewFact(
                    request_id=request_id,
                    delivery_id=f"local-{uuid.uuid4().hex}",
                    action="submitted",
                    pr_number=number,
                    review=info,
                )
        self._tasks.queue_fact(fact)
        self._tasks.after_call()
        return info

    def comment(self, repo: RepoRef, number: int, body: str) -> None:
        with self._lock(repo).hold():
            pr = self._records.pr_or_404(repo, number)
            comments = pr.setdefault("comments", [])
            if any(c.get("body") == body for c in comments):
                return  # a retried call after a crash must not post the same comment twice
            comments.append(
                {"id": self._records.next_id(repo, "comments"), "body": body, "created_at": self._now_iso()}
            )
            self._records.write(self._records.pr_path(repo, number), pr)

    def branch_protection(self, repo: RepoRef, branch: str) -> BranchProtection:
        """The local forge protects no branch: every merge the policy allows goes through."""
        return BranchProtection(branch=branch, visibility="none")

    def merge_pull_request(self, repo: RepoRef, number: int, *, sha: str, title: str) -> MergeResult:
        git = self._git(repo)
        fact: Fact | None = None
        with self._lock(repo).hold():
            pr = self._records.pr_or_404(repo, number)
            if pr["merged"]:
                return MergeResult(merged=True, sha=pr["merge_commit_sha"], message="already merged")
            if pr["state"] != "open":
                raise CodeHostError(f"pull request #{number} is closed", status=405)
            head = git.branch_head(pr["head"])
            if head is None:
                raise CodeHostError(f"head branch {pr['head']!r} no longer exists", status=422)
            if head != sha:
                raise CodeHostError(
                    f"head branch was modified: it is at {head[:12]}, not {sha[:12]}", status=409, retryable=False
                )
            for _ in range(5):
                base = git.branch_head(pr["base"])
                if base is None:
                    raise CodeHostError(f"base branch {pr['base']!r} not found", status=422)
                # Squash: the branch's changes (relative to the merge base) applied onto the base's
                # current tree. A behind branch therefore merges; a conflicting one is refused.
                tree, conflicts = git.merge_tree(base, head)
                if tree is None:
                    pr["mergeable_state"] = "dirty"
                    self._records.write(self._records.pr_path(repo, number), pr)
                    raise MergeBlocked(
                        f"pull request #{number} has conflicts with {pr['base']}: {', '.join(conflicts) or 'unknown'}",
                        reason="conflict",
                        status=405,
                    )
                message = f"{title} (#{number})\n\n{pr.get('body') or ''}".rstrip() + "\n"
                merged_sha = git.commit_tree(tree, [base], message)
                if git.update_ref(pr["base"], merged_sha, base):
                    break
            else:
                raise CodeHostError(f"base branch {pr['base']!r} kept moving", status=409, retryable=True)
            now = self._now_iso()
            pr.update(
                {
                    "state": "closed",
                    "merged": True,
                    "merge_commit_sha": merged_sha,
                    "merged_at": now,
                    "closed_at": now,
                    "updated_at": now,
                    "mergeable_state": None,
                    "head_sha": head,
                }
            )
            self._records.write(self._records.pr_path(repo, number), pr)
            fact = pr_fact(pr, "closed")
        self._tasks.queue_fact(fact)
        self._tasks.after_call()
        return MergeResult(merged=True, sha=merged_sha, message="Pull Request successfully merged")
