"""Chat logs: every user and assistant turn recorded with its ids, redacted by the adapter, and a
broken chat log never breaks the conversation."""

from __future__ import annotations

from pathlib import Path

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
