"""Real Terraform for the local runner: init, validate, plan, apply, destroy and outputs of one
environment directory of a commit, against the local cloud.

Each run writes the commit's files into a fresh working directory
``<root>/<owner>/<repo>/<env>/work`` plus ``tfpilot_local_override.tf`` (a local backend whose
state lives at ``<root>/<owner>/<repo>/<env>/terraform.tfstate``, and the cloud's provider
wiring); the committed files are never changed. ``init`` is cached per environment: its data
directory (``TF_DATA_DIR``) and lock file are kept beside the state, and ``init`` runs again only
when the module calls or the override's backend change. Module calls must be in the repository
(``./`` or ``../`` sources): the local runner downloads nothing, and says so (``Unavailable``),
and the caller falls back to the preview.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.adapters.local_cloud import Cloud, CloudUnavailable
from core.adapters.preflight_text import preflight_message, refusal_words
from core.adapters.terraform_cli import TerraformCli, TfResult, provider_problem
from core.domain.destroy import data_probes
from core.domain.destroy import preflight as preflight_check
from core.domain.run_report import Diagnostic

OVERRIDE_FILE = "tfpilot_local_override.tf"
_LOCK_FILE = ".terraform.lock.hcl"


class Unavailable(Exception):
    """Real Terraform cannot run for this job; the message is the reason the card shows."""


@dataclass
class TfRun:
    ok: bool
    lines: list[str]
    plan_json: dict[str, Any] | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    restored: bool | None = None  # a destroy that failed part-way: were its targets applied again?


def _module_sources(parsed: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for doc in parsed.values():
        for block in doc.get("module", []) or []:
            for label, body in block.items():
                source = body.get("source", "")
                if isinstance(source, str):
                    found[label.strip('"')] = source.strip('"')
    return found


class RealTerraform:
    """Runs Terraform for the local runner (see the module docstring)."""

    def __init__(self, cli: TerraformCli, cloud: Cloud, root: Path) -> None:
        self.cli = cli
        self.cloud = cloud
        self.root = Path(root)

    @property
    def description(self) -> str:
        return f"terraform against {'moto (local cloud)' if self.cloud.mode == 'moto' else 'AWS'}"

    def unavailable_reason(self) -> str | None:
        """Why no real run can happen at all (checked before each run; cheap)."""
        why = provider_problem(self.cli.plugin_dir)
        if why is not None:
            return why
        if self.cloud.mode == "moto":
            from core.adapters.local_cloud import MotoServer

            why = MotoServer.available()
            if why is not None:
                return f"no local cloud: {why}"
        return None

    # --- working directory -------------------------------------------------------------

    def _env_root(self, repo: str, environment: str) -> Path:
        owner, _, name = repo.partition("/")
        return self.root / owner / name / environment

    def _prepare(
        self, repo: str, environment: str, files: Mapping[str, str], env_dir: str, parsed: Mapping[str, Any]
    ) -> tuple[Path, dict[str, str], list[str]]:
        sources = _module_sources({p: v for p, v in parsed.items() if posixpath.dirname(p) == env_dir})
        remote = {label: src for label, src in sources.items() if not src.startswith(("./", "../"))}
        if remote:
            label, src = sorted(remote.items())[0]
            raise Unavailable(
                f"module {label} comes from {src}, which the local runner does not download "
                "(it runs in-repo modules, modules/<name>)"
            )
        try:
            override_provider = self.cloud.provider_override()
        except CloudUnavailable as exc:
            raise Unavailable(f"no local cloud: {exc}") from exc
        base = self._env_root(repo, environment)
        work = base / "work"
        if work.exists():
            shutil.rmtree(work)
        for path, text in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        cwd = work / env_dir
        cwd.mkdir(parents=True, exist_ok=True)
        state = base / "terraform.tfstate"
        backend = f'terraform {{\n  backend "local" {{\n    path = {json.dumps(str(state))}\n  }}\n}}\n'
        (cwd / OVERRIDE_FILE).write_text(backend + "\n" + override_provider, encoding="utf-8")
        env = {"TF_DATA_DIR": str(base / "tfdata"), **self.cloud.terraform_env()}
        lines: list[str] = []
        stamp = hashlib.sha256(json.dumps([sorted(sources.items()), backend], sort_keys=True).encode()).hexdigest()
        stamp_file, lock = base / "init.stamp", base / _LOCK_FILE
        if lock.exists():
            shutil.copyfile(lock, cwd / _LOCK_FILE)
        if stamp_file.exists() and stamp_file.read_text(encoding="utf-8") == stamp and (base / "tfdata").is_dir():
            lines.append("init: cached for this environment (module calls and backend unchanged)")
        else:
            init = self.cli.init(cwd, env)
            if not init.ok:
                first = init.diagnostics[0] if init.diagnostics else None
                text = f"{first.summary} {first.detail}" if first else init.stderr
                if "hashicorp/aws" in text or "provider" in text.lower():
                    raise Unavailable(
                        f"the AWS provider is not installed (terraform init: {first.summary if first else 'failed'})"
                    )
                raise Unavailable(f"terraform init failed: {first.summary if first else init.stderr.strip()[:200]}")
            if (cwd / _LOCK_FILE).exists():
                shutil.copyfile(cwd / _LOCK_FILE, lock)
            stamp_file.write_text(stamp, encoding="utf-8")
            lines.append(
                "init: terraform init done"
                + (f" (providers from {self.cli.plugin_dir})" if self.cli.plugin_dir else "")
            )
        return cwd, env, lines

    def _step(self, run: TfRun, name: str, result: TfResult) -> bool:
        run.lines.extend(f"  {m}" for m in result.messages[-60:])
        if result.ok:
            return True
        run.ok = False
        run.diagnostics.extend(result.diagnostics)
        run.lines.append(f"{name}: failed")
        for d in result.diagnostics[:5]:
            run.lines.append(f"  {d.severity}: {d.summary}" + (f" ({d.address})" if d.address else ""))
            run.lines.extend(f"    {ln}" for ln in d.detail.splitlines()[:20])
        return False

    def _show(self, cwd: Path, env: Mapping[str, str], plan_file: str) -> dict[str, Any]:
        shown = self.cli.run(["show", "-json", "-no-color", plan_file], cwd, env)
        if not shown.ok:
            raise RuntimeError(f"terraform show failed: {shown.stderr.strip()[:300]}")
        doc: dict[str, Any] = json.loads(shown.stdout)
        doc["tfpilot_local_cloud"] = self.cloud.mode
        return doc

    def _saved_plan(self, run: TfRun, cwd: Path, env: Mapping[str, str], plan_file: str, *extra: str) -> bool:
        """``plan -out=<plan_file>`` (with ``extra`` arguments) then its ``show -json`` on ``run``."""
        args = ["plan", *extra, "-json", "-input=false", "-lock-timeout=120s", f"-out={plan_file}"]
        if not self._step(run, "plan -destroy" if "-destroy" in extra else "plan", self.cli.run(args, cwd, env)):
            return False
        run.plan_json = self._show(cwd, env, plan_file)
        return True

    def _apply_saved(self, run: TfRun, cwd: Path, env: Mapping[str, str], plan_file: str, name: str) -> bool:
        applied = self.cli.run(["apply", "-json", "-input=false", "-lock-timeout=120s", plan_file], cwd, env)
        return self._step(run, name, applied)

    # --- the runs ----------------------------------------------------------------------

    def plan(
        self, repo: str, environment: str, files: Mapping[str, str], env_dir: str, parsed: Mapping[str, Any]
    ) -> TfRun:
        cwd, env, lines = self._prepare(repo, environment, files, env_dir, parsed)
        run = TfRun(True, lines)
        if not self._step(run, "validate", self.cli.run(["validate", "-json", "-no-color"], cwd, env)):
            return run
        run.lines.append("validate: terraform validate passed")
        self._saved_plan(run, cwd, env, "tfplan")
        return run

    def apply(
        self,
        repo: str,
        environment: str,
        files: Mapping[str, str],
        env_dir: str,
        parsed: Mapping[str, Any],
        output_names: Iterable[str],
    ) -> TfRun:
        """Plan the environment as it is on the branch, apply exactly that saved plan, read outputs."""
        cwd, env, lines = self._prepare(repo, environment, files, env_dir, parsed)
        run = TfRun(True, lines)
        if not self._saved_plan(run, cwd, env, "tfplan") or not self._apply_saved(run, cwd, env, "tfplan", "apply"):
            return run
        run.outputs = self._outputs(cwd, env, set(output_names))
        return run

    def _outputs(self, cwd: Path, env: Mapping[str, str], names: set[str]) -> dict[str, Any]:
        out = self.cli.run(["output", "-json", "-no-color"], cwd, env)
        if not out.ok:
            return {}
        try:
            doc = json.loads(out.stdout or "{}")
        except ValueError:
            return {}
        # Sensitive outputs never leave Terraform's state.
        return {
            name: item.get("value")
            for name, item in doc.items()
            if name in names and isinstance(item, dict) and not item.get("sensitive")
        }

    def destroy(
        self,
        repo: str,
        environment: str,
        files: Mapping[str, str],
        env_dir: str,
        parsed: Mapping[str, Any],
        request_id: str,
        *,
        preflight: bool = True,
    ) -> TfRun:
        """Destroy what the state holds for ``request_id`` (its block's addresses), nothing else.

        Before deleting anything, the preflight refuses when AWS would (``core.domain.destroy``:
        deletion or termination protection on, a bucket or repository holding data without
        force). When the destroy still fails part-way and the request's file is in the commit
        (the removal PR is not merged before the destroy), its targets are applied again, so
        what the failed destroy stripped (a bucket's public access block, policy, encryption,
        lifecycle) comes back. ``preflight=False`` exists to exercise that restore."""
        cwd, env, lines = self._prepare(repo, environment, files, env_dir, parsed)
        run = TfRun(True, lines)
        listed = self.cli.run(["state", "list", "-no-color"], cwd, env)
        if not listed.ok and "No state file" not in listed.stderr:
            self._step(run, "state list", listed)
            return run
        targets = sorted({_top_address(a) for a in listed.stdout.split() if _top_address(a).endswith(f"_{request_id}")})
        if not targets:
            run.lines.append(f"destroy: the state holds nothing of {request_id}; nothing to destroy")
            return run
        run.lines.append(f"destroy: targets {', '.join(targets)}")
        target_args = [f"-target={t}" for t in targets]
        if not self._saved_plan(run, cwd, env, "tfdestroy", "-destroy", *target_args):
            return run
        assert run.plan_json is not None
        beyond = [
            rc["address"]
            for rc in run.plan_json.get("resource_changes", [])
            if rc.get("change", {}).get("actions") not in (["no-op"], ["read"])
            and not any(
                rc["address"] == t or rc["address"].startswith(t + ".") or rc["address"].startswith(t + "[")
                for t in targets
            )
        ]
        if beyond:
            run.ok = False
            summary = "the destroy would change resources of other requests"
            run.diagnostics.append(Diagnostic(summary=summary, detail=", ".join(beyond[:20])))
            run.lines.append(f"destroy: refused: {summary}: {', '.join(beyond[:20])}")
            return run
        if preflight and not self._preflight(run):
            return run
        if self._apply_saved(run, cwd, env, "tfdestroy", "destroy"):
            return run
        if any(posixpath.basename(p) == f"tfpilot_{request_id}.tf" for p in files):
            self._restore(run, cwd, env, target_args)
        else:
            run.lines.append("restore: skipped: the request's file is not in this commit (a destroy begun the old way)")
        return run

    def _preflight(self, run: TfRun) -> bool:
        """False (the run refused, nothing deleted) when AWS would refuse part of the destroy plan."""
        from core.adapters.aws_probe import AwsDataProbe

        assert run.plan_json is not None
        probe = AwsDataProbe(self.cloud)
        holding = [(data, name) for data, name in data_probes(run.plan_json) if probe.holds(data, name)]
        refusals = preflight_check(run.plan_json, holding)
        if not refusals:
            run.lines.append("preflight: AWS will accept every delete in the plan")
            return True
        run.ok = False
        message = preflight_message(refusals)
        run.diagnostics.append(Diagnostic(summary=message, detail="\n".join(refusal_words(r) for r in refusals)))
        run.lines.append(f"preflight: {message}")
        return False

    def _restore(self, run: TfRun, cwd: Path, env: Mapping[str, str], target_args: list[str]) -> None:
        """Apply the request's targets again after a destroy failed part-way (never deleting)."""
        run.lines.append("restore: the destroy failed part-way; applying the request's resources again")
        again = TfRun(True, [])
        if not self._saved_plan(again, cwd, env, "tfrestore", *target_args):
            run.lines.extend(again.lines)
            run.lines.append("restore: could not plan; the state is as the failed destroy left it")
            return
        assert again.plan_json is not None
        deletes = [
            rc["address"]
            for rc in again.plan_json.get("resource_changes", [])
            if "delete" in (rc.get("change", {}).get("actions") or [])
        ]
        if deletes:
            run.lines.append(f"restore: refused: the plan would delete {', '.join(deletes[:10])}")
            return
        restored = self._apply_saved(again, cwd, env, "tfrestore", "restore")
        run.lines.extend(again.lines)
        run.restored = restored
        run.lines.append("restore: done" if restored else "restore: failed")


def _top_address(address: str) -> str:
    """``module.x.aws_s3_bucket.this[0]`` -> ``module.x``; ``aws_sqs_queue.q`` -> itself."""
    parts = address.split(".")
    if parts[0] == "module" and len(parts) > 1:
        return f"module.{parts[1].split('[', 1)[0]}"
    if parts[0] == "data" and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2]).split("[", 1)[0]
