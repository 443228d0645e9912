"""Session persistence: the object-store layout, CAS under races, restarts, expiry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.domain.session import ConversationKey, IntakeSession
from core.adapters.local_objects import LocalObjectStore
from core.domain.errors import VersionConflict
from tests.assistant.conftest import USER, World
from tests.conftest import REPO_ROOT
from tests.fakes import InMemoryObjectStore


def test_session_is_stored_under_its_conversation_key_and_versioned(world: World) -> None:
    chat = world.chat(thread="1700000000.000100")
    chat.say("bucket team-logs in payments dev")
    key = "sessions/T1/D123/1700000000.000100.json"
    assert list(world.objects.list_keys("sessions/")) == [key]
    doc = json.loads(world.objects.objects[key].body)
    assert doc["step"] == "confirm" and doc["version"] == 1 and doc["key"]["thread_ts"] == "1700000000.000100"
    chat.say("set versioning = no")
    assert chat.session.version == 2


def test_hostile_key_parts_stay_under_the_sessions_prefix() -> None:
    key = ConversationKey(team_id="../../etc", channel="C/1", thread_ts="..\x00/x")
    path = key.object_key()
    assert path.startswith("sessions/") and ".." not in path.split("/")[1:] and "\x00" not in path
    assert path.count("/") == 3


def test_another_service_instance_continues_the_conversation(world: World) -> None:
    first = world.chat(thread="1700000000.000200")
    first.say("need a queue in core dev")
    first.say("orders-q")
    assert first.session.pending_field == "visibility_timeout_seconds"
    # A restart: a new service (and extractor) over the same store knows where we were.
    restarted = world.chat(world.service(), thread="1700000000.000200")
    reply = restarted.say("45 seconds")
    assert restarted.session.step == "confirm"
    assert restarted.session.config == {"name": "orders-q", "visibility_timeout_seconds": 45}
    assert reply.request_id == restarted.session.request_id
    assert restarted.say("submit").submitted
    assert len(world.requests.created) == 1


def test_an_idle_session_expires_and_the_next_message_starts_fresh(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    old = chat.session
    world.clock.advance(hours=23)
    chat.say("set versioning = no")
    assert chat.session.id == old.id  # still alive, and the idle timer restarted
    world.clock.advance(hours=24, minutes=1)
    reply = chat.say("queue jobs-q in core dev")
    assert "expired" in reply.text
    fresh = chat.session
    assert fresh.id != old.id and fresh.module == "sqs-queue" and fresh.request_id != old.request_id
    assert fresh.created_at == world.clock.now()


def test_a_submitted_session_that_expires_starts_fresh_silently(world: World) -> None:
    chat = world.chat()
    chat.say("bucket team-logs in payments dev")
    chat.say("submit")
    world.clock.advance(days=2)
    reply = chat.say("hello")
    assert "expired" not in reply.text and chat.session.step == "project"


def test_unreadable_session_document_starts_fresh(world: World) -> None:
    chat = world.chat(thread="1700000000.000300")
    chat.say("bucket team-logs in payments dev")
    key = chat.key.object_key()
    world.objects.put(key, b'{"not": "a session"}')
    reply = chat.say("queue jobs-q in core dev")
    assert "couldn't read" in reply.text
    assert chat.session.module == "sqs-queue"


class InterleavingStore(InMemoryObjectStore):
    """Runs ``before_put`` once, just before the first conditional write: another process's turn
    landing between our read and our write."""

    def __init__(self) -> None:
        super().__init__()
        self.before_put: Any = None
        self.conflicts = 0

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        hook, self.before_put = self.before_put, None
        if hook is not None and key.startswith("sessions/"):
            hook()
        try:
            return super().put(key, body, **kwargs)
        except VersionConflict:
            self.conflicts += 1
            raise


def test_a_lost_race_is_retried_on_the_fresh_session_and_keeps_both_changes(world: World) -> None:
    store = InterleavingStore()
    one = world.chat(world.service(objects=store), thread="1700000000.000400")
    other = world.chat(world.service(objects=store), thread="1700000000.000400")
    one.say("queue orders-q in core dev, visibility timeout 30s")
    store.before_put = lambda: other.say("set message retention = 2 days")
    one.say("set fifo = yes")
    assert store.conflicts == 1
    final = one.session
    assert final.config["fifo"] is True and final.config["message_retention_seconds"] == 172800
    assert final.version == 3


def test_two_processes_submitting_at_once_create_one_request(world: World) -> None:
    store = InterleavingStore()
    one = world.chat(world.service(objects=store), thread="1700000000.000500")
    other = world.chat(world.service(objects=store), thread="1700000000.000500")
    one.say("bucket team-logs in payments dev")
    results: list[Any] = []
    store.before_put = lambda: results.append(other.say("submit"))
    mine = one.say("submit")
    [theirs] = results
    assert mine.request_id == theirs.request_id and mine.done and theirs.done
    assert len(world.requests.created) == 1
    assert {c.idempotency_key for c in world.requests.commands} == {one.session.id}


def test_endless_conflicts_give_a_clear_reply_and_leave_the_session(world: World) -> None:
    class AlwaysConflicts(InMemoryObjectStore):
        def put(self, key: str, body: bytes, **kwargs: Any) -> str:
            if key.startswith("sessions/") and kwargs.get("if_match"):
                raise VersionConflict(key)
            return super().put(key, body, **kwargs)

    store = AlwaysConflicts()
    chat = world.chat(world.service(objects=store))
    chat.say("bucket team-logs in payments dev")
    reply = chat.say("set versioning = no")
    assert "send that again" in reply.text
    assert chat.session.config == {"name": "team-logs"}


def test_session_round_trips_through_json() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    s = IntakeSession.start(
        ConversationKey(team_id=None, channel="console", thread_ts="1"), USER.id, session_id="ses_1", now=now
    )
    s.config = {"name": "x", "tags": {"a": "b"}, "n": 3}
    s.remember()
    assert IntakeSession.model_validate_json(s.model_dump_json()) == s


CHILD = """
import json, sys
from pathlib import Path
from assistant.domain.session import ConversationKey
from assistant.service import IntakeService
from bot.views.refusals import reason_text
from core.adapters.local_objects import LocalObjectStore
from tests.assistant.conftest import USER
from tests.assistant.fakes import FakeProjects, FakeRegistry, FakeRequestService
from tests.fakes import InMemoryChatLog, ManualClock

clock = ManualClock()
service = IntakeService(
    LocalObjectStore(Path(sys.argv[1])), InMemoryChatLog(), FakeRegistry(), FakeProjects(),
    FakeRequestService(clock), None, clock, refusal_text=reason_text,
)
reply = service.handle(ConversationKey(team_id="T1", channel="D123", thread_ts=sys.argv[2]), USER, sys.argv[3])
print(json.dumps({"step": reply.step, "question": reply.question, "text": reply.text}))
"""


def _in_another_process(store: Path, thread: str, text: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), thread, text],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_other_processes_continue_the_conversation_over_the_local_store(world: World, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    chat = world.chat(world.service(objects=store), thread="1700000000.000600")
    chat.say("need a queue in core dev")
    assert chat.session.pending_field == "name"
    # Another process answers the question it never saw asked.
    answered = _result(_in_another_process(tmp_path / "store", "1700000000.000600", "orders-q"))
    assert answered["question"] == "visibility_timeout_seconds"
    # Two more processes change different fields at the same time: compare-and-swap keeps both.
    both = [
        _in_another_process(tmp_path / "store", "1700000000.000600", "set fifo = yes"),
        _in_another_process(tmp_path / "store", "1700000000.000600", "set message retention = 2 days"),
    ]
    for process in both:
        _result(process)
    reply = chat.say("45 seconds")
    session = chat.session
    assert reply.step == "confirm" and session.version == 5
    assert session.config == {
        "name": "orders-q",
        "fifo": True,
        "message_retention_seconds": 172800,
        "visibility_timeout_seconds": 45,
    }


def test_sweep_removes_only_sessions_idle_past_their_expiry(world: World) -> None:
    old = world.chat(thread="1700000000.000800")
    old.say("bucket team-logs in payments dev")
    world.clock.advance(hours=20)
    recent = world.chat(thread="1700000000.000801")
    recent.say("queue jobs-q in core dev")
    world.objects.put("sessions/T1/D123/garbled.json", b"{not json")
    service = world.service()
    world.clock.advance(hours=5)  # the first is 25 h idle, the second 5 h
    assert service.sweep_expired() == 1
    assert service.session(old.key) is None and service.session(recent.key) is not None
    assert "sessions/T1/D123/garbled.json" in set(world.objects.list_keys("sessions/"))
    reply = old.say("hello again")  # a swept conversation simply starts fresh
    assert old.session.step == "project" and "expired" not in reply.text
    world.clock.advance(hours=25)
    assert service.sweep_expired(limit=1) == 1 and service.sweep_expired() == 1
    assert service.sweep_expired() == 0


class Interleaved:
    """Any object store, with ``before_put`` run once just before the next session write."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before_put: Any = None
        self.conflicts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        hook, self.before_put = self.before_put, None
        if hook is not None and key.startswith("sessions/"):
            hook()
        try:
            return str(self.inner.put(key, body, **kwargs))
        except VersionConflict:
            self.conflicts += 1
            raise


def test_sessions_and_chat_logs_on_s3(world: World) -> None:
    """The production layout: sessions in the requests bucket with conditional writes, chat turns
    in their own bucket, both through boto3 on moto; a lost race on S3 is retried."""
    import boto3
    from moto import mock_aws

    from core.adapters.chat_log import S3ChatLog
    from core.adapters.s3_objects import S3ObjectStore

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="requests")
        client.create_bucket(Bucket="chats")
        objects = Interleaved(S3ObjectStore(client, "requests"))
        chat_log = S3ChatLog(client, "chats", world.clock)
        one = world.chat(world.service(objects=objects, chat_log=chat_log), thread="1700000000.000990")
        other = world.chat(world.service(objects=objects, chat_log=chat_log), thread="1700000000.000990")
        one.say("queue orders-q in core dev, visibility timeout 30s")
        listed = client.list_objects_v2(Bucket="requests", Prefix="sessions/")["Contents"]
        assert [o["Key"] for o in listed] == ["sessions/T1/D123/1700000000.000990.json"]
        objects.before_put = lambda: other.say("set message retention = 2 days")
        one.say("set fifo = yes")
        assert objects.conflicts == 1
        assert one.session.config["fifo"] is True and one.session.config["message_retention_seconds"] == 172800
        assert one.say("submit").submitted
        turns = chat_log.read(one.session.id)
        assert [e.role for e in turns] == ["user", "assistant"] * 4
        assert {e.text for e in turns if e.role == "user"} >= {"set fifo = yes", "set message retention = 2 days"}
