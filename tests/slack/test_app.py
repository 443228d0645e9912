"""App wiring: SLACK_API_URL, single-workspace vs OAuth (file and S3 stores), Socket Mode
handler, both ack modes, and the HTTP adapter with real signed requests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import boto3
import pytest
from moto import mock_aws
from slack_sdk.oauth.installation_store import FileInstallationStore, Installation
from slack_sdk.oauth.installation_store.amazon_s3 import AmazonS3InstallationStore

from bot.app import create_app, wsgi_app
from bot.settings import SettingsError
from bot.slack_oauth import PrefixedS3OAuthStateStore
from bot.socket_mode import socket_mode_handler
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import DEV, VIEWER, build_deps, sign, start_harness
from tests.slack.helpers import click_card, create_request


def test_slack_api_url_is_the_web_api_base(fake_slack: FakeSlack, tmp_path: Path) -> None:
    deps, _ = build_deps(fake_slack, tmp_path)
    app = create_app(deps)
    assert app.client.base_url == fake_slack.api_url
    assert app.client.token == "xoxb-tfpilot-test"


def test_the_app_leaves_the_tfpilot_loggers_alone(fake_slack: FakeSlack, tmp_path: Path) -> None:
    # On every request Bolt pins a logger named after the app to its base logger's level; were
    # that logger "tfpilot", every module's INFO logs would vanish.
    import logging

    from slack_bolt.logger import get_bolt_app_logger

    deps, _ = build_deps(fake_slack, tmp_path)
    app = create_app(deps)
    base = logging.getLogger("tfpilot-test-base")
    base.setLevel(logging.WARNING)
    get_bolt_app_logger(app_name=app.name, base_logger=base)
    assert logging.getLogger("tfpilot").level == logging.NOTSET


def test_a_missing_bot_token_is_a_clear_start_up_error(fake_slack: FakeSlack, tmp_path: Path) -> None:
    deps, _ = build_deps(fake_slack, tmp_path)
    deps.settings.slack_bot_token = None
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        create_app(deps)


def test_oauth_uses_file_stores_under_the_data_dir_without_a_bucket(fake_slack: FakeSlack, tmp_path: Path) -> None:
    deps, _ = build_deps(fake_slack, tmp_path, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-client-secret")
    app = create_app(deps)
    assert app.oauth_flow is not None
    store = app.oauth_flow.settings.installation_store
    assert isinstance(store, FileInstallationStore)
    assert store.base_dir.startswith(str(tmp_path / "slack" / "installations"))
    assert app.client.base_url == fake_slack.api_url and app.oauth_flow.client.base_url == fake_slack.api_url


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="tfpilot-requests")
        yield client


def test_oauth_uses_s3_stores_under_their_prefixes(fake_slack: FakeSlack, tmp_path: Path, s3) -> None:
    deps, _ = build_deps(
        fake_slack,
        tmp_path,
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="test-client-secret",
        TFPILOT_REQUESTS_BUCKET="tfpilot-requests",
    )
    app = create_app(deps)
    settings = app.oauth_flow.settings
    assert isinstance(settings.installation_store, AmazonS3InstallationStore)
    assert isinstance(settings.state_store, PrefixedS3OAuthStateStore)
    settings.installation_store.save(
        Installation(app_id="A1", team_id="T9", user_id="U9", bot_token="xoxb-t9", bot_id="B9", bot_user_id="UB9")
    )
    bot = settings.installation_store.find_bot(enterprise_id=None, team_id="T9")
    assert bot is not None and bot.bot_token == "xoxb-t9"
    state = settings.state_store.issue()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="tfpilot-requests")["Contents"]]
    assert all(k.startswith(("slack/installations/111.222/", "slack/states/")) for k in keys), keys
    assert f"slack/states/{state}" in keys
    assert settings.state_store.consume(state) is True
    assert settings.state_store.consume(state) is False  # single use
    assert settings.state_store.consume("../etc/passwd") is False


def test_socket_mode_handler_needs_the_app_token(fake_slack: FakeSlack, tmp_path: Path) -> None:
    deps, _ = build_deps(fake_slack, tmp_path)
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN"):
        socket_mode_handler(deps)
    deps, _ = build_deps(fake_slack, tmp_path, SLACK_APP_TOKEN="xapp-test")
    handler = socket_mode_handler(deps)
    assert handler.app.client.base_url == fake_slack.api_url  # Socket Mode's client honours SLACK_API_URL too
    assert handler.app.process_before_response is False


def test_socket_mode_ack_mode_refuses_a_viewer_too(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path
) -> None:
    h = start_harness(fake_slack, tmp_path, shared_fixtures, process_before_response=False)
    try:
        request = create_request(h)
        h.finish_run(request.id, "plan")
        response = click_card(h, VIEWER, request.id, "req:approve")
        assert response.status == 200
        assert "you are a viewer" in fake_slack.wait_for("chat.postEphemeral")[0].text()
        assert "approve_blocked" in h.deps.audit.names(request.id)
    finally:
        h.close()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def test_http_adapter_serves_signed_requests(fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path) -> None:
    h = start_harness(fake_slack, tmp_path, shared_fixtures)
    server = make_server("127.0.0.1", 0, wsgi_app(h.app), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/slack/events"
        envelope = h.fixture("events_api_app_mention.json")
        envelope["event"].update({"user": DEV, "text": "<@UTFPILOT> hello"})
        body = json.dumps(envelope)

        def post(headers: dict[str, str]) -> int:
            req = urllib.request.Request(url, data=body.encode(), method="POST")
            for k, v in {"content-type": "application/json", **headers}.items():
                req.add_header(k, v)
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status
            except urllib.error.HTTPError as err:
                return err.code

        assert post(sign(body, secret="wrong")) == 401
        assert post(sign(body)) == 200
        assert fake_slack.wait_for("chat.postMessage")[0].params["thread_ts"] == envelope["event"]["ts"]
    finally:
        server.shutdown()
        server.server_close()
        h.close()


def test_the_notifier_factory_uses_the_settings(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from bot.slack_notifier import build_slack_notifier
    from core.domain.request import PlanOutput, PlanSummary, Request, Requester, SlackThread
    from core.ports.notifier import Transition
    from tests.fakes import InMemoryObjectStore, MemoryRequestStore
    from tests.slack.harness import ADMIN, APPROVER, settings_for
    from tests.slack.test_notifier import NOW

    store = MemoryRequestStore()
    notifier = build_slack_notifier(settings_for(fake_slack, tmp_path), objects=InMemoryObjectStore())
    request = store.create(
        Request(
            id="req_factory0001",
            project="core",
            environment="dev",
            module="s3-bucket",
            received_at=NOW,
            updated_at=NOW,
            requester=Requester(id=DEV),
            slack=SlackThread(team_id="T111", channel="C0CARDS01"),
            plan=PlanOutput(summary=PlanSummary(add=1)),
        )
    )
    notifier.request_changed(request, Transition(event="plan_ready", previous_status="planning", status="plan_ready"))
    reply = fake_slack.of("chat.postMessage")[1]
    assert f"<@{APPROVER}>" in reply.text() and f"<@{ADMIN}>" in reply.text() and f"<@{DEV}>" in reply.text()
    assert reply.token == "xoxb-tfpilot-test"


def test_oauth_requests_use_the_workspace_token_resolved_once(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path
) -> None:
    # Bolt's default authorization reads the store twice and calls auth.test on every request,
    # before the ack; TfPilot resolves a workspace once and remembers it.
    h = start_harness(
        fake_slack, tmp_path, shared_fixtures, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-client-secret"
    )
    try:
        store = h.app.oauth_flow.settings.installation_store
        store.save(
            Installation(
                app_id="A1",
                enterprise_id="E111",  # the fixture envelope's grid org
                team_id="T111",
                user_id="U9",
                bot_token="xoxb-workspace-t111",
                bot_id="B9",
                bot_user_id="UB9",
            )
        )
        lookups: list[str | None] = []
        find_bot = store.find_bot

        def counting_find_bot(**kwargs: object) -> object:
            lookups.append(kwargs.get("team_id"))  # type: ignore[arg-type]
            return find_bot(**kwargs)

        store.find_bot = counting_find_bot  # type: ignore[method-assign]
        for n in range(3):
            assert h.dm(DEV, f"hello {n}", ts=f"1700000000.00050{n}").status == 200
        replies = fake_slack.wait_for("chat.postMessage", 3)
        assert {c.token for c in replies} == {"xoxb-workspace-t111"}
        assert lookups == ["T111"] and len(fake_slack.of("auth.test")) == 1
        # An unknown workspace is not served, and not remembered as unknown (it may install next).
        for n in range(2):
            unknown = json.dumps({**h.fixture("events_api_app_mention.json"), "team_id": "T999", "event_id": f"Ev9{n}"})
            h.send(unknown, "application/json")
        fake_slack.settle()
        assert lookups == ["T111", "T999", "T999"] and len(fake_slack.of("chat.postMessage")) == 3
    finally:
        h.close()


def test_cached_authorize_forgets_after_its_ttl(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from slack_bolt import BoltContext
    from slack_sdk import WebClient

    from bot.slack_oauth import CachedAuthorize

    store = FileInstallationStore(base_dir=str(tmp_path / "installations"), client_id="111.222")
    store.save(
        Installation(app_id="A1", team_id="T5", user_id="U5", bot_token="xoxb-t5", bot_id="B5", bot_user_id="UB5")
    )
    now = [0.0]
    authorize = CachedAuthorize(store, ttl_seconds=60, monotonic=lambda: now[0])
    context = BoltContext({"client": WebClient(base_url=fake_slack.api_url), "is_enterprise_install": False})

    def token() -> str | None:
        result = authorize(context=context, enterprise_id=None, team_id="T5", user_id="U1")
        return result.bot_token if result else None

    assert token() == "xoxb-t5"
    store.save(Installation(app_id="A1", team_id="T5", user_id="U5", bot_token="xoxb-t5-new", bot_id="B5"))
    assert token() == "xoxb-t5"  # remembered
    now[0] = 61
    assert token() == "xoxb-t5-new"
    authorize.forget(None, "T5")
    assert (
        token() == "xoxb-t5-new" and authorize(context=context, enterprise_id=None, team_id="T6", user_id="U1") is None
    )


def test_only_modal_submissions_need_io_before_the_ack(shared_fixtures: Path) -> None:
    from urllib.parse import urlencode

    from bot.app import ack_needs_io

    seen = {}
    for path in sorted((shared_fixtures / "slack" / "payloads").glob("*.json")):
        doc = json.loads(path.read_text())
        parsed = doc.get("payload") or doc.get("body") or doc.get("parsed")
        if not isinstance(parsed, dict) or "content_type" not in doc:
            continue
        raw = doc.get("raw_body_as_sent")
        if raw is None:
            raw = json.dumps(parsed) if "json" in doc["content_type"] else urlencode({"payload": json.dumps(parsed)})
        seen[path.name] = ack_needs_io(raw)
        assert seen[path.name] is (parsed.get("type") == "view_submission"), path.name
    assert seen["view_submission.json"] and not seen["block_actions_button_click.json"]
    assert not seen["slash_command.json"] and len(seen) >= 10


def test_every_client_the_bot_builds_retries_with_slack_sdks_handlers(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    from bot.slack_notifier import build_slack_notifier
    from tests.fakes import InMemoryObjectStore

    wanted = (RateLimitErrorRetryHandler, ServerErrorRetryHandler, ConnectionErrorRetryHandler)
    single, _ = build_deps(fake_slack, tmp_path)
    oauth, _ = build_deps(fake_slack, tmp_path, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-client-secret")
    notifier = build_slack_notifier(single.settings, objects=InMemoryObjectStore())
    clients = [create_app(single).client, create_app(oauth).client, notifier._client]
    for client in clients:
        assert all(any(isinstance(h, kind) for h in client.retry_handlers) for kind in wanted)
        assert all(h.max_retry_count <= 3 for h in client.retry_handlers)  # bounded


def test_oauth_per_request_clients_retry_a_429_and_a_503(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bolt builds a client per request for the workspace's token, copying the app client's
    # retry handlers: a reply rate limited then hit by a 503 still lands.
    from concurrent.futures import ThreadPoolExecutor

    from tests.slack.harness import EMAILS, Harness

    waits: list[float] = []
    monkeypatch.setattr("bot.slack_retry.pause", waits.append)
    for user, email in EMAILS.items():
        fake_slack.add_user(user, email=email)
    deps, host = build_deps(fake_slack, tmp_path, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="test-client-secret")
    executor = ThreadPoolExecutor(max_workers=4)
    app = create_app(deps, process_before_response=True, listener_executor=executor)  # clients from the settings
    h = Harness(fake=fake_slack, deps=deps, host=host, app=app, fixtures=shared_fixtures, executor=executor)
    try:
        app.oauth_flow.settings.installation_store.save(
            Installation(
                app_id="A1",
                enterprise_id="E111",
                team_id="T111",
                user_id="U9",
                bot_token="xoxb-workspace-t111",
                bot_id="B9",
                bot_user_id="UB9",
            )
        )
        fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "1"})
        fake_slack.fail_next("chat.postMessage", 503, error="service_unavailable")
        assert h.dm(DEV, "hello").status == 200
        calls = fake_slack.wait_for("chat.postMessage", 3)
        assert [c.params.get("_failed") for c in calls] == [429, 503, None]
        assert {c.token for c in calls} == {"xoxb-workspace-t111"}
        assert len(waits) == 2 and 1 <= waits[0] < 2
    finally:
        h.close()


@pytest.mark.parametrize("verify", [True, False])
def test_with_start_up_verification_no_request_waits_for_auth_test(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path, verify: bool
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from slack_sdk import WebClient

    from tests.slack.harness import BOT_TOKEN, EMAILS, Harness

    for user, email in EMAILS.items():
        fake_slack.add_user(user, email=email)
    deps, host = build_deps(fake_slack, tmp_path)
    executor = ThreadPoolExecutor(max_workers=4)
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    app = create_app(
        deps, client=client, process_before_response=True, listener_executor=executor, token_verification_enabled=verify
    )
    h = Harness(fake=fake_slack, deps=deps, host=host, app=app, fixtures=shared_fixtures, executor=executor)
    try:
        assert len(fake_slack.of("auth.test")) == (1 if verify else 0)  # at start-up, or not at all yet
        assert h.dm(DEV, "hello").status == 200
        assert h.dm(DEV, "hello again", ts="1700000000.000777").status == 200
        fake_slack.wait_for("chat.postMessage", 2)
        # Verified at start-up: no request called auth.test. Otherwise the first one did, before its ack.
        assert len(fake_slack.of("auth.test")) == 1
        assert fake_slack.calls[0].method == "auth.test"
    finally:
        h.close()


def test_a_refused_bot_token_is_a_clear_start_up_error(fake_slack: FakeSlack, tmp_path: Path) -> None:
    deps, _ = build_deps(fake_slack, tmp_path)
    fake_slack.fail_next("auth.test", 200, error="invalid_auth")
    with pytest.raises(SettingsError, match=r"Slack refused SLACK_BOT_TOKEN \(auth.test: invalid_auth\)") as info:
        create_app(deps, token_verification_enabled=True)
    assert "xoxb-tfpilot-test" not in str(info.value)
