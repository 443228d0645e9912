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


@pytest.mark.parametrize(
    "event", ["plan_ready", "failed", "approved", "merged", "applied", "destroyed", "drift_detected", "updated"]
)
def test_replies_that_report_an_outcome_mention_the_requester(event: str) -> None:
    request = at_status("applied")
    request.requester.id = "U0DEV0001"
    transition = Transition(event=event, previous_status="merged", status="applied", actor="U0APP0001")
    text = json.dumps(transition_reply(request, transition, approvers=["U0APP0001"]))
    assert "<@U0DEV0001>" in text


def test_approvers_are_mentioned_only_when_their_approval_is_awaited() -> None:
    request = at_status("plan_ready")
    request.requester.id = "U0DEV0001"
    approvers = ["U0APP0001", "U0DEV0001", "lead@example.com", "U0APP0001"]
    for event, awaited in (("plan_ready", True), ("approval_voided", True), ("approved", False), ("merged", False)):
        text = transition_reply(
            request, Transition(event=event, previous_status=None, status="plan_ready"), approvers=approvers
        )
        body = text["blocks"][0]["text"]["text"]
        assert ("<@U0APP0001>" in body) is awaited, event
        assert body.count("<@U0APP0001>") <= 1 and "lead@example.com" not in body
        if awaited:  # the requester is never asked to approve their own request
            assert "Approvers <@U0APP0001>: your approval is awaited." in body


def test_a_failed_run_links_the_run() -> None:
    request = at_status("apply_failed")
    transition = Transition(
        event="failed", previous_status="applying", status="failed", run_url="https://github.example/runs/42"
    )
    text = json.dumps(transition_reply(request, transition))
    assert "<https://github.example/runs/42|run>" in text and "failed" in text
