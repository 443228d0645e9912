"""The card commands of the engine (``core.services.cards``): where the notifier posted a
request's card and its copies is recorded by one compare-and-swap each, idempotently, with the
events this process handled pruned like every engine write."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain.request import CardCopy, SlackThread
from tests.services.conftest import create_cmd, service_graph

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _copy(kind: str, channel: str, ts: str, user: str | None = None) -> CardCopy:
    return CardCopy(kind=kind, channel=channel, ts=ts, user=user, posted_at=AT)


def test_copies_are_recorded_once_per_place_and_the_handled_events_pruned() -> None:
    graph = service_graph()
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T1", channel="D0DEV0001")))
    before = graph.store.get(created.id)
    assert before.outbox  # handled by this process's bus, still in the document

    channel = _copy("channel", "C0APPROVE1", "111.1")
    first = graph.requests.record_card_copies(created.id, [channel])
    assert first.card_copies == [channel] and first.version == before.version + 1
    assert first.outbox == []  # the events handled here left with this write

    # The same copy again (a retried transition), or another post to the same place: no write.
    assert graph.requests.record_card_copies(created.id, [channel]).version == first.version
    again = graph.requests.record_card_copies(created.id, [_copy("channel", "C0APPROVE1", "222.2")])
    assert again.version == first.version and again.card_copies == [channel]

    # Approvers' DMs are places by approver: two approvers, two copies; one already kept.
    dms = [_copy("dm", "D0APP0001", "333.3", "U0APP0001"), _copy("dm", "D0APP0002", "444.4", "U0APP0002")]
    both = graph.requests.record_card_copies(created.id, dms)
    assert both.card_copies == [channel, *dms] and both.version == first.version + 1
    dup = graph.requests.record_card_copies(created.id, [_copy("dm", "D0OTHER01", "555.5", "U0APP0002")])
    assert dup.card_copies == [channel, *dms] and dup.version == both.version
    assert graph.store.get(created.id).card_copies == [channel, *dms]


def test_the_card_ts_is_recorded_once() -> None:
    graph = service_graph()
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T1", channel="C0CARDS01")))
    recorded = graph.requests.record_card(created.id, "1700000000.000200")
    assert recorded.slack is not None and recorded.slack.ts == "1700000000.000200"
    assert graph.requests.record_card(created.id, "1700000000.000200").version == recorded.version
