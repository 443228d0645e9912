"""SlackNotifier against the fake Slack: card posted once then updated in place, one thread
reply per transition, 429 honoured, an uneditable card re-posted, big plans uploaded as files,
never raising into the service."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk import WebClient

from bot.slack_notifier import SlackNotifier
from core.domain.request import PlanOutput, PlanSummary, Request, Requester, RunRef, SlackThread
from core.ports.notifier import Transition
from tests.fakes import InMemoryObjectStore, MemoryRequestStore
from tests.slack.fake_slack import FakeSlack

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _request(store: MemoryRequestStore, **extra) -> Request:
    request = Request(
        id="req_notify000001",
        project="core",
        environment="dev",
        module="s3-bucket",
        received_at=NOW,
        updated_at=NOW,
        requester=Requester(id="U0DEV0001"),
        slack=SlackThread(team_id="T111", channel="C0CARDS01"),
        **extra,
    )
    return store.create(request)


def _notifier(fake: FakeSlack, store: MemoryRequestStore, **kw) -> tuple[SlackNotifier, list[float]]:
    waits: list[float] = []
    notifier = SlackNotifier(
        WebClient(token="xoxb-test", base_url=fake.api_url),
        approvers=["U0APP0001", "approver@example.com"],
        store=store,
        objects=InMemoryObjectStore(),
        sleep=waits.append,
        **kw,
    )
    return notifier, waits


def _t(event: str, **kw) -> Transition:
    return Transition(event=event, previous_status=None, status="planning", **kw)


def test_first_transition_posts_the_card_then_updates_it(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = _request(store)
    notifier, _ = _notifier(fake_slack, store)
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
    store = MemoryRequestStore()
    request = _request(store)
    notifier, waits = _notifier(fake_slack, store)
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "3"})
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "1"})
    notifier.request_changed(request, _t("created"))
    assert waits == [3.0, 1.0]
    assert store.get(request.id).slack.ts
    assert len([c for c in fake_slack.of("chat.postMessage") if "_failed" not in c.params]) == 2


def test_rate_limit_beyond_the_budget_gives_up_without_raising(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = _request(store)
    notifier, waits = _notifier(fake_slack, store, max_wait=5)
    fake_slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "60"})
    notifier.request_changed(request, _t("created"))  # must not raise
    assert waits == [] and store.get(request.id).slack.ts is None


def test_a_card_that_cannot_be_edited_is_posted_again(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = _request(store)
    notifier, _ = _notifier(fake_slack, store)
    notifier.request_changed(request, _t("created"))
    first = store.get(request.id).slack.ts
    fake_slack.fail_next("chat.update", 200, error="message_not_found")
    notifier.request_changed(store.get(request.id), _t("planning"))
    second = store.get(request.id).slack.ts
    assert second and second != first
    assert fake_slack.of("chat.postMessage")[-1].params["thread_ts"] == second


def test_a_big_plan_is_uploaded_into_the_thread_once(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    plan = PlanOutput(summary=PlanSummary(add=3000), output="+ resource\n" * 3000, run_id=77)
    request = _request(store, plan=plan, plan_run=RunRef(run_id=77, status="completed", conclusion="success"))
    notifier, _ = _notifier(fake_slack, store)
    notifier.request_changed(request, _t("plan_ready"))
    notifier.request_changed(store.get(request.id), _t("plan_ready"))  # a replayed transition
    ts = store.get(request.id).slack.ts
    complete = fake_slack.of("files.completeUploadExternal")
    assert len(complete) == 1 and complete[0].params["thread_ts"] == ts
    assert len(fake_slack.uploads) == 1 and next(iter(fake_slack.uploads.values())) == plan.output.encode()
    reply = next(c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == ts)
    assert "attached below" in reply.text() and "<@U0APP0001>" in reply.text()


def test_a_small_plan_is_quoted_in_the_reply(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = _request(store, plan=PlanOutput(summary=PlanSummary(add=1), output="+ aws_s3_bucket.this <!here>"))
    notifier, _ = _notifier(fake_slack, store)
    notifier.request_changed(request, _t("plan_ready"))
    reply = fake_slack.of("chat.postMessage")[1]
    assert "aws_s3_bucket.this &lt;!here&gt;" in reply.text() and not fake_slack.of("files.completeUploadExternal")


def test_slack_down_never_raises(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = _request(store)
    notifier = SlackNotifier(WebClient(token="x", base_url="http://127.0.0.1:9/api/", timeout=1), store=store)
    notifier.request_changed(request, _t("created"))
    assert store.get(request.id).slack.ts is None


def test_requests_without_a_slack_thread_are_ignored(fake_slack: FakeSlack) -> None:
    store = MemoryRequestStore()
    request = store.create(
        Request(id="req_console0001", project="p", environment="dev", module="m", received_at=NOW, updated_at=NOW)
    )
    notifier, _ = _notifier(fake_slack, store)
    notifier.request_changed(request, _t("created"))
    assert fake_slack.calls == []
