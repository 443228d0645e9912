"""GitHub account linking: the signed state (forged, expired, reused, another browser), the code
exchange (respx), the encrypted token, the DM, and unlinking."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from bot.identity import LinkedIdentities, identity_key
from bot.listeners.commands import default_link_url
from bot.web.identities import LinkedAccounts, fernet_from_setting
from bot.web.link_state import LinkStates
from bot.web.linking import COOKIE, link_url_for, make_link_url, unlink_account
from tests.fakes import InMemoryObjectStore
from tests.web.conftest import (
    ENCRYPTION_KEY,
    GITHUB_API,
    GITHUB_CLIENT_ID,
    GITHUB_CLIENT_SECRET,
    GITHUB_WEB,
    PUBLIC_URL,
    Web,
    make_web,
)

TEAM, USER = "T111", "U0DEV0001"
USER_TOKEN = "gho_testtoken0000000000000000000000000000"  # a test value in GitHub's token shape


def start_path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    return f"{parts.path}?{parts.query}"


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def mock_github(login: str = "dana-gh", *, token: str = USER_TOKEN) -> tuple[respx.Route, respx.Route]:
    exchange = respx.post(f"{GITHUB_WEB}/login/oauth/access_token").mock(
        return_value=httpx.Response(200, json={"access_token": token, "token_type": "bearer", "scope": "repo"})
    )
    user = respx.get(f"{GITHUB_API}/user").mock(return_value=httpx.Response(200, json={"login": login, "id": 4242}))
    return exchange, user


def begin(web: Web) -> str:
    """Open the link from Slack: the start redirect, whose state the callback carries back."""
    url = make_link_url(web.deps, TEAM, USER)
    response = web.client.get(start_path(url), follow_redirects=False)
    assert response.status_code == 302, response.text
    return state_of(response.headers["location"])


def callback(web: Web, state: str, code: str = "code-123") -> httpx.Response:
    return web.client.get("/github/link/callback", params={"code": code, "state": state})


def test_make_link_url_points_at_start(web: Web) -> None:
    url = make_link_url(web.deps, TEAM, USER)
    assert url.startswith(f"{PUBLIC_URL}/github/link/start?state=")


def test_start_redirects_to_github_authorize(web: Web) -> None:
    url = make_link_url(web.deps, TEAM, USER)
    response = web.client.get(start_path(url), follow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{GITHUB_WEB}/login/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [GITHUB_CLIENT_ID]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/github/link/callback"]
    assert query["state"] == [state_of(url)]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=lax" in cookie.lower()


@respx.mock
def test_callback_links_the_account_encrypted_and_dms_the_user(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    exchange, user = mock_github()
    state = begin(web)
    response = callback(web, state)
    assert response.status_code == 200, response.text
    assert "dana-gh" in response.text
    sent = parse_qs(exchange.calls.last.request.content.decode())
    assert sent["client_id"] == [GITHUB_CLIENT_ID]
    assert sent["client_secret"] == [GITHUB_CLIENT_SECRET]
    assert sent["code"] == ["code-123"]
    assert user.calls.last.request.headers["authorization"] == f"Bearer {USER_TOKEN}"
    stored = web.objects.get(identity_key(TEAM, USER))
    assert stored is not None
    assert USER_TOKEN.encode() not in stored.body  # encrypted at rest
    doc = json.loads(stored.body)
    assert doc["github_login"] == "dana-gh" and doc["github_id"] == 4242
    accounts = LinkedAccounts(web.objects, fernet_from_setting(ENCRYPTION_KEY))
    assert accounts.token(TEAM, USER) == USER_TOKEN
    assert USER_TOKEN not in repr(accounts.get(TEAM, USER))
    assert LinkedIdentities(web.objects).github_login(TEAM, USER) == "dana-gh"  # what the Slack side reads
    assert web.dms == [(TEAM, USER, web.dms[0][2])]
    assert "@dana-gh" in web.dms[0][2]
    # Everything the service logged (the test client, httpx2, logs its own request URLs).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx2"))
    assert USER_TOKEN not in logged
    assert "code-123" not in logged
    assert state not in logged


@respx.mock
def test_a_state_is_single_use(web: Web) -> None:
    mock_github()
    state = begin(web)
    assert callback(web, state).status_code == 200
    again = callback(web, state)
    assert again.status_code == 403
    assert "already used" in again.text
    url = f"/github/link/start?state={state}"
    assert web.client.get(url, follow_redirects=False).status_code == 403


@respx.mock
def test_a_state_is_single_use_across_replicas(web: Web) -> None:
    mock_github()
    state = begin(web)
    other = make_web()
    other.deps.objects = web.deps.objects  # another replica on the same bucket
    other.client.cookies = web.client.cookies
    assert callback(web, state).status_code == 200
    assert callback(other, state).status_code == 403


def test_an_expired_state_is_refused(web: Web) -> None:
    url = make_link_url(web.deps, TEAM, USER)
    web.world.clock.advance(minutes=10, seconds=1)
    response = web.client.get(start_path(url), follow_redirects=False)
    assert response.status_code == 403
    assert "expired" in response.text


@respx.mock
def test_a_state_expiring_between_start_and_callback_is_refused(web: Web) -> None:
    exchange, _ = mock_github()
    state = begin(web)
    web.world.clock.advance(minutes=11)
    response = callback(web, state)
    assert response.status_code == 403
    assert not exchange.called
    assert web.objects.get(identity_key(TEAM, USER)) is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # mac changed
        lambda s: "eyJ2IjoxLCJ0IjoiVDExMSIsInUiOiJVMEFUVEFDSyJ9" + s[s.index(".") :],  # payload swapped
        lambda s: LinkStates("another-key", InMemoryObjectStore()).issue(TEAM, USER, datetime.now(UTC)),
        lambda s: s.split(".")[0],  # no mac: read as a stored state, which does not exist
        lambda s: "",
        lambda s: "x" * 2000,
        lambda s: "not.base64!.at-all",
    ],
)
@respx.mock
def test_a_forged_state_is_refused(web: Web, forge: object) -> None:
    exchange, _ = mock_github()
    state = begin(web)  # sets the browser cookie for the genuine state
    forged = forge(state)  # type: ignore[operator]
    response = callback(web, forged)
    assert response.status_code in (400, 422)
    assert not exchange.called
    assert web.objects.get(identity_key(TEAM, USER)) is None
    start = web.client.get("/github/link/start", params={"state": forged}, follow_redirects=False)
    assert start.status_code in (400, 422)


@respx.mock
def test_a_callback_in_another_browser_is_refused(web: Web) -> None:
    exchange, _ = mock_github()
    state = begin(web)
    web.client.cookies.clear()
    response = callback(web, state)
    assert response.status_code == 403
    assert "browser" in response.text
    assert not exchange.called


@respx.mock
def test_github_errors_are_explained_and_store_nothing(web: Web) -> None:
    respx.post(f"{GITHUB_WEB}/login/oauth/access_token").mock(
        return_value=httpx.Response(200, json={"error": "bad_verification_code"})
    )
    state = begin(web)
    response = callback(web, state)
    assert response.status_code == 502
    assert "bad_verification_code" in response.text
    assert web.objects.get(identity_key(TEAM, USER)) is None
    assert web.dms == []


@respx.mock
def test_github_unreachable_is_502(web: Web) -> None:
    respx.post(f"{GITHUB_WEB}/login/oauth/access_token").mock(side_effect=httpx.ConnectError("down"))
    state = begin(web)
    assert callback(web, state).status_code == 502


def test_the_user_declining_on_github_is_400(web: Web) -> None:
    state = begin(web)
    response = web.client.get("/github/link/callback", params={"error": "access_denied", "state": state})
    assert response.status_code == 400
    assert "access_denied" in response.text


@respx.mock
def test_states_minted_by_the_slack_side_are_accepted(web: Web) -> None:
    mock_github("from-slack")
    url = default_link_url(web.deps)(TEAM, USER)
    assert url is not None
    response = web.client.get(start_path(url), follow_redirects=False)
    assert response.status_code == 302
    assert callback(web, state_of(url)).status_code == 200
    assert LinkedIdentities(web.objects).github_login(TEAM, USER) == "from-slack"
    assert callback(web, state_of(url)).status_code == 403


def test_link_url_hook_is_none_when_not_configured() -> None:
    w = make_web()
    w.deps.settings.github_client_id = None
    assert link_url_for(w.deps)(TEAM, USER) is None
    response = w.client.get("/github/link/start", params={"state": "x"})
    assert response.status_code == 503
    assert "GITHUB_CLIENT_ID" in response.text


@respx.mock
def test_unlink(web: Web) -> None:
    mock_github()
    callback(web, begin(web))
    assert web.client.post("/github/link/unlink", json={"team_id": TEAM, "user_id": USER}).status_code == 401
    response = web.client.post("/github/link/unlink", json={"team_id": TEAM, "user_id": USER}, headers=web.auth())
    assert response.status_code == 200
    assert response.json() == {"unlinked": True, "team_id": TEAM, "user_id": USER}
    assert web.objects.get(identity_key(TEAM, USER)) is None
    assert LinkedIdentities(web.objects).github_login(TEAM, USER) is None
    again = web.client.post("/github/link/unlink", json={"team_id": TEAM, "user_id": USER}, headers=web.auth())
    assert again.json()["unlinked"] is False
    assert unlink_account(web.deps, TEAM, USER) is False
    bad = web.client.post("/github/link/unlink", json={"user_id": "../x"}, headers=web.auth())
    assert bad.status_code == 422


def test_fernet_keys_rotate() -> None:
    from cryptography.fernet import Fernet

    objects = InMemoryObjectStore()
    old_key = Fernet.generate_key().decode()
    old = LinkedAccounts(objects, fernet_from_setting(old_key))
    old.put(TEAM, USER, github_login="dana", token=USER_TOKEN, linked_at=datetime.now(UTC))
    rotated = LinkedAccounts(objects, fernet_from_setting(f"new-secret-material,{old_key}"))
    assert rotated.token(TEAM, USER) == USER_TOKEN
    assert LinkedAccounts(objects, fernet_from_setting("unrelated")).token(TEAM, USER) is None


@respx.mock
def test_the_link_is_confirmed_by_a_slack_dm_through_the_bot_token() -> None:
    from fastapi.testclient import TestClient

    from bot.settings import load_settings
    from bot.web.app import create_web_app
    from bot.web.executor import InlineExecutor
    from tests.slack.fake_slack import FakeSlack
    from tests.web.conftest import build_deps, env_for

    mock_github("dana-gh")
    fake = FakeSlack().start()
    try:
        settings = load_settings(env_for(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=fake.api_url))
        deps, _world, objects = build_deps(settings)
        app = create_web_app(deps, executor=InlineExecutor(), reconcile_interval=None)  # the default DM sender
        with TestClient(app, base_url="https://testserver") as client:
            start = client.get(start_path(make_link_url(deps, TEAM, USER)), follow_redirects=False)
            assert start.status_code == 302
            done = client.get(
                "/github/link/callback", params={"code": "code-123", "state": state_of(start.headers["location"])}
            )
            assert done.status_code == 200
        (dm,) = fake.of("chat.postMessage")
        assert dm.token == "xoxb-test"
        assert dm.params["channel"] == USER
        assert "@dana-gh" in dm.params["text"]
        assert USER_TOKEN not in json.dumps(dm.params)
        assert LinkedIdentities(objects).github_login(TEAM, USER) == "dana-gh"
    finally:
        fake.stop()


@respx.mock
def test_a_failing_dm_does_not_undo_the_link(web: Web) -> None:
    mock_github()

    def broken(team: str | None, user: str, text: str) -> None:
        raise RuntimeError("slack down")

    web.ctx.dm = broken
    assert callback(web, begin(web)).status_code == 200
    assert LinkedIdentities(web.objects).github_login(TEAM, USER) == "dana-gh"


@pytest.mark.parametrize(
    "doc",
    [
        {"kind": "github_link", "user_id": USER, "team_id": TEAM, "expires_at": "2099-01-01T00:00:00"},  # naive
        {"kind": "github_link", "user_id": USER, "team_id": TEAM, "expires_at": 12},
        {"kind": "slack_install", "user_id": USER, "team_id": TEAM, "expires_at": "2099-01-01T00:00:00+00:00"},
        {"kind": "github_link", "user_id": "../x", "expires_at": "2099-01-01T00:00:00+00:00"},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_stored_state_is_refused_not_a_crash(web: Web, doc: object) -> None:
    state = "stored-state-0123456789abcdef"
    web.objects.put(f"oauth/states/{state}.json", json.dumps(doc).encode())
    response = web.client.get("/github/link/start", params={"state": state}, follow_redirects=False)
    assert response.status_code == 400
    assert "malformed" in response.text
