"""The terraform CLI checks a local plan or apply makes on the branch's files: ``terraform fmt
-check`` on the changed files and ``terraform validate`` where the configuration needs no
provider or module download (the local runner never reaches the network). Without terraform
installed each check is skipped and the log says so."""

from __future__ import annotations

import os
import posixpath
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.adapters.local_hcl import needs_download

_TF_TIMEOUT_SECONDS = 120.0


class TerraformChecks:
    """``fmt`` and ``validate`` with the terraform binary at ``terraform`` (None: not installed)."""

    def __init__(self, terraform: str | None) -> None:
        self.terraform = terraform

    def _tf_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"})
        return env

    def _run_tf(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        assert self.terraform is not None
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            [self.terraform, *args],
            cwd=cwd,
            env=self._tf_env(),
            capture_output=True,
            text=True,
            timeout=_TF_TIMEOUT_SECONDS,
            check=False,
        )

    def fmt_check(self, files: Mapping[str, str], lines: list[str]) -> bool:
        """Whether ``files`` are in canonical format; what was checked goes to ``lines``."""
        if not files:
            return True
        if self.terraform is None:
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

    def validate(self, dirs: list[str], head: Mapping[str, str], parsed: Mapping[str, Any], lines: list[str]) -> bool:
        """Whether each of ``dirs`` validates (a directory needing a download is skipped, and said so)."""
        if self.terraform is None:
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
