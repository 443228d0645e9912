"""``tfpilot --version``: the installed distribution's version, or a clear 'unknown'."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from bot.cli import main as cli
from tests.conftest import REPO_ROOT


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"tfpilot {importlib.metadata.version('tfpilot')}\n"


def test_version_of_a_tree_never_installed_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out == "tfpilot unknown (not installed as a package: pip install -e .)\n"


def test_the_command_line_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "--version"], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert result.stdout.strip().startswith("tfpilot ") and result.stdout.strip() != "tfpilot"
