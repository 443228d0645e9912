"""ObjectAuditLog on every object store: shape, order, redaction, and never raising."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from core.adapters.audit_log import LocalAuditLog, ObjectAuditLog, S3AuditLog
from core.ports.object_store import ObjectStore
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.store.conftest import BUCKET

KEY_SHAPE = re.compile(r"^logs/req_a00001/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z-[0-9a-f]{12}\.json$")


def test_events_are_stored_one_object_each_in_the_reference_shape(object_store: ObjectStore) -> None:
    clock = ManualClock()
    audit = ObjectAuditLog(object_store, clock)
    audit.record("req_a00001", "request_created", actor="U_ALICE", source="slack", data={"module": "s3-bucket"})
    keys = list(object_store.list_keys("logs/"))
    assert len(keys) == 1 and KEY_SHAPE.match(keys[0])
    stored = object_store.get(keys[0])
    assert stored is not None
    doc = json.loads(stored.body)
    assert doc == {
        "timestamp": "2026-11-26T09:00:00Z",
        "requestId": "req_a00001",
        "event": "request_created",
        "actor": "U_ALICE",
        "source": "slack",
        "data": {"module": "s3-bucket"},
    }


def test_events_come_back_oldest_first(object_store: ObjectStore) -> None:
    clock = ManualClock()
    audit = ObjectAuditLog(object_store, clock)
    audit.record("req_a00001", "request_created")
    audit.record("req_a00001", "plan_dispatched")  # same instant: recording order kept
    clock.advance(seconds=1)
    audit.record("req_a00001", "approved", actor="U_BOB")
    audit.record("req_a00002", "request_created")
    events = audit.events("req_a00001")
    assert [e.event for e in events] == ["request_created", "plan_dispatched", "approved"]
    assert events[2].actor == "U_BOB" and events[2].timestamp == clock.now()
    assert [e.event for e in audit.events("req_a00002")] == ["request_created"]
    assert audit.events("req_none") == []


def test_credentials_in_event_data_are_redacted() -> None:
    objects = InMemoryObjectStore()
    audit = ObjectAuditLog(objects, ManualClock())
    token = "ghp_" + "a1B2c3D4e5" * 4
    audit.record("req_a00001", "linked", data={"note": f"used {token}", "password": "hunter2"})
    stored = next(iter(objects.objects.values())).body.decode()
    assert token not in stored and "hunter2" not in stored
    assert audit.events("req_a00001")[0].data == {
        "note": "used [REDACTED:github-token]",
        "password": "[REDACTED:password]",
    }


class _Broken(InMemoryObjectStore):
    def put(self, *args: Any, **kwargs: Any) -> str:
        raise OSError("bucket unreachable")


def test_record_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    ObjectAuditLog(_Broken(), ManualClock()).record("req_a00001", "approved", data={"secret": "s3cr3t-value"})
    assert "approved" in caplog.text and "req_a00001" in caplog.text
    assert "s3cr3t-value" not in caplog.text


def test_unreadable_events_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    objects = InMemoryObjectStore()
    audit = ObjectAuditLog(objects, ManualClock())
    audit.record("req_a00001", "request_created")
    objects.put("logs/req_a00001/2026-01-01T00:00:00.000000Z-garbage.json", b"{oops")
    caplog.set_level(logging.WARNING)
    assert [e.event for e in audit.events("req_a00001")] == ["request_created"]
    assert "logs/req_a00001/2026-01-01T00:00:00.000000Z-garbage.json" in caplog.text


def test_named_adapters(tmp_path: Path, s3_client: Any) -> None:
    for audit in (LocalAuditLog(tmp_path, ManualClock()), S3AuditLog(s3_client, BUCKET, ManualClock())):
        audit.record("req_a00001", "request_created")
        assert [e.event for e in audit.events("req_a00001")] == ["request_created"]
    key = next(iter(s3_client.list_objects_v2(Bucket=BUCKET, Prefix="logs/")["Contents"]))["Key"]
    assert s3_client.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
