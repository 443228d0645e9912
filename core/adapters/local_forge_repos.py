"""Where the local forge keeps each repository: the bare git repository
``<root>/repos/<owner>/<repo>.git`` (created on first use from the seed, appearing whole or not
at all) and the per-repository lock, good across threads and processes, that serialises its
writers."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from core.adapters.local_forge_seed import SeedFiles
from core.adapters.local_git import ZERO_SHA, Git, check_name, check_path
from core.ports.clock import Clock
from core.ports.code_host import CodeHostError, RepoRef

log = logging.getLogger(__name__)


class RepoLock:
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


class ForgeRepos:
    """The repositories under ``root``: their directories, locks and git access."""

    def __init__(self, root: Path, clock: Clock, *, default_branch: str, seed: SeedFiles) -> None:
        self.root = root
        self._clock = clock
        self._default_branch = default_branch
        self._seed = seed
        self._locks: dict[str, RepoLock] = {}
        self._locks_guard = threading.Lock()

    def repo_dir(self, repo: RepoRef) -> Path:
        return self.root / "repos" / check_name("owner", repo.owner) / f"{check_name('repository', repo.name)}.git"

    def forge_dir(self, repo: RepoRef) -> Path:
        return self.root / "forge" / check_name("owner", repo.owner) / check_name("repository", repo.name)

    def lock(self, repo: RepoRef) -> RepoLock:
        key = repo.full_name.lower()
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = RepoLock(self.forge_dir(repo) / ".lock")
            return lock

    def git(self, repo: RepoRef) -> Git:
        git = Git(self.repo_dir(repo), self._clock)
        if not (git.git_dir / "HEAD").exists():
            with self.lock(repo).hold():
                if not (git.git_dir / "HEAD").exists():
                    self._create(repo, git)
        return git

    def _create(self, repo: RepoRef, git: Git) -> None:
        tmp = git.git_dir.with_name(git.git_dir.name + f".tmp-{uuid.uuid4().hex[:8]}")
        staging = Git(tmp, self._clock)
        staging.init(self._default_branch)
        files = {check_path(p): c for p, c in self._seed(repo).items()}
        sha = staging.commit(None, files, f"Initial infra repository for {repo.full_name} (tfpilot scaffold)")
        if not staging.update_ref(self._default_branch, sha, ZERO_SHA):
            raise CodeHostError("could not create the initial branch", status=500)
        # A rename makes the repository appear complete or not at all.
        os.replace(tmp, git.git_dir)
        log.info("created local infra repository %s at %s", repo.full_name, git.git_dir)
