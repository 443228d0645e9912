"""Shared test fixtures. Area-specific fixtures live in ``tests/<area>/conftest.py``."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests never read the developer's real credentials or write into the work tree.
    for name in ("SLACK_BOT_TOKEN", "GITHUB_TOKEN", "OPENAI_API_KEY", "TFPILOT_REQUESTS_BUCKET", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(tmp_path / "tfpilot-data"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
