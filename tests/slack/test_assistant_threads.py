"""Slack's AI-app surface: assistant threads through Bolt's ``Assistant`` middleware, driven
by signed events against the fake Slack (which checks assistant.threads.* arguments as Slack)."""

from __future__ import annotations

from typing import Any

from tests.slack.harness import DEV, TEAM, Harness
from tests.slack.helpers import create_request, eventually

DM = f"D{DEV[1:]}"
THREAD = "1729999327.187299"


def _started(h: Harness, thread: str = THREAD) -> None:
    h.event(
        {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": DEV,
                "context": {"channel_id": "C0CHAN001", "team_id": TEAM, "enterprise_id": None},
                "channel_id": DM,
                "thread_ts": thread,
            },
            "event_ts": "1729999327.187300",
        }
    )


def _say(h: Harness, text: str, ts: str, thread: str = THREAD) -> None:
    h.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": DM,
            "user": DEV,
            "text": text,
            "ts": ts,
            "thread_ts": thread,
            "team": TEAM,
        }
    )


def _in_thread(h: Harness, thread: str = THREAD) -> list[Any]:
    return [c for c in h.fake.of("chat.postMessage") if c.params.get("thread_ts") == thread]


def test_a_started_thread_is_greeted_with_suggested_prompts(harness: Harness) -> None:
    h = harness
    _started(h)
    prompts = h.fake.wait_for("assistant.threads.setSuggestedPrompts")[0]
    assert "_failed" not in prompts.params
    assert [p["title"] for p in prompts.params["prompts"]] == [
        "Request an S3 bucket",
        "What can you create?",
        "My requests",
    ]
    assert prompts.params["channel_id"] == DM and prompts.params["thread_ts"] == THREAD
    greeting = eventually(lambda: _in_thread(h), what="the greeting")[0]
    assert "what infrastructure you need" in greeting.text()


def test_a_request_in_an_assistant_thread_shows_a_status_and_titles_the_thread(harness: Harness) -> None:
    h = harness
    _started(h)
    h.fake.wait_for("assistant.threads.setSuggestedPrompts")
    _say(h, "I need an S3 bucket called team-logs", "1729999400.000001")
    status = h.fake.wait_for("assistant.threads.setStatus")[0]
    assert status.params["status"] and status.params["thread_ts"] == THREAD
    title = h.fake.wait_for("assistant.threads.setTitle")[0]
    assert "team-logs" in title.params["title"] and title.params["thread_ts"] == THREAD
    answers = eventually(lambda: len(_in_thread(h)) >= 2 and _in_thread(h), what="the intake's question")
    assert "project" in answers[-1].text().lower()
    # The next message in the thread continues the same conversation.
    _say(h, "core", "1729999400.000002")
    eventually(lambda: len(_in_thread(h)) >= 3, what="the next question")
    turns = [e for e in h.deps.chat_log.entries if e.role == "user"]
    assert [e.text for e in turns] == ["I need an S3 bucket called team-logs", "core"]
    assert len({e.session_id for e in turns}) == 1


def test_the_prompts_what_can_you_create_and_my_requests_are_answered(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    _started(h)
    h.fake.wait_for("assistant.threads.setSuggestedPrompts")  # the person reads them, then clicks one
    _say(h, "What can you create?", "1729999500.000001")
    modules = eventually(lambda: [c for c in _in_thread(h) if "s3-bucket" in str(c.params)], what="the modules")
    assert modules
    _say(h, "My requests", "1729999500.000002")
    mine = eventually(lambda: [c for c in _in_thread(h) if request.id in str(c.params)], what="my requests")
    assert mine
    assert not h.deps.chat_log.entries  # neither started an intake


def test_a_threaded_dm_outside_an_assistant_thread_is_still_a_plain_intake_turn(harness: Harness) -> None:
    h = harness
    h.dm(DEV, "I need an s3 bucket", ts="1700000000.500000")
    eventually(lambda: h.fake.of("chat.postMessage"), what="the first answer")
    h.dm(DEV, "core", ts="1700000000.500001", thread_ts="1700000000.500000")
    eventually(lambda: _in_thread(h, "1700000000.500000"), what="the answer in the thread")
    assert not h.fake.of("assistant.threads.setStatus")


def test_a_context_change_is_kept_and_threaded_dms_are_acked_off_the_event_loop(harness: Harness) -> None:
    from bot.app import ack_needs_io
    from bot.listeners.assistant_threads import ObjectThreadContextStore

    h = harness
    _started(h)
    h.fake.wait_for("assistant.threads.setSuggestedPrompts")
    h.event(
        {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {
                "user_id": DEV,
                "context": {"channel_id": "C0OTHER01", "team_id": TEAM, "enterprise_id": None},
                "channel_id": DM,
                "thread_ts": THREAD,
            },
            "event_ts": "1729999327.187400",
        }
    )
    store = ObjectThreadContextStore(h.deps.objects)
    eventually(
        lambda: (store.find(channel_id=DM, thread_ts=THREAD) or {}).get("channel_id") == "C0OTHER01",
        what="the new context",
    )
    # The middleware reads the store to tell an assistant thread from another DM thread.
    assert ack_needs_io(b'{"event":{"type":"message","channel_type":"im","thread_ts":"1.2"}}')
    assert not ack_needs_io(b'{"event":{"type":"message","channel_type":"im","ts":"1.2"}}')
