"""QueryService (get, list, insights, drift eligibility, audit export) and DriftService."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from core.domain.index import ListFilter
from core.ports.chat_log import ChatEntry
from core.services.drift import DriftReport
from tests.services.conftest import World, create_cmd
from tests.services.helpers import applied, destroying, finish_run, planned


def test_get_and_list(world: World) -> None:
    a = world.requests.create(create_cmd(config={"name": "a"}))
    world.clock.advance(minutes=1)
    b = planned(world, config={"name": "b"})
    assert world.queries.get(a.id).id == a.id
    page = world.queries.list(ListFilter(project="core"), limit=1)
    assert [r.id for r in page.rows] == [b.id] and page.cursor
    rest = world.queries.list(ListFilter(project="core"), limit=1, cursor=page.cursor)
    assert [r.id for r in rest.rows] == [a.id] and rest.cursor is None
    ready = world.queries.list(ListFilter(status=frozenset({"plan_ready"})))
    assert [r.id for r in ready.rows] == [b.id]


def test_insights_count_every_status_including_archived(world: World) -> None:
    world.requests.create(create_cmd(config={"name": "a"}))
    applied(world, config={"name": "b"})
    finish_run(world, destroying(world, config={"name": "c"}), "destroy")
    metrics = world.queries.insights()
    assert metrics.total == 3
    assert metrics.status_counts.get("planning") == 1
    assert metrics.status_counts.get("applied") == 1
    assert metrics.status_counts.get("destroyed") == 1
    assert metrics.applies_last_24h == 2 and metrics.destroys_last_24h == 1
    assert metrics.apply_success_rate_last_7d == 1.0


def test_drift_eligible_is_applied_and_not_destroyed(world: World) -> None:
    planned(world, config={"name": "a"})
    keep = applied(world, config={"name": "b"})
    finish_run(world, destroying(world, config={"name": "c"}), "destroy")
    page = world.queries.drift_eligible(limit=10)
    assert [r.id for r in page.rows] == [keep.id]


def test_drift_eligible_paginates(world: World) -> None:
    ids = []
    for i in range(3):
        world.clock.advance(minutes=1)
        ids.append(applied(world, config={"name": f"b{i}"}).id)
    first = world.queries.drift_eligible(limit=2)
    second = world.queries.drift_eligible(limit=2, cursor=first.cursor)
    assert [r.id for r in first.rows + second.rows] == list(reversed(ids)) and second.cursor is None


def test_audit_export_gathers_the_trail(world: World) -> None:
    request = applied(world)
    world.store.update(request.id, _link)
    world.chat_log.append(
        ChatEntry(session_id="sess-1", role="user", text="a bucket for logs", timestamp=world.clock.now())
    )
    world.chat_log.append(ChatEntry(session_id="other", role="user", text="unrelated", timestamp=world.clock.now()))
    export = world.queries.audit_export(request.id)
    assert export.request_id == request.id and export.status == "applied"
    assert export.request["id"] == request.id and export.request["planRun"]["runId"] == request.plan_run.run_id
    names = [e.event for e in export.events]
    assert names[0] == "request_created" and "apply_dispatched" in names
    assert export.chat_session_id == "sess-1" and [c.text for c in export.chat] == ["a bucket for logs"]
    kinds = {link.kind for link in export.links}
    assert kinds == {"pull_request", "plan_run", "apply_run"}
    assert export.model_dump_json()  # serialisable as a whole


def _link(request):
    doc = request.to_doc()
    doc["chatSessionId"] = "sess-1"
    return type(request).from_doc(doc)


def test_audit_export_without_a_session_has_no_chat(world: World) -> None:
    request = world.requests.create(create_cmd())
    export = world.queries.audit_export(request.id)
    assert export.chat_session_id is None and export.chat == []


# -- drift -----------------------------------------------------------------------------------


def test_drift_is_stored_and_notified_only_when_new_or_changed(world: World) -> None:
    request = applied(world)
    clean = world.drift.record(request.id, DriftReport(detected=False, run_url="https://github.example/runs/1"))
    assert clean.drift.detected is False and clean.drift.checked_at == world.clock.now()
    assert world.events(request.id)[-1] == "drift_checked"
    assert "drift_detected" not in world.notifier.events(request.id)
    report = DriftReport(
        detected=True, summary="1 to change", counts={"change": 1}, run_url="https://github.example/runs/2"
    )
    drifted = world.drift.record(request.id, report)
    assert drifted.drift.detected and drifted.drift.counts.change == 1
    assert world.events(request.id)[-2:] == ["drift_checked", "drift_detected"]
    assert world.notifier.events(request.id)[-1] == "drift_detected"
    assert world.notifier.sent[-1][1].status == "applied"
    sent = len(world.notifier.sent)
    world.drift.record(request.id, report)  # the same drift found again tonight
    assert len(world.notifier.sent) == sent
    world.drift.record(request.id, report.model_copy(update={"counts": report.counts.model_copy(update={"add": 2})}))
    assert len(world.notifier.sent) == sent + 1
    assert world.queries.list().rows[0].drift_detected


@pytest.mark.parametrize(
    "body",
    [
        {"detected": True, "counts": {"add": -1}},
        {"detected": True, "run_url": "javascript:alert(1)"},
        {"detected": "maybe"},
        {"detected": True, "checked_at": "2026-01-01T00:00:00"},
        {"detected": True, "extra": 1},
    ],
)
def test_drift_reports_are_validated(body: dict) -> None:
    with pytest.raises(ValidationError):
        DriftReport.model_validate(body)


def test_drift_summary_is_bounded() -> None:
    report = DriftReport(detected=True, summary="x" * 5000, checked_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert len(report.summary) == 2000


def test_create_links_the_chat_session_for_the_export(world: World) -> None:
    request = world.requests.create(create_cmd(chat_session_id="ses_abc123"))
    assert request.chat_session_id == "ses_abc123" and request.to_doc()["chatSessionId"] == "ses_abc123"
    world.chat_log.append(ChatEntry(session_id="ses_abc123", role="user", text="hi", timestamp=world.clock.now()))
    export = world.queries.audit_export(request.id)
    assert export.chat_session_id == "ses_abc123" and len(export.chat) == 1


def test_idempotency_key_is_tried_as_the_session(world: World) -> None:
    request = world.requests.create(create_cmd(idempotency_key="ses_fromkey01"))
    world.chat_log.append(ChatEntry(session_id="ses_fromkey01", role="user", text="hi", timestamp=world.clock.now()))
    export = world.queries.audit_export(request.id)
    assert export.chat_session_id == "ses_fromkey01" and [c.text for c in export.chat] == ["hi"]
