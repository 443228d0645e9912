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
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from core.adapters.local_runner import LocalRunner, RunJob, RunOutcome
from core.domain.facts import Fact, PullRequestFact, ReviewFact, RunFact
from core.domain.ids import request_id_from_branch, request_id_in_text
from core.domain.run_report import RunReport
from core.domain.workflows import WorkflowNames
from core.ports.clock import Clock
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

log = logging.getLogger(__name__)

RunnerMode = Literal["thread", "inline", "manual"]
FactHandler = Callable[[Fact], object]
SeedFiles = Callable[[RepoRef], Mapping[str, str]]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_ZERO = "0" * 40
_BOT_LOGIN = "tfpilot[bot]"
_MAX_FILE_BYTES = 1024 * 1024


DEFAULT_ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")


def default_seed(
    repo: RepoRef, environments: Sequence[str] = DEFAULT_ENVIRONMENTS, workflows: WorkflowNames | None = None
) -> dict[str, str]:
    """The files of a new infra repository: what ``tfpilot scaffold infra-repo`` writes for
    these environments and workflow file names."""
    from core.scaffold.generator import ScaffoldOptions, scaffold_files
    from module_registry import infra_modules

    try:
        files = scaffold_files(
            ScaffoldOptions.of(
                environments=list(environments) or list(DEFAULT_ENVIRONMENTS),
                workflows=workflows or WorkflowNames(),
            )
        )
        # The local forge's repositories carry TfPilot's own modules: nothing to download.
        files.update(infra_modules.all_files())
        return files
    except Exception:
        # A minimal layout keeps the forge usable when the scaffold refuses the options.
        log.exception("infra repo scaffold failed for %s; seeding a minimal layout", repo.full_name)
    files = {"README.md": f"# {repo.name}\n\nInfrastructure repository managed by TfPilot (local forge).\n"}
    for env in environments:
        files[f"envs/{env}/versions.tf"] = 'terraform {\n  required_version = ">= 1.5.0"\n}\n'
    return files


def _sleep_until(deadline: float) -> None:
    wait = deadline - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _now_iso(dt: datetime) -> str:
    return dt.isoformat()


class _Git:
    """The ``git`` CLI on one bare repository: fixed argv, no shell, TfPilot as author."""

    def __init__(self, git_dir: Path, clock: Clock) -> None:
        self.git_dir = git_dir
        self._clock = clock

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        stamp = f"@{int(self._clock.now().timestamp())} +0000"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR", "LANG", "SYSTEMROOT")}
        env.update(
            {
                "HOME": str(self.git_dir),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": "TfPilot",
                "GIT_AUTHOR_EMAIL": "tfpilot@localhost",
                "GIT_COMMITTER_NAME": "TfPilot",
                "GIT_COMMITTER_EMAIL": "tfpilot@localhost",
                "GIT_AUTHOR_DATE": stamp,
                "GIT_COMMITTER_DATE": stamp,
            }
        )
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(  # noqa: S603 - fixed argv, never a shell
            ["git", f"--git-dir={self.git_dir}", *args],  # noqa: S607 - git from PATH, by design
            input=stdin,
            env=self._env(env),
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode not in ok_codes:
            detail = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip()
            raise CodeHostError(f"git {args[0]} failed: {detail[:500]}", status=500)
        return proc

    def out(self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
        return self.run(*args, stdin=stdin, env=env).stdout.decode().strip()

    def init(self, branch: str) -> None:
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(  # noqa: S603
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.git_dir)],  # noqa: S607
            env=self._env(),
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode != 0:
            raise CodeHostError(f"git init failed: {proc.stderr.decode(errors='replace')[:500]}", status=500)

    def rev(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", ref + "^{commit}", ok_codes=(0, 1, 128))
        sha = proc.stdout.decode().strip()
        return sha if proc.returncode == 0 and _SHA_RE.match(sha) else None

    def branch_head(self, branch: str) -> str | None:
        return self.rev(f"refs/heads/{branch}")

    def update_ref(self, branch: str, new: str, old: str) -> bool:
        proc = self.run("update-ref", f"refs/heads/{branch}", new, old, ok_codes=(0, 1, 128))
        return proc.returncode == 0

    def commit(self, parent: str | None, files: Mapping[str, str | None], message: str) -> str:
        """A commit of ``parent``'s tree with ``files`` written (None deletes); not yet on a branch."""
        index_dir = self.git_dir / "tfpilot-tmp"
        index_dir.mkdir(exist_ok=True)
        index = index_dir / f"index-{uuid.uuid4().hex}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            if parent:
                self.run("read-tree", parent, env=env)
            lines: list[str] = []
            for path, content in sorted(files.items()):
                if content is None:
                    lines.append(f"0 {_ZERO}\t{path}")
                else:
                    blob = self.out("hash-object", "-w", "--stdin", stdin=content.encode())
                    lines.append(f"100644 {blob}\t{path}")
            if lines:
                self.run("update-index", "--index-info", stdin=("\n".join(lines) + "\n").encode(), env=env)
            tree = self.out("write-tree", env=env)
        finally:
            with contextlib.suppress(FileNotFoundError):
                index.unlink()
        args = ["commit-tree", tree, "-F", "-"]
        if parent:
            args[2:2] = ["-p", parent]
        return self.out(*args, stdin=message.encode())

    def tree_files(self, sha: str) -> dict[str, str]:
        listing = self.run("ls-tree", "-r", "-z", "--full-tree", sha).stdout.decode()
        entries: list[tuple[str, str]] = []
        for item in listing.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            _mode, kind, oid = meta.split()
            if kind == "blob":
                entries.append((path, oid))
        if not entries:
            return {}
        batch = self.run("cat-file", "--batch", stdin=("\n".join(oid for _, oid in entries) + "\n").encode()).stdout
        out: dict[str, str] = {}
        pos = 0
        for path, _oid in entries:
            header_end = batch.index(b"\n", pos)
            size = int(batch[pos:header_end].split()[2])
            body = batch[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
            with contextlib.suppress(UnicodeDecodeError):
                out[path] = body.decode("utf-8")
        return out

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b, ok_codes=(0, 1))
        sha = proc.stdout.decode().strip()
        return sha if proc.returncode == 0 and sha else None

    def is_ancestor(self, a: str, b: str) -> bool:
        return self.run("merge-base", "--is-ancestor", a, b, ok_codes=(0, 1)).returncode == 0

    def merge_tree(self, base: str, head: str) -> tuple[str | None, list[str]]:
        """The merged tree of ``base`` and ``head``, or None and the conflicting paths."""
        proc = self.run("merge-tree", "--write-tree", "--name-only", "-z", base, head, ok_codes=(0, 1))
        parts = proc.stdout.decode().split("\0")
        if proc.returncode == 0:
            return parts[0].strip(), []
        conflicts: list[str] = []
        for part in parts[1:]:
            if not part:
                break  # an empty entry ends the conflicted-file list; informational messages follow
            conflicts.append(part)
        return None, sorted(set(conflicts))

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.out(*args, "-F", "-", stdin=message.encode())

    def tree_of(self, sha: str) -> str:
        return self.out("rev-parse", f"{sha}^{{tree}}")


def _check_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value) or value in (".", "..") or value.endswith(".git"):
        raise CodeHostError(f"invalid {kind} name {value!r}", status=422)
    return value


def _check_branch(branch: str) -> str:
    ok = (
        bool(branch)
        and len(branch) <= 200
        and re.match(r"^[A-Za-z0-9._/-]+$", branch) is not None
        and not branch.startswith(("/", "-", "."))
        and not branch.endswith(("/", ".", ".lock"))
        and ".." not in branch
        and "//" not in branch
        and "/." not in branch
    )
    if not ok:
        raise CodeHostError(f"invalid branch name {branch!r}", status=422)
    return branch


def _check_path(path: str) -> str:
    parts = path.split("/")
    bad = (
        not path
        or path.startswith("/")
        or any(p in ("", ".", "..", ".git") for p in parts)
        or any(ord(c) < 32 or c == "\x7f" for c in path)
        or len(path) > 400
    )
    if bad:
        raise CodeHostError(f"invalid file path {path!r}", status=422)
    return path


class _RepoLock:
    """A per-repository lock good across threads (RLock) and processes (flock)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None


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
        pr = self._host._open_pr_record(self._repo, _check_branch(head))
        return int(pr["number"]) if pr is not None else None

    def open_pull_request(self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]) -> int:
        # Reported at once, in the run's order: GitHub's "opened" webhook comes while the run goes on.
        info, fact = self._host._open_pull_request(
            self._repo, head=head, base=base, title=title, body=body, labels=list(labels)
        )
        self._host._emit_now(fact)
        return info.number


class LocalCodeHost:
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
        if runner_mode not in ("thread", "inline", "manual"):
            raise ValueError(f"runner_mode must be thread, inline or manual, not {runner_mode!r}")
        self.root = Path(root)
        self._clock = clock
        self._workflows = workflows or WorkflowNames()
        self.runner_mode: RunnerMode = runner_mode
        self.on_fact = on_fact
        self._runner = runner or LocalRunner(clock)
        self._default_branch = default_branch
        # A new repository is scaffolded for the environments the projects map gives it
        # (``environments_of``), with the configured workflow file names.
        self._environments_of = environments_of
        self._seed = seed or self._scaffold_seed
        self._locks: dict[str, _RepoLock] = {}
        self._locks_guard = threading.Lock()
        # Work after a call returns: fact deliveries and run executions, strictly in order.
        self._tasks: collections.deque[Callable[[], None]] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._worker: threading.Thread | None = None
        self._closed = False
        self._drain_lock = threading.Lock()
        # GitHub takes seconds to start a run and a moment to deliver a webhook, so the service
        # that made a call has recorded its result before any fact about it arrives; the worker
        # waits this long before a run or a fact to keep that true.
        self._pickup_delay = pickup_delay if runner_mode == "thread" else 0.0

    def _scaffold_seed(self, repo: RepoRef) -> dict[str, str]:
        environments: Sequence[str] = DEFAULT_ENVIRONMENTS
        if self._environments_of is not None:
            try:
                environments = list(self._environments_of(repo)) or DEFAULT_ENVIRONMENTS
            except Exception:
                log.exception("environments of %s unknown; scaffolding the default ones", repo.full_name)
        return default_seed(repo, environments, self._workflows)

    # --- wiring and lifecycle --------------------------------------------------------------

    @property
    def runner(self) -> LocalRunner:
        return self._runner

    def attach(self, on_fact: FactHandler) -> None:
        """Set where facts go (the composition root passes ``SyncService.apply_fact``)."""
        self.on_fact = on_fact

    def repo_dir(self, repo: RepoRef) -> Path:
        return self.root / "repos" / _check_name("owner", repo.owner) / f"{_check_name('repository', repo.name)}.git"

    def forge_dir(self, repo: RepoRef) -> Path:
        return self.root / "forge" / _check_name("owner", repo.owner) / _check_name("repository", repo.name)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued fact and run is done; False on timeout."""
        if self.runner_mode != "thread":
            self.drain()
            return not self._tasks
        with self._cond:
            return self._cond.wait_for(lambda: not self._tasks and not self._busy, timeout=timeout)

    def drain(self) -> int:
        """Run every pending task in the calling thread; returns how many ran."""
        done = 0
        while True:
            if not self._drain_lock.acquire(blocking=False):
                return done  # another caller (or an outer frame of this one) is draining
            try:
                while True:
                    with self._cond:
                        if not self._tasks:
                            break
                        task = self._tasks.popleft()
                        self._busy = True
                    try:
                        task()
                        done += 1
                    finally:
                        with self._cond:
                            self._busy = False
                            self._cond.notify_all()
            finally:
                self._drain_lock.release()
            with self._cond:
                if not self._tasks:
                    return done

    def close(self) -> None:
        """Stop the worker thread after the queued work is done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30)

    def _enqueue(self, task: Callable[[], None]) -> None:
        with self._cond:
            self._tasks.append(task)
            self._cond.notify_all()
            if self.runner_mode == "thread" and (self._worker is None or not self._worker.is_alive()):
                self._closed = False
                self._worker = threading.Thread(target=self._work, name="tfpilot-local-runner", daemon=True)
                self._worker.start()

    def _after_call(self) -> None:
        if self.runner_mode == "inline":
            self.drain()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._tasks) or self._closed)
                if not self._tasks and self._closed:
                    return
            self.drain()

    def _emit(self, fact: Fact) -> None:
        handler = self.on_fact
        if handler is None:
            return
        try:
            handler(fact)
        except Exception:  # a failing consumer must not stop the forge; the reconciler catches up
            log.exception("fact handler failed for %s %s", fact.type, fact.request_id)

    def _queue_fact(self, fact: Fact | None) -> None:
        if fact is None:
            return
        # A webhook reaches TfPilot a moment after the call that caused it returned; the caller
        # has recorded what it did by then, as with GitHub (thread mode only; no delay otherwise).
        not_before = time.monotonic() + self._pickup_delay

        def deliver() -> None:
            _sleep_until(not_before)
            self._emit(fact)

        self._enqueue(deliver)

    # --- repository access ---------------------------------------------------------------

    def _lock(self, repo: RepoRef) -> _RepoLock:
        key = repo.full_name.lower()
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = _RepoLock(self.forge_dir(repo) / ".lock")
            return lock

    def _git(self, repo: RepoRef) -> _Git:
        git = _Git(self.repo_dir(repo), self._clock)
        if not (git.git_dir / "HEAD").exists():
            with self._lock(repo).hold():
                if not (git.git_dir / "HEAD").exists():
                    self._create_repo(repo, git)
        return git

    def _create_repo(self, repo: RepoRef, git: _Git) -> None:
        tmp = git.git_dir.with_name(git.git_dir.name + f".tmp-{uuid.uuid4().hex[:8]}")
        staging = _Git(tmp, self._clock)
        staging.init(self._default_branch)
        files = {_check_path(p): c for p, c in self._seed(repo).items()}
        sha = staging.commit(None, files, f"Initial infra repository for {repo.full_name} (tfpilot scaffold)")
        if not staging.update_ref(self._default_branch, sha, _ZERO):
            raise CodeHostError("could not create the initial branch", status=500)
        # A rename makes the repository appear complete or not at all.
        os.replace(tmp, git.git_dir)
        log.info("created local infra repository %s at %s", repo.full_name, git.git_dir)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return doc if isinstance(doc, dict) else None

    def _write(self, path: Path, doc: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def _next_id(self, repo: RepoRef, counter: str) -> int:
        meta_path = self.forge_dir(repo) / "meta.json"
        meta = self._read(meta_path) or {}
        value = int(meta.get(counter, 0)) + 1
        meta[counter] = value
        self._write(meta_path, meta)
        return value

    # --- branches and commits -------------------------------------------------------------

    def branch_head(self, repo: RepoRef, branch: str) -> str | None:
        return self._git(repo).branch_head(_check_branch(branch))

    def create_branch(self, repo: RepoRef, branch: str, from_sha: str) -> str:
        _check_branch(branch)
        git = self._git(repo)
        with self._lock(repo).hold():
            existing = git.branch_head(branch)
            if existing is not None:
                return existing
            if not _SHA_RE.match(from_sha) or git.rev(from_sha) != from_sha:
                raise CodeHostError(f"commit {from_sha!r} not found", status=422)
            if not git.update_ref(branch, from_sha, _ZERO):
                raise CodeHostError(f"could not create branch {branch!r}", status=422)
            return from_sha

    def reset_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        git = self._git(repo)
        if not _SHA_RE.match(sha) or git.rev(sha) != sha:
            raise CodeHostError(f"commit {sha!r} not found", status=422)
        self._force_branch(repo, branch, sha)

    def _force_branch(self, repo: RepoRef, branch: str, sha: str) -> None:
        """Create ``branch`` at ``sha`` or move it there, whatever it held (a runner's force push)."""
        _check_branch(branch)
        git = self._git(repo)
        with self._lock(repo).hold():
            if not _SHA_RE.match(sha) or git.rev(sha) != sha:
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
        _check_branch(branch)
        clean: dict[str, str | None] = {}
        for path, content in files.items():
            _check_path(path)
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
            pr = self._open_pr_record(repo, branch)
            if pr is not None:
                pr["head_sha"] = sha
                pr["updated_at"] = _now_iso(self._clock.now())
                pr["mergeable_state"] = None
                self._write(self._pr_path(repo, int(pr["number"])), pr)
                fact = self._pr_fact(repo, pr, "synchronize")
        self._queue_fact(fact)
        self._after_call()
        return sha

    # --- pull requests ---------------------------------------------------------------------

    def _pr_path(self, repo: RepoRef, number: int) -> Path:
        return self.forge_dir(repo) / "pulls" / f"{number}.json"

    def _pr_records(self, repo: RepoRef) -> list[dict[str, Any]]:
        folder = self.forge_dir(repo) / "pulls"
        if not folder.is_dir():
            return []
        records: list[dict[str, Any]] = []
        for path in folder.glob("*.json"):
            rec = self._read(path)
            if rec is not None:
                records.append(rec)
        return sorted(records, key=lambda r: int(r["number"]))

    def _open_pr_record(self, repo: RepoRef, head: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = None
        for pr in self._pr_records(repo):
            if pr["head"] == head and pr["state"] == "open":
                found = pr
        return found

    def _pr_url(self, repo: RepoRef, number: int) -> str:
        return self._pr_path(repo, number).resolve().as_uri()

    def _mergeable_state(self, git: _Git, pr: Mapping[str, Any]) -> str | None:
        if pr["state"] != "open":
            return None
        base, head = git.branch_head(pr["base"]), git.branch_head(pr["head"])
        if base is None or head is None:
            return "unknown"
        tree, _conflicts = git.merge_tree(base, head)
        if tree is None:
            return "dirty"
        return "clean" if git.is_ancestor(base, head) else "behind"

    def _info(self, repo: RepoRef, pr: Mapping[str, Any], git: _Git | None = None) -> PullRequestInfo:
        state = pr.get("mergeable_state")
        if git is not None:
            state = self._mergeable_state(git, pr)
        return PullRequestInfo(
            number=int(pr["number"]),
            url=str(pr["url"]),
            state=pr["state"],
            merged=bool(pr["merged"]),
            head_sha=str(pr["head_sha"]),
            head_ref=str(pr["head"]),
            base_ref=str(pr["base"]),
            merge_commit_sha=pr.get("merge_commit_sha"),
            merged_at=pr.get("merged_at"),
            closed_at=pr.get("closed_at"),
            mergeable_state=state,
            title=pr.get("title"),
        )

    def _pr_fact(self, repo: RepoRef, pr: Mapping[str, Any], action: str) -> Fact | None:
        request_id = request_id_from_branch(str(pr["head"]))
        if request_id is None:
            return None
        return PullRequestFact(
            request_id=request_id,
            delivery_id=f"local-{uuid.uuid4().hex}",
            action=action,
            pr=self._info(repo, pr),
            cleanup=str(pr["head"]).startswith(("cleanup/", "destroy/")),
        )

    def find_pull_request(self, repo: RepoRef, head_branch: str) -> PullRequestInfo | None:
        git = self._git(repo)
        for pr in reversed(self._pr_records(repo)):
            if pr["head"] == head_branch:
                return self._info(repo, pr, git)
        return None

    def open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> PullRequestInfo:
        info, fact = self._open_pull_request(repo, head=head, base=base, title=title, body=body, labels=labels)
        self._queue_fact(fact)
        self._after_call()
        return info

    def _open_pull_request(
        self, repo: RepoRef, *, head: str, base: str, title: str, body: str, labels: list[str]
    ) -> tuple[PullRequestInfo, Fact | None]:
        """Open (or find the open) PR of ``head``; the ``opened`` fact is the caller's to deliver."""
        _check_branch(head)
        _check_branch(base)
        git = self._git(repo)
        fact: Fact | None = None
        with self._lock(repo).hold():
            existing = self._open_pr_record(repo, head)
            if existing is not None:
                return self._info(repo, existing, git), None
            head_sha, base_sha = git.branch_head(head), git.branch_head(base)
            if head_sha is None or base_sha is None:
                raise CodeHostError(f"branch {head if head_sha is None else base!r} not found", status=422)
            if head == base or git.is_ancestor(head_sha, base_sha):
                raise CodeHostError(f"no commits between {base} and {head}", status=422)
            number = self._next_id(repo, "pulls")
            now = _now_iso(self._clock.now())
            pr: dict[str, Any] = {
                "number": number,
                "url": self._pr_url(repo, number),
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
            self._write(self._pr_path(repo, number), pr)
            fact = self._pr_fact(repo, pr, "opened")
            info = self._info(repo, pr, git)
        return info, fact

    def _pr_or_404(self, repo: RepoRef, number: int) -> dict[str, Any]:
        pr = self._read(self._pr_path(repo, number))
        if pr is None:
            raise CodeHostError(f"pull request #{number} not found in {repo.full_name}", status=404)
        return pr

    def get_pull_request(self, repo: RepoRef, number: int) -> PullRequestInfo:
        git = self._git(repo)
        return self._info(repo, self._pr_or_404(repo, number), git)

    def pull_request_record(self, repo: RepoRef, number: int) -> dict[str, Any]:
        """The stored record (body, labels, reviews, comments), for the console and tests."""
        return self._pr_or_404(repo, number)

    def list_reviews(self, repo: RepoRef, number: int) -> list[ReviewInfo]:
        pr = self._pr_or_404(repo, number)
        return [ReviewInfo.model_validate(r) for r in pr.get("reviews", [])]

    def submit_review(
        self, repo: RepoRef, number: int, *, commit_sha: str, body: str, user_token: str | None = None
    ) -> ReviewInfo:
        # The local forge has no accounts: a review made with a user's token is recorded under
        # a stable pseudonym of that token (never the token itself).
        login = _BOT_LOGIN if user_token is None else f"local-user-{uuid.uuid5(uuid.NAMESPACE_OID, user_token).hex[:8]}"
        fact: Fact | None = None
        with self._lock(repo).hold():
            pr = self._pr_or_404(repo, number)
            if pr["state"] != "open":
                raise CodeHostError(f"pull request #{number} is closed; it cannot be reviewed", status=422)
            if self._git(repo).rev(commit_sha) != commit_sha:
                raise CodeHostError(f"commit {commit_sha!r} not found", status=422)
            for existing in pr.get("reviews", []):
                same = existing["user_login"] == login and existing["commit_id"] == commit_sha
                if same and existing["state"] == "APPROVED":
                    return ReviewInfo.model_validate(existing)
            review = {
                "id": self._next_id(repo, "reviews"),
                "user_login": login,
                "state": "APPROVED",
                "commit_id": commit_sha,
                "submitted_at": _now_iso(self._clock.now()),
                "body": body,
            }
            pr.setdefault("reviews", []).append(review)
            pr["updated_at"] = review["submitted_at"]
            self._write(self._pr_path(repo, number), pr)
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
        self._queue_fact(fact)
        self._after_call()
        return info

    def comment(self, repo: RepoRef, number: int, body: str) -> None:
        with self._lock(repo).hold():
            pr = self._pr_or_404(repo, number)
            comments = pr.setdefault("comments", [])
            if any(c.get("body") == body for c in comments):
                return  # a retried call after a crash must not post the same comment twice
            comments.append(
                {"id": self._next_id(repo, "comments"), "body": body, "created_at": _now_iso(self._clock.now())}
            )
            self._write(self._pr_path(repo, number), pr)

    def branch_protection(self, repo: RepoRef, branch: str) -> BranchProtection:
        """The local forge protects no branch: every merge the policy allows goes through."""
        return BranchProtection(branch=branch, visibility="none")

    def merge_pull_request(self, repo: RepoRef, number: int, *, sha: str, title: str) -> MergeResult:
        git = self._git(repo)
        fact: Fact | None = None
        with self._lock(repo).hold():
            pr = self._pr_or_404(repo, number)
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
                    self._write(self._pr_path(repo, number), pr)
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
            now = _now_iso(self._clock.now())
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
            self._write(self._pr_path(repo, number), pr)
            fact = self._pr_fact(repo, pr, "closed")
        self._queue_fact(fact)
        self._after_call()
        return MergeResult(merged=True, sha=merged_sha, message="Pull Request successfully merged")

    # --- workflow runs -------------------------------------------------------------------

    def _run_path(self, repo: RepoRef, run_id: int, suffix: str = ".json") -> Path:
        return self.forge_dir(repo) / "runs" / f"{run_id}{suffix}"

    def _run_info(self, rec: Mapping[str, Any]) -> RunInfo:
        return RunInfo(
            run_id=int(rec["run_id"]),
            url=str(rec["url"]),
            status=str(rec["status"]),
            conclusion=rec.get("conclusion"),
            head_sha=rec.get("head_sha"),
            head_branch=rec.get("head_branch"),
            workflow=rec.get("workflow"),
            name=rec.get("name"),
            event=rec.get("event"),
            created_at=rec.get("created_at"),
            updated_at=rec.get("updated_at"),
        )

    def _run_fact(self, rec: Mapping[str, Any]) -> Fact | None:
        kind = self._workflows.kind_of(rec.get("workflow"))
        request_id = rec.get("request_id") or request_id_in_text(rec.get("name"))
        if kind is None or not request_id:
            return None
        report = rec.get("report") if rec.get("status") == "completed" else None
        return RunFact(
            request_id=request_id,
            delivery_id=f"local-{uuid.uuid4().hex}",
            kind=kind,
            run=self._run_info(rec),
            report=RunReport.model_validate(report) if isinstance(report, dict) else None,
        )

    def dispatch_workflow(self, repo: RepoRef, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> RunInfo | None:
        kind = self._workflows.kind_of(workflow)
        if kind is None:
            raise CodeHostError(f"workflow {workflow!r} not found", status=404)
        _check_branch(ref)
        clean_inputs = {str(k): str(v) for k, v in inputs.items()}
        if any(len(v) > 1024 for v in clean_inputs.values()) or len(clean_inputs) > 10:
            raise CodeHostError("workflow inputs are limited to 10 values of 1024 characters", status=422)
        git = self._git(repo)
        request_id = clean_inputs.get("request_id") or request_id_from_branch(ref)
        environment = clean_inputs.get("environment")
        with self._lock(repo).hold():
            head = git.branch_head(ref)
            if head is None:
                raise CodeHostError(f"no ref found for: {ref}", status=422)
            open_pr = self._open_pr_record(repo, ref)
            base_branch = str(open_pr["base"]) if open_pr else self._default_branch
            run_id = self._next_id(repo, "runs")
            now = _now_iso(self._clock.now())
            rec: dict[str, Any] = {
                "run_id": run_id,
                "url": self._run_path(repo, run_id, ".log").resolve().as_uri(),
                "status": "queued",
                "conclusion": None,
                "head_sha": head,
                "head_branch": ref,
                "base_branch": base_branch,
                "workflow": workflow.rsplit("/", 1)[-1],
                "kind": kind,
                "name": " ".join(p for p in (kind, request_id, environment) if p),
                "event": "workflow_dispatch",
                "inputs": clean_inputs,
                "request_id": request_id,
                "environment": environment,
                "created_at": now,
                "updated_at": now,
                "started_at": None,
                "completed_at": None,
            }
            self._write(self._run_path(repo, run_id), rec)
            self._run_path(repo, run_id, ".log").write_text("queued\n", encoding="utf-8")
        self._queue_fact(self._run_fact(rec))
        not_before = time.monotonic() + self._pickup_delay
        self._enqueue(lambda: self._execute(repo, run_id, not_before))
        self._after_call()
        return self.get_run(repo, run_id)

    def _set_run(self, repo: RepoRef, run_id: int, **changes: Any) -> dict[str, Any]:
        with self._lock(repo).hold():
            rec = self._read(self._run_path(repo, run_id))
            if rec is None:
                raise CodeHostError(f"run {run_id} not found", status=404)
            rec.update(changes)
            rec["updated_at"] = _now_iso(self._clock.now())
            self._write(self._run_path(repo, run_id), rec)
            return rec

    def _execute(self, repo: RepoRef, run_id: int, not_before: float = 0.0) -> None:
        _sleep_until(not_before)
        rec = self._set_run(repo, run_id, status="in_progress", started_at=_now_iso(self._clock.now()))
        self._emit_now(self._run_fact(rec))
        job = RunJob(
            run_id=run_id,
            kind=rec["kind"],
            workflow=rec["workflow"],
            ref=rec["head_branch"],
            head_sha=rec["head_sha"],
            base_branch=rec["base_branch"],
            request_id=rec.get("request_id"),
            environment=rec.get("environment"),
            inputs=rec.get("inputs", {}),
            repo=repo.full_name,
        )
        try:
            outcome = self._runner.execute(job, _Workspace(self, repo))
        except Exception as exc:  # the runner catches its own errors; this is the last guard
            log.exception("local run %s failed", run_id)
            outcome = RunOutcome("failure", [f"ERROR: {type(exc).__name__}: {exc}"])
        self._run_path(repo, run_id, ".log").write_text("\n".join(outcome.log) + "\n", encoding="utf-8")
        if outcome.plan_json is not None:
            self._write(self._run_path(repo, run_id, ".plan.json"), outcome.plan_json)
        rec = self._set_run(
            repo,
            run_id,
            status="completed",
            conclusion=outcome.conclusion,
            completed_at=_now_iso(self._clock.now()),
            state_commit=outcome.state_commit,
            report=outcome.report.model_dump(mode="json") if outcome.report is not None else None,
        )
        self._emit_now(self._run_fact(rec))

    def _emit_now(self, fact: Fact | None) -> None:
        if fact is not None:
            self._emit(fact)

    def find_run(self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None = None) -> RunInfo | None:
        folder = self.forge_dir(repo) / "runs"
        if not folder.is_dir():
            return None
        name = workflow.rsplit("/", 1)[-1]
        best: dict[str, Any] | None = None
        for path in folder.glob("*.json"):
            if path.name.endswith(".plan.json"):
                continue
            rec = self._read(path)
            if rec is None or rec.get("workflow") != name or request_id_in_text(rec.get("name")) != request_id:
                continue
            if ref is not None and rec.get("head_branch") != ref:
                continue
            if best is None or int(rec["run_id"]) > int(best["run_id"]):
                best = rec
        return self._run_info(best) if best else None

    def get_run(self, repo: RepoRef, run_id: int) -> RunInfo:
        rec = self._read(self._run_path(repo, run_id))
        if rec is None:
            raise CodeHostError(f"run {run_id} not found in {repo.full_name}", status=404)
        return self._run_info(rec)

    def run_log(self, repo: RepoRef, run_id: int) -> str:
        """The run's log text (what the runner did and why), for the console and tests."""
        try:
            return self._run_path(repo, run_id, ".log").read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CodeHostError(f"run {run_id} not found in {repo.full_name}", status=404) from exc

    def get_plan_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        rec = self._read(self._run_path(repo, run_id))
        if rec is None or rec.get("kind") != "plan" or request_id_in_text(rec.get("name")) != request_id:
            return None
        plan: dict[str, Any] | None = self._read(self._run_path(repo, run_id, ".plan.json"))
        return plan

    def get_cost_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        return None  # the local runner does not estimate cost

    # --- reading the repository (console, demo, tests) ------------------------------------

    def read_file(self, repo: RepoRef, branch: str, path: str) -> str | None:
        """The file's text on ``branch``, or None when the branch or the file is absent."""
        git = self._git(repo)
        head = git.branch_head(_check_branch(branch))
        if head is None:
            return None
        return git.tree_files(head).get(_check_path(path))

    def list_files(self, repo: RepoRef, branch: str) -> list[str]:
        git = self._git(repo)
        head = git.branch_head(_check_branch(branch))
        return sorted(git.tree_files(head)) if head else []
