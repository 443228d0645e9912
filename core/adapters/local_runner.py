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
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import hcl2

from core.adapters.terraform_run import RealTerraform, TfRun, Unavailable
from core.domain.run_report import Diagnostic, RunReport, bounded
from core.domain.workflows import RunKind
from core.ports.clock import Clock

log = logging.getLogger(__name__)

STATE_DIR = ".tfpilot-state"
PREVIEW_NOTE = (
    "TfPilot local preview: computed from the difference between the base branch and this branch; "
    "no provider was called and no cloud plan was made."
)
_TF_TIMEOUT_SECONDS = 120.0
# Top-level blocks that do not, by themselves, make terraform download anything.
_LOCAL_ONLY_BLOCKS = frozenset({"variable", "output", "locals", "check", "moved", "removed", "import"})


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


@dataclass(frozen=True)
class Resource:
    """One configured object found in HCL: a managed resource or a module call."""

    address: str
    mode: str  # managed | module
    type: str
    name: str
    path: str  # the file it was found in
    values: dict[str, Any]
    provider_name: str | None = None


class HclError(Exception):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


# --- HCL reading ---------------------------------------------------------------------------


def _unquote_label(label: str) -> str:
    if len(label) >= 2 and label[0] == label[-1] == '"':
        return label[1:-1]
    return label


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _decode_string(raw: str) -> str:
    """The value of an HCL quoted string literal (python-hcl2 keeps the quotes and escapes)."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                digits = body[i + 2 : i + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
        if body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1 : i + 3])
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_plain_literal(value: str) -> bool:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return False
    # An interpolation or directive makes it an expression: keep its text as written.
    return re.search(r"(?<![$%])[$%]\{", value.replace("$${", "").replace("%%{", "")) is None


def plain_value(value: Any) -> Any:
    """python-hcl2's parsed value made readable: literals unquoted, blocks without markers."""
    if isinstance(value, str):
        return _decode_string(value) if _is_plain_literal(value) else value
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {_unquote_label(str(k)): plain_value(v) for k, v in value.items() if k != "__is_block__"}
    return value


def parse_hcl(path: str, text: str) -> dict[str, Any]:
    try:
        parsed = hcl2.loads(text)
    except Exception as exc:  # lark raises a family of errors; all mean "does not parse"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclError(path, first) from exc
    if not isinstance(parsed, dict):
        raise HclError(path, "unexpected parse result")
    return parsed


def _provider_of(resource_type: str) -> str:
    return f"registry.terraform.io/hashicorp/{resource_type.split('_', 1)[0]}"


def resources_of(path: str, parsed: Mapping[str, Any]) -> list[Resource]:
    """Managed resources and module calls declared in one parsed file."""
    found: list[Resource] = []
    for block in parsed.get("resource", []) or []:
        for rtype, named in block.items():
            for rname, body in named.items():
                t, n = _unquote_label(rtype), _unquote_label(rname)
                found.append(Resource(f"{t}.{n}", "managed", t, n, path, plain_value(body), _provider_of(t)))
    for block in parsed.get("module", []) or []:
        for mname, body in block.items():
            n = _unquote_label(mname)
            found.append(Resource(f"module.{n}", "module", "module", n, path, plain_value(body)))
    return found


def needs_download(parsed_files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why ``terraform init`` would reach the network for this directory (empty: it would not)."""
    reasons: set[str] = set()
    for parsed in parsed_files.values():
        for key, blocks in parsed.items():
            if key.startswith("__") or key in _LOCAL_ONLY_BLOCKS:
                continue
            if key in ("resource", "data"):
                for block in blocks or []:
                    for rtype in block:
                        t = _unquote_label(rtype)
                        if not t.startswith("terraform_"):
                            reasons.add(f"provider {t.split('_', 1)[0]}")
            elif key == "module":
                for block in blocks or []:
                    for mname, body in block.items():
                        source = plain_value(body.get("source", ""))
                        if not (isinstance(source, str) and source.startswith(("./", "../"))):
                            reasons.add(f"module {_unquote_label(mname)} ({source})")
            elif key == "provider":
                for block in blocks or []:
                    reasons.update(f"provider {_unquote_label(name)}" for name in block)
            elif key == "terraform":
                for block in blocks or []:
                    if block.get("required_providers"):
                        reasons.add("required_providers")
                    if block.get("backend"):
                        reasons.add("a backend")
    return sorted(reasons)


# --- the runner ----------------------------------------------------------------------------


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
        self._terraform = (terraform or shutil.which("terraform")) if use_terraform else None
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
        return self._terraform

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

    def _tf_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"})
        return env

    def _run_tf(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        assert self._terraform is not None
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            [self._terraform, *args],
            cwd=cwd,
            env=self._tf_env(),
            capture_output=True,
            text=True,
            timeout=_TF_TIMEOUT_SECONDS,
            check=False,
        )

    def _fmt_check(self, files: Mapping[str, str], lines: list[str]) -> bool:
        if not files:
            return True
        if self._terraform is None:
            lines.append("fmt: skipped (terraform is not installed)")
            return True
        with tempfile.TemporaryDirectory(prefix="tfpilot-fmt-") as tmp:
            root = Path(tmp)
            for path, text in files.items():
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            proc = self._run_tf(["fmt", "-check", "-recursive", "-list=true", "-no-color", "."], root)
        if proc.returncode == 0:
            lines.append(f"fmt: terraform fmt -check passed on {len(files)} file(s)")
            return True
        bad = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        lines.append("fmt: terraform fmt -check failed; not in canonical format:")
        lines.extend(f"  {b}" for b in bad or [proc.stderr.strip()[:500]])
        return False

    def _validate(self, dirs: list[str], head: Mapping[str, str], parsed: Mapping[str, Any], lines: list[str]) -> bool:
        if self._terraform is None:
            lines.append("validate: skipped (terraform is not installed)")
            return True
        ok = True
        for d in dirs:
            in_dir = {p: t for p, t in head.items() if posixpath.dirname(p) == d and p.endswith(".tf")}
            if not in_dir:
                continue
            reasons = needs_download({p: parsed[p] for p in in_dir if p in parsed})
            if reasons:
                lines.append(
                    f"validate: skipped for {d or '.'}: terraform init would download "
                    f"{', '.join(reasons)} (the local runner never reaches the network)"
                )
                continue
            with tempfile.TemporaryDirectory(prefix="tfpilot-validate-") as tmp:
                root = Path(tmp)
                for path, text in in_dir.items():
                    (root / posixpath.basename(path)).write_text(text, encoding="utf-8")
                init = self._run_tf(["init", "-backend=false", "-input=false", "-no-color"], root)
                proc = init if init.returncode else self._run_tf(["validate", "-no-color"], root)
            if proc.returncode == 0:
                lines.append(f"validate: terraform validate passed for {d or '.'}")
            else:
                ok = False
                lines.append(f"validate: terraform validate failed for {d or '.'}:")
                lines.extend(f"  {ln}" for ln in (proc.stderr or proc.stdout).strip().splitlines()[:40])
        return ok

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
        fmt_ok = self._fmt_check({p: head_tf[p] for p in changed if p in head_tf}, lines)
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
        valid = self._validate(dirs, head_tf, parsed_head, lines)
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
        before = _inventory(parsed_base)
        after = _inventory({p: v for p, v in parsed_head.items() if posixpath.dirname(p) in dirs})
        plan = build_preview(before, after, generated_at=self._clock.now().isoformat())
        if reason:
            plan["tfpilot_preview_reason"] = reason
            lines.append(f"preview: {reason}")
        counts = _count(plan)
        lines.append(
            f"preview: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy "
            "(local preview, not a cloud plan)"
        )
        for rc in plan["resource_changes"]:
            actions = rc["change"]["actions"]
            if actions != ["no-op"]:
                lines.append(f"  {_symbol(actions)} {rc['address']}")
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
        if parsed is None or not self._fmt_check(mine, lines):
            lines.append("apply: failed")
            return RunOutcome("failure", lines)
        real, reason = self._real_or_reason()
        if real is not None and job.environment:
            env_dir = posixpath.dirname(sorted(mine)[0])
            outputs = [name for p in mine for name in _output_names(parsed[p])]
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
        resources = _inventory({p: parsed[p] for p in mine})
        state_dir = posixpath.join(posixpath.dirname(sorted(mine)[0]), STATE_DIR)
        state_path = posixpath.join(state_dir, f"{job.request_id}.json")
        current_head = ws.branch_head(job.ref) or job.head_sha
        previous = _load_state(ws.tree_files(current_head).get(state_path))
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
            "resources": [_state_row(r) for _, r in sorted(resources.items())],
            "note": "Recorded by the TfPilot local runner; no cloud resources were created.",
        }
        sha = ws.commit_on_branch(
            job.ref,
            {state_path: _dump_state(doc)},
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
            doc = _load_state(text) or {}
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
            updates[path] = _dump_state(doc)
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


def _output_names(parsed: Mapping[str, Any]) -> list[str]:
    return [_unquote_label(name) for block in parsed.get("output", []) or [] for name in block]


def _outcome(tf: TfRun, lines: list[str]) -> RunOutcome:
    lines.extend(tf.lines)
    if tf.ok and tf.plan_json is not None:
        counts = _count(tf.plan_json)
        lines.append(f"plan: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy")
    lines.append("concluded: " + ("success" if tf.ok else "failure"))
    report = bounded(tf.diagnostics, tf.outputs)
    return RunOutcome("success" if tf.ok else "failure", lines, plan_json=tf.plan_json, report=report)


# --- preview document ------------------------------------------------------------------------


def _inventory(parsed: Mapping[str, Mapping[str, Any]]) -> dict[str, Resource]:
    out: dict[str, Resource] = {}
    for path in sorted(parsed):
        for res in resources_of(path, parsed[path]):
            out.setdefault(res.address, res)
    return out


def _rc(res: Resource, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "address": res.address,
        "mode": "managed",
        "type": res.type,
        "name": res.name,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": {},
            "after_sensitive": {},
        },
        "tfpilot_file": res.path,
    }
    if res.provider_name:
        doc["provider_name"] = res.provider_name
    if res.mode == "module":
        # A module call cannot be expanded without downloading it: it stands for its resources.
        doc["module_address"] = res.address
        doc["tfpilot_module_call"] = True
    return doc


def build_preview(
    before: Mapping[str, Resource], after: Mapping[str, Resource], *, generated_at: str
) -> dict[str, Any]:
    """A ``terraform show -json``-shaped document from two inventories (sorted by address)."""
    changes: list[dict[str, Any]] = []
    for address in sorted(set(before) | set(after)):
        old, new = before.get(address), after.get(address)
        if old is None and new is not None:
            changes.append(_rc(new, ["create"], None, new.values))
        elif new is None and old is not None:
            changes.append(_rc(old, ["delete"], old.values, None))
        elif old is not None and new is not None:
            same = json.dumps(old.values, sort_keys=True) == json.dumps(new.values, sort_keys=True)
            changes.append(_rc(new, ["no-op"] if same else ["update"], old.values, new.values))
    return {
        "format_version": "1.2",
        "terraform_version": None,
        "tfpilot_local_preview": True,
        "tfpilot_note": PREVIEW_NOTE,
        "timestamp": generated_at,
        "errored": False,
        "resource_changes": changes,
    }


def _count(plan: Mapping[str, Any]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "delete": 0}
    for rc in plan.get("resource_changes", []):
        for action in rc["change"]["actions"]:
            if action in counts:
                counts[action] += 1
    return counts


def _symbol(actions: list[str]) -> str:
    return {"create": "+", "update": "~", "delete": "-"}.get(actions[0], "?")


def _state_row(res: Resource) -> dict[str, Any]:
    return {"address": res.address, "type": res.type, "name": res.name, "file": res.path}


def _load_state(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _dump_state(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
