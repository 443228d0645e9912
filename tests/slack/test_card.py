"""The request card says what the issue lists: status (emoji and label), project/environment/
module, requester (and linked GitHub login), PR and run links, plan counts with deletions and
replacements called out, cost, drift, timeline; and offers the buttons the request's state
allows, with confirmations on Merge, Apply and Destroy (prod Destroy: a typed-id modal)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.views.card import card_actions, request_card
from bot.views.ids import CardRef
from bot.views.limits import check_blocks
from core.domain.policy import Action, Role
from core.domain.request import Cost, Drift, DriftCounts, PlanOutput, PlanSummary, Requester, TimelineStep
from core.domain.status import meta
from tests.domain.builders import T0, at_status


def _buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}


def _text(card: dict[str, Any]) -> str:
    return json.dumps(card["blocks"], ensure_ascii=False)


def test_the_card_shows_everything_about_the_request() -> None:
    request = at_status("plan_ready")
    request.requester = Requester(id="U0DEV0001", email="dev@example.com", github_login="octo-dev")
    request.plan = PlanOutput(
        summary=PlanSummary(
            add=2,
            change=1,
            destroy=1,
            replace=1,
            addresses={"delete": ["aws_s3_bucket.old"], "replace": ["aws_sqs_queue.q"]},
            has_deletions=True,
            has_replacements=True,
        )
    )
    request.cost = Cost(monthly_cost=12.5, monthly_delta=2.25, currency="USD")
    request.drift = Drift(detected=True, summary="tags changed", counts=DriftCounts(add=0, change=1, destroy=0))
    request.timeline = [
        TimelineStep(step=f"step {i}", status="ok", at=T0 + timedelta(minutes=i), actor="U0DEV0001") for i in range(7)
    ]
    card = request_card(request)
    text = _text(card)
    status = meta("plan_ready")
    assert f"{status.emoji} {status.label}" in text
    assert card["blocks"][0]["type"] == "header" and "s3-bucket · core/dev" in card["blocks"][0]["text"]["text"]
    for field in ("*Project*\\ncore", "*Environment*\\ndev", "*Module*\\ns3-bucket", "`req_abcdef123456`"):
        assert field in text, field
    assert "<@U0DEV0001> (GitHub `octo-dev`)" in text
    assert "<https://example.invalid/pr/7|PR #7>" in text and "<https://example.invalid/run/1|Plan run>" in text
    assert "+2 to add, ~1 to change, -1 to destroy, ±1 to replace" in text
    assert "1 resource(s) will be DESTROYED" in text and "`aws_s3_bucket.old`" in text
    assert "1 resource(s) will be REPLACED" in text and "`aws_sqs_queue.q`" in text
    assert "*Cost:* 12.50 USD/month (+2.25 USD)" in text
    assert "Drift detected* (+0 ~1 -0): tags changed" in text
    assert "*Timeline* (last 5 of 7)" in text and "step 6" in text and "step 1*" not in text
    assert card["text"].endswith("(req_abcdef123456)") and check_blocks(card, "message") == []


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("request_created", set()),
        ("planning", set()),
        ("plan_ready", {"req:approve", "req:replan", "req:update"}),
        ("approved", {"req:merge", "req:replan", "req:update"}),
        ("merged", {"req:apply"}),
        ("applied", {"req:destroy"}),
        ("destroying", set()),
    ],
)
def test_buttons_follow_allowed_actions(status: str, offered: set[str]) -> None:
    request = at_status(status)
    buttons = _buttons(request_card(request))
    assert set(buttons) == offered
    assert set(buttons) == {f"req:{a.value}" for a in card_actions(request)}
    for button in buttons.values():
        ref = CardRef.decode(button["value"])
        assert ref == CardRef(request.id, request.version)


@pytest.mark.parametrize(
    ("status", "viewer", "offered"),
    [
        ("plan_ready", Role.VIEWER, []),
        ("plan_ready", Role.DEVELOPER, [Action.REPLAN, Action.UPDATE]),
        ("plan_ready", Role.APPROVER, [Action.APPROVE, Action.REPLAN, Action.UPDATE]),
        ("applied", Role.APPROVER, []),
        ("applied", Role.ADMIN, [Action.DESTROY]),
    ],
)
def test_a_card_for_one_viewer_offers_what_their_role_may_do(status: str, viewer: Role, offered: list[Action]) -> None:
    request = at_status(status)
    assert card_actions(request, viewer) == offered
    assert set(offered) <= set(card_actions(request))  # never more than the shared card


def test_merge_apply_and_destroy_ask_for_confirmation() -> None:
    approved = _buttons(request_card(at_status("approved")))
    assert approved["req:merge"]["confirm"]["title"]["text"] == "Merge the pull request?"
    assert "confirm" not in approved["req:replan"] and "confirm" not in approved["req:update"]
    merged = at_status("merged")
    merged.plan = PlanOutput(summary=PlanSummary(add=0, change=0, destroy=3))
    apply = _buttons(request_card(merged))["req:apply"]["confirm"]
    assert apply["title"]["text"] == "Apply in dev?" and "-3 to destroy" in apply["text"]["text"]
    assert apply["style"] == "danger"  # the plan deletes something
    destroy = _buttons(request_card(at_status("applied")))["req:destroy"]
    assert destroy["confirm"]["style"] == "danger" and destroy["style"] == "danger"
    # In prod the confirmation is the modal where the request id must be typed.
    assert "confirm" not in _buttons(request_card(at_status("applied", prod=True)))["req:destroy"]


def test_user_text_on_the_card_cannot_ping_or_link() -> None:
    request = at_status("plan_ready")
    request.requester = Requester(id="console", name="<!channel> <https://evil|click>")
    request.timeline = [TimelineStep(step="<!here>", message="<@U123> & co", at=T0)]
    text = _text(request_card(request))
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&amp; co" in text


def test_card_actions_are_those_of_a_fully_permitted_actor() -> None:
    # The card is shared: the buttons depend on the state, never on who looks at it.
    assert card_actions(at_status("merged")) == [Action.APPLY]
    assert card_actions(at_status("applied", prod=True)) == [Action.DESTROY]


def test_anything_in_prod_asks_first() -> None:
    ready = _buttons(request_card(at_status("plan_ready", prod=True)))
    assert ready["req:approve"]["confirm"]["title"]["text"] == "Approve in prod?"
    assert ready["req:replan"]["confirm"]["title"]["text"] == "Re-plan in prod?"
    assert "confirm" not in ready["req:update"]  # Edit opens its form
    outside = _buttons(request_card(at_status("plan_ready")))
    assert "confirm" not in outside["req:approve"] and "confirm" not in outside["req:replan"]
