"""The render backlog on S3 (moto): a notification Slack took costs no S3 call for missed
renders; a miss is recorded once, listed at the request's next notification, rendered, and
then forgotten. Calls are counted as boto3 makes them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from slack_sdk import WebClient

from bot.deps import Deps
from bot.slack_notifier import SlackNotifier
from bot.slack_render_backlog import RenderBacklog
from bot.slack_retry import slack_retry_handlers
from core.adapters.s3_objects import S3ObjectStore
from core.domain.request import Request
from core.ports.notifier import Transition
from core.ports.request_store import RequestStore
from tests.services.conftest import service_graph
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import threaded_request

BUCKET = "tfpilot-render-backlog"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def s3() -> Iterator[tuple[Any, Counter[str]]]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.s3.*", lambda model, **_: calls.update([model.name]))
        yield client, calls


def _request(store: RequestStore, rid: str) -> Request:
    return store.create(threaded_request(rid, at=NOW))


def _t(event: str) -> Transition:
    return Transition(event=event, previous_status=None, status="planning")


def _notifier(fake: FakeSlack, graph: Deps, objects: S3ObjectStore) -> SlackNotifier:
    """A notifier whose backlog is on S3 and whose card commands and reads are the services'
    test graph's (its store in memory: only the backlog's S3 calls are counted)."""
    client = WebClient(
        token="xoxb-test", base_url=fake.api_url, retry_handlers=slack_retry_handlers(sleep=lambda _s: None)
    )
    return SlackNotifier(client, objects=objects, cards=graph.requests, read=graph.queries.get)


def _fail_updates(fake: FakeSlack) -> None:
    for _ in range(3):  # the first try and both retries
        fake.fail_next("chat.update", 500, error="internal_error")


def test_notifications_slack_took_list_nothing(fake_slack: FakeSlack, s3: tuple[Any, Counter[str]]) -> None:
    client, calls = s3
    graph = service_graph()
    store = graph.store
    notifier = _notifier(fake_slack, graph, S3ObjectStore(client, BUCKET))
    request = _request(store, "req_backlog000001")
    for event in ("created", "plan_ready", "approved", "merged"):
        notifier.request_changed(store.get(request.id), _t(event))
    assert len(fake_slack.of("chat.update")) == 3
    assert calls == Counter()  # no LIST (and no other S3 call) on the happy path


def test_a_miss_is_listed_at_the_next_notification_then_forgotten(
    fake_slack: FakeSlack, s3: tuple[Any, Counter[str]]
) -> None:
    client, calls = s3
    graph = service_graph()
    store = graph.store
    notifier = _notifier(fake_slack, graph, S3ObjectStore(client, BUCKET))
    request, other = _request(store, "req_backlog000002"), _request(store, "req_backlog000003")
    notifier.request_changed(store.get(request.id), _t("created"))
    notifier.request_changed(store.get(other.id), _t("created"))
    _fail_updates(fake_slack)
    notifier.request_changed(store.get(request.id), _t("plan_ready"))
    assert calls == Counter({"PutObject": 1})  # the miss, recorded once
    calls.clear()
    notifier.request_changed(store.get(other.id), _t("plan_ready"))
    assert calls == Counter()  # another request's notification does not list
    replies_before = len(fake_slack.of("chat.postMessage"))
    notifier.request_changed(store.get(request.id), _t("approved"))
    assert calls == Counter({"ListObjectsV2": 1, "GetObject": 1, "DeleteObject": 1})
    assert len(fake_slack.of("chat.postMessage")) == replies_before + 2  # the reply, then the missed one
    calls.clear()
    notifier.request_changed(store.get(request.id), _t("merged"))
    assert calls == Counter()  # rendered: forgotten, no listing again


def test_a_miss_recorded_elsewhere_is_found_by_a_full_pass(s3: tuple[Any, Counter[str]]) -> None:
    client, calls = s3
    objects = S3ObjectStore(client, BUCKET)
    RenderBacklog(objects).record("req_backlog000004", _t("plan_ready"), at=NOW)  # another process
    here = RenderBacklog(objects)
    assert list(here.missed("req_backlog000004")) == []  # not known here: no listing
    assert calls["ListObjectsV2"] == 0
    found = list(here.missed())  # the reconciler's pass
    assert [m.request_id for m in found] == ["req_backlog000004"] and calls["ListObjectsV2"] == 1
    assert here.known_missing("req_backlog000004")  # not rendered by that pass: still known
    assert [m.key for m in here.missed("req_backlog000004")] == [found[0].key]
    for missed in here.missed("req_backlog000004"):
        here.done(missed)
    assert not here.known_missing("req_backlog000004")
