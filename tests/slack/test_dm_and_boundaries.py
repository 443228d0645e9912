"""Slack as people use it: top-level DMs that continue the intake waiting for an answer,
workspaces that cannot touch each other's requests, and cards Slack refused rendered again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.web.reconciler import Reconciler
from core.domain.lifecycle import derive_status
from core.domain.status import Status
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import APPROVER, DEV, TEAM, Harness, start_harness
from tests.slack.helpers import card_buttons, card_ts, click_card, create_request, eventually, thread_replies

DM = f"D{DEV[1:]}"
OTHER_TEAM = "T222"


def _top_level(h: Harness) -> list[Any]:
    return [c for c in h.fake.of("chat.postMessage") if c.params.get("channel") == DM and "thread_ts" not in c.params]


def _answer(h: Harness, count: int) -> Any:
    return eventually(lambda: len(_top_level(h)) >= count and _top_level(h), what=f"answer {count}")[count - 1]


# --- DMs flow ----------------------------------------------------------------------------------


def test_top_level_dm_answers_continue_the_pending_intake(harness: Harness) -> None:
    h = harness
    h.dm(DEV, "I need an s3 bucket called team-logs", ts="1700000000.100000")
    assert "project" in _answer(h, 1).text().lower()
    h.dm(DEV, "core", ts="1700000000.100001")
    assert "environment" in _answer(h, 2).text().lower()
    h.dm(DEV, "dev", ts="1700000000.100002")
    third = _answer(h, 3)
    # The bucket and its name were remembered: no "which project?" again.
    assert "which project" not in third.text().lower()
    user_turns = [e for e in h.deps.chat_log.entries if e.role == "user"]
    assert [e.text for e in user_turns] == ["I need an s3 bucket called team-logs", "core", "dev"]
    assert len({e.session_id for e in user_turns}) == 1
    stored = h.deps.intake.session(_key("1700000000.100000"))
    assert stored is not None
    assert (stored.project, stored.environment, stored.module, stored.config.get("name")) == (
        "core",
        "dev",
        "s3-bucket",
        "team-logs",
    )


def test_a_clearly_new_request_starts_over_and_says_so(harness: Harness) -> None:
    h = harness
    h.dm(DEV, "I need an s3 bucket called team-logs", ts="1700000000.200000")
    _answer(h, 1)
    h.dm(DEV, "I need an SQS queue", ts="1700000000.200001")
    second = _answer(h, 2)
    assert "new request" in second.text() and "p1700000000200000" in second.text()
    new = h.deps.intake.session(_key("1700000000.200001"))
    assert new is not None and new.module == "sqs-queue"
    old = h.deps.intake.session(_key("1700000000.200000"))
    assert old is not None and old.module == "s3-bucket" and old.config.get("name") == "team-logs"
    # The DM now waits on the queue: the next answer goes there.
    h.dm(DEV, "core", ts="1700000000.200002")
    _answer(h, 3)
    assert h.deps.intake.session(_key("1700000000.200001")).project == "core"  # type: ignore[union-attr]
    assert h.deps.intake.session(_key("1700000000.200000")).project is None  # type: ignore[union-attr]


def test_a_finished_intake_lets_the_next_top_level_dm_start_fresh(harness: Harness) -> None:
    h = harness
    h.dm(DEV, "I need an s3 bucket called team-logs", ts="1700000000.300000")
    _answer(h, 1)
    h.dm(DEV, "cancel", ts="1700000000.300001")
    _answer(h, 2)
    h.dm(DEV, "core", ts="1700000000.300002")
    _answer(h, 3)
    fresh = h.deps.intake.session(_key("1700000000.300002"))
    assert fresh is not None and fresh.project == "core" and fresh.module is None


def _key(thread_ts: str) -> Any:
    from assistant.domain.session import ConversationKey

    return ConversationKey(team_id="T111", channel=DM, thread_ts=thread_ts)


# --- workspaces --------------------------------------------------------------------------------


def test_a_click_from_another_workspace_is_refused_and_dispatches_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    eventually(lambda: "req:approve" in card_buttons(h, request.id), what="the approve button")
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    click_card(h, APPROVER, request.id, "req:approve")
    refusal = h.fake.wait_for("chat.postEphemeral")[0]
    assert "another Slack workspace" in refusal.text() and refusal.params["user"] == APPROVER
    h.fake.settle()
    current = h.deps.store.get(request.id)
    assert derive_status(current) is Status.PLAN_READY and current.approval is None


def test_refusals_of_another_workspace_are_audited_like_other_refusals(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    eventually(lambda: "req:approve" in card_buttons(h, request.id), what="the approve button")
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    click_card(h, APPROVER, request.id, "req:approve")
    h.fake.wait_for("chat.postEphemeral")
    assert h.command(DEV, f"status {request.id}").status == 200
    h.fake.wait_for("response_url")

    def blocked() -> list[Any]:
        return [e for e in h.deps.audit.events(request.id) if e.event.endswith("_blocked")]

    events = eventually(lambda: len(blocked()) >= 2 and blocked(), what="two blocked events")
    by_event = {e.event: e for e in events}
    for name, actor in (("approve_blocked", APPROVER), ("status_blocked", DEV)):
        event = by_event[name]
        assert (event.actor, event.source) == (actor, "slack")
        assert event.data == {
            "reason": "the request belongs to another Slack workspace",
            "team": OTHER_TEAM,
            "request_team": TEAM,
        }


def test_the_assistants_status_and_my_requests_stay_in_their_workspace(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    request = create_request(h)
    h.dm(DEV, f"status {request.id}", ts="1700000000.500001")
    own = _answer(h, 1)
    assert request.id in own.text() and "I found no request" not in own.text()
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    h.dm(DEV, f"status {request.id}", ts="1700000000.500002")
    other = _answer(h, 2)
    assert "I found no request of yours matching" in other.text()
    h.dm(DEV, "show my requests", ts="1700000000.500003")
    mine = _answer(h, 3)
    assert request.id not in mine.text()


def test_app_home_lists_only_its_workspaces_requests(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    envelope = h.fixture("events_api_app_home_opened_home_tab.json")

    def home(user: str, count: int) -> str:
        h.event({**envelope["event"], "user": user})
        calls = h.fake.wait_for("views.publish", count, where=lambda c: c.params.get("user_id") == user)
        return json.dumps(calls[-1].params["view"])

    assert request.id in home(DEV, 1) and request.id in home(APPROVER, 1)
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    assert request.id not in home(DEV, 2) and request.id not in home(APPROVER, 2)


def test_status_and_list_do_not_show_another_workspaces_requests(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    request = create_request(h)
    own_status, own_list = _command(h, f"status {request.id}"), _command(h, "list all")
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    other_status, other_list = _command(h, f"status {request.id}"), _command(h, "list all")
    assert request.id in own_status and request.id in own_list
    assert f"No request `{request.id}`" in other_status and request.id not in other_list


def test_insights_count_only_their_workspaces_requests(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    create_request(h)
    own = _command(h, "insights")
    monkeypatch.setattr("tests.slack.harness.TEAM", OTHER_TEAM)
    other = _command(h, "insights")
    assert "*Requests*\\n1" in own
    assert "*Requests*\\n0" in other


def _command(h: Harness, text: str) -> str:
    before = len(h.fake.of("response_url"))
    assert h.command(DEV, text).status == 200
    call = h.fake.wait_for("response_url", before + 1)[before]
    return call.text() + json.dumps(call.params.get("blocks") or [])


# --- no lost card ------------------------------------------------------------------------------


def _fail_updates(h: Harness, times: int) -> None:
    for _ in range(times):
        h.fake.fail_next("chat.update", 500, error="internal_error")


def test_a_card_slack_refused_is_rendered_by_the_reconciler(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    ts = card_ts(h, request.id)
    _fail_updates(h, 3)  # the first try and both retries
    h.finish_run(request.id, "plan")
    h.fake.settle()
    assert not [c for c in h.fake.of("chat.update") if c.params.get("ts") == ts and "_failed" not in c.params]
    assert not any("Plan" in r for r in thread_replies(h, request.id)[1:])
    # Slack is still down at the first pass: the miss is kept.
    _fail_updates(h, 3)
    assert Reconciler(h.deps).run_once().cards_rendered == 0
    # Slack is back: the next pass renders the card and the missed reply.
    report = Reconciler(h.deps).run_once()
    assert report.cards_rendered == 1
    assert "req:approve" in card_buttons(h, request.id)
    assert len(thread_replies(h, request.id)) == 2
    assert Reconciler(h.deps).run_once().cards_rendered == 0  # nothing left


def test_the_next_event_renders_what_was_missed(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    _fail_updates(h, 3)
    h.finish_run(request.id, "plan")
    h.fake.settle()
    assert len(thread_replies(h, request.id)) == 1  # the plan_ready reply was lost
    assert "req:approve" not in card_buttons(h, request.id)  # the card is stale
    h.deps.requests.approve(request.id, _actor(APPROVER), source="slack")
    h.fake.settle()
    assert "req:merge" in card_buttons(h, request.id)
    assert len(thread_replies(h, request.id)) == 3  # approved, then the missed plan reply


def _actor(user: str) -> Any:
    from core.domain.policy import Actor

    return Actor(id=user)


# --- pasted credentials ------------------------------------------------------------------------


def test_a_pasted_secret_is_flagged_and_the_person_told_to_rotate_it(harness: Harness) -> None:
    h = harness
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
    h.dm(DEV, f"I need an s3 bucket, my aws secret is {secret}", ts="1700000000.400000")
    warning = eventually(lambda: [c for c in _top_level(h) if "rotate it now" in c.text()], what="the warning")
    assert "an AWS secret access key" in warning[0].text() and secret not in warning[0].text()
    h.fake.settle()
    assert not any(secret in c.text() for c in h.fake.of("chat.postMessage"))


def test_a_secret_pasted_in_prose_is_absent_from_the_chat_log_and_the_audit_export(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path
) -> None:
    from core.adapters.chat_log import ObjectChatLog

    h = start_harness(fake_slack, tmp_path, shared_fixtures, chat_log=ObjectChatLog)  # the real adapter
    try:
        secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
        h.dm(DEV, f"I need an s3 bucket called team-logs in core dev, the key is {secret}", ts="1700000000.410000")
        eventually(lambda: any("Say `submit`" in c.text() for c in _top_level(h)), what="the confirm step")
        h.dm(DEV, "submit", ts="1700000000.410001")
        rows = eventually(lambda: h.deps.queries.list().rows, what="the request")
        eventually(lambda: len(h.deps.queries.audit_export(rows[0].id).chat) >= 2, what="the logged turns")
        export = h.deps.queries.audit_export(rows[0].id).model_dump_json()
        assert secret not in export and "the key is [REDACTED:aws-secret-key]" in export
    finally:
        h.close()
