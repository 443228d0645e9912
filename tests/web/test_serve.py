"""``tfpilot serve``: it really starts (HTTP mode, a real OS process on port 0, local storage),
answers health, readiness, the API and signed Slack events, logs JSON, and stops on SIGTERM; and
start-up refusals are one clear line with exit code 2, never a traceback."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli.main import main
from tests.conftest import clear_settings
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SIGNING_SECRET, sign
from tests.web.conftest import API_TOKEN
from tests.web.served import clean_env, start_serve, stop_serve

HTTP_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "TFPILOT_API_TOKEN": API_TOKEN,
}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_serve_starts_answers_and_stops(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0DEV0001", email="dev@example.com")
    env = clean_env(**HTTP_ENV, SLACK_API_URL=fake_slack.api_url, TFPILOT_DATA_DIR=str(tmp_path / "data"))
    served = start_serve(env, tmp_path / "serve.log", "--no-reconciler")
    # The bot token was verified before serving: auth.test once, at start-up.
    assert [c.token for c in fake_slack.of("auth.test")] == ["xoxb-test"]
    try:
        assert served.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=served.url, timeout=10) as http:
            health = http.get("/api/health")
            assert health.status_code == 200
            assert health.json() == {"status": "ok"}
            cid = health.headers["x-request-id"]
            ready = http.get("/api/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == [{"name": "store", "ok": True, "detail": "local"}]
            assert http.get("/api/requests").status_code == 401
            listed = http.get("/api/requests", headers={"Authorization": f"Bearer {API_TOKEN}"})
            assert listed.json() == {"rows": [], "cursor": None}
            # /slack/events is mounted on the same app and reaches the Bolt app (which checks the signature).
            body = json.dumps({"token": "legacy", "challenge": "c-1", "type": "url_verification"})
            slack = http.post("/slack/events", content=body, headers={"content-type": "application/json", **sign(body)})
            assert slack.json() == {"challenge": "c-1"}
            assert http.post(
                "/slack/events", content=body, headers={"content-type": "application/json"}
            ).status_code == (401)
            # The first request that needs authorization is served without a call to auth.test.
            home = json.dumps(
                {
                    "type": "event_callback",
                    "team_id": "T111",
                    "event_id": "Ev0SERVE01",
                    "event": {"type": "app_home_opened", "user": "U0DEV0001", "tab": "home"},
                }
            )
            acked = http.post("/slack/events", content=home, headers={"content-type": "application/json", **sign(home)})
            assert acked.status_code == 200
            assert fake_slack.wait_for("views.publish")[0].params["user_id"] == "U0DEV0001"
            assert len(fake_slack.of("auth.test")) == 1
    finally:
        status = stop_serve(served)
    log = served.log.read_text()
    assert status in (0, -15), log[-2000:]  # uvicorn re-raises SIGTERM after a graceful shutdown
    assert "Traceback" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is one JSON object
    access = [r for r in lines if r["logger"] == "tfpilot.web.access" and r["path"] == "/api/health"]
    assert [(r["status"], r["correlation_id"]) for r in access] == [(200, cid)]
    assert any(r["message"] == "Application shutdown complete." for r in lines)
    assert API_TOKEN not in log and SIGNING_SECRET not in log


@pytest.fixture
def no_new_log_handlers() -> Iterator[None]:
    """``serve`` configures the root logger before building; keep that from leaking into other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    clear_settings(monkeypatch)
    for name, value in {**HTTP_ENV, "TFPILOT_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_socket_mode_without_the_app_token_is_one_clear_line(
    serve_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--socket", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: tfpilot cannot start in socket mode: missing setting(s): SLACK_APP_TOKEN\n"


def test_http_mode_names_every_missing_setting(
    serve_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_env.delenv("TFPILOT_API_TOKEN")
    serve_env.setenv("GITHUB_TOKEN", "test-github-token")
    thresholds = gc.get_threshold()
    assert main(["serve", "--port", "0"]) == 2
    assert gc.get_threshold() == thresholds  # a refused start-up leaves the collector as it was
    err = capsys.readouterr().err
    assert (
        err
        == "error: tfpilot cannot start in http mode: missing setting(s): GITHUB_WEBHOOK_SECRET, TFPILOT_API_TOKEN\n"
    )


@pytest.mark.usefixtures("no_new_log_handlers")
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TFPILOT_PROJECTS_FILE": "/nonexistent/projects.yaml"}, "cannot read the projects file"),
        (
            {"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": "not-a-pem", "GITHUB_WEBHOOK_SECRET": "x"},
            "GITHUB_APP_PRIVATE_KEY is not a readable PEM private key",
        ),
        ({"TFPILOT_ENCRYPTION_KEY": " , "}, "TFPILOT_ENCRYPTION_KEY is empty"),
    ],
)
def test_what_cannot_be_built_is_one_clear_line(
    serve_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        serve_env.setenv(name, value)
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tfpilot cannot start in http mode: ")
    assert expected in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("no_new_log_handlers")
def test_a_bot_token_slack_refuses_stops_start_up(
    serve_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_slack: FakeSlack
) -> None:
    serve_env.setenv("SLACK_API_URL", fake_slack.api_url)
    serve_env.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-token-value")
    fake_slack.fail_next("auth.test", 200, error="invalid_auth")
    assert main(["serve", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith(
        "error: tfpilot cannot start in http mode: Slack refused SLACK_BOT_TOKEN (auth.test: invalid_auth): "
    )
    assert "xoxb-revoked-token-value" not in err and "Traceback" not in err
    assert len(fake_slack.of("auth.test")) == 1


@pytest.mark.usefixtures("no_new_log_handlers")
def test_an_unreachable_slack_stops_start_up(
    serve_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr("bot.slack_retry.pause", waits.append)
    serve_env.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Slack's Web API at http://127.0.0.1:9/api/ to verify SLACK_BOT_TOKEN (URLError)" in err
    assert len(waits) == 2  # the connection was retried, boundedly, before giving up


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "99999"], "not a port"),
        (["--port", "http"], "not a port number"),
        (["--webhook-workers", "0"], "must be at least 1"),
        (["--reconcile-interval", "-5"], "positive number of seconds"),
        (["--reconcile-interval", "nan"], "positive number of seconds"),
    ],
)
def test_bad_options_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", *args])
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err
