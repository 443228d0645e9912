"""``/slack/events`` and Slack's OAuth install routes through the real Bolt app and adapter."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_sdk import WebClient

from bot.app import create_app
from bot.settings import load_settings
from bot.web.app import create_web_app
from bot.web.executor import InlineExecutor
from bot.web.metrics import SLACK_ACKS
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SIGNING_SECRET, sign
from tests.web.conftest import build_deps, env_for


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def web_with_slack(fake: FakeSlack, **env: str) -> TestClient:
    settings = load_settings(
        env_for(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url, **env)
    )
    deps, _world, _objects = build_deps(settings)
    client = None if settings.slack_oauth_enabled else WebClient(token="xoxb-test", base_url=fake.api_url)
    bolt = create_app(deps, client=client, process_before_response=True, listener_executor=InlineExecutor())
    app = create_web_app(
        deps, slack_handler=SlackRequestHandler(bolt), executor=InlineExecutor(), reconcile_interval=None
    )
    return TestClient(app)


def url_verification() -> str:
    return json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})


def test_signed_events_reach_bolt_and_are_counted(fake_slack: FakeSlack) -> None:
    client = web_with_slack(fake_slack)
    SLACK_ACKS.reset()
    body = url_verification()
    response = client.post("/slack/events", content=body, headers={"content-type": "application/json", **sign(body)})
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}
    assert response.headers["x-request-id"].startswith("slack-")
    assert dict(SLACK_ACKS.items()) == {("http", "ok"): 1}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=" + "0" * 64},
        sign(url_verification(), timestamp=int(time.time()) - 3600),  # outside the 5-minute window
        sign(url_verification(), secret="another-secret"),
    ],
)
def test_unsigned_or_stale_events_are_refused(fake_slack: FakeSlack, headers: dict[str, str]) -> None:
    client = web_with_slack(fake_slack)
    SLACK_ACKS.reset()
    response = client.post(
        "/slack/events", content=url_verification(), headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == 401
    assert dict(SLACK_ACKS.items()) == {("http", "401"): 1}


def test_an_event_envelope_id_is_the_correlation_id(fake_slack: FakeSlack) -> None:
    client = web_with_slack(fake_slack)
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T111",
            "event_id": "Ev0TEST0001",
            "event": {"type": "app_home_opened", "user": "U0DEV0001", "tab": "home"},
        }
    )
    response = client.post("/slack/events", content=body, headers={"content-type": "application/json", **sign(body)})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "slack-Ev0TEST0001"


def test_a_slack_body_over_one_mib_is_413(fake_slack: FakeSlack) -> None:
    client = web_with_slack(fake_slack)
    body = urlencode({"payload": "x" * (1024 * 1024)})
    response = client.post(
        "/slack/events", content=body, headers={"content-type": "application/x-www-form-urlencoded", **sign(body)}
    )
    assert response.status_code == 413


def test_without_a_bolt_app_slack_routes_are_404() -> None:
    deps, _world, _objects = build_deps(load_settings(env_for()))
    client = TestClient(create_web_app(deps, reconcile_interval=None))
    assert client.post("/slack/events", content=url_verification()).status_code == 404
    assert client.get("/slack/install").status_code == 404
    assert client.get("/slack/oauth_redirect").status_code == 404


def test_oauth_install_and_redirect_go_through_bolts_flow(fake_slack: FakeSlack) -> None:
    client = web_with_slack(fake_slack, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-slack-client-secret")
    install = client.get("/slack/install", follow_redirects=False)
    assert install.status_code in (200, 302)
    location: Any = install.headers.get("location") or install.text
    assert "client_id=111.222" in location
    assert "state=" in location
    # A redirect without a valid state is refused by Bolt (no installation is made).
    bad = client.get("/slack/oauth_redirect", params={"code": "x", "state": "forged"})
    assert bad.status_code == 400
