"""The ``terraform`` CLI, run with a fixed argv and a clean environment, and its diagnostics read.

Commands that speak JSON (``validate -json``, ``plan -json``, ``apply -json``) are read line by
line: each ``@message`` becomes a log line and each ``diagnostic`` a ``Diagnostic``. ``init``
prints diagnostics as boxed text only; ``human_diagnostics`` reads those.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.domain.run_report import Diagnostic

TIMEOUT_SECONDS = 1800.0
_BOX = re.compile(r"^[\s│╷╵]*")
_PROVIDER_DIR = Path("registry.terraform.io") / "hashicorp" / "aws"


@dataclass
class TfResult:
    ok: bool
    stdout: str
    stderr: str
    messages: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def provider_in(plugin_dir: Path) -> bool:
    """Whether ``plugin_dir`` (a filesystem mirror or ``-plugin-dir``) holds hashicorp/aws."""
    found = plugin_dir / _PROVIDER_DIR
    return found.is_dir() and any(found.iterdir())


def implied_provider_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where terraform itself looks for providers without a download: the plugin cache and its
    implied local mirror directories (see terraform's CLI configuration documentation)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME", "~")).expanduser()
    dirs = [home / ".terraform.d" / "plugins"]
    data_home = env.get("XDG_DATA_HOME")
    dirs.append(Path(data_home) / "terraform" / "plugins" if data_home else home / ".local/share/terraform/plugins")
    dirs += [Path("/usr/local/share/terraform/plugins"), Path("/usr/share/terraform/plugins")]
    if env.get("TF_PLUGIN_CACHE_DIR"):
        dirs.insert(0, Path(env["TF_PLUGIN_CACHE_DIR"]))
    return dirs


def provider_problem(plugin_dir: Path | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Why terraform cannot get the AWS provider without the network, or None when it can:
    from ``plugin_dir`` when set, else from terraform's own CLI configuration (a file that
    exists: its mirrors are its business), plugin cache or implied mirror directories."""
    env = os.environ if environ is None else environ
    if plugin_dir is not None:
        return (
            None
            if provider_in(plugin_dir)
            else f"the AWS provider is not installed (no hashicorp/aws under {plugin_dir})"
        )
    if os.path.isfile(env.get("TF_CLI_CONFIG_FILE", "")) or os.path.isfile(
        Path(env.get("HOME", "~")).expanduser() / ".terraformrc"
    ):
        return None
    if any(provider_in(d) for d in implied_provider_dirs(env)):
        return None
    return (
        "the AWS provider is not installed (set TFPILOT_TERRAFORM_PLUGIN_DIR to a provider mirror, "
        "or fill terraform's plugin cache)"
    )


class TerraformCli:
    """One terraform binary; ``plugin_dir`` makes ``init`` install providers from there only."""

    def __init__(self, binary: str, *, plugin_dir: Path | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.binary = binary
        self.plugin_dir = plugin_dir
        self._timeout = timeout

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        keep = ("PATH", "HOME", "TMPDIR", "LANG", "SSL_CERT_FILE", "TF_PLUGIN_CACHE_DIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        if self.plugin_dir is None and os.path.isfile(os.environ.get("TF_CLI_CONFIG_FILE", "")):
            # Without a plugin directory terraform's own configuration says where providers come from.
            env["TF_CLI_CONFIG_FILE"] = os.environ["TF_CLI_CONFIG_FILE"]
        else:
            env["TF_CLI_CONFIG_FILE"] = os.devnull
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"})
        env.update(extra or {})
        return env

    def run(self, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> TfResult:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [self.binary, *args],
            cwd=cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=self._timeout,
            check=False,
        )
        result = TfResult(proc.returncode == 0, proc.stdout, proc.stderr)
        if "-json" in args:
            read_json_lines(proc.stdout, result)
        if not result.diagnostics and proc.returncode != 0:
            result.diagnostics = human_diagnostics(proc.stderr) or [
                Diagnostic(summary=f"terraform {args[0]} failed", detail=(proc.stderr or proc.stdout).strip()[-1500:])
            ]
        return result

    def init(self, cwd: Path, env: Mapping[str, str] | None = None) -> TfResult:
        args = ["init", "-input=false", "-no-color"]
        if self.plugin_dir is not None:
            args.append(f"-plugin-dir={self.plugin_dir}")
        return self.run(args, cwd, env)


def read_json_lines(stdout: str, result: TfResult) -> None:
    """Messages and diagnostics of a ``-json`` command (its whole-document form too: validate)."""
    text = stdout.strip()
    if text.startswith("{") and "\n" in text and text.endswith("}"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "diagnostics" in doc:  # validate -json
            result.diagnostics.extend(_diagnostic(d) for d in doc.get("diagnostics") or [])
            return
    for line in stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if item.get("type") == "diagnostic" and isinstance(item.get("diagnostic"), dict):
            result.diagnostics.append(_diagnostic(item["diagnostic"]))
        message = item.get("@message")
        if isinstance(message, str) and message and item.get("type") != "version":
            result.messages.append(message)


def _diagnostic(raw: Mapping[str, Any]) -> Diagnostic:
    return Diagnostic(
        severity=str(raw.get("severity") or "error"),
        summary=str(raw.get("summary") or "").strip() or "(no summary)",
        detail=str(raw.get("detail") or "").strip(),
        address=raw.get("address") if isinstance(raw.get("address"), str) else None,
    )


def human_diagnostics(text: str) -> list[Diagnostic]:
    """Diagnostics from terraform's boxed text output (``Error: summary`` then the detail)."""
    found: list[Diagnostic] = []
    lines = [_BOX.sub("", ln.rstrip()) for ln in text.splitlines()]
    i = 0
    while i < len(lines):
        m = re.match(r"^(Error|Warning): (.*)$", lines[i])
        if not m:
            i += 1
            continue
        detail: list[str] = []
        i += 1
        while i < len(lines) and not re.match(r"^(Error|Warning): ", lines[i]):
            detail.append(lines[i])
            i += 1
        found.append(
            Diagnostic(severity=m.group(1).lower(), summary=m.group(2).strip(), detail="\n".join(detail).strip())
        )
    return found
