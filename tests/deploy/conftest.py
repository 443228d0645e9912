"""The routes of the real service: the app ``tfpilot serve`` builds in HTTP mode (local storage,
placeholder Slack credentials), so probes and health checks are checked against what it serves."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli.serve_cmd import build_service
from bot.settings import load_settings
from tests.slack.fake_slack import FakeSlack

HTTP_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-deploy-test",
    "SLACK_SIGNING_SECRET": "deploy-test-signing-secret",
    "TFPILOT_API_TOKEN": "deploy-test-api-token",
}


@pytest.fixture(scope="session")
def slack_api() -> Iterator[str]:
    """A local Slack Web API: ``tfpilot serve`` verifies its bot token (auth.test) before serving."""
    fake = FakeSlack().start()
    yield fake.api_url
    fake.stop()


@pytest.fixture(scope="session")
def get_routes(tmp_path_factory: pytest.TempPathFactory, slack_api: str) -> frozenset[str]:
    """Paths the service answers to GET (as its OpenAPI document publishes them)."""
    data = Path(tmp_path_factory.mktemp("deploy-routes"))
    settings = load_settings({**HTTP_ENV, "SLACK_API_URL": slack_api, "TFPILOT_DATA_DIR": str(data)}, mode="http")
    args = argparse.Namespace(socket=False, no_reconciler=True, reconcile_interval=60.0, webhook_workers=1)
    web, _ = build_service(settings, args)
    return frozenset(path for path, operations in web.openapi()["paths"].items() if "get" in operations)
