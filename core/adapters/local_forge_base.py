"""What every part of ``LocalCodeHost`` works through: the repositories, their records and the
queue of work after a call. The parts (pull requests, workflow runs, the host itself) are mixins
over this base because they share all of that state; ``LocalCodeHost.__init__`` sets it."""

from __future__ import annotations

from core.adapters.local_forge_records import ForgeRecords
from core.adapters.local_forge_repos import ForgeRepos, RepoLock
from core.adapters.local_forge_tasks import ForgeTasks
from core.adapters.local_git import Git
from core.domain.workflows import WorkflowNames
from core.ports.clock import Clock
from core.ports.code_host import RepoRef


class ForgeBase:
    """The shared collaborators of the local forge's parts (see module doc)."""

    _clock: Clock
    _workflows: WorkflowNames
    _default_branch: str
    _repos: ForgeRepos
    _records: ForgeRecords
    _tasks: ForgeTasks

    def _git(self, repo: RepoRef) -> Git:
        """The repository's git, creating the repository on first use."""
        return self._repos.git(repo)

    def _lock(self, repo: RepoRef) -> RepoLock:
        return self._repos.lock(repo)

    def _now_iso(self) -> str:
        return self._clock.now().isoformat()
