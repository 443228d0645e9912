"""Fixtures for the infra repo scaffold: generated files, parsed workflows, the CI helper."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from core.scaffold.generator import HELPER_PATH, ScaffoldOptions, scaffold_files

ENVS = ["dev", "staging", "prod"]
WORKFLOW_KINDS = ("plan", "apply", "destroy", "cleanup", "drift")


@pytest.fixture(scope="session")
def files() -> dict[str, str]:
    return scaffold_files(
        ScaffoldOptions.of(environments=ENVS, tfpilot_url="https://tfpilot.example.com", project="core")
    )


@pytest.fixture(scope="session")
def workflows(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {kind: yaml.safe_load(files[f".github/workflows/{kind}.yml"]) for kind in WORKFLOW_KINDS}


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True; GitHub reads it as "on".
    found: dict[str, Any] = workflow.get("on") or workflow[True]
    return found


@pytest.fixture
def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    """The scaffold written to a fresh directory (the helper runs from its root)."""
    root = tmp_path / "infra"
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    return root


Helper = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def helper(repo: Path) -> Helper:
    """Run the generated ``tfpilot_ci.py`` in ``repo`` with only the given environment."""

    def _run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(repo.parent), "GITHUB_RUN_ID": "42"}
        return subprocess.run(
            [sys.executable, str(repo / HELPER_PATH), *args],
            cwd=cwd or repo,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return _run


def ci_helper_module(directory: Path) -> ModuleType:
    """The generated ``tfpilot_ci.py`` imported as a module (written into ``directory``): tests
    elsewhere build their artifacts with the functions the workflows run."""
    path = directory / "tfpilot_ci.py"
    path.write_text(scaffold_files()[HELPER_PATH])
    spec = importlib.util.spec_from_file_location("tfpilot_ci_generated", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
