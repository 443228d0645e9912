"""``FakeCodeHost``: an in-memory code host with real semantics, for service tests.

Branches point at commits; commits have parents and full trees; PRs have heads that move when
the branch moves; merges squash the PR's changes onto the base; dispatched runs can be started
and completed from the test. Every port call is counted (reads and writes), and a crash
injector makes the N-th call raise ``Crash`` either before or after its effect, to prove that
services resume instead of repeating work.

Dispatching the cleanup workflow does what the infra repo's ``cleanup.yml`` does: from the
dispatched branch's head, branch ``cleanup/<id>``, commit the deletion of
``envs/<env>/tfpilot_<id>.tf`` and open a PR (nothing when that PR is already open or the file
is not there). With ``cleanup_runs="instant"`` (the default) the run is reported finished by the
dispatch itself, as if the workflow ran before anyone looked; with ``"manual"`` it stays queued
and the test drives the run and the PR's ``opened`` fact, as it drives plan and apply runs.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from core.domain.ids import request_id_in_text
from core.ports.code_host import (
    BranchProtection,
    CodeHostError,
    MergeBlocked,
    MergeResult,
    PullRequestInfo,
    RepoRef,
    ReviewInfo,
    RunInfo,
)

READS = frozenset(
    {
        "branch_head",
        "find_pull_request",
        "branch_protection",
        "get_pull_request",
        "list_reviews",
        "find_run",
        "get_run",
        "get_plan_json",
        "get_cost_json",
    }
)
WRITES = frozenset(
    {
        "create_branch",
        "commit_files",
        "open_pull_request",
        "submit_review",
        "comment",
        "merge_pull_request",
        "dispatch_workflow",
    }
)

DEFAULT_PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "module.bucket.aws_s3_bucket.this",
            "type": "aws_s3_bucket",
            "name": "this",
            "change": {"actions": ["create"], "before": None, "after": {"bucket": "demo"}},
        }
    ],
}


class Crash(BaseException):
    """The process died here (injected). A BaseException, so services cannot clean up after it."""


@dataclass
class Commit:
    sha: str
    parent: str | None
    tree: dict[str, str]
    message: str


@dataclass
class PR:
    number: int
    head: str
    base: str
    title: str
    body: str
    labels: list[str]
    state: Literal["open", "closed"] = "open"
    merged: bool = False
    merge_sha: str | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    author: str = "tfpilot[bot]"  # the app opens request PRs; the cleanup workflow opens its own


@dataclass
class Run:
    run_id: int
    workflow: str
    ref: str
    inputs: dict[str, str]
    head_sha: str | None
    name: str
    status: str = "queued"
    conclusion: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Repo:
    branches: dict[str, str] = field(default_factory=dict)
    fork_points: dict[str, str] = field(default_factory=dict)
    prs: dict[int, PR] = field(default_factory=dict)
    reviews: dict[int, list[ReviewInfo]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)


class FakeCodeHost:
    def __init__(
        self,
        *,
        base_branch: str = "main",
        return_run_details: bool = True,
        clock: Any = None,
        cleanup_runs: Literal["instant", "manual"] = "instant",
    ) -> None:
        self.base_branch = base_branch
        self.cleanup_runs = cleanup_runs
        self.return_run_details = return_run_details
        self.clock = clock
        self.repos: dict[str, Repo] = {}
        self.commits: dict[str, Commit] = {}
        self.runs: dict[int, Run] = {}
        self.plan_docs: dict[int, dict[str, Any]] = {}
        self.cost_docs: dict[int, dict[str, Any]] = {}
        self.default_plan: dict[str, Any] | None = DEFAULT_PLAN
        self.calls: Counter[str] = Counter()
        self._run_ids = itertools.count(9_000_001)
        self._pr_numbers = itertools.count(101)
        self._review_ids = itertools.count(5001)
        self._crash_at: int | None = None
        self._crash_when: Literal["before", "after"] = "after"
        self._fail: dict[str, CodeHostError] = {}
        # Base branch -> its protection (tests set it; none by default, as on a new repo).
        self.protections: dict[str, BranchProtection] = {}
        # A merged PR's head branch may be deleted later; keep its last head for pr_info.
        self._last_head: dict[tuple[str, int], str] = {}

    # -- test controls -------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def repo(self, ref: RepoRef) -> Repo:
        if ref.full_name not in self.repos:
            repo = Repo()
            root = self._new_commit(None, {"README.md": "infra\n"}, "initial commit")
            repo.branches[self.base_branch] = root
            self.repos[ref.full_name] = repo
        return self.repos[ref.full_name]

    def crash_at(self, n: int, *, when: Literal["before", "after"] = "after") -> None:
        """The ``n``-th port call from now (1-based) raises ``Crash`` before or after its effect."""
        self._crash_at = sum(self.calls.values()) + n
        self._crash_when = when

    def no_crash(self) -> None:
        self._crash_at = None

    def fail_next(self, method: str, error: CodeHostError) -> None:
        """The next call to ``method`` raises ``error`` (without effect)."""
        self._fail[method] = error

    @property
    def reads(self) -> int:
        return sum(n for m, n in self.calls.items() if m in READS)

    @property
    def writes(self) -> int:
        return sum(n for m, n in self.calls.items() if m in WRITES)

    def total(self) -> int:
        return sum(self.calls.values())

    def reset_counts(self) -> None:
        self.calls.clear()

    def tree(self, ref: RepoRef, branch: str) -> dict[str, str]:
        return dict(self.commits[self.repo(ref).branches[branch]].tree)

    def branches(self, ref: RepoRef) -> list[str]:
        return sorted(self.repo(ref).branches)

    def push(self, ref: RepoRef, branch: str, files: Mapping[str, str | None], message: str = "push") -> str:
        """Someone (not TfPilot) pushes a commit; open PRs on ``branch`` move their head."""
        repo = self.repo(ref)
        parent = repo.branches[branch]
        sha = self._new_commit(parent, _apply(self.commits[parent].tree, files), message)
        repo.branches[branch] = sha
        return sha

    def cleanup_pr(self, ref: RepoRef, request_id: str) -> int | None:
        """The number of the newest PR the cleanup workflow opened for ``request_id``."""
        found = [n for n, pr in self.repo(ref).prs.items() if pr.head == f"cleanup/{request_id}"]
        return max(found) if found else None

    def runs_of(self, workflow: str | None = None) -> list[Run]:
        return [r for r in self.runs.values() if workflow is None or r.workflow == workflow]

    def start_run(self, run_id: int) -> RunInfo:
        run = self.runs[run_id]
        run.status, run.updated_at = "in_progress", self.now()
        return self.run_info(run)

    def complete_run(self, run_id: int, conclusion: str = "success") -> RunInfo:
        run = self.runs[run_id]
        run.status, run.conclusion, run.updated_at = "completed", conclusion, self.now()
        return self.run_info(run)

    def run_info(self, run: Run) -> RunInfo:
        return RunInfo(
            run_id=run.run_id,
            url=f"https://github.example/actions/runs/{run.run_id}",
            status=run.status,
            conclusion=run.conclusion,
            head_sha=run.head_sha,
            head_branch=run.ref,
            workflow=run.workflow,
            name=run.name,
            event="workflow_dispatch",
            created_at=run.created_at,
            updated_at=run.updated_at,
        )

    def pr_info(self, ref: RepoRef, number: int) -> PullRequestInfo:
        repo = self.repo(ref)
        pr = repo.prs[number]
        head_sha = repo.branches.get(pr.head) or self._last_head.get((ref.full_name, number), "")
        return PullRequestInfo(
            number=pr.number,
            url=f"https://github.example/{ref.full_name}/pull/{pr.number}",
            state=pr.state,
            merged=pr.merged,
            head_sha=head_sha,
            head_ref=pr.head,
            base_ref=pr.base,
            merge_commit_sha=pr.merge_sha,
            merged_at=pr.merged_at,
            closed_at=pr.closed_at,
            mergeable_state=("dirty" if self._conflicts(repo, pr) else "clean") if pr.state == "open" else None,
            title=pr.title,
        )

    def add_review(
        self, ref: RepoRef, number: int, login: str, state: str = "APPROVED", commit: str | None = None
    ) -> ReviewInfo:
        """A review by someone on GitHub (not through TfPilot)."""
        review = ReviewInfo(
            id=next(self._review_ids),
            user_login=login,
            state=state,
            commit_id=commit or self.pr_info(ref, number).head_sha,
            submitted_at=self.now(),
        )
        self.repo(ref).reviews.setdefault(number, []).append(review)
        return review

    def dismiss_review(self, ref: RepoRef, number: int, review_id: int) -> ReviewInfo:
        reviews = self.repo(ref).reviews[number]
        for i, review in enumerate(reviews):
            if review.id == review_id:
                reviews[i] = review.model_copy(update={"state": "DISMISSED"})
                return reviews[i]
        raise KeyError(review_id)

    # -- the port -------------------------------------------------------------------------

    def _enter(self, method: str) -> bool:
        """Count the call; True when it must crash after its effect."""
        self.calls[method] += 1
        if method in self._fail:
            raise self._fail.pop(method)
        if self._crash_at is not None and sum(self.calls.values()) == self._crash_at:
            self._crash_at = None
            if self._crash_when == "before":
                raise Crash(f"crash before {method}")
            return True
        return False

    @staticmethod
    def _leave(crash: bool, method: str) -> None:
        if crash:
            raise Crash(f"crash after {method}")

    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        crash = self._enter("branch_head")
        head = self.repo(repo).branches.get(branch)
        self._leave(crash, "branch_head")
        return head

    def create_branch(self, repo: RepoRef, branch: str, from_sha: str) -> str:
        crash = self._enter("create_branch")
        state = self.repo(repo)
        if from_sha not in self.commits:
            raise CodeHostError(f"no commit {from_sha}", status=422)
        if branch not in state.branches:
            state.branches[branch] = from_sha
            state.fork_points[branch] = from_sha
        head = state.branches[branch]
        self._leave(crash, "create_branch")
        return head

    def reset_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        crash = self._enter("reset_branch")
        state = self.repo(repo)
        if sha not in self.commits:
            raise CodeHostError(f"no commit {sha}", status=422)
        state.branches[branch] = sha
        state.fork_points[branch] = sha
        self._leave(crash, "reset_branch")

    def commit_files(
        self, repo: RepoRef, branch: str, files: Mapping[str, str | None], message: str, *, parent_sha: str
    ) -> str:
        crash = self._enter("commit_files")
        state = self.repo(repo)
        if branch not in state.branches:
            raise CodeHostError(f"Branch {branch} not found", status=404)
        if state.branches[branch] != parent_sha:
            # GitHub's 409: the file (or, for deletions, the branch) changed since parent_sha.
            raise CodeHostError(f"{branch} is no longer at {parent_sha}", status=409)
        sha = self._new_commit(parent_sha, _apply(self.commits[parent_sha].tree, files), message)
        state.branches[branch] = sha
        self._leave(crash, "commit_files")
        return sha

    def find_pull_request(self, repo: RepoRef, head_branch: str) -> PullRequestInfo | None:
        crash = self._enter("find_pull_request")
        state = self.repo(repo)
        found = [n for n, pr in state.prs.items() if pr.head == head_branch]
        info = self.pr_info(repo, max(found)) if found else None
        self._leave(crash, "find_pull_request")
        return info

    def open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> PullRequestInfo:
        crash = self._enter("open_pull_request")
        state = self.repo(repo)
        existing = [n for n, pr in state.prs.items() if pr.head == head and pr.state == "open"]
        if existing:
            number = existing[0]
        else:
            for branch in (head, base):
                if branch not in state.branches:
                    raise CodeHostError(f"Validation Failed: no branch {branch}", status=422)
            if self._reachable(state.branches[head], state.branches[base]):
                raise CodeHostError(f"No commits between {base} and {head}", status=422)
            number = next(self._pr_numbers)
            state.prs[number] = PR(number, head, base, title, body, list(labels))
        info = self.pr_info(repo, number)
        self._leave(crash, "open_pull_request")
        return info

    def get_pull_request(self, repo: RepoRef, number: int) -> PullRequestInfo:
        crash = self._enter("get_pull_request")
        if number not in self.repo(repo).prs:
            raise CodeHostError(f"no PR {number}", status=404)
        info = self.pr_info(repo, number)
        self._leave(crash, "get_pull_request")
        return info

    def list_reviews(self, repo: RepoRef, number: int) -> list[ReviewInfo]:
        crash = self._enter("list_reviews")
        reviews = list(self.repo(repo).reviews.get(number, []))
        self._leave(crash, "list_reviews")
        return reviews

    def submit_review(
        self, repo: RepoRef, number: int, *, commit_sha: str, body: str, user_token: str | None = None
    ) -> ReviewInfo:
        crash = self._enter("submit_review")
        if self._pr(repo, number).state != "open":
            raise CodeHostError(f"pull request #{number} is closed; it cannot be reviewed", status=422)
        login = f"user-of-{user_token}" if user_token else "tfpilot[bot]"
        review = ReviewInfo(
            id=next(self._review_ids), user_login=login, state="APPROVED", commit_id=commit_sha, submitted_at=self.now()
        )
        self.repo(repo).reviews.setdefault(number, []).append(review)
        self._leave(crash, "submit_review")
        return review

    def comment(self, repo: RepoRef, number: int, body: str) -> None:
        crash = self._enter("comment")
        self.repo(repo).comments.setdefault(number, []).append(body)
        self._leave(crash, "comment")

    def merge_pull_request(self, repo: RepoRef, number: int, *, sha: str, title: str) -> MergeResult:
        crash = self._enter("merge_pull_request")
        state = self.repo(repo)
        pr = self._pr(repo, number)
        if pr.merged:
            self._leave(crash, "merge_pull_request")
            return MergeResult(merged=True, sha=pr.merge_sha, message="already merged")
        head = state.branches[pr.head]
        if pr.state != "open":
            raise CodeHostError("Pull Request is not mergeable (closed)", status=405)
        if head != sha:
            raise CodeHostError("Head branch was modified. Review and try the merge again.", status=409)
        fork = state.fork_points.get(pr.head, state.branches[pr.base])
        changes = _diff(self.commits[fork].tree, self.commits[head].tree)
        base_head = state.branches[pr.base]
        if self._conflicts(state, pr):
            raise MergeBlocked("Pull Request is not mergeable (conflicts with its base)", reason="conflict", status=405)
        protection = self.protections.get(pr.base)
        if protection is not None and protection.reviews_required and not protection.app_can_bypass:
            approving = {
                r.user_login
                for r in state.reviews.get(number, [])
                if r.state == "APPROVED" and r.commit_id == head and r.user_login != pr.author
            }
            if len(approving) < protection.required_approvals:
                n = protection.required_approvals
                raise MergeBlocked(
                    f"At least {n} approving review{'s are' if n > 1 else ' is'} required by reviewers with write "
                    "access.",
                    reason="reviews",
                    status=405,
                    required_approvals=n,
                )
        merge_sha = self._new_commit(base_head, _apply(self.commits[base_head].tree, changes), title)
        state.branches[pr.base] = merge_sha
        pr.merged, pr.state, pr.merge_sha = True, "closed", merge_sha
        pr.merged_at = pr.closed_at = self.now()
        self._last_head[(repo.full_name, number)] = head
        self._leave(crash, "merge_pull_request")
        return MergeResult(merged=True, sha=merge_sha, message="Pull Request successfully merged")

    def branch_protection(self, repo: RepoRef, branch: str) -> BranchProtection:
        crash = self._enter("branch_protection")
        self._leave(crash, "branch_protection")
        return self.protections.get(branch) or BranchProtection(branch=branch, visibility="none")

    def dispatch_workflow(self, repo: RepoRef, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> RunInfo | None:
        crash = self._enter("dispatch_workflow")
        state = self.repo(repo)
        if ref not in state.branches:
            raise CodeHostError(f"No ref found for: {ref}", status=422)
        run_id = next(self._run_ids)
        kind = workflow.removesuffix(".yml")
        name = f"{kind} {inputs.get('request_id', '')} {inputs.get('environment', '')}".strip()
        now = self.now()
        run = Run(run_id, workflow, ref, dict(inputs), state.branches[ref], name, created_at=now, updated_at=now)
        self.runs[run_id] = run
        if kind == "cleanup":
            self._cleanup_workflow(state, ref, inputs)
            if self.cleanup_runs == "instant":
                run.status, run.conclusion = "completed", "success"
        info = self.run_info(run) if self.return_run_details else None
        self._leave(crash, "dispatch_workflow")
        return info

    def find_run(self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None = None) -> RunInfo | None:
        crash = self._enter("find_run")
        found = [
            r
            for r in self.runs.values()
            if r.workflow == workflow and request_id_in_text(r.name) == request_id and (ref is None or r.ref == ref)
        ]
        info = self.run_info(max(found, key=lambda r: r.run_id)) if found else None
        self._leave(crash, "find_run")
        return info

    def get_run(self, repo: RepoRef, run_id: int) -> RunInfo:
        crash = self._enter("get_run")
        if run_id not in self.runs:
            raise CodeHostError(f"no run {run_id}", status=404)
        info = self.run_info(self.runs[run_id])
        self._leave(crash, "get_run")
        return info

    def get_plan_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        crash = self._enter("get_plan_json")
        doc = self.plan_docs.get(run_id, self.default_plan)
        self._leave(crash, "get_plan_json")
        return doc

    def get_cost_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        crash = self._enter("get_cost_json")
        doc = self.cost_docs.get(run_id)
        self._leave(crash, "get_cost_json")
        return doc

    # -- internals ------------------------------------------------------------------------

    def _pr(self, ref: RepoRef, number: int) -> PR:
        pr = self.repo(ref).prs.get(number)
        if pr is None:
            raise CodeHostError(f"no PR {number}", status=404)
        return pr

    def _reachable(self, sha: str, start: str) -> bool:
        """Whether ``sha`` is ``start`` or one of its ancestors."""
        current: str | None = start
        while current is not None:
            if current == sha:
                return True
            current = self.commits[current].parent
        return False

    def _conflicts(self, ref: RepoRef | Repo, pr: PR) -> bool:
        """Whether the PR's branch and its base changed a file differently since the fork."""
        state = ref if isinstance(ref, Repo) else self.repo(ref)
        head, base = state.branches.get(pr.head), state.branches.get(pr.base)
        if head is None or base is None:
            return False
        fork = self.commits[state.fork_points.get(pr.head, base)].tree
        ours, theirs = self.commits[head].tree, self.commits[base].tree
        return diverged(fork, ours, theirs)

    def _cleanup_workflow(self, state: Repo, base: str, inputs: Mapping[str, str]) -> None:
        """What the scaffold's cleanup.yml does (see the module docstring)."""
        rid, env = inputs.get("request_id", ""), inputs.get("environment", "")
        branch, path = f"cleanup/{rid}", f"envs/{env}/tfpilot_{rid}.tf"
        if any(pr.head == branch and pr.state == "open" for pr in state.prs.values()):
            return
        start = state.branches[base]
        tree = self.commits[start].tree
        if path not in tree:
            return
        sha = self._new_commit(start, _apply(tree, {path: None}), f"tfpilot: remove {rid} from {env}")
        state.branches[branch] = sha  # the workflow force-pushes: a leftover branch is replaced
        state.fork_points[branch] = start
        number = next(self._pr_numbers)
        body = f"Removes `{path}` for TfPilot request `{rid}` (destroy). Opened by the tfpilot cleanup workflow."
        state.prs[number] = PR(
            number, branch, base, f"tfpilot: remove {rid} ({env})", body, [], author="github-actions[bot]"
        )

    def _new_commit(self, parent: str | None, tree: dict[str, str], message: str) -> str:
        seed = f"{parent}|{sorted(tree.items())}|{message}|{len(self.commits)}"
        sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        self.commits[sha] = Commit(sha, parent, tree, message)
        return sha


def _apply(tree: Mapping[str, str], files: Mapping[str, str | None]) -> dict[str, str]:
    out = dict(tree)
    for path, content in files.items():
        if content is None:
            out.pop(path, None)
        else:
            out[path] = content
    return out


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {p: c for p, c in after.items() if before.get(p) != c}
    changes.update({p: None for p in before if p not in after})
    return changes


def diverged(before: Mapping[str, str], ours: Mapping[str, str], theirs: Mapping[str, str]) -> bool:
    """Whether both sides changed some file since ``before``, each differently (a merge conflict)."""
    return any(len({before.get(path), ours.get(path), theirs.get(path)}) == 3 for path in {*before, *ours, *theirs})
