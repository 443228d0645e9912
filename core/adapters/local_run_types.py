"""What the local code host and the local runner exchange: the run to execute (``RunJob``), the
git access it gets (``RunWorkspace``) and what it reports back (``RunOutcome``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.domain.run_report import RunReport
from core.domain.workflows import RunKind


class RunWorkspace(Protocol):
    """Git access a run needs, supplied by the code host (which holds the repository lock)."""

    def tree_files(self, sha: str) -> dict[str, str]:
        """Every text file of the commit ``sha``: path -> content."""
        ...

    def branch_head(self, branch: str) -> str | None: ...

    def merge_base(self, a: str, b: str) -> str | None: ...

    def commit_on_branch(self, branch: str, files: Mapping[str, str | None], message: str) -> str:
        """One commit on top of the branch's current head; returns its sha."""
        ...

    def force_branch(self, branch: str, sha: str) -> None:
        """Point ``branch`` at ``sha``, creating it or replacing what it held (``git push --force``)."""
        ...

    def open_pull_request_for(self, head: str) -> int | None:
        """The number of the open pull request whose head is ``head``, if any."""
        ...

    def open_pull_request(self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]) -> int:
        """Open a pull request (its ``opened`` fact is reported before the run ends); its number."""
        ...


@dataclass(frozen=True)
class RunJob:
    """One dispatched run, as the runner needs it."""

    run_id: int
    kind: RunKind
    workflow: str
    ref: str  # the branch the run was dispatched on
    head_sha: str  # that branch's head at dispatch
    base_branch: str  # the branch a plan is compared against
    request_id: str | None = None
    environment: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    repo: str = "local/infra"  # owner/name: keys the real runs' state and init cache


@dataclass
class RunOutcome:
    conclusion: str  # success | failure
    log: list[str]
    plan_json: dict[str, Any] | None = None
    state_commit: str | None = None
    report: RunReport | None = None  # diagnostics of a failed run, outputs of an apply
