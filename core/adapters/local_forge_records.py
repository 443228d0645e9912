"""The local forge's JSON records under ``<root>/forge/<owner>/<repo>/``: ``meta.json`` (the
id counters), ``pulls/<n>.json`` and ``runs/<id>.json`` (with ``<id>.log`` and the plan preview
``<id>.plan.json``), written atomically; and how a record reads as the ``CodeHost`` port's
models and facts."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.adapters.local_forge_repos import ForgeRepos
from core.adapters.local_git import Git
from core.domain.facts import Fact, PullRequestFact, RunFact
from core.domain.ids import request_id_from_branch, request_id_in_text
from core.domain.run_report import RunReport
from core.domain.workflows import WorkflowNames
from core.ports.code_host import CodeHostError, PullRequestInfo, RepoRef, RunInfo


class ForgeRecords:
    """Reads and writes the records of every repository (the caller holds the repository lock
    around a read-modify-write)."""

    def __init__(self, repos: ForgeRepos) -> None:
        self._repos = repos

    def read(self, path: Path) -> dict[str, Any] | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return doc if isinstance(doc, dict) else None

    def write(self, path: Path, doc: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def next_id(self, repo: RepoRef, counter: str) -> int:
        meta_path = self._repos.forge_dir(repo) / "meta.json"
        meta = self.read(meta_path) or {}
        value = int(meta.get(counter, 0)) + 1
        meta[counter] = value
        self.write(meta_path, meta)
        return value

    # --- pull requests -------------------------------------------------------------------

    def pr_path(self, repo: RepoRef, number: int) -> Path:
        return self._repos.forge_dir(repo) / "pulls" / f"{number}.json"

    def pr_url(self, repo: RepoRef, number: int) -> str:
        return self.pr_path(repo, number).resolve().as_uri()

    def pr_records(self, repo: RepoRef) -> list[dict[str, Any]]:
        return sorted(self._records_in(self._repos.forge_dir(repo) / "pulls"), key=lambda r: int(r["number"]))

    def open_pr(self, repo: RepoRef, head: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = None
        for pr in self.pr_records(repo):
            if pr["head"] == head and pr["state"] == "open":
                found = pr
        return found

    def pr_or_404(self, repo: RepoRef, number: int) -> dict[str, Any]:
        pr = self.read(self.pr_path(repo, number))
        if pr is None:
            raise CodeHostError(f"pull request #{number} not found in {repo.full_name}", status=404)
        return pr

    # --- workflow runs -------------------------------------------------------------------

    def run_path(self, repo: RepoRef, run_id: int, suffix: str = ".json") -> Path:
        return self._repos.forge_dir(repo) / "runs" / f"{run_id}{suffix}"

    def run_records(self, repo: RepoRef) -> list[dict[str, Any]]:
        """Every run record, in no particular order."""
        return self._records_in(self._repos.forge_dir(repo) / "runs")

    def _records_in(self, folder: Path) -> list[dict[str, Any]]:
        # A run's plan preview is stored beside its record, as <id>.plan.json: not a record.
        if not folder.is_dir():
            return []
        records: list[dict[str, Any]] = []
        for path in folder.glob("*.json"):
            if path.name.endswith(".plan.json"):
                continue
            rec = self.read(path)
            if rec is not None:
                records.append(rec)
        return records


# --- records as the port's models -----------------------------------------------------------


def mergeable_state(git: Git, pr: Mapping[str, Any]) -> str | None:
    if pr["state"] != "open":
        return None
    base, head = git.branch_head(pr["base"]), git.branch_head(pr["head"])
    if base is None or head is None:
        return "unknown"
    tree, _conflicts = git.merge_tree(base, head)
    if tree is None:
        return "dirty"
    return "clean" if git.is_ancestor(base, head) else "behind"


def pr_info(pr: Mapping[str, Any], git: Git | None = None) -> PullRequestInfo:
    """The port's view of a record; with ``git``, its mergeable state is computed afresh."""
    state = pr.get("mergeable_state")
    if git is not None:
        state = mergeable_state(git, pr)
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


def pr_fact(pr: Mapping[str, Any], action: str) -> Fact | None:
    request_id = request_id_from_branch(str(pr["head"]))
    if request_id is None:
        return None
    return PullRequestFact(
        request_id=request_id,
        delivery_id=f"local-{uuid.uuid4().hex}",
        action=action,
        pr=pr_info(pr),
        cleanup=str(pr["head"]).startswith(("cleanup/", "destroy/")),
    )


def run_info(rec: Mapping[str, Any]) -> RunInfo:
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


def run_fact(rec: Mapping[str, Any], workflows: WorkflowNames) -> Fact | None:
    kind = workflows.kind_of(rec.get("workflow"))
    request_id = rec.get("request_id") or request_id_in_text(rec.get("name"))
    if kind is None or not request_id:
        return None
    report = rec.get("report") if rec.get("status") == "completed" else None
    return RunFact(
        request_id=request_id,
        delivery_id=f"local-{uuid.uuid4().hex}",
        kind=kind,
        run=run_info(rec),
        report=RunReport.model_validate(report) if isinstance(report, dict) else None,
    )
