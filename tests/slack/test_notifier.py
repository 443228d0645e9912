"""SlackNotifier against the fake Slack: card posted once then updated in place, one thread
reply per transition, 429 honoured, an uneditable card re-posted, big plans uploaded as files,
never raising into the service."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack_notifier import SlackNotifier
from bot.slack_retry import CONNECTION_ERROR_RETRIES, SERVER_ERROR_RETRIES, slack_retry_handlers
from core.domain.request import PlanOutput, PlanSummary, Request, RunRef, SlackThread
from core.ports.notifier import Transition
from core.ports.request_store import RequestStore
from core.services.cards import CardTurn
from tests.fakes import InMemoryObjectStore
from tests.services.conftest import service_graph
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import threaded_request

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _request_doc(**extra) -> Request:
    return threaded_request("req_notify000001", at=NOW, **extra)


def _request(store: RequestStore, **extra) -> Request:
    return store.create(_request_doc(**extra))


class Engine:
    """The engine's card commands over a store: the services' test graph (``RequestService``),
    whose store the test reads."""

    def __init__(self) -> None:
        self.graph = service_graph()
        self.store = self.graph.store
        self.requests = self.graph.requests


def _notifier(fake: FakeSlack, engine: Engine, **retry: Any) -> tuple[SlackNotifier, list[float]]:
    waits: list[float] = []
    notifier = SlackNotifier(
        WebClient(
            token="xoxb-test", base_url=fake.api_url, retry_handlers=slack_retry_handlers(sleep=waits.append, **retry)
        ),
        approvers=["U0APP0001", "approver@example.com"],
        objects=InMemoryObjectStore(),
        cards=engine.requests,
        read=engine.store.get,
    )
    return notifier, waits


def _t(event: str, **kw) -> Transition:
    return Transition(event=event, previous_status=None, status="planning", **kw)


def test_first_transition_posts_the_card_then_updates_it(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier, _ = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("created"))
    card = fake_slack.of("chat.postMessage")[0]
    ts = store.get(request.id).slack.ts
    assert ts and "thread_ts" not in card.params and card.params["channel"] == "C0CARDS01"
    reply = fake_slack.of("chat.postMessage")[1]
    assert reply.params["thread_ts"] == ts and "<@U0DEV0001>" in reply.text()

    notifier.request_changed(store.get(request.id), _t("planning"))
    assert len(fake_slack.of("chat.update")) == 1 and fake_slack.of("chat.update")[0].params["ts"] == ts
    assert len([c for c in fake_slack.of("chat.postMessage") if "thread_ts" not in c.params]) == 1
    # A stale document (no ts yet) is not believed: the store says the card exists.
    notifier.request_changed(request, _t("planning"))
    assert len([c for c in fake_slack.of("chat.postMessage") if "thread_ts" not in c.params]) == 1


def test_rate_limit_is_retried_after_retry_after(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier, waits = _notifier(fake_slack, engine)
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "3"})
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "1"})
    notifier.request_changed(request, _t("created"))
    # Retry-After plus under a second of jitter.
    assert [int(w) for w in waits] == [3, 1] and all(w - int(w) < 1 for w in waits)
    assert store.get(request.id).slack.ts
    assert len([c for c in fake_slack.of("chat.postMessage") if "_failed" not in c.params]) == 2


def test_rate_limit_beyond_the_budget_gives_up_without_raising(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier, waits = _notifier(fake_slack, engine, max_wait=5)
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "60"})
    notifier.request_changed(request, _t("created"))  # must not raise
    assert waits == [] and store.get(request.id).slack.ts is None


def test_a_card_that_cannot_be_edited_is_posted_again(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier, _ = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("created"))
    first = store.get(request.id).slack.ts
    fake_slack.fail_next("chat.update", 200, error="message_not_found")
    notifier.request_changed(store.get(request.id), _t("planning"))
    second = store.get(request.id).slack.ts
    assert second and second != first
    assert fake_slack.of("chat.postMessage")[-1].params["thread_ts"] == second


def test_a_big_plan_is_uploaded_into_the_thread_once(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    plan = PlanOutput(summary=PlanSummary(add=3000), output="+ resource\n" * 3000, run_id=77)
    request = _request(store, plan=plan, plan_run=RunRef(run_id=77, status="completed", conclusion="success"))
    notifier, _ = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("plan_ready"))
    notifier.request_changed(store.get(request.id), _t("plan_ready"))  # a replayed transition
    ts = store.get(request.id).slack.ts
    complete = fake_slack.of("files.completeUploadExternal")
    assert len(complete) == 1 and complete[0].params["thread_ts"] == ts
    assert len(fake_slack.uploads) == 1 and next(iter(fake_slack.uploads.values())) == plan.output.encode()
    reply = next(c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == ts)
    assert "attached below" in reply.text() and "<@U0APP0001>" in reply.text()


def test_a_small_plan_is_quoted_in_the_reply(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store, plan=PlanOutput(summary=PlanSummary(add=1), output="+ aws_s3_bucket.this <!here>"))
    notifier, _ = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("plan_ready"))
    reply = fake_slack.of("chat.postMessage")[1]
    assert "aws_s3_bucket.this &lt;!here&gt;" in reply.text() and not fake_slack.of("files.completeUploadExternal")


def test_slack_down_never_raises(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier = SlackNotifier(WebClient(token="x", base_url="http://127.0.0.1:9/api/", timeout=1), cards=engine.requests)
    notifier.request_changed(request, _t("created"))
    assert store.get(request.id).slack.ts is None


def test_requests_without_a_slack_thread_are_ignored(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = store.create(
        Request(id="req_console0001", project="p", environment="dev", module="m", received_at=NOW, updated_at=NOW)
    )
    notifier, _ = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("created"))
    assert fake_slack.calls == []


def test_chat_update_survives_a_429_then_a_500(fake_slack: FakeSlack) -> None:
    # slack_sdk's retry handlers on the client: Retry-After is waited for, a 5xx backs off.
    engine = Engine()
    store = engine.store
    request = _request(store)
    notifier, waits = _notifier(fake_slack, engine)
    notifier.request_changed(request, _t("created"))
    ts = store.get(request.id).slack.ts
    fake_slack.fail_next("chat.update", 429, headers={"Retry-After": "2"})
    fake_slack.fail_next("chat.update", 500, error="internal_error")
    notifier.request_changed(store.get(request.id), _t("planning"))
    updates = fake_slack.of("chat.update")
    assert [c.params.get("_failed") for c in updates] == [429, 500, None]
    assert (
        updates[-1].params["ts"] == ts and fake_slack.messages[("C0CARDS01", ts)]["text"] == updates[-1].params["text"]
    )
    assert len(waits) == 2 and 2 <= waits[0] < 3 and 0 < waits[1] <= 2  # Retry-After, then backoff
    # The card was not posted again, and the thread reply followed the update.
    assert len([c for c in fake_slack.of("chat.postMessage") if "thread_ts" not in c.params]) == 1


def test_retries_are_bounded_and_logged_without_secrets(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    waits: list[float] = []
    secret = "xoxb-must-not-be-logged"
    client = WebClient(
        token=secret, base_url=fake_slack.api_url, retry_handlers=slack_retry_handlers(sleep=waits.append)
    )
    notifier = SlackNotifier(client, cards=engine.requests)
    for _ in range(SERVER_ERROR_RETRIES + 3):
        fake_slack.fail_next("chat.postMessage", 500, error="internal_error")
    with caplog.at_level(logging.INFO):
        notifier.request_changed(request, _t("created"))  # gives up, never raises
    assert len(fake_slack.of("chat.postMessage")) == 1 + SERVER_ERROR_RETRIES
    assert len(waits) == SERVER_ERROR_RETRIES
    assert store.get(request.id).slack.ts is None
    assert "slack chat.postMessage: HTTP 500, retry 1 of at most 2" in caplog.text
    assert "slack notification of req_notify000001 (created) failed" in caplog.text
    assert secret not in caplog.text


def test_a_connection_error_is_retried_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    waits: list[float] = []
    secret = "xoxb-must-not-be-logged"
    dead = WebClient(
        token=secret,
        base_url="http://127.0.0.1:9/api/",
        timeout=1,
        retry_handlers=slack_retry_handlers(sleep=waits.append),
    )
    with caplog.at_level(logging.INFO):
        SlackNotifier(dead, cards=engine.requests).request_changed(request, _t("created"))
    assert len(waits) == CONNECTION_ERROR_RETRIES
    assert "slack chat.postMessage: URLError, retry 1 of at most 2" in caplog.text
    assert secret not in caplog.text


def test_the_notifier_renders_the_document_handed_over_and_never_touches_the_store(fake_slack: FakeSlack) -> None:
    engine = Engine()
    store = engine.store
    request = _request(store)
    recorded: list[tuple[str, str]] = []
    claims: list[str] = []

    class Recording:
        """The engine's card commands, recorded; anything else the notifier asked would fail."""

        def record_card(self, request_id: str, ts: str) -> None:
            recorded.append((request_id, ts))

        def claim_card(self, request_id: str, owner: str, *, replacing: str | None = None) -> CardTurn:
            claims.append(request_id)
            return CardTurn(post=True)  # nobody else posts it

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the notifier asked the engine for {name}")

    def untouchable(request_id: str) -> Request:
        raise AssertionError(f"the notifier read {request_id}")

    notifier = SlackNotifier(
        WebClient(token="xoxb-test", base_url=fake_slack.api_url),
        cards=Recording(),  # type: ignore[arg-type]
        read=untouchable,
    )
    notifier.request_changed(request, _t("created"))
    ((rid, ts),) = recorded
    assert rid == request.id and ts
    # The same (stale) document again: the card this process posted is updated, not posted twice.
    notifier.request_changed(request, _t("planning"))
    assert [c.params["ts"] for c in fake_slack.of("chat.update")] == [ts] and len(recorded) == 1
    assert claims == [request.id]  # the post was claimed once, before it went out


def test_a_missed_reply_goes_out_at_the_next_notification_from_the_document_handed_over(
    fake_slack: FakeSlack,
) -> None:
    """The next notification of the request renders what Slack refused before from the document
    it was handed (its card already shows it): no read of the document, only the reply."""
    engine = Engine()
    request = _request(engine.store)

    def untouchable(request_id: str) -> Request:
        raise AssertionError(f"the notifier read {request_id}")

    notifier = SlackNotifier(
        WebClient(token="xoxb-test", base_url=fake_slack.api_url),
        objects=InMemoryObjectStore(),
        cards=engine.requests,
        read=untouchable,
    )
    notifier.request_changed(request, _t("created"))
    ts = engine.store.get(request.id).slack.ts  # type: ignore[union-attr]
    fake_slack.fail_next("chat.update", 500, error="internal_error")  # this client does not retry a 5xx
    notifier.request_changed(engine.store.get(request.id), _t("plan_ready"))
    replies = [c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == ts]
    assert len(replies) == 1  # the plan_ready reply was not posted
    notifier.request_changed(engine.store.get(request.id), _t("approved"))
    replies = [c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == ts]
    assert len(replies) == 3 and "approved" in replies[1].text().lower()
    assert "plan" in replies[2].text().lower()  # then the missed one
    assert len([c for c in fake_slack.of("chat.update") if "_failed" not in c.params]) == 1
    notifier.request_changed(engine.store.get(request.id), _t("merged"))
    assert len([c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == ts]) == 4


def test_the_card_ts_is_recorded_by_the_engine_command(fake_slack: FakeSlack) -> None:
    from tests.services.conftest import create_cmd, service_graph

    graph = service_graph()
    notifier = SlackNotifier(WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    notifier.connect(graph.requests, graph.queries.get)
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T111", channel="C0CARDS01")))
    notifier.request_changed(created, _t("created"))
    stored = graph.store.get(created.id)
    # Two engine writes: the claim on the post, then the ts (which ends the claim).
    assert stored.slack is not None and stored.slack.ts and stored.version == created.version + 2
    assert stored.slack.claim is None
    assert graph.requests.record_card(created.id, stored.slack.ts).version == stored.version  # idempotent


def test_the_bus_notifier_records_the_card_without_running_the_write_s_events_again(fake_slack: FakeSlack) -> None:
    """The root wires the Slack notifier to ``record_card``: recording the ts while the bus runs
    a notice neither re-enters the bus (the card lock is held) nor reorders the replies."""
    from tests.services.conftest import create_cmd, service_graph

    notifier = SlackNotifier(WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    graph = service_graph(notifier=notifier)
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T111", channel="C0CARDS01")))
    stored = graph.store.get(created.id)
    cards = [c for c in fake_slack.of("chat.postMessage") if "thread_ts" not in c.params]
    assert len(cards) == 1 and stored.slack is not None and stored.slack.ts
    replies = [c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == stored.slack.ts]
    assert replies and graph.audit.names(created.id).count("plan_dispatched") == 1  # type: ignore[attr-defined]


def test_two_notices_of_one_write_post_one_card_and_their_replies_in_order(fake_slack: FakeSlack) -> None:
    from core.domain.events import emit_all, notice
    from tests.services.conftest import service_graph

    notifier = SlackNotifier(WebClient(token="xoxb-test", base_url=fake_slack.api_url))
    graph = service_graph(notifier=notifier)
    request = graph.store.create(_request_doc())
    now = graph.clock.now()

    def two_notices(current: Request) -> Request:
        emit_all(current, [notice(_t("created")), notice(_t("planning"))], at=now)
        return current

    stored = graph.store.update(request.id, two_notices)
    assert graph.requests._bus.handle(stored) == 2  # the card's ts recorded in between, no re-entry
    posts = fake_slack.of("chat.postMessage")
    assert len([c for c in posts if "thread_ts" not in c.params]) == 1
    ts = graph.store.get(request.id).slack.ts  # type: ignore[union-attr]
    assert [c.params.get("thread_ts") for c in posts[1:]] == [ts, ts]
    assert graph.store.get(request.id).outbox  # the events stay for a later write to prune
