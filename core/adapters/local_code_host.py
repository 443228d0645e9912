"""``LocalCodeHost``: the embedded default ``CodeHost``, a real git forge on this machine.

Each project's infra repository is a bare git repository ``<root>/repos/<owner>/<repo>.git``,
created on first use with what ``tfpilot scaffold infra-repo`` writes (for the repository's
environments when ``environments_of`` tells them, with the configured workflow names).
Branches and commits are made with git plumbing (``hash-object``, a temporary index,
``write-tree``, ``commit-tree``, and ``update-ref`` with the expected old value, so a moved
branch is refused rather than clobbered), always through the ``git`` CLI with a fixed argv and
TfPilot as author and committer. Pull requests, reviews, comments and workflow runs are JSON
records under ``<root>/forge/<owner>/<repo>/`` (``pulls/<n>.json``, ``runs/<id>.json`` with
``<id>.log`` and the plan preview ``<id>.plan.json``); a merge is a real squash commit on the
base branch, computed with ``git merge-tree`` so a behind branch merges cleanly and a
conflicting one is refused. One file lock per repository serialises writers across threads and
processes.

Runs are executed by ``LocalRunner`` asynchronously (a worker thread that picks a run up, or
delivers a fact, a moment after the call that caused it, as GitHub does), ``inline`` (before
the dispatching call returns: adapter tests) or ``manual`` (only when ``drain()`` is called:
deterministic scripts such as the demo, which drain after each service call), and report what
happens as facts (``RunFact`` queued -> in_progress -> completed, ``PullRequestFact``
opened/synchronize/closed, ``ReviewFact``) through ``on_fact``: the same
``SyncService.apply_fact`` path GitHub webhooks take. Facts are delivered in order, outside the
repository lock, one at a time. A cleanup run opens its pull request while it runs, so its
``opened`` fact comes between the run's ``in_progress`` and ``completed`` facts, as GitHub's
webhooks would.

This module holds the host itself (wiring, branches and commits, reading files) and the
workspace it gives a run. Its parts: ``local_git`` (the git CLI and the name checks),
``local_forge_repos`` (repository creation and locks), ``local_forge_seed`` (a new repository's
files), ``local_forge_records`` (the JSON records), ``local_forge_tasks`` (the work queue and fact
delivery), ``local_pull_requests`` and ``local_workflow_runs`` (the port's two other halves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from core.adapters.local_forge_records import ForgeRecords, pr_fact
from core.adapters.local_forge_repos import ForgeRepos
from core.adapters.local_forge_seed import SeedFiles, scaffold_seed
from core.adapters.local_forge_tasks import FactHandler, ForgeTasks, RunnerMode
from core.adapters.local_git import SHA_RE, ZERO_SHA, check_branch, check_path
from core.adapters.local_pull_requests import PullRequestsMixin
from core.adapters.local_run_types import RunWorkspace
from core.adapters.local_runner import LocalRunner
from core.adapters.local_workflow_runs import WorkflowRunsMixin
from core.domain.facts import Fact
from core.domain.workflows import WorkflowNames
from core.ports.clock import Clock
from core.ports.code_host import CodeHostError, RepoRef

_MAX_FILE_BYTES = 1024 * 1024


class _Workspace:
    """What a run may do to one repository (the runner's ``RunWorkspace``)."""

    def __init__(self, host: LocalCodeHost, repo: RepoRef) -> None:
        self._host = host
        self._repo = repo

    def tree_files(self, sha: str) -> dict[str, str]:
        return self._host._git(self._repo).tree_files(sha)

    def branch_head(self, branch: str) -> str | None:
        return self._host.branch_head(self._repo, branch)

    def merge_base(self, a: str, b: str) -> str | None:
        return self._host._git(self._repo).merge_base(a, b)

    def commit_on_branch(self, branch: str, files: Mapping[str, str | None], message: str) -> str:
        for _ in range(10):
            head = self._host.branch_head(self._repo, branch)
            if head is None:
                raise CodeHostError(f"branch {branch!r} not found", status=404)
            try:
                return self._host.commit_files(self._repo, branch, files, message, parent_sha=head)
            except CodeHostError as exc:
                if exc.status != 409:
                    raise
        raise CodeHostError(f"branch {branch!r} kept moving; gave up committing", status=409, retryable=True)

    def force_branch(self, branch: str, sha: str) -> None:
        self._host._force_branch(self._repo, branch, sha)

    def open_pull_request_for(self, head: str) -> int | None:
        pr = self._host._records.open_pr(self._repo, check_branch(head))
        return int(pr["number"]) if pr is not None else None

    def open_pull_request(self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]) -> int:
        # Reported at once, in the run's order: GitHub's "opened" webhook comes while the run goes on.
        info, fact = self._host._open_pull_request(
            self._repo, head=head, base=base, title=title, body=body, labels=list(labels)
        )
        self._host._tasks.emit_now(fact)
        return info.number


class LocalCodeHost(PullRequestsMixin, WorkflowRunsMixin):
    """The ``CodeHost`` port over local git repositories and JSON records (see module doc)."""

    def __init__(
        self,
        root: Path,
        clock: Clock,
        *,
        workflows: WorkflowNames | None = None,
        runner_mode: RunnerMode = "thread",
        on_fact: FactHandler | None = None,
        runner: LocalRunner | None = None,
        default_branch: str = "main",
        seed: SeedFiles | None = None,
        pickup_delay: float = 0.25,
        environments_of: Callable[[RepoRef], Sequence[str]] | None = None,
    ) -> None:
        self._tasks = ForgeTasks(runner_mode, on_fact, pickup_delay)
        self.root = Path(root)
        self._clock = clock
        self._workflows = workflows or WorkflowNames()
        self._runner = runner or LocalRunner(clock)
        self._default_branch = default_branch
        # A new repository is scaffolded for the environments the projects map gives it
        # (``environments_of``), with the configured workflow file names.
        seed_files = seed or scaffold_seed(self._workflows, environments_of)
        self._repos = ForgeRepos(self.root, clock, default_branch=default_branch, seed=seed_files)
        self._records = ForgeRecords(self._repos)

    # --- wiring and lifecycle --------------------------------------------------------------

    @property
    def runner(self) -> LocalRunner:
        return self._runner

    @property
    def runner_mode(self) -> RunnerMode:
        return self._tasks.runner_mode

    @property
    def on_fact(self) -> FactHandler | None:
        """Where facts go; None drops them (as GitHub's webhooks never reach a terminal)."""
        return self._tasks.on_fact

    @on_fact.setter
    def on_fact(self, handler: FactHandler | None) -> None:
        self._tasks.on_fact = handler

    def attach(self, on_fact: FactHandler) -> None:
        """Set where facts go (the composition root passes ``SyncService.apply_fact``)."""
        self.on_fact = on_fact

    def repo_dir(self, repo: RepoRef) -> Path:
        return self._repos.repo_dir(repo)

    def forge_dir(self, repo: RepoRef) -> Path:
        return self._repos.forge_dir(repo)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued fact and run is done; False on timeout."""
        return self._tasks.wait_idle(timeout)

    def drain(self) -> int:
        """Run every pending task in the calling thread; returns how many ran."""
        return self._tasks.drain()

    def close(self) -> None:
        """Stop the worker thread after the queued work is done."""
        self._tasks.close()

    def _workspace(self, repo: RepoRef) -> RunWorkspace:
        return _Workspace(self, repo)

    # --- branches and commits -------------------------------------------------------------

    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        return self._git(repo).branch_head(check_branch(branch))

    def create_branch(self, repo: RepoRef, branch: str, from_sha: str) -> str:
        check_branch(branch)
        git = self._git(repo)
        with self._lock(repo).hold():
            existing = git.branch_head(branch)
            if existing is not None:
                return existing
            if not SHA_RE.match(from_sha) or git.rev(from_sha) != from_sha:
                raise CodeHostError(f"commit {from_sha!r} not found", status=422)
            if not git.update_ref(branch, from_sha, ZERO_SHA):
                raise CodeHostError(f"could not create branch {branch!r}", status=422)
            return from_sha

    def reset_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        git = self._git(repo)
        if not SHA_RE.match(sha) or git.rev(sha) != sha:
            raise CodeHostError(f"commit {sha!r} not found", status=422)
        self._force_branch(repo, branch, sha)

    def _force_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        """Create ``branch`` at ``sha`` or move it there, whatever it held (a runner's force push)."""
        check_branch(branch)
        git = self._git(repo)
        with self._lock(repo).hold():
            if not SHA_RE.match(sha) or git.rev(sha) != sha:
                raise CodeHostError(f"commit {sha!r} not found", status=422)
            git.run("update-ref", f"refs/heads/{branch}", sha)

    def commit_files(
        self,
        repo: RepoRef,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        *,
        parent_sha: str,
    ) -> str:
        check_branch(branch)
        clean: dict[str, str | None] = {}
        for path, content in files.items():
            check_path(path)
            if content is not None and len(content.encode()) > _MAX_FILE_BYTES:
                raise CodeHostError(f"{path} is larger than {_MAX_FILE_BYTES} bytes", status=422)
            clean[path] = content
        if not clean:
            raise CodeHostError("a commit needs at least one file", status=422)
        git = self._git(repo)
        fact: Fact | None = None
        with self._lock(repo).hold():
            head = git.branch_head(branch)
            if head is None:
                raise CodeHostError(f"branch {branch!r} not found", status=404)
            if head != parent_sha:
                raise CodeHostError(
                    f"branch {branch!r} is at {head[:12]}, not {parent_sha[:12]}", status=409, retryable=True
                )
            sha = git.commit(parent_sha, clean, message)
            if not git.update_ref(branch, sha, parent_sha):
                raise CodeHostError(f"branch {branch!r} moved during the commit", status=409, retryable=True)
            pr = self._records.open_pr(repo, branch)
            if pr is not None:
                pr["head_sha"] = sha
                pr["updated_at"] = self._now_iso()
                pr["mergeable_state"] = None
                self._records.write(self._records.pr_path(repo, int(pr["number"])), pr)
                fact = pr_fact(pr, "synchronize")
        self._tasks.queue_fact(fact)
        self._tasks.after_call()
        return sha

    # --- reading the repository (console, demo, tests) ------------------------------------

    def read_file(self, repo: RepoRef, branch: str, path: str) -> str | None:
        """The file's text on ``branch``, or None when the branch or the file is absent."""
        git = self._git(repo)
        head = git.branch_head(check_branch(branch))
        if head is None:
            return None
        return git.tree_files(head).get(check_path(path))

    def list_files(self, repo: RepoRef, branch: str) -> list[str]:
        git = self._git(repo)
        head = git.branch_head(check_branch(branch))
        return sorted(git.tree_files(head)) if head else []
