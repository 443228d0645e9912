"""``CodeHost``: the one narrow interface to where infra code lives and runs.

``GitHubCodeHost`` (GitHub REST over httpx) and ``LocalCodeHost`` (a git repo on disk with a
local runner) implement it. Every method is safe to call again after a crash: creating what
already exists returns the existing thing, so services can resume multi-step operations.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from core.domain.protection import BranchProtection, MergeBlockReason
from core.domain.run_report import RunReport

__all__ = ["BranchProtection", "MergeBlockReason"]


class _Info(BaseModel):
    model_config = ConfigDict(frozen=True)


class RepoRef(_Info):
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class PullRequestInfo(_Info):
    number: int
    url: str
    state: Literal["open", "closed"]
    merged: bool
    head_sha: str
    head_ref: str
    base_ref: str
    merge_commit_sha: str | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    mergeable_state: str | None = None  # clean | behind | dirty | blocked | unknown ...
    title: str | None = None


class ReviewInfo(_Info):
    id: int
    user_login: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED (upper case, as REST)
    commit_id: str | None = None
    submitted_at: datetime | None = None


class RunInfo(_Info):
    run_id: int
    url: str
    status: str  # queued | in_progress | completed | requested | waiting | pending
    conclusion: str | None = None
    head_sha: str | None = None
    head_branch: str | None = None
    workflow: str | None = None  # workflow file name, e.g. plan.yml
    name: str | None = None  # the run-name / display title (holds the request id)
    event: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class JobStepInfo(_Info):
    number: int
    name: str
    status: str  # queued | in_progress | completed
    conclusion: str | None = None


class JobInfo(_Info):
    """One job of a workflow run, with its steps (to say where a failed run failed)."""

    id: int
    name: str
    url: str  # the job's page (its log)
    status: str
    conclusion: str | None = None
    steps: tuple[JobStepInfo, ...] = ()


class MergeResult(_Info):
    merged: bool
    sha: str | None = None
    message: str | None = None


class CodeHostError(Exception):
    """The code host refused or failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class MergeBlocked(CodeHostError):
    """The host refuses the merge for a lasting reason (missing reviews, failing required
    checks, conflicts, a rule): retrying will not help until someone acts. ``reason`` says
    which; ``required_approvals`` how many reviews the branch asks for when known."""

    def __init__(
        self, message: str, *, reason: MergeBlockReason, status: int | None = None, required_approvals: int = 0
    ) -> None:
        super().__init__(message, status=status, retryable=False)
        self.reason: MergeBlockReason = reason
        self.required_approvals = required_approvals


class CodeHost(Protocol):
    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        """Head commit sha of ``branch``, or None when the branch does not exist."""
        ...

    def create_branch(self, repo: RepoRef, branch: str, from_sha: str) -> str:
        """Create ``branch`` at ``from_sha``; if it exists already, return its head unchanged."""
        ...

    def reset_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        """Move ``branch`` to ``sha`` whatever it held (a force push; created when absent).
        Only for TfPilot's own branches whose earlier commits are to be replaced (a removal
        branch rebuilt on a base that changed the request's file since)."""
        ...

    def commit_files(
        self,
        repo: RepoRef,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        *,
        parent_sha: str,
    ) -> str:
        """One commit on ``branch`` writing ``files`` (None deletes a path); returns its sha.

        ``parent_sha`` is the commit the caller read. What is guaranteed depends on the write:

        - **One file with content**: the file is replaced only while it is still the blob it was
          at ``parent_sha`` (absent there: only while it is still absent); otherwise
          ``CodeHostError`` (409). Commits that changed *other* files since ``parent_sha`` do
          not stop the write: the new commit may sit on a later head (``GitHubCodeHost`` logs a
          warning naming both shas). A host may be stricter (``LocalCodeHost`` always requires
          the head to be ``parent_sha``).
        - **Deletions and several files**: the branch head must still be ``parent_sha``; the
          new commit's only parent is ``parent_sha``, else ``CodeHostError``.

        A retry whose earlier attempt already landed returns that commit (or raises, leaving the
        caller to recognise it: see ``docs/lifecycle.md``)."""
        ...

    def find_pull_request(self, repo: RepoRef, head_branch: str) -> PullRequestInfo | None:
        """The newest PR (open or closed) whose head is ``head_branch``."""
        ...

    def open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> PullRequestInfo:
        """Open a PR; if one is already open for ``head``, return it."""
        ...

    def get_pull_request(self, repo: RepoRef, number: int) -> PullRequestInfo: ...

    def list_reviews(self, repo: RepoRef, number: int) -> list[ReviewInfo]: ...

    def submit_review(
        self, repo: RepoRef, number: int, *, commit_sha: str, body: str, user_token: str | None = None
    ) -> ReviewInfo:
        """Approve the PR at ``commit_sha``, as the user when ``user_token`` is given."""
        ...

    def comment(self, repo: RepoRef, number: int, body: str) -> None: ...

    def merge_pull_request(self, repo: RepoRef, number: int, *, sha: str, title: str) -> MergeResult:
        """Squash-merge only if the head is still ``sha``; brings a behind branch up to date
        and retries while the host is still computing mergeability. A refusal for a lasting
        reason (reviews, checks, conflicts, rules) raises ``MergeBlocked`` at once. Merging an
        already merged PR returns its merge result."""
        ...

    def branch_protection(self, repo: RepoRef, branch: str) -> BranchProtection:
        """What ``branch``'s protection (and rulesets) asks of a merge, read once and cached a
        while. A host that will not show it answers ``visibility="unknown"`` with the reason."""
        ...

    def dispatch_workflow(self, repo: RepoRef, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> RunInfo | None:
        """Dispatch and return the run when the host reports it (``return_run_details``) or it
        can be found by the request id in its run-name; None when not found yet."""
        ...

    def find_run(self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None = None) -> RunInfo | None:
        """Newest run of ``workflow`` whose run-name holds ``request_id``."""
        ...

    def get_run(self, repo: RepoRef, run_id: int) -> RunInfo: ...

    def get_plan_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        """The ``terraform show -json`` document the plan run uploaded, or None."""
        ...

    def get_cost_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        """The Infracost JSON the plan run uploaded, or None when there is none."""
        ...


@runtime_checkable
class RunJobs(Protocol):
    """Optional: a code host that can list a run's jobs (``GitHubCodeHost``). ``SyncService``
    uses it, when present, to say which job and step a failed run failed at."""

    def list_jobs(self, repo: RepoRef, run_id: int) -> list[JobInfo]:
        """The jobs of the run's latest attempt, in GitHub's order."""
        ...


@runtime_checkable
class RunReports(Protocol):
    """Optional: a code host whose finished runs leave a report beside their conclusion
    (``GitHubCodeHost``: the workflows' ``tfoutputs-<id>`` and ``tfdiag-<id>`` artifacts).
    ``SyncService`` attaches it to the run's fact, as the local runner's facts carry theirs."""

    def get_run_report(self, repo: RepoRef, run_id: int, request_id: str, *, succeeded: bool) -> RunReport | None:
        """The outputs of a run that succeeded, or the diagnostics of one that did not; ``None``
        when the run left none. ``CodeHostError`` when it left one that cannot be read."""
        ...


@runtime_checkable
class RemembersReads(Protocol):
    """Optional: a code host whose reads can be revalidated against answers the caller keeps
    (``GitHubCodeHost``: ETags). Inside ``remembering(reads)``, a read whose last answer is in
    ``reads`` is sent conditionally; "not modified" (a 304, no rate limit) returns that answer,
    and a fresh answer replaces it in ``reads``. ``SyncService`` keeps ``reads`` on the request
    document (``codeHostReads``), so they outlive any in-memory cache and any process."""

    def remembering(self, reads: MutableMapping[str, Any]) -> AbstractContextManager[None]: ...
