"""ObjectChatLog: turns are redacted before storage, read back oldest first, never raise."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.adapters.chat_log import LocalChatLog, ObjectChatLog, S3ChatLog
from core.ports.chat_log import ChatEntry
from core.ports.object_store import ObjectStore
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.store.conftest import BUCKET

AWS_KEY = "AKIA" + "ABCDEFGHIJKLMNOP"
SLACK_TOKEN = "xoxb-" + "123456789012-abcdefghijkl"


def _entry(clock: ManualClock, role: str, text: str, **extra: Any) -> ChatEntry:
    return ChatEntry(session_id="T1:C1:1700000000.000100", role=role, text=text, timestamp=clock.now(), **extra)


def test_turns_are_redacted_before_storage(object_store: ObjectStore) -> None:
    clock = ManualClock()
    chat = ObjectChatLog(object_store, clock)
    chat.append(
        _entry(
            clock,
            "user",
            f"my key is {AWS_KEY} and password=hunter2",
            data={"candidates": {"token": SLACK_TOKEN, "size": "large"}, "notes": [f"bot {SLACK_TOKEN}"]},
        )
    )
    keys = list(object_store.list_keys("chats/"))
    assert len(keys) == 1
    assert re.match(r"^chats/T1:C1:1700000000\.000100/2026-11-26T09:00:00\.000000Z-user-[0-9a-f]{12}\.json$", keys[0])
    raw = object_store.get(keys[0])
    assert raw is not None
    for secret in (AWS_KEY, "hunter2", SLACK_TOKEN):
        assert secret.encode() not in raw.body
    [turn] = chat.read("T1:C1:1700000000.000100")
    assert turn.text == "my key is [REDACTED:aws-access-key-id] and password=[REDACTED:password]"
    assert turn.data == {
        "candidates": {"token": "[REDACTED:token]", "size": "large"},
        "notes": ["bot [REDACTED:slack-token]"],
    }


def test_read_returns_the_session_oldest_first(object_store: ObjectStore) -> None:
    clock = ManualClock()
    chat = ObjectChatLog(object_store, clock)
    chat.append(_entry(clock, "user", "I need a bucket"))
    chat.append(_entry(clock, "assistant", "Which project?"))
    clock.advance(seconds=3)
    chat.append(_entry(clock, "user", "core"))
    other = ChatEntry(session_id="other/session", role="user", text="hi", timestamp=clock.now() - timedelta(days=1))
    chat.append(other)
    turns = chat.read("T1:C1:1700000000.000100")
    assert [(t.role, t.text) for t in turns] == [
        ("user", "I need a bucket"),
        ("assistant", "Which project?"),
        ("user", "core"),
    ]
    assert [t.text for t in chat.read("other/session")] == ["hi"]
    assert chat.read("nobody") == []


class _Broken(InMemoryObjectStore):
    def put(self, *args: Any, **kwargs: Any) -> str:
        raise OSError("bucket unreachable")


def test_append_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = ManualClock()
    ObjectChatLog(_Broken(), clock).append(_entry(clock, "user", "password=hunter2"))
    assert "chat log" in caplog.text and "hunter2" not in caplog.text


def test_named_adapters(tmp_path: Path, s3_client: Any) -> None:
    s3_client.create_bucket(Bucket="tfpilot-chats-test")
    clock = ManualClock()
    for chat in (LocalChatLog(tmp_path / "chats", clock), S3ChatLog(s3_client, "tfpilot-chats-test", clock)):
        chat.append(_entry(clock, "user", "hello"))
        assert [t.text for t in chat.read("T1:C1:1700000000.000100")] == ["hello"]
    key = s3_client.list_objects_v2(Bucket="tfpilot-chats-test")["Contents"][0]["Key"]
    assert s3_client.head_object(Bucket="tfpilot-chats-test", Key=key)["ServerSideEncryption"] == "AES256"
    assert "Contents" not in s3_client.list_objects_v2(Bucket=BUCKET)  # its own bucket


def test_an_unlabelled_aws_secret_in_prose_is_stored_redacted(object_store: ObjectStore) -> None:
    clock = ManualClock()
    chat = ObjectChatLog(object_store, clock)
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
    chat.append(_entry(clock, "user", f"use this secret {secret} for the bucket"))
    stored = b"".join(object_store.get(k).body for k in object_store.list_keys("chats/"))  # type: ignore[union-attr]
    assert secret.encode() not in stored and b"[REDACTED:aws-secret-key]" in stored
    assert [e.text for e in chat.read("T1:C1:1700000000.000100")] == [
        "use this secret [REDACTED:aws-secret-key] for the bucket"
    ]
