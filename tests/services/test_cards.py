"""The card commands of the engine (``core.services.cards``): where the notifier posted a
request's card and its copies is recorded by one compare-and-swap each, idempotently, with the
events this process handled pruned like every engine write; the post of a card is claimed by
one owner at a time (a lapsing claim, released when the post failed)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain.request import CardCopy, SlackThread
from core.services.cards import CARD_CLAIM_TTL, CardTurn
from tests.fakes import ManualClock
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


def test_the_post_of_a_card_is_claimed_by_one_owner_until_its_ts_is_recorded() -> None:
    graph = service_graph()
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T1", channel="C0CARDS01")))
    mine = graph.requests.claim_card(created.id, "proc-a")
    assert mine == CardTurn(post=True)
    claimed = graph.store.get(created.id)
    assert claimed.slack is not None and claimed.slack.claim is not None
    assert claimed.slack.claim.owner == "proc-a" and claimed.slack.claim.until == graph.clock.now() + CARD_CLAIM_TTL
    # Asked again, the holder keeps it (no write); another is told to wait, until when.
    assert graph.requests.claim_card(created.id, "proc-a") == CardTurn(post=True)
    assert graph.requests.claim_card(created.id, "proc-b") == CardTurn(held_until=claimed.slack.claim.until)
    assert graph.store.get(created.id).version == claimed.version

    recorded = graph.requests.record_card(created.id, "1800000000.000001")
    assert recorded.slack is not None and recorded.slack.claim is None  # the ts ends the claim
    assert graph.requests.claim_card(created.id, "proc-b") == CardTurn(ts="1800000000.000001")
    # A card that can no longer be edited is replaced once: the claim names the card it replaces.
    assert graph.requests.claim_card(created.id, "proc-b", replacing="1800000000.000001").post
    assert graph.requests.claim_card(created.id, "proc-a", replacing="1800000000.000001").held_until is not None
    graph.requests.record_card(created.id, "1800000000.000002")
    assert graph.requests.claim_card(created.id, "proc-a", replacing="1800000000.000001") == CardTurn(
        ts="1800000000.000002"
    )


def test_a_dead_owner_s_claim_lapses_and_a_failed_post_releases_it() -> None:
    clock = ManualClock()
    graph = service_graph(clock=clock)
    created = graph.requests.create(create_cmd(slack=SlackThread(team_id="T1", channel="C0CARDS01")))
    assert graph.requests.claim_card(created.id, "dead").post
    clock.advance(seconds=CARD_CLAIM_TTL.total_seconds() - 1)
    assert graph.requests.claim_card(created.id, "alive").held_until is not None
    clock.advance(seconds=2)
    assert graph.requests.claim_card(created.id, "alive").post  # lapsed: taken over

    # Only the holder's release ends it.
    graph.requests.release_card(created.id, "dead")
    assert graph.requests.claim_card(created.id, "other").held_until is not None
    released = graph.requests.release_card(created.id, "alive")
    assert released.slack is not None and released.slack.claim is None
    assert graph.requests.claim_card(created.id, "other").post


def test_legacy_documents_read_without_a_claim() -> None:
    doc = {"teamId": "T1", "channel": "C1", "ts": "1.2"}
    thread = SlackThread.model_validate(doc)
    assert thread.claim is None and thread.ts == "1.2"
