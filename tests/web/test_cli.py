"""``tfpilot audit export`` and ``tfpilot serve`` start-up refusals, on the embedded local store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from core.adapters.audit_log import ObjectAuditLog
from core.adapters.chat_log import LocalChatLog
from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_store import ObjectRequestStore
from core.domain.request import PullRequestRef, RunRef
from core.ports.chat_log import ChatEntry
from core.services.queries import AuditExport, QueryService
from tests.domain.builders import make_request
from tests.fakes import ManualClock

RID = "req_abcdef123456"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tfpilot-data"
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(root))
    clock = ManualClock(datetime(2026, 11, 1, 10, 0, tzinfo=UTC))
    objects = LocalObjectStore(root)
    store = ObjectRequestStore(objects, clock)
    audit = ObjectAuditLog(objects, clock)
    request = make_request(
        id=RID,
        pr=PullRequestRef(number=7, url="https://github.com/acme/infra/pull/7", open=True),
        plan_run=RunRef(run_id=11, url="https://github.com/acme/infra/actions/runs/11", status="completed"),
    )
    request.chat_session_id = "sess-1"
    store.create(request)
    audit.record(RID, "request_created", actor="U_REQ", source="slack")
    clock.advance(minutes=1)
    audit.record(RID, "plan_dispatched", source="slack", data={"runId": 11})
    LocalChatLog(root / "chat-logs", clock).append(
        ChatEntry(session_id="sess-1", role="user", text="a bucket please", timestamp=clock.now())
    )
    return root


def test_audit_export_json_is_the_api_export(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", RID, "--json"]) == 0
    printed = AuditExport.model_validate_json(capsys.readouterr().out)
    clock = ManualClock()
    objects = LocalObjectStore(data_dir)
    expected = QueryService(
        ObjectRequestStore(objects, clock),
        ObjectAuditLog(objects, clock),
        LocalChatLog(data_dir / "chat-logs", clock),
        clock,
    ).audit_export(RID)
    assert printed.model_dump(exclude={"exported_at"}) == expected.model_dump(exclude={"exported_at"})
    assert [e.event for e in printed.events] == ["request_created", "plan_dispatched"]
    assert [c.text for c in printed.chat] == ["a bucket please"]
    assert {link.kind for link in printed.links} == {"pull_request", "plan_run"}


def test_audit_export_text(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", RID]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"request {RID}: planning")
    assert "pull_request: https://github.com/acme/infra/pull/7 (#7)" in out
    assert "request_created by U_REQ  [slack]" in out
    assert "user: a bucket please" in out


@pytest.mark.parametrize(("rid", "message"), [("req_000000000000", "not found"), ("nope", "is not a request id")])
def test_audit_export_refusals(data_dir: Path, capsys: pytest.CaptureFixture[str], rid: str, message: str) -> None:
    assert main(["audit", "export", rid]) == 1
    assert message in capsys.readouterr().err
    assert main(["audit", "export", rid, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and message in doc["error"]


def test_serve_names_missing_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("SLACK_SIGNING_SECRET", "TFPILOT_API_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "http mode" in err and "SLACK_SIGNING_SECRET" in err and "TFPILOT_API_TOKEN" in err
    assert main(["serve", "--socket", "--port", "0"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err
