"""Shared test fixtures. Area-specific fixtures live in ``tests/<area>/conftest.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Third-party payloads and schemas copied into the repository unchanged (tests/fixtures/README.md
# names each file's source and licence); never edited to make a test pass.
SHARED_FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    # Part of the repository: a missing folder is a broken checkout, never a reason to skip.
    assert SHARED_FIXTURES.is_dir(), f"third-party fixtures missing from the checkout: {SHARED_FIXTURES}"
    return SHARED_FIXTURES


SETTINGS_PREFIXES = ("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_")


def clear_settings(monkeypatch: pytest.MonkeyPatch, *, env_file: bool = False) -> None:
    """Drop every TfPilot setting from the environment. The test-wide empty ``TFPILOT_ENV_FILE``
    stays unless ``env_file`` (then ``.env`` in the current directory counts: ``chdir`` to a
    test directory first, never read the developer's)."""
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES) and (env_file or name != "TFPILOT_ENV_FILE"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty env file outside every test's own directory (tests list theirs)."""
    path = tmp_path_factory.mktemp("settings") / "isolated.env"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_env_file: Path) -> None:
    # Tests never read the developer's real credentials or write into the work tree.
    for name in ("SLACK_BOT_TOKEN", "GITHUB_TOKEN", "OPENAI_API_KEY", "TFPILOT_REQUESTS_BUCKET", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(tmp_path / "tfpilot-data"))
    # Nor a developer's .env (in the work tree, where pytest runs): settings read an empty one.
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(empty_env_file))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
