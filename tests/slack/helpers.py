"""Helpers for Slack scenario tests: bounded waits, reading the card back from the fake Slack,
creating requests the way the intake does."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from core.domain.request import Request, Requester, SlackThread
from core.services.commands import CreateRequest
from tests.slack.harness import DEV, EMAILS, TEAM, Harness

T = TypeVar("T")
CARD_CHANNEL = "C0CARDS01"


def threaded_request(request_id: str, *, at: datetime, **extra: Any) -> Request:
    """A request document (the dev user's s3-bucket in core/dev, received and updated ``at``)
    whose conversation is a thread in the card channel, no card posted yet: for tests that store
    it themselves rather than create it through the intake."""
    return Request(
        id=request_id,
        project="core",
        environment="dev",
        module="s3-bucket",
        received_at=at,
        updated_at=at,
        requester=Requester(id="U0DEV0001"),
        slack=SlackThread(team_id="T111", channel=CARD_CHANNEL),
        **extra,
    )


def eventually(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy (bounded; for lazy listeners)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def create_request(h: Harness, *, environment: str = "dev", name: str = "logs", channel: str = CARD_CHANNEL) -> Request:
    cmd = CreateRequest(
        project="core",
        environment=environment,
        module="s3-bucket",
        config={"name": name},
        requester=Requester(id=DEV, email=EMAILS[DEV], team_id=TEAM),
        slack=SlackThread(team_id=TEAM, channel=channel),
        source="slack",
    )
    request = h.deps.requests.create(cmd)
    return h.deps.store.get(request.id)


def card_ts(h: Harness, request_id: str) -> str:
    request = h.deps.store.get(request_id)
    assert request.slack is not None and request.slack.ts, "card not posted"
    return request.slack.ts


def card_message(h: Harness, request_id: str) -> dict[str, Any]:
    request = h.deps.store.get(request_id)
    assert request.slack is not None and request.slack.ts
    return h.fake.messages[(request.slack.channel, request.slack.ts)]


def card_buttons(h: Harness, request_id: str) -> dict[str, dict[str, Any]]:
    """action_id -> button of the card as Slack shows it now."""
    blocks = card_message(h, request_id).get("blocks") or []
    return {e["action_id"]: e for b in blocks if b.get("type") == "actions" for e in b["elements"]}


def click_card(h: Harness, user: str, request_id: str, action_id: str, **kw: Any) -> Any:
    button = card_buttons(h, request_id)[action_id]
    request = h.deps.store.get(request_id)
    assert request.slack is not None
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": f"card:{request_id}",
        "text": button["text"],
        "value": button["value"],
    }
    return h.click(user, action, channel=request.slack.channel, message_ts=card_ts(h, request_id), **kw)


def thread_replies(h: Harness, request_id: str) -> list[str]:
    ts = card_ts(h, request_id)
    return [
        c.params["blocks"][0]["text"]["text"] for c in h.fake.of("chat.postMessage") if c.params.get("thread_ts") == ts
    ]


class FailingWhile:
    """The engine (``RequestService``), where one command fails as if the requests bucket were
    unreachable while ``failing`` is set; every other attribute is the engine's own."""

    def __init__(self, engine: Any, command: str) -> None:
        self.failing = True
        self._engine = engine
        self._command = command

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if name != self._command:
            return attr

        def command(*args: Any, **kwargs: Any) -> Any:
            if self.failing:
                raise OSError("the requests bucket is unreachable")
            return attr(*args, **kwargs)

        return command
