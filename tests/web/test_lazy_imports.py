"""Start-up loads only what the configuration uses: a fresh interpreter builds the service as
``tfpilot serve`` does (``build_service``, ``auth.test`` against a fake Slack) and reports which
optional modules it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SIGNING_SECRET
from tests.web.conftest import API_TOKEN, WEBHOOK_SECRET
from tests.web.served import clean_env

OAUTH_STORES = (
    "bot.slack_oauth",
    "slack_sdk.oauth.installation_store.amazon_s3",
    "slack_sdk.oauth.state_store.amazon_s3",
)
OPTIONAL = (*OAUTH_STORES, "cryptography", "openai")

SCRIPT = """
import argparse, json, sys
from bot.cli.serve_cmd import build_service
from bot.settings import load_settings

args = argparse.Namespace(socket=False, no_reconciler=True, reconcile_interval=60.0, webhook_workers=2)
web, _ = build_service(load_settings(mode="http"), args)
print(json.dumps({name: name in sys.modules for name in sys.argv[1:]}))
"""


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def loaded(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, bool]:
    env = clean_env(
        TFPILOT_DATA_DIR=str(tmp_path),
        GITHUB_TOKEN="test-github-token",
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TFPILOT_API_TOKEN=API_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url.rstrip("/"),
        **extra,
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *OPTIONAL],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_single_workspace_service_loads_no_optional_integration(fake_slack: FakeSlack, tmp_path: Path) -> None:
    modules = loaded(fake_slack, tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert not any(modules.values()), [name for name, present in modules.items() if present]


def test_oauth_mode_loads_the_installation_stores(fake_slack: FakeSlack, tmp_path: Path) -> None:
    modules = loaded(fake_slack, tmp_path, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-slack-client-secret")
    assert all(modules[name] for name in OAUTH_STORES), modules
    assert not modules["cryptography"] and not modules["openai"]
