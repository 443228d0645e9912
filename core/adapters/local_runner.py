"""The local runner: what GitHub Actions does for TfPilot, done on this machine for the embedded default.

It owns the three run kinds ``LocalCodeHost`` executes. **Plan** checks the branch's Terraform
(every ``.tf`` parsed with python-hcl2, ``terraform fmt -check`` on the changed files when
terraform is installed, ``terraform validate`` only when the configuration needs no provider or
module download, otherwise skipped and said so in the log) and builds a plan *preview* from the
difference between the merge base and the branch: resources added, changed and removed by
address, as a ``terraform show -json``-shaped document labelled ``"tfpilot_local_preview": true``
(it never talks to a cloud). **Apply** and **destroy** record their result on the base branch as
a ledger file committed by TfPilot: ``<envPath>/.tfpilot-state/<requestId>.json`` holds what the
apply recorded (``status: applied`` and its resources) and is rewritten by destroy (``status:
destroyed``, the resources moved to ``destroyed_resources``) so git history keeps both.
**Cleanup** does what the infra repo's ``cleanup.yml`` does on GitHub: from the dispatched
branch's head it (re)creates ``cleanup/<requestId>``, commits the removal of
``envs/<env>/tfpilot_<requestId>.tf`` and opens a pull request into that branch, never merging it
(TfPilot merges it, then dispatches destroy); an open cleanup PR or an absent file makes it a
no-op that succeeds, as the workflow does. Drift runs have nothing to do locally and succeed
with a note.

The runner reads and writes git only through the narrow ``RunWorkspace`` the code host gives it.
This module holds ``LocalRunner``; what it works with lives beside it: ``local_run_types`` (the
job, workspace and outcome), ``local_hcl`` (reading ``.tf`` files), ``local_tf_checks`` (``fmt``
and ``validate``), ``local_preview`` (the plan preview) and ``local_state_ledger`` (the ledger).
"""

from __future__ import annotations

import logging
import posixpath
import shutil
from collections.abc import Mapping
from typing import Any

from core.adapters.local_hcl import HclError, output_names, parse_hcl
from core.adapters.local_preview import build_preview, change_symbol, count_changes, inventory
from core.adapters.local_run_types import RunJob, RunOutcome, RunWorkspace
from core.adapters.local_state_ledger import STATE_DIR, dump_state, load_state, state_row
from core.adapters.local_tf_checks import TerraformChecks
from core.adapters.terraform_run import RealTerraform, TfRun, Unavailable
from core.domain.run_report import Diagnostic, bounded
from core.ports.clock import Clock

log = logging.getLogger(__name__)


class LocalRunner:
    """Executes plan, apply, destroy, cleanup (and no-op drift) runs against a ``RunWorkspace``."""

    def __init__(
        self,
        clock: Clock,
        *,
        terraform: str | None = None,
        use_terraform: bool = True,
        real: RealTerraform | None = None,
        preview_reason: str | None = None,
    ) -> None:
        self._clock = clock
        self._checks = TerraformChecks((terraform or shutil.which("terraform")) if use_terraform else None)
        self._parse_cache: dict[str, dict[str, Any]] = {}
        # Real Terraform against the local cloud when given; otherwise every plan is a preview
        # and ``preview_reason`` (set by the composition root) says why on the card.
        self._real = real
        self._preview_reason = preview_reason

    @property
    def real(self) -> RealTerraform | None:
        return self._real

    def _real_or_reason(self) -> tuple[RealTerraform | None, str | None]:
        if self._real is None:
            return None, self._preview_reason
        why = self._real.unavailable_reason()
        return (None, why) if why else (self._real, None)

    @property
    def terraform(self) -> str | None:
        return self._checks.terraform

    def execute(self, job: RunJob, ws: RunWorkspace) -> RunOutcome:
        lines = [
            f"TfPilot local runner: {job.kind} run {job.run_id} ({job.workflow}) on {job.ref} @ {job.head_sha[:12]}",
            f"request: {job.request_id or '-'}  environment: {job.environment or '-'}",
        ]
        try:
            if job.kind == "plan":
                return self._plan(job, ws, lines)
            if job.kind == "apply":
                return self._apply(job, ws, lines)
            if job.kind == "destroy":
                return self._destroy(job, ws, lines)
            if job.kind == "cleanup":
                return self._cleanup(job, ws, lines)
            lines.append(f"{job.kind}: nothing to do for the local runner; concluded success")
            return RunOutcome("success", lines)
        except Exception as exc:  # a run never takes the worker down: it fails, with the reason logged
            log.exception("local run %s crashed", job.run_id)
            lines.append(f"ERROR: the local runner failed: {type(exc).__name__}: {exc}")
            return RunOutcome("failure", lines)

    # --- shared steps ------------------------------------------------------------------

    def _parse(self, path: str, text: str) -> dict[str, Any]:
        key = f"{path}\0{text}"
        cached = self._parse_cache.get(key)
        if cached is None:
            cached = parse_hcl(path, text)
            if len(self._parse_cache) > 512:
                self._parse_cache.clear()
            self._parse_cache[key] = cached
        return cached

    def _parse_all(self, files: Mapping[str, str], lines: list[str]) -> dict[str, dict[str, Any]] | None:
        parsed: dict[str, dict[str, Any]] = {}
        errors: list[str] = []
        for path in sorted(files):
            try:
                parsed[path] = self._parse(path, files[path])
            except HclError as exc:
                errors.append(str(exc))
        if errors:
            lines.append(f"hcl: {len(errors)} file(s) do not parse:")
            lines.extend(f"  {e}" for e in errors)
            return None
        lines.append(f"hcl: {len(parsed)} .tf file(s) parsed")
        return parsed

    # --- plan ----------------------------------------------------------------------------

    def _plan(self, job: RunJob, ws: RunWorkspace, lines: list[str]) -> RunOutcome:
        head_all = ws.tree_files(job.head_sha)
        base_head = ws.branch_head(job.base_branch)
        base_sha = (ws.merge_base(base_head, job.head_sha) if base_head else None) or base_head
        base_all = ws.tree_files(base_sha) if base_sha else {}
        lines.append(f"compare: {job.base_branch} @ {(base_sha or 'none')[:12]} (merge base) -> {job.ref}")
        head_tf = {p: t for p, t in head_all.items() if p.endswith(".tf")}
        base_tf = {p: t for p, t in base_all.items() if p.endswith(".tf")}
        changed = sorted(p for p in set(head_tf) | set(base_tf) if head_tf.get(p) != base_tf.get(p))
        dirs = sorted({posixpath.dirname(p) for p in changed})
        lines.append(f"changed .tf files: {', '.join(changed) if changed else 'none'}")

        parsed_head = self._parse_all(head_tf, lines)
        if parsed_head is None:
            lines.append("plan: failed (fix the files above)")
            return RunOutcome("failure", lines)
        fmt_ok = self._checks.fmt_check({p: head_tf[p] for p in changed if p in head_tf}, lines)
        if not fmt_ok:
            lines.append("plan: failed")
            return RunOutcome("failure", lines)
        real, reason = self._real_or_reason()
        if real is not None and job.environment:
            env_dir = _env_dir(head_tf, job)
            try:
                tf = real.plan(job.repo, job.environment, head_all, env_dir, parsed_head)
            except Unavailable as exc:
                reason = str(exc)
            else:
                lines.append(f"plan: {real.description}, in {env_dir}")
                return _outcome(tf, lines)
        valid = self._checks.validate(dirs, head_tf, parsed_head, lines)
        if not valid:
            lines.append("plan: failed")
            return RunOutcome("failure", lines)

        parsed_base: dict[str, dict[str, Any]] = {}
        for p, text in base_tf.items():
            if posixpath.dirname(p) in dirs:
                try:
                    parsed_base[p] = self._parse(p, text)
                except HclError as exc:
                    lines.append(f"warning: base file does not parse, its resources are not compared: {exc}")
        before = inventory(parsed_base)
        after = inventory({p: v for p, v in parsed_head.items() if posixpath.dirname(p) in dirs})
        plan = build_preview(before, after, generated_at=self._clock.now().isoformat())
        if reason:
            plan["tfpilot_preview_reason"] = reason
            lines.append(f"preview: {reason}")
        counts = count_changes(plan)
        lines.append(
            f"preview: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy "
            "(local preview, not a cloud plan)"
        )
        for rc in plan["resource_changes"]:
            actions = rc["change"]["actions"]
            if actions != ["no-op"]:
                lines.append(f"  {change_symbol(actions)} {rc['address']}")
        return RunOutcome("success", lines, plan_json=plan)

    # --- apply and destroy -----------------------------------------------------------------

    def _request_files(self, files: Mapping[str, str], request_id: str) -> dict[str, str]:
        name = f"tfpilot_{request_id}.tf"
        return {p: t for p, t in files.items() if posixpath.basename(p) == name}

    def _apply(self, job: RunJob, ws: RunWorkspace, lines: list[str]) -> RunOutcome:
        if not job.request_id:
            lines.append("apply: no request_id input; nothing to apply")
            return RunOutcome("failure", lines)
        files = ws.tree_files(job.head_sha)
        mine = self._request_files(files, job.request_id)
        if not mine:
            lines.append(
                f"apply: tfpilot_{job.request_id}.tf is not on {job.ref} at {job.head_sha[:12]}; "
                "merge the pull request before applying"
            )
            return RunOutcome("failure", lines)
        parsed = self._parse_all({p: t for p, t in files.items() if p.endswith(".tf")}, lines)
        if parsed is None or not self._checks.fmt_check(mine, lines):
            lines.append("apply: failed")
            return RunOutcome("failure", lines)
        real, reason = self._real_or_reason()
        if real is not None and job.environment:
            env_dir = posixpath.dirname(sorted(mine)[0])
            outputs = [name for p in mine for name in output_names(parsed[p])]
            try:
                tf = real.apply(job.repo, job.environment, files, env_dir, parsed, outputs)
            except Unavailable as exc:
                reason = str(exc)
            else:
                lines.append(f"apply: {real.description}, in {env_dir}")
                outcome = _outcome(tf, lines)
                outcome.plan_json = None  # the apply's own plan is not the request's plan
                return outcome
        if reason:
            lines.append(f"apply: recorded only (preview: {reason})")
        resources = inventory({p: parsed[p] for p in mine})
        state_dir = posixpath.join(posixpath.dirname(sorted(mine)[0]), STATE_DIR)
        state_path = posixpath.join(state_dir, f"{job.request_id}.json")
        current_head = ws.branch_head(job.ref) or job.head_sha
        previous = load_state(ws.tree_files(current_head).get(state_path))
        prior = {r["address"] for r in (previous or {}).get("resources", [])}
        for addr in sorted(resources):
            lines.append(f"  {'~' if addr in prior else '+'} {addr}: recorded as applied")
        doc = {
            "tfpilot_local_state": True,
            "request_id": job.request_id,
            "environment": job.environment,
            "status": "applied",
            "run_id": job.run_id,
            "source_commit": job.head_sha,
            "applied_at": self._clock.now().isoformat(),
            "files": sorted(mine),
            "resources": [state_row(r) for _, r in sorted(resources.items())],
            "note": "Recorded by the TfPilot local runner; no cloud resources were created.",
        }
        sha = ws.commit_on_branch(
            job.ref,
            {state_path: dump_state(doc)},
            f"tfpilot: apply {job.request_id} (local run {job.run_id})",
        )
        lines.append(f"apply: recorded {len(resources)} resource(s) in {state_path} (commit {sha[:12]})")
        return RunOutcome("success", lines, state_commit=sha)

    def _destroy(self, job: RunJob, ws: RunWorkspace, lines: list[str]) -> RunOutcome:
        if not job.request_id:
            lines.append("destroy: no request_id input; nothing to destroy")
            return RunOutcome("failure", lines)
        head = ws.branch_head(job.ref) or job.head_sha
        files = ws.tree_files(head)
        suffix = f"/{STATE_DIR}/{job.request_id}.json"
        states = {p: t for p, t in files.items() if ("/" + p).endswith(suffix)}
        real, _reason = self._real_or_reason()
        if not states and real is not None and job.environment:
            # Nothing was recorded as a preview: the request's resources (if any) are in real state.
            head_tf = {p: t for p, t in files.items() if p.endswith(".tf")}
            parsed = self._parse_all(head_tf, lines)
            if parsed is None:
                lines.append("destroy: failed")
                return RunOutcome("failure", lines)
            env_dir = _env_dir(head_tf, job)
            try:
                tf = real.destroy(job.repo, job.environment, files, env_dir, parsed, job.request_id)
            except Unavailable as exc:
                lines.append(f"destroy: {exc}")
                return RunOutcome("failure", lines, report=bounded([Diagnostic(summary=str(exc))]))
            lines.append(f"destroy: {real.description}, in {env_dir}")
            outcome = _outcome(tf, lines)
            outcome.plan_json = None
            return outcome
        if not states:
            lines.append(f"destroy: no applied state recorded for {job.request_id}; nothing to destroy")
            return RunOutcome("success", lines)
        updates: dict[str, str | None] = {}
        count = 0
        for path, text in sorted(states.items()):
            doc = load_state(text) or {}
            gone = list(doc.get("resources", [])) + list(doc.get("destroyed_resources", []))
            count += len(doc.get("resources", []))
            for row in doc.get("resources", []):
                lines.append(f"  - {row.get('address')}: recorded as destroyed")
            doc.update(
                {
                    "status": "destroyed",
                    "resources": [],
                    "destroyed_resources": gone,
                    "destroy_run_id": job.run_id,
                    "destroyed_at": self._clock.now().isoformat(),
                }
            )
            updates[path] = dump_state(doc)
        sha = ws.commit_on_branch(job.ref, updates, f"tfpilot: destroy {job.request_id} (local run {job.run_id})")
        lines.append(f"destroy: recorded {count} resource(s) destroyed (commit {sha[:12]})")
        return RunOutcome("success", lines, state_commit=sha)

    # --- cleanup -----------------------------------------------------------------------------

    def _cleanup(self, job: RunJob, ws: RunWorkspace, lines: list[str]) -> RunOutcome:
        rid, env = job.request_id, job.environment
        if not rid or not env:
            lines.append("cleanup: the request_id and environment inputs are required")
            return RunOutcome("failure", lines)
        path = posixpath.join("envs", env, f"tfpilot_{rid}.tf")
        branch, base = f"cleanup/{rid}", job.ref
        open_pr = ws.open_pull_request_for(branch)
        if open_pr is not None:
            lines.append(f"cleanup PR already open: #{open_pr}")
            return RunOutcome("success", lines)
        if path not in ws.tree_files(job.head_sha):
            lines.append(f"{path} is not on {base}: nothing to clean up")
            return RunOutcome("success", lines)
        # The branch belongs to this request alone: a leftover from an earlier attempt is replaced.
        ws.force_branch(branch, job.head_sha)
        sha = ws.commit_on_branch(branch, {path: None}, f"tfpilot: remove {rid} from {env}")
        lines.append(f"cleanup: removed {path} on {branch} (commit {sha[:12]})")
        number = ws.open_pull_request(
            head=branch,
            base=base,
            title=f"tfpilot: remove {rid} ({env})",
            body=f"Removes `{path}` for TfPilot request `{rid}` (destroy). Opened by the tfpilot cleanup workflow.",
            labels=(),
        )
        lines.append(f"cleanup: opened pull request #{number} ({branch} -> {base}); TfPilot merges it")
        return RunOutcome("success", lines)


def _env_dir(head_tf: Mapping[str, str], job: RunJob) -> str:
    """The environment's directory: where the request's file is, else ``envs/<environment>``."""
    name = f"tfpilot_{job.request_id}.tf"
    for path in sorted(head_tf):
        if posixpath.basename(path) == name:
            return posixpath.dirname(path)
    return f"envs/{job.environment}"


def _outcome(tf: TfRun, lines: list[str]) -> RunOutcome:
    lines.extend(tf.lines)
    if tf.ok and tf.plan_json is not None:
        counts = count_changes(tf.plan_json)
        lines.append(f"plan: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy")
    lines.append("concluded: " + ("success" if tf.ok else "failure"))
    report = bounded(tf.diagnostics, tf.outputs)
    return RunOutcome("success" if tf.ok else "failure", lines, plan_json=tf.plan_json, report=report)
