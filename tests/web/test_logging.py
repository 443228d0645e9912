"""Structured logs: one JSON object per line, the correlation id of the work, nothing secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.web.logging import (
    CorrelationFilter,
    JsonFormatter,
    bolt_correlation_middleware,
    configure_logging,
    correlation,
    current_correlation_id,
    slack_envelope_id,
)
from tests.services.helpers import planned
from tests.web.conftest import Web
from tests.web.payloads import aim_at


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Route the root logger to a JSON handler writing into a buffer (removed afterwards)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_records_are_json_with_the_correlation_id(json_lines: io.StringIO) -> None:
    log = logging.getLogger("tfpilot.test")
    with correlation("gh-123"):
        assert current_correlation_id() == "gh-123"
        log.info("synced %s", "req_abc", extra={"request_id": "req_abc", "changed": True})
    log.info("outside")
    first, second = records(json_lines)
    assert first["message"] == "synced req_abc"
    assert first["correlation_id"] == "gh-123"
    assert first["request_id"] == "req_abc" and first["changed"] is True
    assert first["level"] == "INFO" and first["logger"] == "tfpilot.test"
    assert second["correlation_id"] is None


def test_secrets_are_masked_even_when_they_slip_into_a_message(json_lines: io.StringIO) -> None:
    log = logging.getLogger("tfpilot.test")
    token = "ghp_" + "a1B2c3D4e5" * 4
    log.warning("call failed with %s", token, extra={"token": token, "client_secret": "hunter2"})
    try:
        raise RuntimeError(f"Authorization: Bearer {token}")
    except RuntimeError:
        log.exception("boom")
    text = json_lines.getvalue()
    assert token not in text
    assert "hunter2" not in text
    first = records(json_lines)[0]
    assert first["token"] == "[redacted]" and first["client_secret"] == "[redacted]"


def test_http_requests_get_an_id_and_one_access_line_without_the_query(web: Web, json_lines: io.StringIO) -> None:
    response = web.client.get("/github/link/start", params={"state": "s3cr3t-state-value"})
    assert response.status_code == 400
    cid = response.headers["x-request-id"]
    lines = [r for r in records(json_lines) if r["logger"] == "tfpilot.web.access"]
    assert len(lines) == 1
    assert lines[0]["correlation_id"] == cid
    assert lines[0]["path"] == "/github/link/start" and lines[0]["status"] == 400
    service_lines = [r for r in records(json_lines) if not r["logger"].startswith("httpx2")]  # not the test client
    assert "s3cr3t-state-value" not in json.dumps(service_lines)


def test_webhook_logs_carry_the_delivery_id_and_no_body(web: Web, json_lines: io.StringIO) -> None:
    request = planned(web.world)
    from tests.web.conftest import load_fixture

    payload = aim_at("workflow_run", load_fixture("octokit__workflow_run_completed.payload.json"), request.id)
    payload["workflow_run"]["head_commit"] = {"message": "very-distinctive-body-text"}
    web.deliver("workflow_run", payload, delivery="feed-1")
    ours = [r for r in records(json_lines) if r["logger"].startswith("bot.web.github_webhook")]
    assert ours and all(r["correlation_id"] == "gh-feed-1" for r in ours)
    assert "very-distinctive-body-text" not in json_lines.getvalue()


def test_configure_logging_is_idempotent() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        first = configure_logging("WARNING", stream=io.StringIO())
        second = configure_logging("INFO")
        assert first is second
        assert [h for h in root.handlers if h not in before] == [first]
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_slack_envelope_ids() -> None:
    assert slack_envelope_id({"event_id": "Ev123"}) == "Ev123"
    assert slack_envelope_id({"trigger_id": "1.2.abc"}) == "1.2.abc"
    assert slack_envelope_id({"view": {"id": "V1"}}) == "V1"
    assert slack_envelope_id({"event_id": "bad id\n"}) is None
    seen: list[str | None] = []
    bolt_correlation_middleware({"event_id": "Ev9"}, lambda: seen.append(current_correlation_id()))
    bolt_correlation_middleware({}, lambda: seen.append(current_correlation_id()))
    assert seen == ["slack-Ev9", None]


def test_the_delivery_id_follows_the_sync_into_the_worker_thread(web: Web) -> None:
    from bot.web.executor import BoundedExecutor
    from tests.web.conftest import load_fixture

    seen: list[tuple[str, str | None]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "bot.web.github_webhook" and "synced" in record.getMessage():
                seen.append((record.threadName, getattr(record, "correlation_id", None)))

    handler = Collect()
    handler.addFilter(CorrelationFilter())
    logger = logging.getLogger("bot.web.github_webhook")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    bounded = BoundedExecutor(max_workers=1, max_queue=1)
    web.ctx.executor = bounded
    try:
        request = planned(web.world)
        payload = aim_at("workflow_run", load_fixture("octokit__workflow_run_completed.payload.json"), request.id)
        assert web.deliver("workflow_run", payload, delivery="feed-2").status_code == 202
        assert bounded.wait_idle(10)
    finally:
        bounded.shutdown()
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(seen) == 1
    thread, cid = seen[0]
    assert thread.startswith("tfpilot-webhook")  # not the request's thread
    assert cid == "gh-feed-2"
