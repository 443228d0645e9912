"""Thread replies name what happened for every transition the core sends."""

from __future__ import annotations

import json

import pytest

from bot.views.replies import transition_reply
from core.domain.request import RunRef
from core.ports.notifier import Transition
from tests.domain.builders import at_status

EVENTS = [
    "created",
    "planning",
    "plan_ready",
    "failed",
    "approved",
    "approval_voided",
    "merged",
    "applying",
    "applied",
    "destroy_requested",
    "destroy_failed",
    "destroying",
    "destroyed",
    "drift_detected",
    "updated",
]


@pytest.mark.parametrize("event", EVENTS)
def test_every_core_event_has_its_own_words(event: str) -> None:
    request = at_status("applied")
    reply = transition_reply(request, Transition(event=event, previous_status="applied", status="applied", actor="U_A"))
    text = json.dumps(reply)
    # The fallback for unknown events shows the raw event name in brackets.
    assert f"({event})" not in text


def test_a_failed_destroy_links_the_run_and_says_nothing_changed() -> None:
    request = at_status("applied")
    request.destroy_run = None
    failed_cleanup = RunRef(run_id=9, url="https://github.example/runs/9", status="completed", conclusion="failure")
    transition = Transition(
        event="destroy_failed", previous_status="applied", status="applied", run_url=failed_cleanup.url
    )
    text = json.dumps(transition_reply(request, transition))
    assert "https://github.example/runs/9" in text and "unchanged" in text
