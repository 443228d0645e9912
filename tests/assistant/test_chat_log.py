"""Chat logs: every user and assistant turn recorded with its ids, redacted by the adapter, and a
broken chat log never breaks the conversation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from assistant.chat_turns import ChatTurnWriter
from core.adapters.chat_log import LocalChatLog
from core.ports.chat_log import ChatEntry
from tests.assistant.conftest import USER, World


def test_every_turn_is_recorded_with_ids_timestamps_and_extractor(world: World) -> None:
    chat = world.chat(thread="1700000000.000700")
    chat.say("bucket team-logs in payments dev")
    world.clock.advance(seconds=30)
    chat.say("submit")
    entries = world.chat_log.read(chat.session.id)
    assert [e.role for e in entries] == ["user", "assistant", "user", "assistant"]
    user, bot = entries[0], entries[1]
    assert user.text == "bucket team-logs in payments dev" and user.user_id == USER.id
    assert (user.team_id, user.channel, user.thread_ts) == ("T1", "D123", "1700000000.000700")
    assert user.extractor == "rules" and bot.extractor is None
    assert user.timestamp == bot.timestamp and entries[2].timestamp > user.timestamp
    assert "Here is the request" in bot.text and "tfpilot:begin" in bot.text  # the Terraform shown
    assert bot.data["step"] == "confirm" and "submit" in bot.data["choices"]
    assert entries[3].request_id == chat.session.request_id and entries[3].data["done"] is True


def test_turns_are_redacted_by_the_real_chat_log(world: World, tmp_path: Path) -> None:
    log = LocalChatLog(tmp_path / "chats", world.clock)
    chat = world.chat(world.service(chat_log=log))
    secret = "AKIAIOSFODNN7EXAMPLE"
    chat.say(f"bucket team-logs in payments dev, my key is {secret} and password=hunter2")
    entries = log.read(chat.session.id)
    assert [e.role for e in entries] == ["user", "assistant"]
    stored = "".join(p.read_text() for p in (tmp_path / "chats").rglob("*.json"))
    assert secret not in stored and "hunter2" not in stored
    assert "[REDACTED:" in entries[0].text
    assert chat.session.step == "confirm"


class BrokenChatLog:
    def __init__(self) -> None:
        self.calls = 0

    def append(self, entry: ChatEntry) -> None:
        self.calls += 1
        raise OSError("chat bucket unavailable")

    def read(self, session_id: str) -> list[ChatEntry]:
        raise OSError("chat bucket unavailable")


def test_a_failing_chat_log_never_fails_the_reply(world: World) -> None:
    broken = BrokenChatLog()
    chat = world.chat(world.service(chat_log=broken))
    reply = chat.say("bucket team-logs in payments dev")
    assert chat.session.step == "confirm" and reply.terraform
    assert chat.say("submit").submitted
    assert broken.calls == 4


def test_form_submissions_are_logged_too(world: World) -> None:
    chat = world.chat()
    chat.say("a queue in core dev")
    chat.form({"name": "jobs-q", "visibility_timeout_seconds": "45"})
    user_turns = [e for e in world.chat_log.read(chat.session.id) if e.role == "user"]
    assert user_turns[-1].text.startswith("[form] ") and "jobs-q" in user_turns[-1].text


class StuckChatLog:
    """A chat bucket that hangs: every append waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entries: list[ChatEntry] = []

    def append(self, entry: ChatEntry) -> None:
        assert self.release.wait(30), "never released"
        self.entries.append(entry)

    def read(self, session_id: str) -> list[ChatEntry]:
        return [e for e in self.entries if e.session_id == session_id]


def test_a_hanging_chat_log_does_not_hold_the_reply(world: World) -> None:
    stuck = StuckChatLog()
    service = world.service(chat_log=stuck, chat_log_wait=0.01)
    chat = world.chat(service)
    reply = chat.say("bucket team-logs in payments dev")
    # The reply came back while the chat log was still stuck on its first append.
    assert reply.step == "confirm" and reply.terraform and stuck.entries == []
    assert chat.say("submit").submitted and stuck.entries == []
    stuck.release.set()
    assert service.flush_chat_log(timeout=30)
    assert [(e.role, e.data["step"]) for e in stuck.entries] == [
        ("user", "confirm"),
        ("assistant", "confirm"),
        ("user", "submitted"),
        ("assistant", "submitted"),
    ]


def test_a_full_backlog_drops_turns_instead_of_queueing_without_bound() -> None:
    stuck = StuckChatLog()
    writer = ChatTurnWriter(stuck, wait=0, max_pending=2)
    turns = [[ChatEntry(session_id="ses_1", role="user", text=str(i), timestamp=datetime.now(UTC))] for i in range(6)]
    results = [writer.write(turn) for turn in turns]
    assert results == [False] * 6  # nothing waited for
    # One turn is with the (stuck) worker, two wait in the queue, the rest were dropped.
    assert 3 <= writer.dropped <= 4
    stuck.release.set()
    assert writer.flush(timeout=30)
    assert len(stuck.entries) == 6 - writer.dropped
    assert [e.text for e in stuck.entries] == sorted(e.text for e in stuck.entries)  # in order


def test_the_writer_waits_for_a_healthy_log_and_keeps_no_idle_thread(world: World) -> None:
    writer = ChatTurnWriter(world.chat_log, wait=30, idle_exit=0.01)
    entry = ChatEntry(session_id="ses_1", role="user", text="hello", timestamp=datetime.now(UTC))
    assert writer.write([entry]) is True and world.chat_log.read("ses_1") == [entry]
    assert writer.flush(timeout=30)
    worker = writer._worker
    if worker is not None:
        worker.join(timeout=30)
    assert writer._worker is None or not writer._worker.is_alive()
    assert writer.write([entry]) is True  # a new worker picks the next turn up
    assert len(world.chat_log.read("ses_1")) == 2
