"""Scenario tests: signed Slack requests through the Bolt app, real services, a fake Slack Web API.

Each scenario drives the app the way Slack would (payload shapes from the shared fixtures) and
asserts on the stored request, the audit trail and the Web API calls the fake recorded.
"""

from __future__ import annotations

import json
import threading
import time

from bot.views.ids import FORM_ACTION
from bot.views.limits import check_blocks
from core.domain.lifecycle import derive_status
from core.domain.status import Status
from tests.slack.harness import ADMIN, APPROVER, DEV, PROD_APPROVER, TEAM, VIEWER, Harness, sign
from tests.slack.helpers import (
    CARD_CHANNEL,
    card_buttons,
    card_message,
    card_ts,
    click_card,
    create_request,
    eventually,
    thread_replies,
)


def _status(h: Harness, request_id: str) -> Status:
    return derive_status(h.deps.store.get(request_id))


def _intake_messages(h: Harness, thread_ts: str) -> list:
    """The assistant's answers in a conversation: in its thread, or at the top level of the DM
    (a top-level DM is answered at the top level)."""
    return [
        c
        for c in h.fake.of("chat.postMessage")
        if c.params.get("thread_ts") == thread_ts
        or (str(c.params.get("channel")).startswith("D") and "thread_ts" not in c.params and "blocks" in c.params)
    ]


# --- intake ------------------------------------------------------------------------------------


def test_intake_from_first_dm_to_submitted_request(harness: Harness) -> None:
    h, thread = harness, "1700000000.000100"
    response = h.dm(DEV, "I need an s3 bucket called logs in core dev", ts=thread)
    assert response.status == 200
    # The assistant answers at the top level of the DM (where it was asked), with its choices as buttons.
    confirm = eventually(lambda: _intake_messages(h, thread), what="the first intake reply")[-1]
    assert check_blocks(confirm.params, "message") == []
    buttons = {e["value"]: e for b in confirm.blocks() if b["type"] == "actions" for e in b["elements"]}
    assert "submit" in buttons and any(b["action_id"] == FORM_ACTION for b in buttons.values())

    # The requester clicks "submit" on that message.
    submit = buttons["submit"]
    block_id = next(b["block_id"] for b in confirm.blocks() if b["type"] == "actions")
    action = {
        "type": "button",
        "action_id": submit["action_id"],
        "block_id": block_id,
        "value": "submit",
        "text": submit["text"],
    }
    message = {
        "ts": "1800000000.000001",
        "thread_ts": thread,
        "text": confirm.params["text"],
        "blocks": confirm.blocks(),
    }
    h.click(DEV, action, channel=f"D{DEV[1:]}", message_ts=str(message["ts"]), message=message)

    request = eventually(lambda: next(iter(h.deps.store.active.values()), None), what="the request")
    assert (request.project, request.environment, request.module, request.config["name"]) == (
        "core",
        "dev",
        "s3-bucket",
        "logs",
    )
    assert (
        request.requester is not None and request.requester.id == DEV and request.requester.email == "dev@example.com"
    )
    # The card is posted (the request thread's parent) and its ts recorded in the request.
    ts = eventually(lambda: h.deps.store.get(request.id).slack.ts, what="card ts")
    card = next(c for c in h.fake.of("chat.postMessage") if c.params.get("text", "").endswith(f"({request.id})"))
    assert "thread_ts" not in card.params and check_blocks(card.params, "message") == []
    assert h.fake.messages[(card.params["channel"], ts)]["blocks"] == card.blocks()
    # The intake thread says it was submitted and links the card; the choice was marked answered.
    done = eventually(
        lambda: [c for c in _intake_messages(h, thread) if request.id in c.text() and "its card" in c.text()],
        what="the submitted reply",
    )
    assert f"p{ts.replace('.', '')}" in done[-1].text()
    updated = h.fake.wait_for("chat.update", where=lambda c: c.params.get("ts") == "1800000000.000001")
    assert f"<@{DEV}> chose" in updated[-1].text() and not [b for b in updated[-1].blocks() if b["type"] == "actions"]
    # Every turn was logged by the assistant.
    assert any(e.role == "user" for e in h.deps.chat_log.entries)


def test_mention_in_a_channel_starts_an_intake_in_its_thread(harness: Harness) -> None:
    h = harness
    event = h.fixture("events_api_app_mention.json")["event"]
    event.update({"user": DEV, "text": "<@UTFPILOT> I need a queue", "channel": "C0CHAN001"})
    h.event(event)
    reply = h.fake.wait_for("chat.postMessage")[0]
    assert reply.params["channel"] == "C0CHAN001" and reply.params["thread_ts"] == event["ts"]
    assert h.deps.chat_log.entries[0].text == "I need a queue"


def test_retried_event_is_processed_once(harness: Harness) -> None:
    h = harness
    first = h.dm(DEV, "I need an s3 bucket", ts="1700000000.000200", event_id="EvRETRY1")
    retry = h.dm(DEV, "I need an s3 bucket", ts="1700000000.000200", event_id="EvRETRY1", retry_num=1)
    assert first.status == 200 and retry.status == 200
    h.fake.wait_for("chat.postMessage")
    h.fake.settle()
    assert len(h.fake.of("chat.postMessage")) == 1
    assert [e.role for e in h.deps.chat_log.entries].count("user") == 1


# --- card clicks -----------------------------------------------------------------------------


def test_approver_clicks_through_approve_merge_apply_to_applied(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    assert _status(h, request.id) is Status.PLANNING
    assert card_message(h, request.id)  # posted on creation
    h.finish_run(request.id, "plan")  # GitHub: the plan succeeded (webhook facts)
    assert _status(h, request.id) is Status.PLAN_READY
    assert set(card_buttons(h, request.id)) >= {"req:approve", "req:replan", "req:update"}
    replies = thread_replies(h, request.id)
    assert any(f"<@{DEV}>" in r and f"<@{APPROVER}>" in r and "approval is awaited" in r for r in replies)
    assert not any("approver2@example.com" in r for r in replies)  # emails are never "mentioned"

    click_card(h, APPROVER, request.id, "req:approve")
    eventually(lambda: _status(h, request.id) is Status.APPROVED, what="approved")
    merge = eventually(lambda: card_buttons(h, request.id).get("req:merge"), what="the Merge button")
    assert merge["confirm"]["title"]["text"] == "Merge the pull request?"

    click_card(h, APPROVER, request.id, "req:merge")
    eventually(lambda: _status(h, request.id) is Status.MERGED, what="merged")
    apply = eventually(lambda: card_buttons(h, request.id).get("req:apply"), what="the Apply button")
    assert "confirm" in apply

    click_card(h, APPROVER, request.id, "req:apply")
    eventually(lambda: _status(h, request.id) is Status.APPLYING, what="applying")
    # The run lands on the request before its audit record is written: wait for the record too.
    eventually(lambda: "apply_dispatched" in h.deps.audit.names(request.id), what="apply_dispatched")
    h.finish_run(request.id, "apply")
    assert _status(h, request.id) is Status.APPLIED
    card = card_message(h, request.id)
    assert ":rocket: Applied" in json.dumps(card["blocks"]) and check_blocks(card, "message") == []
    assert "req:destroy" in card_buttons(h, request.id)  # the state allows it; the click checks the role
    text = "\n".join(thread_replies(h, request.id))
    for word in ("approved by", "merged by", "applied"):
        assert word in text
    events = h.deps.audit.names(request.id)
    assert {"approved", "merged", "apply_dispatched"} <= set(events)
    assert not [e for e in events if e.endswith("_blocked")]
    assert len(list(h.host.runs_of("apply.yml"))) == 1


def test_viewer_click_is_refused_with_a_reason(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    click_card(h, VIEWER, request.id, "req:approve")
    refusal = h.fake.wait_for("chat.postEphemeral")[0]
    assert refusal.params["user"] == VIEWER and refusal.params["channel"] == CARD_CHANNEL
    assert refusal.params["thread_ts"] == card_ts(h, request.id)
    assert "approve needs the approver role; you are a viewer" in refusal.text()
    assert "approve_blocked" in h.deps.audit.names(request.id)
    assert _status(h, request.id) is Status.PLAN_READY


def test_requester_cannot_approve_their_own_request(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    click_card(h, DEV, request.id, "req:approve")
    assert "developer" in h.fake.wait_for("chat.postEphemeral")[0].text()
    assert "approve_blocked" in h.deps.audit.names(request.id)


def test_double_click_on_apply_dispatches_once(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    h.deps.requests.approve(request.id, _actor(APPROVER))
    h.deps.requests.merge(request.id, _actor(APPROVER))
    eventually(lambda: "req:apply" in card_buttons(h, request.id), what="the Apply button")
    # Two clicks with their own action_ts, at the same time, and a redelivery of the first.
    clicks = [
        threading.Thread(target=click_card, args=(h, APPROVER, request.id, "req:apply"), kwargs={"action_ts": ts})
        for ts in ("1800000200.000001", "1800000200.000002", "1800000200.000001")
    ]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    eventually(lambda: _status(h, request.id) is Status.APPLYING, what="applying")
    # The run lands on the request before its audit record is written: wait for the record too.
    eventually(lambda: "apply_dispatched" in h.deps.audit.names(request.id), what="apply_dispatched")
    h.fake.settle()
    assert len(h.host.runs_of("apply.yml")) == 1
    assert h.deps.audit.names(request.id).count("apply_dispatched") == 1
    assert h.deps.objects.get("dedupe/slack/action:" + card_ts(h, request.id) + ":req:apply:1800000200.000001")


def test_prod_destroy_needs_the_request_id_typed(harness: Harness) -> None:
    h = harness
    request = create_request(h, environment="prod")
    h.finish_run(request.id, "plan")
    h.deps.requests.approve(request.id, _actor(PROD_APPROVER))
    h.deps.requests.merge(request.id, _actor(PROD_APPROVER))
    h.deps.requests.apply(request.id, _actor(PROD_APPROVER))
    h.finish_run(request.id, "apply")
    destroy = eventually(lambda: card_buttons(h, request.id).get("req:destroy"), what="the Destroy button")
    assert "confirm" not in destroy  # prod: the modal is the confirmation

    click_card(h, ADMIN, request.id, "req:destroy")
    view = h.fake.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == "destroy_confirm" and check_blocks(view, "modal") == []
    wrong = h.submit(ADMIN, view, {"confirm_id": {"value": {"type": "plain_text_input", "value": "req_nope12"}}})
    assert json.loads(wrong.body)["response_action"] == "errors"
    assert "confirm_id" in json.loads(wrong.body)["errors"]
    assert not h.host.runs_of("destroy.yml")

    right = h.submit(ADMIN, view, {"confirm_id": {"value": {"type": "plain_text_input", "value": request.id}}})
    assert right.status == 200 and not right.body
    eventually(lambda: _status(h, request.id) is Status.DESTROYING, what="destroying")
    assert "destroy_dispatched" in h.deps.audit.names(request.id)
    assert len(h.host.runs_of("destroy.yml")) == 1


def test_prod_destroy_by_an_approver_is_refused_before_the_modal(harness: Harness) -> None:
    h = harness
    request = create_request(h, environment="prod")
    h.finish_run(request.id, "plan")
    for step in ("approve", "merge", "apply"):
        getattr(h.deps.requests, step)(request.id, _actor(PROD_APPROVER))
    h.finish_run(request.id, "apply")
    click_card(h, PROD_APPROVER, request.id, "req:destroy")
    refusal = h.fake.wait_for("chat.postEphemeral")[0]
    assert "destroy needs the admin role" in refusal.text()
    assert "destroy_blocked" in h.deps.audit.names(request.id)
    assert not h.fake.of("views.open")


def test_edit_opens_the_prefilled_form_and_saves_a_new_revision(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    click_card(h, DEV, request.id, "req:update")
    view = h.fake.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == "edit_form" and check_blocks(view, "modal") == []
    name_block = next(b for b in view["blocks"] if b.get("block_id") == "f:name")
    assert name_block["element"]["initial_value"] == "logs"

    bad = h.submit(DEV, view, {"f:name": {"value": {"type": "plain_text_input", "value": "Not Valid!"}}})
    assert json.loads(bad.body)["response_action"] == "errors" and "f:name" in json.loads(bad.body)["errors"]

    good = h.submit(DEV, view, {"f:name": {"value": {"type": "plain_text_input", "value": "logs2"}}})
    assert good.status == 200 and not good.body
    updated = eventually(lambda: (r := h.deps.store.get(request.id)).revision == 2 and r, what="revision 2")
    assert updated.config["name"] == "logs2"


# --- modal form ------------------------------------------------------------------------------


def test_open_form_modal_reports_inline_errors_then_continues(harness: Harness) -> None:
    h, thread = harness, "1700000000.000300"
    h.dm(DEV, "I need an s3 bucket in core dev", ts=thread)
    reply = eventually(lambda: _intake_messages(h, thread), what="the intake reply")[-1]
    form = next(
        (e for b in reply.blocks() if b["type"] == "actions" for e in b["elements"] if e["action_id"] == FORM_ACTION),
        None,
    )
    assert form is not None, reply.blocks()
    h.click(
        DEV,
        {"type": "button", "action_id": FORM_ACTION, "block_id": f"intake_form:{thread}", "value": form["value"]},
        channel=f"D{DEV[1:]}",
    )
    view = h.fake.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == "intake_form" and check_blocks(view, "modal") == []
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds["f:name"] == "plain_text_input" and kinds["f:versioning"] == "checkboxes"
    assert kinds["f:encryption"] == "static_select"

    state = {"f:name": {"value": {"type": "plain_text_input", "value": "Bad Name!"}}}
    response = h.submit(DEV, view, state)
    body = json.loads(response.body)
    assert body["response_action"] == "errors" and "f:name" in body["errors"]

    state["f:name"]["value"]["value"] = "assets"
    state["f:encryption"] = {"value": {"type": "static_select", "selected_option": {"value": "sse-kms"}}}
    before = len(_intake_messages(h, thread))
    response = h.submit(DEV, view, state)
    assert response.status == 200 and not response.body
    # The reply is posted after the ack (the modal closes first): wait for the new message.
    follow = eventually(lambda: _intake_messages(h, thread)[before:], what="form reply")
    assert "assets" in follow[-1].text() and "sse-kms" in follow[-1].text()


# --- slash commands and Home -------------------------------------------------------------------


def test_slash_commands(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    for text in (
        "help",
        "modules",
        "insights",
        "list",
        "list pending",
        "list all failed",
        f"status {request.id}",
        "status req_unknown123",
        "frobnicate",
    ):
        assert h.command(DEV, text).status == 200
    calls = h.fake.wait_for("response_url", 9)
    by_text = {c.path: c for c in calls}
    texts = [c.text() for c in sorted(by_text.values(), key=lambda c: int(c.path.rsplit("cmd", 1)[1]))]
    assert "/tfpilot new" in texts[0]
    assert "s3-bucket" in texts[1] and "sqs-queue" in texts[1]
    assert "Applies (24h / 7d)" in texts[2]
    assert request.id in texts[3] and request.id in texts[4]  # mine; waiting for an approver
    assert request.id not in texts[5]
    assert "req:approve" in texts[6]  # the card
    assert "No request" in texts[7] and "Unknown command" in texts[8]
    assert all(c.params.get("response_type") == "ephemeral" for c in calls)


def test_slash_new_starts_an_intake_thread(harness: Harness) -> None:
    h = harness
    h.command(DEV, "new an s3 bucket in core dev", channel="C0CHAN001")
    opener = h.fake.wait_for("chat.postMessage")[0]
    assert opener.params["channel"] == "C0CHAN001" and "thread_ts" not in opener.params
    reply = h.fake.wait_for("chat.postMessage", 2)[1]
    assert reply.params["thread_ts"] and reply.params["channel"] == "C0CHAN001"


def test_slash_link_mints_a_single_use_state(harness: Harness, fake_slack) -> None:
    h = harness
    h.deps.settings.public_url = "https://tfpilot.example.com"
    h.command(DEV, "link")
    call = h.fake.wait_for("response_url")[0]
    url = call.params["blocks"][0]["accessory"]["url"]
    assert url.startswith("https://tfpilot.example.com/github/link/start?state=")
    state = url.split("state=", 1)[1]
    doc = json.loads(h.deps.objects.get(f"oauth/states/{state}.json").body)
    assert doc["user_id"] == DEV and doc["team_id"] == TEAM and doc["kind"] == "github_link"


def test_home_tab_is_published_with_requests_waiting_and_kpis(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    envelope = h.fixture("events_api_app_home_opened_home_tab.json")
    for user in (DEV, APPROVER):
        event = {**envelope["event"], "user": user}
        h.event(event)
    calls = h.fake.wait_for("views.publish", 2)
    views = {c.params["user_id"]: c.params["view"] for c in calls}
    dev_home, approver_home = json.dumps(views[DEV]), json.dumps(views[APPROVER])
    assert request.id in dev_home and "Waiting for my approval" not in dev_home
    assert "Waiting for my approval" in approver_home and request.id in approver_home
    assert "Operations (KPIs)" in approver_home
    assert all(check_blocks(v, "home") == [] for v in views.values())


def test_messages_tab_app_home_opened_publishes_nothing(harness: Harness) -> None:
    h = harness
    h.event(h.fixture("events_api_app_home_opened_messages_tab.json")["event"])
    h.fake.settle()
    assert not h.fake.of("views.publish")


# --- signatures --------------------------------------------------------------------------------


def test_bad_signature_and_stale_timestamp_are_refused(harness: Harness) -> None:
    h = harness
    body = json.dumps({**h.fixture("events_api_app_mention.json"), "team_id": TEAM})
    forged = sign(body, secret="not-the-secret")
    stale = sign(body, timestamp=int(time.time()) - 301)
    tampered = sign(body)
    for signed, raw in ((forged, body), (stale, body), (tampered, body.replace("Hi there", "Hi where"))):
        response = h.send(raw, "application/json", signed=signed)
        assert response.status == 401
    fresh = h.send(body, "application/json")
    assert fresh.status == 200
    h.fake.wait_for("chat.postMessage")
    h.fake.settle()
    assert len(h.fake.of("chat.postMessage")) == 1  # only the valid one was processed


def test_url_verification_challenge(harness: Harness) -> None:
    body = json.dumps(harness.fixture("events_api_url_verification.json"))
    response = harness.send(body, "application/json")
    assert response.status == 200 and json.loads(response.body)["challenge"].startswith("3eZbrw1aBm2")


def _actor(user: str):
    from core.domain.policy import Actor

    return Actor(id=user)


def test_a_linked_approver_approves_as_their_own_github_review(fake_slack, tmp_path, shared_fixtures) -> None:
    from bot.web.identities import LinkedAccounts, fernet_from_setting
    from core.ports.code_host import RepoRef
    from tests.slack.harness import start_harness

    key = "test-encryption-key-not-a-secret"
    h = start_harness(fake_slack, tmp_path, shared_fixtures, TFPILOT_ENCRYPTION_KEY=key)
    try:
        LinkedAccounts(h.deps.objects, fernet_from_setting(key)).put(
            TEAM, APPROVER, github_login="abe", token="gho_linked_token", linked_at=h.deps.clock.now()
        )
        request = create_request(h)
        h.finish_run(request.id, "plan")
        click_card(h, APPROVER, request.id, "req:approve")
        eventually(lambda: _status(h, request.id) is Status.APPROVED, what="approved")
        stored = h.deps.store.get(request.id)
        repo = RepoRef(owner=stored.target_owner, name=stored.target_repo)
        reviews = h.host.repo(repo).reviews[stored.pr.number]
        assert [r.user_login for r in reviews] == ["user-of-gho_linked_token"]
    finally:
        h.close()


def test_a_select_answers_the_question_once(harness: Harness) -> None:
    h, thread = harness, "1700000000.000400"
    h.dm(DEV, "I need an s3 bucket", ts=thread)
    question = eventually(lambda: _intake_messages(h, thread), what="the project question")[-1]
    block_id = next(b["block_id"] for b in question.blocks() if b["type"] == "actions")
    message = {
        "ts": "1800000000.000009",
        "thread_ts": thread,
        "text": question.params["text"],
        "blocks": question.blocks(),
    }
    select = {
        "type": "static_select",
        "action_id": "intake:select",
        "block_id": block_id,
        "selected_option": {"text": {"type": "plain_text", "text": "core"}, "value": "core"},
    }
    h.click(DEV, select, channel=f"D{DEV[1:]}", message_ts="1800000000.000009", message=message)
    eventually(lambda: len(_intake_messages(h, thread)) >= 2, what="the next question")
    # A second answer to the same question (another click, another person) is turned away.
    h.click(DEV, select, channel=f"D{DEV[1:]}", message_ts="1800000000.000009", message=message)
    assert "already answered" in h.fake.wait_for("chat.postEphemeral")[0].text()
    h.click(APPROVER, select, channel=f"D{DEV[1:]}", message_ts="1800000000.000009", message=message)
    refusal = h.fake.wait_for("chat.postEphemeral", 2)[1]
    assert refusal.params["user"] == APPROVER and f"<@{DEV}>'s request in preparation" in refusal.text()
    h.fake.settle()
    assert len(_intake_messages(h, thread)) == 2
    turns = [e.text for e in h.deps.chat_log.entries if e.role == "user"]
    assert turns == ["I need an s3 bucket", "core"]
