"""Every Block Kit builder, fed the longest values the schemas allow, stays inside Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assistant.domain.reply import Choice, FormField, FormSpec, Reply
from bot.views import forms
from bot.views.card import request_card
from bot.views.home import help_message, home_view, insights_message, list_message, modules_message
from bot.views.ids import ThreadRef
from bot.views.intake import answered_message, intake_message
from bot.views.limits import check_blocks, clip, join_lines
from bot.views.modals import IntakeFormMeta, RequestMeta, destroy_modal, edit_modal, intake_form_modal
from bot.views.replies import transition_reply
from core.domain.index import IndexRow
from core.domain.metrics import build_ops_metrics
from core.domain.request import (
    Approval,
    Cost,
    Drift,
    DriftCounts,
    PlanOutput,
    PlanSummary,
    PullRequestRef,
    Request,
    Requester,
    RunRef,
    SlackThread,
    TimelineStep,
)
from core.ports.notifier import Transition

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LONG_ID = "req_" + "z" * 32  # the longest id REQUEST_ID_RE allows
NAME63 = "a" * 63  # project/environment/module names: 1-63 characters
URL = "https://github.example/" + "o" * 60 + "/" + "r" * 60 + "/pull/123456"
WIDE = "W" * 5000 + "<!channel> & <@U1>"


def _big_config() -> dict[str, Any]:
    # ~64 KiB, the most a command accepts.
    return {f"key_{i:04d}_{'k' * 40}": "v" * 500 for i in range(120)}


def longest_request(*, prod: bool = True, events: int = 100, resources: int = 5000) -> Request:
    addresses = {
        "delete": [f"module.{NAME63}.aws_s3_bucket.b{i}" for i in range(resources)],
        "replace": [f"module.{NAME63}.aws_sqs_queue.q{i}" for i in range(resources)],
        "create": [f"module.{NAME63}.aws_sns_topic.t{i}" for i in range(resources)],
    }
    run = RunRef(run_id=10**12, url=URL, status="completed", conclusion="success", head_sha="f" * 40)
    return Request(
        id=LONG_ID,
        project=NAME63,
        environment="prod" if prod else NAME63,
        module=NAME63,
        prod=prod,
        received_at=NOW,
        updated_at=NOW,
        version=10**6,
        revision=10**4,
        requester=Requester(id="U" + "A" * 20, name=WIDE, email="x" * 60 + "@example.com", github_login="g" * 39),
        slack=SlackThread(team_id="T1", channel="C1", ts="1700000000.000100"),
        config=_big_config(),
        pr=PullRequestRef(number=123456, url=URL, merged=True, open=False, head_sha="a" * 40),
        plan_run=run,
        apply_run=run,
        approval=Approval(approved=True, approvers=["x" * 100] * 50),
        plan=PlanOutput(
            summary=PlanSummary(
                add=resources,
                change=resources,
                destroy=resources,
                replace=resources,
                addresses=addresses,
                has_deletions=True,
                has_replacements=True,
                text=WIDE,
                truncated=True,
            ),
            output="x" * 200_000,
        ),
        timeline=[
            TimelineStep(step=WIDE, status=WIDE, message=WIDE, at=NOW + timedelta(minutes=i), actor=WIDE)
            for i in range(events)
        ],
        cost=Cost(monthly_cost=1e12, monthly_delta=-1e12, currency="X" * 50),
        drift=Drift(
            detected=True, summary=WIDE, counts=DriftCounts(add=10**6, change=10**6, destroy=10**6), run_url=URL
        ),
    )


def test_check_blocks_catches_every_kind_of_violation() -> None:
    # The checker itself must fail loudly, or the tests below prove nothing.
    bad = {
        "text": "x" * 5000,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}, "block_id": "b" * 256}] * 51,
    }
    problems = check_blocks(bad, "message")
    assert any("blocks: 51 items > 50" in p for p in problems)
    assert any("text: 3001 characters > 3000" in p for p in problems)
    assert any("block_id" in p and "256" in p for p in problems)
    assert any("duplicate" in p for p in problems)
    button = {
        "type": "button",
        "action_id": "a" * 256,
        "text": {"type": "plain_text", "text": "t" * 76},
        "value": "v" * 2001,
    }
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "t" * 25},
        "submit": {"type": "plain_text", "text": "s" * 25},
        "close": {"type": "plain_text", "text": "c" * 25},
        "private_metadata": "m" * 3001,
        "blocks": [{"type": "actions", "elements": [button]}] * 101,
    }
    problems = check_blocks(modal, "modal")
    for needle in (
        "title",
        "submit",
        "close",
        "private_metadata",
        "blocks: 101",
        ".action_id",
        ".text: 76",
        ".value: 2001",
    ):
        assert any(needle in p for p in problems), needle


@pytest.mark.parametrize("prod", [True, False])
def test_request_card_fits_with_the_longest_values(prod: bool) -> None:
    card = request_card(longest_request(prod=prod))
    assert check_blocks(card, "message") == []
    text = json.dumps(card)
    assert "<!channel>" not in text  # user text is escaped
    assert "will be DESTROYED" in text and "will be REPLACED" in text
    assert "last 5 of 100" in text


def test_request_card_of_a_minimal_request() -> None:
    request = Request(id="req_abcdef", project="p", environment="dev", module="m", received_at=NOW, updated_at=NOW)
    card = request_card(request)
    assert check_blocks(card, "message") == []
    assert not [b for b in card["blocks"] if b["type"] == "actions"]  # nothing to do yet


@pytest.mark.parametrize(
    "event",
    [
        "created",
        "planning",
        "plan_ready",
        "failed",
        "approved",
        "approval_voided",
        "merged",
        "applying",
        "applied",
        "destroying",
        "destroyed",
        "drift_detected",
        "updated",
        "x" * 500,
    ],
)
def test_thread_replies_fit(event: str) -> None:
    request = longest_request()
    approvers = [f"U{i:010d}" for i in range(500)] + ["someone@example.com"]
    transition = Transition(
        event=event, previous_status=None, status="plan_ready", actor=WIDE, message=WIDE, run_url=URL
    )
    reply = transition_reply(request, transition, approvers=approvers)
    assert check_blocks(reply, "message") == []


def _longest_schema(fields: int = 150) -> dict[str, Any]:
    props: dict[str, Any] = {}
    kinds = ["string", "integer", "number", "boolean", "enum", "array", "object", "multi"]
    for i in range(fields):
        kind = kinds[i % len(kinds)]
        name = f"field_{i:03d}_" + "n" * 180
        prop: dict[str, Any] = {"title": "T" * 3000, "description": "D" * 5000, "examples": ["E" * 500]}
        if kind == "enum":
            prop["enum"] = [f"value-{j}-" + "v" * 200 for j in range(250)]
        elif kind == "multi":
            prop["type"] = ["string", "integer", "null"]
        else:
            prop["type"] = kind
        if kind in ("integer", "number"):
            prop.update({"minimum": -(10**15), "maximum": 10**15})
        if kind == "string":
            prop["maxLength"] = 100_000
        props[name] = prop
    return {"type": "object", "properties": props, "required": list(props)[::3]}


def test_form_modals_fit_with_the_longest_schema() -> None:
    schema = _longest_schema()
    fields = forms.schema_fields(schema)
    values = {f.name: ("x" * 10_000 if f.kind == "text" else None) for f in fields}
    meta = IntakeFormMeta(ThreadRef("T" * 20, "C" * 20, "1700000000.000100"), "m" * 63)
    view = intake_form_modal(fields, meta=meta, title="T" * 80, values=values)
    assert check_blocks(view, "modal") == []
    request = longest_request()
    view = edit_modal(fields, request=request, meta=RequestMeta(request.id, 10**9, "C" * 20, "1700000000.000100"))
    assert check_blocks(view, "modal") == []
    assert check_blocks(destroy_modal(request, meta=RequestMeta(request.id, 1)), "modal") == []


def test_intake_messages_fit() -> None:
    choices = [Choice(label="L" * 300, value="v" * 3000) for _ in range(150)]
    form = FormSpec(
        module="m" * 63,
        title="t",
        fields=[FormField(name=f"f{i}", title="t", kind="text", value="x" * 100) for i in range(200)],
    )
    for reply in (
        Reply(
            text="T" * 40_000,
            choices=choices,
            form=form,
            terraform="x" * 100_000,
            field_errors={"k" * 500: "m" * 5000} | {f"f{i}": "bad" for i in range(300)},
            request_id=LONG_ID,
            done=True,
        ),
        Reply(text=WIDE, choices=choices[:5]),
        Reply(text=""),
    ):
        message = intake_message(reply, thread_ts="1700000000.000100")
        assert check_blocks(message, "message") == []
        again = answered_message(message["blocks"], user="U1", answer="A" * 5000)
        assert check_blocks(again, "message") == []


def _rows(n: int) -> list[IndexRow]:
    request = longest_request(resources=10, events=3)
    return [IndexRow.of(request.model_copy(update={"id": f"req_{i:032d}"})) for i in range(n)]


def test_home_and_lists_fit() -> None:
    rows = _rows(300)
    metrics = build_ops_metrics(rows, NOW)
    view = home_view(
        user_id="U" * 21, role_label="approver", mine=rows, awaiting=rows, metrics=metrics, github_login="g" * 39
    )
    assert check_blocks(view, "home") == []
    assert (
        check_blocks(home_view(user_id="U1", role_label="viewer", mine=[], awaiting=None, metrics=None), "home") == []
    )
    assert check_blocks(list_message("T" * 500, rows, more=True), "message") == []
    assert check_blocks(insights_message(metrics), "message") == []
    assert check_blocks(help_message(), "message") == []

    class Module:
        id, title, description = "m" * 63, "T" * 80, "D" * 2000

    assert check_blocks(modules_message([Module()] * 200), "message") == []


def test_text_helpers() -> None:
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc" and clip(None, 3) == ""
    joined = join_lines([f"line {i}" for i in range(1000)], 100)
    assert len(joined) <= 100 and joined.endswith("more")


def test_refusals_and_ephemeral_answers_fit() -> None:
    from bot.listeners.common import ephemeral
    from bot.views.refusals import refused_reply as refusal_text
    from core.domain.policy import Action

    sent: list[dict[str, Any]] = []

    class Client:
        def chat_postEphemeral(self, **kwargs: Any) -> None:
            sent.append(kwargs)

    for action in Action:
        ephemeral(Client(), channel="C1", user="U1", text=refusal_text(action, WIDE), thread_ts="1700000000.000100")
    assert len(sent) == len(Action)
    for message in sent:
        assert check_blocks({"text": message["text"], "blocks": message["blocks"]}, "message") == []
        assert "<!channel>" not in json.dumps(message)
