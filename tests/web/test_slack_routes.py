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


class OAuthSlack(FakeSlack):
    """The fake Slack answering ``oauth.v2.access`` for a code, as Slack does after an install."""

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "oauth.v2.access":
            if params.get("code") != "install-code":
                return {"ok": False, "error": "invalid_code"}
            return {
                "ok": True,
                "access_token": "xoxb-installed-T222",
                "token_type": "bot",
                "scope": "chat:write,commands",
                "bot_user_id": "UBOT222",
                "app_id": "A0TFPILOT",
                "team": {"id": "T222", "name": "Other workspace"},
                "enterprise": None,
                "authed_user": {"id": "U0INSTALLER"},
                "is_enterprise_install": False,
            }
        return super()._answer(method, params)


def test_oauth_install_completes_stores_the_workspace_and_its_token_is_used(tmp_path: Any) -> None:
    import re

    from bot.slack_oauth import installation_store
    from bot.web.linking import default_dm

    fake = OAuthSlack().start()
    try:
        oauth_env = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "test-slack-client-secret"}
        client = web_with_slack(fake, **oauth_env)
        client.base_url = client.base_url.copy_with(scheme="https")  # Bolt's state cookie is Secure
        install = client.get("/slack/install", follow_redirects=False)
        assert install.status_code == 200
        found = re.search(r"state=([A-Za-z0-9-]+)", install.text)
        assert found is not None
        state = found.group(1)
        done = client.get("/slack/oauth_redirect", params={"code": "install-code", "state": state})
        assert done.status_code == 200, done.text
        (exchange,) = fake.of("oauth.v2.access")
        assert exchange.params["code"] == "install-code"
        settings = load_settings(env_for(SLACK_API_URL=fake.api_url, **oauth_env))
        bot = installation_store(settings).find_bot(enterprise_id=None, team_id="T222")
        assert bot is not None and bot.bot_token == "xoxb-installed-T222"
        # The state was spent: the same redirect again is refused and installs nothing new.
        again = client.get("/slack/oauth_redirect", params={"code": "install-code", "state": state})
        assert again.status_code == 400
        assert len(fake.of("oauth.v2.access")) == 1
        # Messages to that workspace (the link confirmation DM) go out with its own token.
        deps, _world, _objects = build_deps(settings)
        send = default_dm(deps)
        assert send is not None
        send("T222", "U0DEV0002", "linked")
        (dm,) = fake.of("chat.postMessage")
        assert (dm.token, dm.params["channel"], dm.params["text"]) == ("xoxb-installed-T222", "U0DEV0002", "linked")
    finally:
        fake.stop()


OAUTH_ENV = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "test-slack-client-secret"}


def _installation(team: str, user: str = "U0INSTALLER") -> Any:
    from slack_sdk.oauth.installation_store import Installation

    return Installation(
        app_id="A0TFPILOT",
        team_id=team,
        user_id=user,
        user_token=f"xoxp-{team}-{user}",
        bot_token=f"xoxb-{team}",
        bot_id=f"B{team}",
        bot_user_id=f"UB{team}",
    )


def _event(team: str, event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {"type": "event_callback", "team_id": team, "api_app_id": "A0TFPILOT", "event_id": event_id, "event": event}
    )


def _post_event(client: TestClient, body: str) -> Any:
    return client.post("/slack/events", content=body, headers={"content-type": "application/json", **sign(body)})


@pytest.fixture
def s3_bucket() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="tfpilot-requests")
        yield client


@pytest.mark.parametrize("storage", ["files", "s3"])
def test_app_uninstalled_deletes_the_workspace_installation(fake_slack: FakeSlack, storage: str, request: Any) -> None:
    from bot.slack_oauth import installation_store

    env = dict(OAUTH_ENV, SLACK_API_URL=fake_slack.api_url)
    if storage == "s3":
        request.getfixturevalue("s3_bucket")
        env["TFPILOT_REQUESTS_BUCKET"] = "tfpilot-requests"
    store = installation_store(load_settings(env_for(**env)))
    store.save(_installation("T222"))
    store.save(_installation("T333"))
    client = web_with_slack(fake_slack, **{k: v for k, v in env.items() if k != "SLACK_API_URL"})
    # The workspace is served (and its token cached) before it uninstalls.
    home = _event("T222", {"type": "app_home_opened", "user": "U0DEV0002", "tab": "home"}, "Ev0HOME")
    assert _post_event(client, home).status_code == 200
    assert fake_slack.wait_for("views.publish")[0].token == "xoxb-T222"

    gone = _post_event(client, _event("T222", {"type": "app_uninstalled"}, "Ev0UNINSTALL"))
    assert gone.status_code == 200
    assert store.find_bot(enterprise_id=None, team_id="T222") is None
    assert store.find_installation(enterprise_id=None, team_id="T222") is None
    # Another workspace keeps its installation.
    assert store.find_bot(enterprise_id=None, team_id="T333") is not None
    # A Slack retry of the same event is harmless; the cached token is forgotten: the
    # workspace's next request is not served with the dead token.
    assert _post_event(client, _event("T222", {"type": "app_uninstalled"}, "Ev0UNINSTALL")).status_code == 200
    published = len(fake_slack.of("views.publish"))
    _post_event(client, _event("T222", {"type": "app_home_opened", "user": "U0DEV0002", "tab": "home"}, "Ev0HOME2"))
    fake_slack.settle()
    assert len(fake_slack.of("views.publish")) == published


def test_tokens_revoked_deletes_the_bot_token(fake_slack: FakeSlack) -> None:
    from bot.slack_oauth import installation_store

    store = installation_store(load_settings(env_for(SLACK_API_URL=fake_slack.api_url, **OAUTH_ENV)))
    store.save(_installation("T222"))
    client = web_with_slack(fake_slack, **OAUTH_ENV)
    revoked = {"type": "tokens_revoked", "tokens": {"bot": ["UBT222"]}}
    assert _post_event(client, _event("T222", revoked, "Ev0REVOKED")).status_code == 200
    assert store.find_bot(enterprise_id=None, team_id="T222") is None


def test_single_workspace_acknowledges_an_uninstall(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    client = web_with_slack(fake_slack)
    with caplog.at_level("WARNING"):
        response = _post_event(client, _event("T111", {"type": "app_uninstalled"}, "Ev0UNINSTALL1"))
    assert response.status_code == 200
    assert "uninstalled from Slack workspace T111" in caplog.text
