"""Drift endpoints: the secret, pagination, the typed report, storage, events and the thread message."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.conftest import create_cmd
from tests.services.helpers import applied, planned
from tests.web.conftest import API_TOKEN, DRIFT_SECRET, Web

ELIGIBLE = "/api/requests/drift-eligible"


def secret(value: str = DRIFT_SECRET) -> dict[str, str]:
    return {"x-tfpilot-secret": value}


def report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "detected": True,
        "summary": "1 to change: module.bucket.aws_s3_bucket.this (update)",
        "counts": {"add": 0, "change": 1, "destroy": 0},
        "run_url": "https://github.com/acme/infra/actions/runs/77",
        "checked_at": "2026-11-26T09:30:00Z",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("headers", [{}, secret("wrong"), secret(""), {"Authorization": f"Bearer {API_TOKEN}"}])
def test_wrong_or_missing_drift_secret_is_401(web: Web, headers: dict[str, str]) -> None:
    request = applied(web.world)
    assert web.client.get(ELIGIBLE, headers=headers).status_code == 401
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(), headers=headers)
    assert response.status_code == 401
    assert web.world.get(request.id).drift is None
    assert "drift_checked" not in web.world.events(request.id)


def test_eligible_lists_applied_requests_only(web: Web) -> None:
    world = web.world
    done = applied(world)
    planned(world, config={"name": "other"})
    response = web.client.get(ELIGIBLE, headers=secret())
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["rows"]] == [done.id]
    assert body["rows"][0]["environment"] == "dev"
    assert body["cursor"] is None


def test_eligible_is_paginated_and_filtered(web: Web) -> None:
    world = web.world
    ids = {applied(world, config={"name": f"b{n}"}).id for n in range(3)}
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = web.client.get(ELIGIBLE, params=params, headers=secret()).json()
        seen.extend(row["id"] for row in page["rows"])
        cursor = page["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert web.client.get(ELIGIBLE, params={"environment": "prod"}, headers=secret()).json()["rows"] == []
    dev = web.client.get(ELIGIBLE, params={"environment": "dev", "project": "core"}, headers=secret()).json()
    assert {row["id"] for row in dev["rows"]} == ids


def test_eligible_refuses_a_bad_cursor_and_limit(web: Web) -> None:
    assert web.client.get(ELIGIBLE, params={"cursor": "garbage"}, headers=secret()).status_code == 400
    assert web.client.get(ELIGIBLE, params={"limit": 0}, headers=secret()).status_code == 422
    assert web.client.get(ELIGIBLE, params={"limit": 201}, headers=secret()).status_code == 422
    assert web.client.get(ELIGIBLE, params={"environment": "../x"}, headers=secret()).status_code == 422


def test_drift_found_is_stored_logged_and_told_once(web: Web) -> None:
    world = web.world
    request = applied(world)
    before = len(world.notifier.sent)
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(), headers=secret())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == request.id
    assert body["status"] == "applied"
    assert body["drift"]["detected"] is True
    assert body["drift"]["counts"] == {"add": 0, "change": 1, "destroy": 0}
    stored = world.get(request.id)
    assert stored.drift is not None and stored.drift.detected
    assert stored.drift.run_url == "https://github.com/acme/infra/actions/runs/77"
    assert world.events(request.id)[-2:] == ["drift_checked", "drift_detected"]
    told = world.notifier.sent[before:]
    assert [(rid, t.event) for rid, t in told] == [(request.id, "drift_detected")]
    assert told[0][1].run_url == "https://github.com/acme/infra/actions/runs/77"
    # The nightly job finding the same drift again says nothing new in Slack.
    again = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(), headers=secret())
    assert again.status_code == 200
    assert len(world.notifier.sent) == before + 1
    assert world.events(request.id).count("drift_checked") == 2


def test_no_drift_is_stored_without_a_message(web: Web) -> None:
    world = web.world
    request = applied(world)
    before = len(world.notifier.sent)
    body = report(detected=False, counts={"add": 0, "change": 0, "destroy": 0}, summary="No drift")
    assert web.client.post(f"/api/requests/{request.id}/drift-result", json=body, headers=secret()).status_code == 200
    assert world.get(request.id).drift.detected is False  # type: ignore[union-attr]
    assert len(world.notifier.sent) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"counts": {"add": -1, "change": 0, "destroy": 0}},
        {"run_url": "javascript:alert(1)"},
        {"checked_at": "2026-11-26T09:30:00"},  # no timezone
        {"unexpected": "key"},
        {"detected": "maybe"},
        {"counts": {"add": 0, "change": 0, "destroy": 0, "import": 1}},
    ],
)
def test_the_report_is_validated(web: Web, bad: dict[str, Any]) -> None:
    request = applied(web.world)
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(**bad), headers=secret())
    assert response.status_code == 422
    assert web.world.get(request.id).drift is None


def test_drift_result_for_unknown_or_malformed_ids(web: Web) -> None:
    assert (
        web.client.post("/api/requests/req_000000000000/drift-result", json=report(), headers=secret()).status_code
        == 404
    )
    assert web.client.post("/api/requests/not-an-id/drift-result", json=report(), headers=secret()).status_code == 422


def test_drift_on_a_request_that_is_not_applied_is_still_recorded(web: Web) -> None:
    # The workflow decides what it checks; the service stores what it is told.
    request = web.world.requests.create(create_cmd())
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(), headers=secret())
    assert response.status_code == 200
    assert response.json()["status"] == "planning"


@pytest.mark.parametrize("headers", [secret(), {}])
def test_a_report_over_one_mib_is_413_and_never_buffered_whole(web: Web, headers: dict[str, str]) -> None:
    request = applied(web.world)
    big = report(summary="x" * (1024 * 1024))
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=big, headers=headers)
    assert response.status_code == 413
    assert web.world.get(request.id).drift is None

    def chunks() -> Any:  # no Content-Length: counted as it streams
        yield b'{"summary": "'
        for _ in range(20):
            yield b"x" * 65536

    streamed = web.client.post(
        f"/api/requests/{request.id}/drift-result",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert web.world.get(request.id).drift is None


@pytest.mark.parametrize("body", [b"[" * 100_000, b"{not json", b""])
def test_a_malformed_report_is_refused_not_a_crash(web: Web, body: bytes) -> None:
    request = applied(web.world)
    response = web.client.post(
        f"/api/requests/{request.id}/drift-result",
        content=body,
        headers={**secret(), "content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert web.world.get(request.id).drift is None


# --- in Slack: the real notifier against the fake Slack Web API ----------------------------------


def _drift_in_slack(web: Web) -> tuple[Any, str]:
    from slack_sdk import WebClient

    from bot.slack_notifier import SlackNotifier
    from core.services.drift import DriftService
    from core.services.messagebus import MessageBus
    from core.services.once import Once
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack().start()
    world = web.world
    notifier = SlackNotifier(
        WebClient(token="xoxb-test", base_url=fake.api_url), cards=world.requests, read=world.deps.queries.get
    )
    # A bus of its own (another process's), with the shared notice markers: the events the
    # world's bus told already are not told again through this notifier.
    bus = MessageBus(world.audit, notifier, Once(world.deps.objects, "dedupe/events"))
    web.deps.drift = DriftService(world.store, world.audit, notifier, world.clock, bus=bus)
    request = applied(world)
    response = web.client.post(f"/api/requests/{request.id}/drift-result", json=report(), headers=secret())
    assert response.status_code == 200, response.text
    return fake, request.id


def test_drift_found_updates_the_card_and_replies_in_its_thread(web: Web) -> None:
    fake, request_id = _drift_in_slack(web)
    try:
        card_ts = web.world.get(request_id).slack.ts  # type: ignore[union-attr]
        (update,) = fake.of("chat.update")
        assert update.params["ts"] == card_ts and update.params["channel"] == "C123"
        (reply,) = fake.of("chat.postMessage")
        assert reply.params["thread_ts"] == card_ts
        text = reply.text()
        assert "drift detected" in text and "~1" in text
        assert "https://github.com/acme/infra/actions/runs/77" in text
    finally:
        fake.stop()


def test_the_drift_reply_offers_a_replan_button(web: Web) -> None:
    fake, _request_id = _drift_in_slack(web)
    try:
        (reply,) = fake.of("chat.postMessage")
        buttons = [
            element
            for block in reply.blocks()
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]
        assert [b["action_id"] for b in buttons] == ["req:replan"]
    finally:
        fake.stop()
