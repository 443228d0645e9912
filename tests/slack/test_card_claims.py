"""One card across processes: two processes (replicas, or the bot and the web side service)
telling the first notices of one request at once post one card. Each process is its own
``bootstrap.build`` (its own request store, bus, notifier and caches) over one shared object
store, with the real Slack notifier against the local fake Slack Web API. The post is claimed
through the engine first; the loser waits for the winner's ts and updates that card. A claim
whose owner died lapses; a failed post releases its claim; a post whose ts could not be recorded
keeps it (released, another process would post a second card) until the poster's next
notification records the ts."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.bootstrap import build
from bot.card_claim import CardClaims
from bot.deps import Deps
from bot.slack_notifier import SlackNotifier
from core.domain.request import Request
from core.ports.notifier import Transition
from core.services.cards import CARD_CLAIM_TTL
from tests.fakes import InMemoryObjectStore, ManualClock
from tests.services.fake_code_host import FakeCodeHost
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import BOT_TOKEN, settings_for
from tests.slack.helpers import CARD_CHANNEL, FailingWhile, threaded_request

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _process(fake: FakeSlack, data_dir: Path, objects: InMemoryObjectStore, clock: ManualClock) -> Deps:
    """One process's graph, as ``tfpilot serve`` builds it (the Slack notifier from the
    settings), sharing only the bucket (``objects``) with the others."""
    return build(settings_for(fake, data_dir), objects=objects, clock=clock, code_host=FakeCodeHost(clock=clock))


def _request(deps: Deps, rid: str) -> Request:
    return deps.store.create(threaded_request(rid, at=NOW))


def _t(event: str) -> Transition:
    return Transition(event=event, previous_status=None, status="planning")


def _cards(fake: FakeSlack) -> list[str]:
    """The ts of every card message (thread parents) Slack took in the request's channel."""
    return [ts for (channel, ts), m in fake.messages.items() if channel == CARD_CHANNEL and "thread_ts" not in m]


def _replies(fake: FakeSlack, ts: str) -> list[str]:
    return [c.text() for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == ts]


def _notifier(fake: FakeSlack, deps: Deps, claims: CardClaims) -> SlackNotifier:
    """Another process's notifier with a short wait for another's claim (and no client retry)."""
    notifier = SlackNotifier(WebClient(token=BOT_TOKEN, base_url=fake.api_url), objects=deps.objects, claims=claims)
    notifier.connect(deps.requests, deps.queries.get)
    return notifier


def test_two_processes_telling_first_notices_at_once_post_one_card(fake_slack: FakeSlack, tmp_path: Path) -> None:
    objects, clock = InMemoryObjectStore(), ManualClock()
    one, two = (_process(fake_slack, tmp_path / name, objects, clock) for name in ("one", "two"))
    request = _request(one, "req_claims000001")
    # Slack takes its time: whoever posts holds the claim while the other one asks.
    fake_slack.slow("chat.postMessage", 0.4)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def tell(deps: Deps, event: str) -> None:
        try:
            barrier.wait()
            # Both were handed the committed document of their write: no card ts in either.
            deps.notifier.request_changed(request, _t(event))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=tell, args=(one, "created")),
        threading.Thread(target=tell, args=(two, "planning")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors

    posts = [c for c in fake_slack.of("chat.postMessage") if "thread_ts" not in c.params]
    assert len(posts) == 1  # exactly one chat.postMessage for the card
    (ts,) = _cards(fake_slack)
    for deps in (one, two):
        stored = deps.queries.get(request.id)
        assert stored.slack is not None and stored.slack.ts == ts and stored.slack.claim is None
        assert deps.notifier._card_ts(request) == ts  # type: ignore[attr-defined]  # both know the card
    # The loser updated the winner's card, and both replies are in its thread.
    assert [c.params["ts"] for c in fake_slack.of("chat.update")] == [ts]
    assert len(_replies(fake_slack, ts)) == 2


def test_a_claim_whose_owner_died_lapses_and_the_card_goes_out(
    fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    objects, clock = InMemoryObjectStore(), ManualClock()
    deps = _process(fake_slack, tmp_path, objects, clock)
    request = _request(deps, "req_claims000002")
    assert deps.requests.claim_card(request.id, "4242-dead").post  # claimed, then the process died
    notifier = _notifier(fake_slack, deps, CardClaims(wait=0.3, poll=0.05))

    with caplog.at_level(logging.WARNING):
        notifier.request_changed(request, _t("created"))  # waits for the dead owner's ts, in vain
    assert _cards(fake_slack) == []
    assert "slack notification of req_claims000002 (created) deferred" in caplog.text
    assert "being posted by another process" in caplog.text
    assert notifier.render_missed() == 0  # the claim is still live: the miss stays
    assert _cards(fake_slack) == []

    clock.advance(seconds=CARD_CLAIM_TTL.total_seconds() + 1)
    assert notifier.render_missed() == 1  # the reconciler's pass: the claim lapsed
    (ts,) = _cards(fake_slack)
    stored = deps.queries.get(request.id)
    assert stored.slack is not None and stored.slack.ts == ts and stored.slack.claim is None
    assert len(_replies(fake_slack, ts)) == 1


def test_a_post_slack_refused_releases_its_claim(fake_slack: FakeSlack, tmp_path: Path) -> None:
    objects, clock = InMemoryObjectStore(), ManualClock()
    deps = _process(fake_slack, tmp_path, objects, clock)
    request = _request(deps, "req_claims000003")
    notifier = _notifier(fake_slack, deps, CardClaims(wait=0.3, poll=0.05))
    fake_slack.fail_next("chat.postMessage", 500, error="internal_error")  # this client does not retry
    notifier.request_changed(request, _t("created"))
    stored = deps.queries.get(request.id)
    assert stored.slack is not None and stored.slack.ts is None and stored.slack.claim is None

    # Another process (a short wait: a claim still held would make it give up) posts at once.
    other = _notifier(fake_slack, deps, CardClaims(wait=0.0, poll=0.05))
    other.request_changed(request, _t("planning"))
    (ts,) = _cards(fake_slack)
    assert deps.queries.get(request.id).slack.ts == ts  # type: ignore[union-attr]


def _posted_not_recorded(
    fake_slack: FakeSlack, tmp_path: Path, clock: ManualClock, request_id: str
) -> tuple[Deps, Request, SlackNotifier, FailingWhile, str]:
    """A request whose card the winner posted while recording its ts failed: the graph, the
    request, the winner, its failing engine, and the card's ts."""
    deps = _process(fake_slack, tmp_path, InMemoryObjectStore(), clock)
    request = _request(deps, request_id)
    winner = _notifier(fake_slack, deps, CardClaims(wait=0.3, poll=0.05))
    engine = FailingWhile(deps.requests, "record_card")
    winner.connect(engine, deps.queries.get)  # type: ignore[arg-type]
    winner.request_changed(request, _t("created"))
    (ts,) = _cards(fake_slack)
    return deps, request, winner, engine, ts


def test_a_card_posted_but_not_recorded_keeps_its_claim_and_is_recorded_on_the_next_notification(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    clock = ManualClock()
    deps, request, winner, engine, ts = _posted_not_recorded(fake_slack, tmp_path, clock, "req_claims000004")
    stored = deps.queries.get(request.id)
    # The claim is kept, not released: released, another process would post a second card now.
    assert stored.slack is not None and stored.slack.ts is None
    assert stored.slack.claim is not None and stored.slack.claim.owner == winner._claims.owner  # type: ignore[attr-defined]

    other = _notifier(fake_slack, deps, CardClaims(wait=0.0, poll=0.05))
    other.request_changed(request, _t("planning"))  # the claim is held: deferred, no card
    assert _cards(fake_slack) == [ts]

    # The store is back: the winner's next notification records its card first (ending the
    # claim), then updates it; the other process's missed render then finds the ts.
    engine.failing = False
    winner.request_changed(deps.queries.get(request.id), _t("plan_dispatched"))
    stored = deps.queries.get(request.id)
    assert stored.slack is not None and stored.slack.ts == ts and stored.slack.claim is None
    assert other.render_missed() == 1
    assert _cards(fake_slack) == [ts]
    assert len(_replies(fake_slack, ts)) == 3  # created, plan_dispatched, and the missed planning


def test_the_reconcilers_pass_records_a_card_whose_ts_could_not_be_recorded_before_its_claim_lapses(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    clock = ManualClock()
    deps, request, winner, engine, ts = _posted_not_recorded(fake_slack, tmp_path, clock, "req_claims000005")
    other = _notifier(fake_slack, deps, CardClaims(wait=0.0, poll=0.05))
    other.request_changed(request, _t("planning"))  # deferred: the claim is held

    # The pass while the store still fails: nothing recorded (the backlog is shared, so the
    # winner renders the other's missed reply on the card it knows).
    winner.render_missed()
    assert deps.queries.get(request.id).slack.ts is None  # type: ignore[union-attr]
    engine.failing = False
    clock.advance(seconds=60)  # the next pass, a minute later, within the claim
    winner.render_missed()
    stored = deps.queries.get(request.id)
    assert stored.slack is not None and stored.slack.ts == ts and stored.slack.claim is None

    # Long after the claim would have lapsed, the other process tells the next transition on
    # the same card: no second card.
    clock.advance(seconds=CARD_CLAIM_TTL.total_seconds() * 2)
    other.request_changed(deps.queries.get(request.id), _t("plan_dispatched"))
    other.render_missed()
    assert _cards(fake_slack) == [ts]
    assert len(_replies(fake_slack, ts)) == 3  # created, planning (missed, rendered), plan_dispatched
