"""Start-up loads only what the configuration uses: a fresh interpreter builds the service as
``tfpilot serve`` does (``build_service``, ``auth.test`` against a fake Slack), or runs the
command line itself up to the moment it would serve, and reports which optional modules it
imported."""

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
# Never in `tfpilot serve` under the default settings: the GitHub App's JWT (token mode), moto
# (the local cloud is for the embedded default's local runner), the other commands' heavy
# imports (the registry importer's HCL parser, the console), httpx's own command line.
NEVER_BY_DEFAULT = (*OPTIONAL, "jwt", "moto", "hcl2", "lark", "bot.console", "rich", "core.adapters.local_cloud")
# Loaded when first used, after start-up: jsonschema at the first config validation (the built-in
# definitions' metaschema checks ran in the test suite: module_registry.checked).
AT_FIRST_USE = ("jsonschema",)

# `tfpilot serve --port 0` through bot.cli.main, stopped where uvicorn would start serving.
ENTRY_SCRIPT = """
import json, sys
import bot.cli.serve_cmd as serve_cmd
from bot.cli.main import main

def report(web, sock):
    print(json.dumps({name: name in sys.modules for name in sys.argv[1:]}))

serve_cmd.serve = report
sys.exit(main(["serve", "--port", "0", "--no-reconciler"]))
"""

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


def loaded(
    fake: FakeSlack, tmp_path: Path, script: str = SCRIPT, names: tuple[str, ...] = OPTIONAL, **extra: str
) -> dict[str, bool]:
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
        [sys.executable, "-c", script, *names],
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


def test_the_serve_command_loads_nothing_optional_under_the_default_settings(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    s3 = {"TFPILOT_REQUESTS_BUCKET": "tfpilot-lazy", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}  # never called
    names = (*NEVER_BY_DEFAULT, *AT_FIRST_USE)
    modules = loaded(fake_slack, tmp_path, ENTRY_SCRIPT, names, SLACK_BOT_TOKEN="xoxb-test", **s3)
    assert not any(modules.values()), [name for name, present in modules.items() if present]


# The same command line, reporting the collector's state where uvicorn would start serving.
GC_SCRIPT = """
import gc, json, sys
import bot.cli.serve_cmd as serve_cmd
from bot.cli.main import main

before = gc.get_threshold()

def report(web, sock):
    stats = [generation["collections"] for generation in gc.get_stats()]
    print(json.dumps({"before": before, "now": gc.get_threshold(), "frozen": gc.get_freeze_count(), "full": stats[2]}))

serve_cmd.serve = report
sys.exit(main(["serve", "--port", "0", "--no-reconciler"]))
"""


def test_start_up_makes_one_full_collection_and_freezes_what_it_built(fake_slack: FakeSlack, tmp_path: Path) -> None:
    state = loaded(fake_slack, tmp_path, GC_SCRIPT, (), SLACK_BOT_TOKEN="xoxb-test")  # a JSON object of numbers here
    assert state["now"] == state["before"]  # the thresholds are the interpreter's again when serving
    assert state["full"] == 1  # settle_heap's, none while building
    assert isinstance(state["frozen"], int) and state["frozen"] > 50_000  # the start-up's objects
