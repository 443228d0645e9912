"""Workflow runs on the local forge: a dispatch records a queued run, and ``LocalRunner``
executes it after the call returns, reporting queued -> in_progress -> completed as facts; the
run's log and plan preview are kept beside its record."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from core.adapters.local_forge_base import ForgeBase
from core.adapters.local_forge_records import run_fact, run_info
from core.adapters.local_forge_tasks import sleep_until
from core.adapters.local_git import check_branch
from core.adapters.local_run_types import RunJob, RunOutcome, RunWorkspace
from core.adapters.local_runner import LocalRunner
from core.domain.ids import request_id_from_branch, request_id_in_text
from core.ports.code_host import CodeHostError, RepoRef, RunInfo

log = logging.getLogger(__name__)


class WorkflowRunsMixin(ForgeBase):
    """The workflow run half of the ``CodeHost`` port for ``LocalCodeHost``."""

    _runner: LocalRunner

    def _workspace(self, repo: RepoRef) -> RunWorkspace:
        """What a run may do to ``repo`` (the host supplies it: it holds branches and pull requests)."""
        raise NotImplementedError

    def dispatch_workflow(self, repo: RepoRef, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> RunInfo | None:
        kind = self._workflows.kind_of(workflow)
        if kind is None:
            raise CodeHostError(f"workflow {workflow!r} not found", status=404)
        check_branch(ref)
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
            open_pr = self._records.open_pr(repo, ref)
            base_branch = str(open_pr["base"]) if open_pr else self._default_branch
            run_id = self._records.next_id(repo, "runs")
            now = self._now_iso()
            rec: dict[str, Any] = {
                "run_id": run_id,
                "url": self._records.run_path(repo, run_id, ".log").resolve().as_uri(),
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
            self._records.write(self._records.run_path(repo, run_id), rec)
            self._records.run_path(repo, run_id, ".log").write_text("queued\n", encoding="utf-8")
        self._tasks.queue_fact(run_fact(rec, self._workflows))
        not_before = time.monotonic() + self._tasks.pickup_delay
        self._tasks.enqueue(lambda: self._execute(repo, run_id, not_before))
        self._tasks.after_call()
        return self.get_run(repo, run_id)

    def _set_run(self, repo: RepoRef, run_id: int, **changes: Any) -> dict[str, Any]:
        with self._lock(repo).hold():
            rec = self._records.read(self._records.run_path(repo, run_id))
            if rec is None:
                raise CodeHostError(f"run {run_id} not found", status=404)
            rec.update(changes)
            rec["updated_at"] = self._now_iso()
            self._records.write(self._records.run_path(repo, run_id), rec)
            return rec

    def _execute(self, repo: RepoRef, run_id: int, not_before: float = 0.0) -> None:
        sleep_until(not_before)
        rec = self._set_run(repo, run_id, status="in_progress", started_at=self._now_iso())
        self._tasks.emit_now(run_fact(rec, self._workflows))
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
            outcome = self._runner.execute(job, self._workspace(repo))
        except Exception as exc:  # the runner catches its own errors; this is the last guard
            log.exception("local run %s failed", run_id)
            outcome = RunOutcome("failure", [f"ERROR: {type(exc).__name__}: {exc}"])
        self._records.run_path(repo, run_id, ".log").write_text("\n".join(outcome.log) + "\n", encoding="utf-8")
        if outcome.plan_json is not None:
            self._records.write(self._records.run_path(repo, run_id, ".plan.json"), outcome.plan_json)
        rec = self._set_run(
            repo,
            run_id,
            status="completed",
            conclusion=outcome.conclusion,
            completed_at=self._now_iso(),
            state_commit=outcome.state_commit,
            report=outcome.report.model_dump(mode="json") if outcome.report is not None else None,
        )
        self._tasks.emit_now(run_fact(rec, self._workflows))

    def find_run(self, repo: RepoRef, workflow: str, *, request_id: str, ref: str | None = None) -> RunInfo | None:
        name = workflow.rsplit("/", 1)[-1]
        best: dict[str, Any] | None = None
        for rec in self._records.run_records(repo):
            if rec.get("workflow") != name or request_id_in_text(rec.get("name")) != request_id:
                continue
            if ref is not None and rec.get("head_branch") != ref:
                continue
            if best is None or int(rec["run_id"]) > int(best["run_id"]):
                best = rec
        return run_info(best) if best else None

    def get_run(self, repo: RepoRef, run_id: int) -> RunInfo:
        rec = self._records.read(self._records.run_path(repo, run_id))
        if rec is None:
            raise CodeHostError(f"run {run_id} not found in {repo.full_name}", status=404)
        return run_info(rec)

    def run_log(self, repo: RepoRef, run_id: int) -> str:
        """The run's log text (what the runner did and why), for the console and tests."""
        try:
            return self._records.run_path(repo, run_id, ".log").read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CodeHostError(f"run {run_id} not found in {repo.full_name}", status=404) from exc

    def get_plan_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        rec = self._records.read(self._records.run_path(repo, run_id))
        if rec is None or rec.get("kind") != "plan" or request_id_in_text(rec.get("name")) != request_id:
            return None
        plan: dict[str, Any] | None = self._records.read(self._records.run_path(repo, run_id, ".plan.json"))
        return plan

    def get_cost_json(self, repo: RepoRef, run_id: int, request_id: str) -> dict[str, Any] | None:
        return None  # the local runner does not estimate cost
