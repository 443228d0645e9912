"""More scenarios through the Bolt app and the fake Slack: Socket Mode envelopes, conversations
continued in their thread, Edit committing and re-planning, the card kept current on every
transition, and clicks that must be refused or answered with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.app import create_app
from bot.socket_mode import socket_mode_handler
from core.adapters.request_store import active_key
from core.domain.lifecycle import derive_status
from core.domain.policy import Actor
from core.domain.status import Status
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import ADMIN, APPROVER, BOT_TOKEN, DEV, TEAM, VIEWER, Harness, start_harness
from tests.slack.helpers import card_buttons, card_ts, click_card, create_request, eventually, thread_replies


def _status(h: Harness, request_id: str) -> Status:
    return derive_status(h.deps.store.get(request_id))


def _thread(h: Harness, thread_ts: str) -> list[Any]:
    return [c for c in h.fake.of("chat.postMessage") if c.params.get("thread_ts") == thread_ts]


def _top_level(h: Harness, channel: str) -> list[Any]:
    return [
        c for c in h.fake.of("chat.postMessage") if c.params.get("channel") == channel and "thread_ts" not in c.params
    ]


# --- Socket Mode ---------------------------------------------------------------------------------


class SocketStub:
    """Stands in for the Socket Mode client: records what Bolt answers on the socket."""

    def __init__(self) -> None:
        import logging

        self.logger = logging.getLogger("socket-stub")
        self.sent: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


def test_socket_mode_envelopes_are_acked_and_processed_once(
    fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path
) -> None:
    h = start_harness(fake_slack, tmp_path, shared_fixtures, process_before_response=False, SLACK_APP_TOKEN="xapp-1")
    handler = socket_mode_handler(h.deps, app=h.app)
    stub = SocketStub()
    try:
        envelope = h.fixture("events_api_app_mention.json")
        envelope.update({"team_id": TEAM, "event_id": "EvSOCKET1"})
        envelope["event"] = {
            "type": "message",
            "channel_type": "im",
            "channel": "D0DEV0001",
            "user": DEV,
            "text": "I need an s3 bucket",
            "ts": "1700000000.000700",
        }
        for attempt in (None, 1):  # Slack redelivers the envelope when the ack was late
            request = SocketModeRequest(
                type="events_api", envelope_id=f"env-{attempt}", payload=envelope, retry_attempt=attempt
            )
            handler.handle(stub, request)  # type: ignore[arg-type]
        assert [r.envelope_id for r in stub.sent] == ["env-None", "env-1"]
        reply = fake_slack.wait_for("chat.postMessage")[0]
        # A top-level DM is answered at the top level, where its author reads.
        assert "thread_ts" not in reply.params and reply.params["channel"] == "D0DEV0001"
        fake_slack.settle()
        assert len(fake_slack.of("chat.postMessage")) == 1
        # A modal submission is answered on the socket with its inline errors.
        request_ = create_request(h, environment="prod")
        view = {
            "callback_id": "destroy_confirm",
            "private_metadata": json.dumps({"r": request_.id, "v": 1, "c": None, "t": None}),
        }
        payload = h.fixture("view_submission.json")
        payload["user"] = {"id": ADMIN, "team_id": TEAM}
        payload["view"].update({**view, "state": {"values": {"confirm_id": {"value": {"value": "nope"}}}}})
        handler.handle(stub, SocketModeRequest(type="interactive", envelope_id="env-view", payload=payload))  # type: ignore[arg-type]
        answer = stub.sent[-1]
        assert answer.envelope_id == "env-view" and answer.payload["response_action"] == "errors"
    finally:
        handler.close()
        h.close()


# --- conversations ---------------------------------------------------------------------------------


def test_a_dm_reply_in_the_thread_continues_the_same_conversation(harness: Harness) -> None:
    h, thread = harness, "1700000000.000800"
    h.dm(DEV, "I need an s3 bucket", ts=thread)
    eventually(lambda: _top_level(h, f"D{DEV[1:]}"), what="the first question")
    h.dm(DEV, "core", ts="1700000000.000801", thread_ts=thread)
    eventually(lambda: _thread(h, thread), what="the second question, in the thread")
    sessions = {e.session_id for e in h.deps.chat_log.entries}
    assert len(sessions) == 1
    assert [e.text for e in h.deps.chat_log.entries if e.role == "user"] == ["I need an s3 bucket", "core"]
    # A top-level DM asking for another resource is a new conversation, and says so.
    h.dm(DEV, "I need an SQS queue please", ts="1700000000.000900")
    new = eventually(
        lambda: [c for c in _top_level(h, f"D{DEV[1:]}") if "new request" in c.text()], what="the new conversation"
    )
    assert "p1700000000000800" in new[-1].text()  # the earlier one is linked
    assert len({e.session_id for e in h.deps.chat_log.entries}) == 2


def test_a_mention_in_an_existing_thread_answers_in_that_thread(harness: Harness) -> None:
    h = harness
    event = h.fixture("events_api_app_mention.json")["event"]
    event.update(
        {
            "user": DEV,
            "text": "<@UTFPILOT> can I get a bucket?",
            "channel": "C0CHAN001",
            "ts": "1700000000.001001",
            "thread_ts": "1700000000.001000",
        }
    )
    h.event(event)
    reply = h.fake.wait_for("chat.postMessage")[0]
    assert reply.params["thread_ts"] == "1700000000.001000" and reply.params["channel"] == "C0CHAN001"
    # Bot messages, and mentions without a channel, are ignored.
    h.event({**event, "bot_id": "B1", "ts": "1700000000.001002"})
    h.event({key: value for key, value in event.items() if key != "channel"} | {"ts": "1700000000.001003"})
    h.fake.settle()
    assert len(h.fake.of("chat.postMessage")) == 1


# --- the card through a request's life ------------------------------------------------------------


def test_every_transition_updates_the_card_in_place_and_replies_in_its_thread(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    ts = card_ts(h, request.id)
    updates = lambda: [c for c in h.fake.of("chat.update") if c.params.get("ts") == ts]  # noqa: E731
    h.finish_run(request.id, "plan")
    for action in ("req:approve", "req:merge", "req:apply"):
        # The card is edited after the status changes: click once Slack shows the button.
        eventually(lambda action=action: action in card_buttons(h, request.id), what=action)
        click_card(h, APPROVER, request.id, action)
    eventually(lambda: _status(h, request.id) is Status.APPLYING, what="applying")
    h.finish_run(request.id, "apply")
    h.fake.settle()
    cards = [c for c in h.fake.of("chat.postMessage") if "thread_ts" not in c.params]
    assert len(cards) == 1  # posted once, then edited
    replies = thread_replies(h, request.id)
    assert len(updates()) == len(replies) - 1  # every transition after the first edits the card
    last = h.fake.messages[(request.slack.channel, ts)]
    assert ":rocket: Applied" in json.dumps(last["blocks"])


def test_edit_commits_the_new_config_and_plans_again(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    runs_before = len(h.host.runs_of("plan.yml"))
    click_card(h, DEV, request.id, "req:update")
    view = h.fake.wait_for("views.open")[0].params["view"]
    state = {"f:name": {"value": {"type": "plain_text_input", "value": "logs2"}}}
    assert h.submit(DEV, view, state).status == 200
    eventually(lambda: _status(h, request.id) is Status.PLANNING, what="re-planning")
    stored = h.deps.store.get(request.id)
    assert stored.revision == 2 and stored.config["name"] == "logs2"
    # The new config is stored (status planning) before the plan is dispatched: wait for it.
    eventually(lambda: len(h.host.runs_of("plan.yml")) == runs_before + 1, what="the new plan run")
    eventually(lambda: any("configuration updated" in r for r in thread_replies(h, request.id)), what="reply")
    assert "req:approve" not in card_buttons(h, request.id)  # the new plan is not ready yet


# --- clicks refused or answered with a reason -----------------------------------------------------


def test_a_viewer_cannot_open_the_edit_form(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    click_card(h, VIEWER, request.id, "req:update")
    refusal = h.fake.wait_for("chat.postEphemeral")[0]
    assert refusal.params["user"] == VIEWER and "You cannot edit this request" in refusal.text()
    assert "update_blocked" in h.deps.audit.names(request.id) and not h.fake.of("views.open")


def test_a_malformed_or_unknown_button_is_answered_not_crashed(harness: Harness) -> None:
    h = harness
    action = {"type": "button", "action_id": "req:apply", "block_id": "card:x", "value": "{not json"}
    h.click(APPROVER, action)
    assert "malformed" in h.fake.wait_for("chat.postEphemeral")[0].text()
    action["value"] = json.dumps({"r": "req_doesnotexist", "v": 1})
    h.click(APPROVER, action)
    answer = h.fake.wait_for("chat.postEphemeral", 2)[1]
    assert "req_doesnotexist" in answer.text() and answer.params["user"] == APPROVER


def test_destroy_outside_prod_runs_after_the_confirm_dialog(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    for step in ("approve", "merge", "apply"):
        getattr(h.deps.requests, step)(request.id, Actor(id=APPROVER))
    h.finish_run(request.id, "apply")
    destroy = eventually(lambda: card_buttons(h, request.id).get("req:destroy"), what="the Destroy button")
    assert destroy["confirm"]["confirm"]["text"] == "Destroy"  # Slack shows the dialog before sending
    click_card(h, APPROVER, request.id, "req:destroy")  # an approver: refused
    assert "destroy needs the admin role" in h.fake.wait_for("chat.postEphemeral")[0].text()
    click_card(h, ADMIN, request.id, "req:destroy")
    eventually(lambda: "destroy_requested" in h.deps.audit.names(request.id), what="destroy requested")
    assert h.deps.audit.names(request.id).count("destroy_blocked") == 1


def test_the_bot_token_of_the_app_is_never_logged(fake_slack: FakeSlack, tmp_path: Path, caplog: Any) -> None:
    import logging

    from tests.slack.harness import build_deps

    deps, _ = build_deps(fake_slack, tmp_path)
    caplog.set_level(logging.DEBUG)
    fake_slack.fail_next("users.info", 500, error="internal_error")
    app = create_app(deps, client=WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    from bot.listeners.common import Kit

    Kit.build(deps).identity.actor(app.client, TEAM, DEV)
    assert "users.info failed" in caplog.text and BOT_TOKEN not in caplog.text


def test_someone_elses_conversation_in_a_channel_thread_is_theirs(harness: Harness) -> None:
    h = harness
    event = h.fixture("events_api_app_mention.json")["event"]
    event.update({"user": DEV, "text": "<@UTFPILOT> I need an s3 bucket", "channel": "C0CHAN001"})
    h.event(event)
    question = h.fake.wait_for("chat.postMessage")[0]
    thread = question.params["thread_ts"]
    # A colleague mentions the app in that thread, then clicks one of its buttons.
    h.event(
        {**event, "user": APPROVER, "text": "<@UTFPILOT> prod please", "ts": "1595926230.009700", "thread_ts": thread}
    )
    refusal = h.fake.wait_for("chat.postEphemeral")[0]
    assert refusal.params["user"] == APPROVER and refusal.params["thread_ts"] == thread
    assert f"<@{DEV}>'s request in preparation" in refusal.text()
    buttons = [e for b in question.blocks() if b["type"] == "actions" for e in b["elements"]]
    action = {**buttons[0], "block_id": next(b["block_id"] for b in question.blocks() if b["type"] == "actions")}
    message = {"ts": "1800000000.000001", "thread_ts": thread, "text": "q", "blocks": question.blocks()}
    h.click(APPROVER, action, channel="C0CHAN001", message_ts="1800000000.000001", message=message)
    h.fake.wait_for("chat.postEphemeral", 2)
    h.fake.settle()
    assert [e.text for e in h.deps.chat_log.entries if e.role == "user"] == ["I need an s3 bucket"]
    assert not h.fake.of("chat.update")  # the question was not marked answered
    # The owner still can.
    h.click(DEV, action, channel="C0CHAN001", message_ts="1800000000.000001", message=message)
    eventually(lambda: len([e for e in h.deps.chat_log.entries if e.role == "user"]) == 2, what="the owner's answer")


def test_modals_open_while_the_work_pool_is_busy(harness: Harness) -> None:
    # Slack's trigger_id lives 3 s: opening a form must not queue behind GitHub calls.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bot.listeners.common import Kit

    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    busy = ThreadPoolExecutor(max_workers=1)
    gate = threading.Event()
    busy.submit(gate.wait, 30)
    try:
        client = WebClient(token=BOT_TOKEN, base_url=h.fake.api_url)
        h.app = create_app(h.deps, client=client, process_before_response=True, kit=Kit.build(h.deps, executor=busy))
        click_card(h, DEV, request.id, "req:update")
        view = h.fake.wait_for("views.open", timeout=5)[0].params["view"]
        assert view["callback_id"] == "edit_form"
        click_card(h, APPROVER, request.id, "req:replan")  # ordinary work waits for the pool
        h.fake.settle(quiet=0.3)
        assert "replan_dispatched" not in h.deps.audit.names(request.id)
    finally:
        gate.set()
        busy.shutdown(wait=True)
    eventually(lambda: "replan_dispatched" in h.deps.audit.names(request.id), what="the re-plan")


def test_saving_an_edit_of_a_request_that_is_gone_says_so(harness: Harness) -> None:
    h = harness
    request = create_request(h)
    h.finish_run(request.id, "plan")
    click_card(h, DEV, request.id, "req:update")
    view = h.fake.wait_for("views.open")[0].params["view"]
    h.deps.store.objects.delete(active_key(request.id))  # archived or deleted meanwhile
    response = h.submit(DEV, view, {"f:name": {"value": {"type": "plain_text_input", "value": "logs2"}}})
    assert response.status == 200 and not response.body
    told = h.fake.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == DEV and "Nothing was saved" in told.text() and request.id in told.text()
