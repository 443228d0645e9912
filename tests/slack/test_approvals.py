"""Approvals reach approvers where they are: a request started in a DM (which approvers cannot
see) also gets its card in the project's approvals channel, or in each approver's DM; every copy
is updated in place; App Home's "waiting for my approval" rows carry buttons. Signed requests
through the Bolt app, real services, the fake Slack Web API (which knows channel membership).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_notifier import build_slack_notifier
from bot.views.card import action_buttons
from bot.views.home import HOME_ROWS, home_view
from bot.views.limits import check_blocks
from core.domain.index import IndexRow
from core.domain.lifecycle import derive_status
from core.domain.policy import Action
from core.domain.request import Request
from core.domain.status import Status
from core.ports.notifier import Transition
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import ADMIN, APPROVER, BOT_TOKEN, DEV, PROD_APPROVER, Harness
from tests.slack.helpers import CARD_CHANNEL, card_message, create_request, eventually, thread_replies

DM = f"D{DEV[1:]}"  # the requester's DM with the app
PUBLIC = "C0APPROVE1"
PRIVATE = "G0PRIVAPP1"
APPROVER2 = "U0APP0002"  # listed by email in TFPILOT_APPROVERS (approver2@example.com)


def _status(h: Harness, request_id: str) -> Status:
    return derive_status(h.deps.store.get(request_id))


def buttons_of(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    blocks = message.get("blocks") or []
    return {e["action_id"]: e for b in blocks if b.get("type") == "actions" for e in b["elements"]}


def posts_to(h: Harness, channel: str) -> list[Any]:
    return [
        c for c in h.fake.of("chat.postMessage") if c.params.get("channel") == channel and "_failed" not in c.params
    ]


def retry_plan_ready(h: Harness, request_id: str) -> None:
    """The plan_ready notification delivered again (a retried webhook, a second replica)."""
    h.deps.notifier.request_changed(
        h.deps.store.get(request_id),
        Transition(event="plan_ready", previous_status="planning", status="plan_ready"),
    )


def click_copy(h: Harness, user: str, channel: str, ts: str, action_id: str) -> None:
    button = buttons_of(h.fake.messages[(channel, ts)])[action_id]
    action = {"type": "button", "action_id": action_id, "block_id": "card", "text": button["text"]}
    h.click(user, {**action, "value": button["value"]}, channel=channel, message_ts=ts)


# --- an approvals channel ------------------------------------------------------------------------


def test_dm_request_is_copied_to_the_approvals_channel_and_a_click_there_updates_both_cards(start: Any) -> None:
    h: Harness = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC)  # public; the bot is not in it yet
    request = create_request(h, channel=DM)
    assert card_message(h, request.id)  # the card is in the requester's DM
    assert not posts_to(h, PUBLIC)  # nothing waits for an approver yet

    h.finish_run(request.id, "plan")
    stored = h.deps.store.get(request.id)
    assert [(c.kind, c.channel) for c in stored.card_copies] == [("channel", PUBLIC)]
    copy_ts = stored.card_copies[0].ts
    # Slack answered not_in_channel: the bot joined the public channel, then posted the card.
    assert [c.params["channel"] for c in h.fake.of("conversations.join")] == [PUBLIC]
    copy = h.fake.messages[(PUBLIC, copy_ts)]
    assert check_blocks(copy, "message") == []
    assert "req:approve" in buttons_of(copy)
    assert buttons_of(copy)["req:approve"]["value"] == buttons_of(card_message(h, request.id))["req:approve"]["value"]
    # The private channel note is not shown for a public channel.
    assert not any("invite" in r for r in thread_replies(h, request.id))
    assert any(f"<#{PUBLIC}>" in r and "approvers" in r for r in thread_replies(h, request.id))

    # The same transition delivered again posts no second copy.
    before = len(posts_to(h, PUBLIC))
    retry_plan_ready(h, request.id)
    assert len(posts_to(h, PUBLIC)) == before
    assert len(h.deps.store.get(request.id).card_copies) == 1

    # The approver, in the approvals channel, clicks Approve on their copy.
    click_copy(h, APPROVER, PUBLIC, copy_ts, "req:approve")
    eventually(lambda: _status(h, request.id) is Status.APPROVED, what="approved")
    for channel, ts in ((DM, h.deps.store.get(request.id).slack.ts), (PUBLIC, copy_ts)):  # type: ignore[union-attr]
        message = eventually(
            lambda c=channel, t=ts: (m := h.fake.messages[(c, t)]) and "req:merge" in buttons_of(m) and m,
            what=f"the card in {channel} updated",
        )
        assert "Approved" in json.dumps(message["blocks"]) and "req:approve" not in buttons_of(message)
    assert "approved" in h.deps.audit.names(request.id)
    # Both copies are updated in place: still one card in the approvals channel.
    assert [ts for (channel, ts), m in h.fake.messages.items() if channel == PUBLIC and "thread_ts" not in m] == [
        copy_ts
    ]


def test_replicas_retrying_a_transition_whose_copy_is_not_recorded_yet_post_none(start: Any) -> None:
    h: Harness = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC, bot_member=True)
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    assert len(h.deps.store.get(request.id).card_copies) == 1
    # As if the first process had posted but not recorded the copy yet: two more processes
    # (same store and dedupe markers, their own locks) get the same transition at once.
    h.deps.store.update(request.id, lambda r: r.model_copy(update={"card_copies": []}))
    others = [
        build_slack_notifier(
            h.deps.settings,
            objects=h.deps.objects,
            client=WebClient(token=BOT_TOKEN, base_url=h.fake.api_url),
            projects=h.deps.projects,
        )
        for _ in range(2)
    ]
    for other in others:
        other.connect(h.deps.requests, h.deps.queries.get)
    transition = Transition(event="plan_ready", previous_status="planning", status="plan_ready")
    barrier = threading.Barrier(len(others))
    posts_before = len(posts_to(h, PUBLIC))

    def deliver(notifier: Any) -> None:
        barrier.wait()
        notifier.request_changed(h.deps.store.get(request.id), transition)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(posts_to(h, PUBLIC)) == posts_before
    assert len([m for (channel, _ts), m in h.fake.messages.items() if channel == PUBLIC]) == 1


def test_an_environment_channel_overrides_the_projects(start: Any) -> None:
    h: Harness = start(project=PUBLIC, prod="C0PRODAPP1")
    h.fake.add_channel("C0PRODAPP1", bot_member=True)
    request = create_request(h, environment="prod", channel=DM)
    h.finish_run(request.id, "plan")
    assert [c.channel for c in h.deps.store.get(request.id).card_copies] == ["C0PRODAPP1"]
    assert not posts_to(h, PUBLIC) and not h.fake.of("conversations.join")


def test_private_channel_the_bot_is_not_in_asks_for_an_invitation_in_the_thread(start: Any) -> None:
    h: Harness = start(project=PRIVATE)
    h.fake.add_channel(PRIVATE, private=True)
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    assert h.deps.store.get(request.id).card_copies == []
    note = next(r for r in thread_replies(h, request.id) if "invite" in r)
    assert f"<#{PRIVATE}>" in note and "/invite @TfPilot" in note
    # The same transition again does not repeat the note.
    retry_plan_ready(h, request.id)
    assert len([r for r in thread_replies(h, request.id) if "invite" in r]) == 1

    # Invited, the next request waiting for approval is posted there.
    h.fake.invite_bot(PRIVATE)
    second = create_request(h, name="other", channel=DM)
    h.finish_run(second.id, "plan")
    assert [c.channel for c in h.deps.store.get(second.id).card_copies] == [PRIVATE]


def test_an_archived_approvals_channel_is_reported_in_the_thread(start: Any) -> None:
    h: Harness = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC)
    h.fake.fail_next("conversations.join", 200, error="is_archived")
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    assert h.deps.store.get(request.id).card_copies == []
    note = next(r for r in thread_replies(h, request.id) if "is_archived" in r)
    assert f"<#{PUBLIC}>" in note and "approvals_channel" in note


def test_a_request_in_another_channel_is_copied_too(start: Any) -> None:
    h: Harness = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC, bot_member=True)
    request = create_request(h)  # in a team channel the approvers may not follow
    h.finish_run(request.id, "plan")
    assert [c.channel for c in h.deps.store.get(request.id).card_copies] == [PUBLIC]
    assert not h.fake.of("conversations.join") and not h.fake.of("conversations.open")


def test_a_request_in_the_approvals_channel_itself_gets_no_copy(start: Any) -> None:
    h: Harness = start(project=CARD_CHANNEL)
    request = create_request(h)
    h.finish_run(request.id, "plan")
    assert h.deps.store.get(request.id).card_copies == []
    assert len([c for c in posts_to(h, CARD_CHANNEL) if "thread_ts" not in c.params]) == 1


# --- no approvals channel: DMs -------------------------------------------------------------------


def test_without_a_channel_approvers_get_the_card_in_a_dm_and_every_copy_updates(harness: Harness) -> None:
    h = harness
    h.fake.add_user(APPROVER2, email="approver2@example.com")  # listed by email: looked up
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    copies = h.deps.store.get(request.id).card_copies
    # TFPILOT_APPROVERS, ids as given and the email resolved; not the admins, not the requester.
    assert sorted(c.user for c in copies) == sorted([APPROVER, PROD_APPROVER, APPROVER2])  # type: ignore[type-var]
    assert all(c.kind == "dm" and c.channel == f"D{c.user}" for c in copies)
    assert ADMIN not in {c.params.get("users") for c in h.fake.of("conversations.open")}
    assert [c.params["email"] for c in h.fake.of("users.lookupByEmail")] == ["approver2@example.com"]
    note = next(r for r in thread_replies(h, request.id) if "direct message" in r)
    assert f"<@{APPROVER}>" in note and f"<@{DEV}>" not in note

    retry_plan_ready(h, request.id)
    assert len(h.deps.store.get(request.id).card_copies) == 3
    assert len(h.fake.of("conversations.open")) == 3

    mine = next(c for c in copies if c.user == APPROVER)
    click_copy(h, APPROVER, mine.channel, mine.ts, "req:approve")
    eventually(lambda: _status(h, request.id) is Status.APPROVED, what="approved")
    card_ts = h.deps.store.get(request.id).slack.ts  # type: ignore[union-attr]
    for channel, ts in [(DM, card_ts), *((c.channel, c.ts) for c in copies)]:
        eventually(
            lambda c=channel, t=ts: "req:merge" in buttons_of(h.fake.messages[(c, t)]),
            what=f"the card in {channel} updated",
        )


def test_a_request_in_a_channel_without_an_approvals_channel_mentions_approvers_only(harness: Harness) -> None:
    h = harness
    request = create_request(h)  # in a channel: the thread mentions the approvers, as before
    h.finish_run(request.id, "plan")
    assert h.deps.store.get(request.id).card_copies == []
    assert not h.fake.of("conversations.open")


def test_documents_written_before_copies_existed_are_read_with_none() -> None:
    doc = {
        "id": "req_legacy01",
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "receivedAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "slack": {"channel": DM, "ts": "1700000000.000001"},
    }
    request = Request.from_doc(doc)
    assert request.card_copies == []
    request.card_copies = [*request.card_copies]
    out = request.to_doc()
    assert out["cardCopies"] == [] and Request.from_doc(out) == request


# --- App Home ------------------------------------------------------------------------------------


def _home(h: Harness, user: str, count: int) -> dict[str, Any]:
    envelope = h.fixture("events_api_app_home_opened_home_tab.json")
    h.event({**envelope["event"], "user": user})
    calls = h.fake.wait_for("views.publish", count, where=lambda c: c.params.get("user_id") == user)
    return dict(calls[-1].params["view"])


def _row_buttons(view: dict[str, Any], request_id: str) -> dict[str, dict[str, Any]]:
    for block in view["blocks"]:
        if block.get("type") == "actions" and block.get("block_id") == f"home:{request_id}":
            return {e["action_id"]: e for e in block["elements"]}
    return {}


def test_home_rows_carry_the_viewers_buttons_and_a_click_from_home_approves(harness: Harness) -> None:
    h = harness
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    view = _home(h, APPROVER, 1)
    assert check_blocks(view, "home") == []
    row = _row_buttons(view, request.id)
    assert {"req:approve", "req:replan", "req:update"} <= set(row)
    card = buttons_of(card_message(h, request.id))
    # The card's action ids and values (the request it names): the card's listener handles them.
    assert json.loads(row["req:approve"]["value"])["r"] == json.loads(card["req:approve"]["value"])["r"] == request.id

    action = {"type": "button", "action_id": "req:approve", "block_id": f"home:{request.id}"}
    h.click_home(
        APPROVER, {**action, "text": row["req:approve"]["text"], "value": row["req:approve"]["value"]}, view=view
    )
    eventually(lambda: _status(h, request.id) is Status.APPROVED, what="approved from App Home")
    # The Home tab is republished: the request no longer waits for this approver.
    refreshed = _home_after_click(h, APPROVER)
    assert _row_buttons(refreshed, request.id) == {}
    # The card in the requester's DM shows it too.
    eventually(lambda: "req:merge" in buttons_of(card_message(h, request.id)), what="the card updated")


def _home_after_click(h: Harness, user: str) -> dict[str, Any]:
    calls = h.fake.wait_for("views.publish", 2, where=lambda c: c.params.get("user_id") == user)
    return dict(calls[-1].params["view"])


def test_home_buttons_follow_the_viewers_role_and_the_click_is_rechecked(harness: Harness) -> None:
    h = harness
    request = create_request(h, environment="prod", channel=DM)
    h.finish_run(request.id, "plan")
    # APPROVER is not on the prod allowlist: the row is listed, without an Approve button.
    view = _home(h, APPROVER, 1)
    assert request.id in json.dumps(view) and "req:approve" not in _row_buttons(view, request.id)
    prod_view = _home(h, PROD_APPROVER, 1)
    approve = _row_buttons(prod_view, request.id)["req:approve"]
    assert approve["confirm"]["title"]["text"] == "Approve in prod?"  # prod asks first, as on the card

    # A click with that button by someone it was not shown to is refused (told by DM).
    action = {"type": "button", "action_id": "req:approve", "block_id": f"home:{request.id}"}
    h.click_home(APPROVER, {**action, "text": approve["text"], "value": approve["value"]}, view=view)
    refusal = h.fake.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == APPROVER and "cannot approve" in c.text()
    )
    assert "prod allowlist" in refusal[0].text()
    assert _status(h, request.id) is Status.PLAN_READY
    assert "approve_blocked" in h.deps.audit.names(request.id)


def test_a_full_home_tab_with_buttons_on_every_row_stays_within_slacks_limits() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        IndexRow(
            id=f"req_{i:012d}",
            project="core",
            environment="dev",
            module="s3-bucket",
            status="plan_ready",
            requester=DEV,
            received_at=at,
            updated_at=at,
            version=3,
        )
        for i in range(HOME_ROWS + 5)
    ]
    request = Request(
        id=rows[0].id, project="core", environment="prod", module="s3-bucket", received_at=at, updated_at=at
    )
    buttons = {row.id: action_buttons(request, list(Action)) for row in rows}
    view = home_view(user_id=APPROVER, role_label="approver", mine=rows, awaiting=rows, metrics=None, buttons=buttons)
    assert check_blocks(view, "home") == []
    shown = [b for b in view["blocks"] if b.get("block_id", "").startswith("home:")]
    assert len(shown) == HOME_ROWS and all(len(b["elements"]) == len(Action) for b in shown)


# --- the fake Slack answers membership like Slack ------------------------------------------------


def test_fake_slack_enforces_channel_membership(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel(PUBLIC)
    fake_slack.add_channel(PRIVATE, private=True)
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    for channel, error in ((PUBLIC, "not_in_channel"), (PRIVATE, "channel_not_found")):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=channel, text="hi")
        assert refused.value.response["error"] == error
        with pytest.raises(SlackApiError):
            client.chat_update(channel=channel, ts="1800000000.000001", text="hi")
    with pytest.raises(SlackApiError) as private:
        client.conversations_join(channel=PRIVATE)
    assert private.value.response["error"] == "method_not_supported_for_channel_type"
    assert client.conversations_join(channel=PUBLIC)["channel"]["is_member"] is True
    assert client.chat_postMessage(channel=PUBLIC, text="hi")["ok"] is True
    assert client.conversations_join(channel=PUBLIC)["warning"] == "already_in_channel"
