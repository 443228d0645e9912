"""Claims on approvers' copies of the card lapse: a process that claimed a copy and died does not
block it for good, and a copy left to post (Slack refused it for a passing reason, or another
process holds its claim) goes out at the reconciler's pass (``render_missed``) once it can.

The real notifier (``build_slack_notifier``) against the fake Slack Web API, over the harness's
store and dedupe markers; another process is another notifier with its own clock. Asserts on
state: the messages Slack holds and the copies recorded on the stored request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.card_copies import COPY_CLAIM_LAPSE, Destination, copy_claim_key
from bot.slack_notifier import SlackNotifier, build_slack_notifier
from bot.slack_render_backlog import COPIES_PREFIX
from bot.slack_retry import SERVER_ERROR_RETRIES
from core.domain.request import PlanOutput
from core.ports.notifier import Transition
from core.services.claims import LapsingClaims
from tests.fakes import ManualClock
from tests.slack.harness import APPROVER, BOT_TOKEN, PROD_APPROVER, Harness
from tests.slack.helpers import FailingWhile, create_request, thread_replies
from tests.slack.test_approvals import DM, PUBLIC, retry_plan_ready

PLAN_READY = Transition(event="plan_ready", previous_status="planning", status="plan_ready")


def _other_process(h: Harness, clock: ManualClock, *, record: Any = None) -> SlackNotifier:
    """Another replica's notifier: same store and markers, its own client, locks and clock."""
    notifier = build_slack_notifier(
        h.deps.settings,
        objects=h.deps.objects,
        client=WebClient(token=BOT_TOKEN, base_url=h.fake.api_url),
        projects=h.deps.projects,
        clock=clock,
    )
    notifier.connect(record or h.deps.requests, h.deps.queries.get)
    return notifier


def _copies_in(h: Harness, channel: str) -> list[str]:
    """The ts of every card copy (not thread replies) Slack holds in ``channel``."""
    return [ts for (where, ts), m in h.fake.messages.items() if where == channel and "thread_ts" not in m]


def _dms(h: Harness, user: str) -> list[str]:
    return _copies_in(h, f"D{user}")


def _deliver(notifier: SlackNotifier, h: Harness, request_id: str) -> None:
    notifier.request_changed(h.deps.store.get(request_id), PLAN_READY)


def _claimed_by_a_dead_process(h: Harness, request_id: str) -> tuple[str, datetime]:
    """Claim the channel copy of the coming plan_ready as a process that then died: its key and
    when it was taken (now: the harness's notifier runs on the system clock)."""
    stored = h.deps.store.get(request_id)
    run = stored.run("plan")
    assert run is not None
    planned = stored.model_copy(update={"plan": PlanOutput(run_id=run.run_id)})
    key = copy_claim_key(planned, Destination("channel", PUBLIC), PLAN_READY)
    died_at = datetime.now(UTC)
    assert LapsingClaims(h.deps.objects, "dedupe/slack", lapse=COPY_CLAIM_LAPSE).take(key, now=died_at)
    return key, died_at


def test_a_copy_whose_claimer_died_is_posted_by_the_first_retry_after_the_lapse(start: Callable[..., Harness]) -> None:
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC, bot_member=True)
    request = create_request(h, channel=DM)
    # A process took the claim on the copy of this plan's plan_ready and died before posting it.
    key, died_at = _claimed_by_a_dead_process(h, request.id)

    h.finish_run(request.id, "plan")  # plan_ready: this process finds the copy claimed
    assert copy_claim_key(h.deps.store.get(request.id), Destination("channel", PUBLIC), PLAN_READY) == key
    assert _copies_in(h, PUBLIC) == [] and h.deps.store.get(request.id).card_copies == []

    # The transition retried by another process before the lapse: still none.
    clock = ManualClock(died_at + COPY_CLAIM_LAPSE - timedelta(seconds=1))
    other = _other_process(h, clock)
    _deliver(other, h, request.id)
    assert _copies_in(h, PUBLIC) == [] and h.deps.store.get(request.id).card_copies == []

    # After the lapse: exactly one copy, recorded; later retries post no other.
    clock.advance(seconds=1)
    _deliver(other, h, request.id)
    (copy_ts,) = _copies_in(h, PUBLIC)
    assert [(c.kind, c.channel, c.ts) for c in h.deps.store.get(request.id).card_copies] == [
        ("channel", PUBLIC, copy_ts)
    ]
    clock.advance(minutes=30)
    _deliver(other, h, request.id)
    retry_plan_ready(h, request.id)
    assert _copies_in(h, PUBLIC) == [copy_ts]
    assert len(h.deps.store.get(request.id).card_copies) == 1


def _slack_down(h: Harness, method: str) -> None:
    """``method`` answers 500 for every try of one call, the client's retries included."""
    for _ in range(SERVER_ERROR_RETRIES + 1):
        h.fake.fail_next(method, 500, error="internal_error")


def test_a_dm_copy_slack_refused_is_posted_when_the_transition_is_retried(harness: Harness) -> None:
    h = harness
    request = create_request(h, channel=DM)
    _slack_down(h, "conversations.open")  # the first approver's DM cannot be opened
    h.finish_run(request.id, "plan")
    copies = h.deps.store.get(request.id).card_copies
    assert len(copies) == 1
    (refused,) = {APPROVER, PROD_APPROVER} - {c.user for c in copies}
    assert _dms(h, refused) == []

    retry_plan_ready(h, request.id)  # the same transition again, the same process, at once
    copies = h.deps.store.get(request.id).card_copies
    assert sorted(c.user or "" for c in copies) == sorted([APPROVER, PROD_APPROVER])
    assert len(_dms(h, APPROVER)) == 1 and len(_dms(h, PROD_APPROVER)) == 1
    retry_plan_ready(h, request.id)
    assert len(_dms(h, APPROVER)) == 1 and len(_dms(h, PROD_APPROVER)) == 1


def _copies_left(h: Harness) -> list[str]:
    return list(h.deps.objects.list_keys(COPIES_PREFIX))


def test_a_channel_copy_slack_refused_for_a_passing_reason_goes_out_at_the_next_pass(
    start: Callable[..., Harness],
) -> None:
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC)  # public, the bot not in it: it joins, and Slack fails the join
    request = create_request(h, channel=DM)
    _slack_down(h, "conversations.join")
    h.finish_run(request.id, "plan")
    assert _copies_in(h, PUBLIC) == [] and h.deps.store.get(request.id).card_copies == []
    # Slack's side failed: nothing for anyone to fix, so the thread is not asked to.
    assert not any("internal_error" in r or "approvals_channel" in r for r in thread_replies(h, request.id))
    assert len(_copies_left(h)) == 1

    # The reconciler's pass (every minute) posts it, once, and nothing is left.
    assert h.deps.notifier.render_missed() == 1
    (copy_ts,) = _copies_in(h, PUBLIC)
    assert [c.ts for c in h.deps.store.get(request.id).card_copies] == [copy_ts]
    assert _copies_left(h) == []
    h.deps.notifier.render_missed()
    retry_plan_ready(h, request.id)
    assert _copies_in(h, PUBLIC) == [copy_ts]


def test_a_copy_whose_claimer_died_goes_out_at_the_first_pass_after_the_lapse(start: Callable[..., Harness]) -> None:
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC, bot_member=True)
    request = create_request(h, channel=DM)
    _, died_at = _claimed_by_a_dead_process(h, request.id)
    h.finish_run(request.id, "plan")  # finds the copy claimed: left for the pass
    assert _copies_in(h, PUBLIC) == [] and len(_copies_left(h)) == 1

    # This replica's passes (its own clock): before the lapse nothing, and the entry stays.
    clock = ManualClock(died_at + COPY_CLAIM_LAPSE - timedelta(seconds=1))
    other = _other_process(h, clock)
    other.render_missed()
    assert _copies_in(h, PUBLIC) == [] and len(_copies_left(h)) == 1
    clock.advance(seconds=1)
    assert other.render_missed() == 1
    (copy_ts,) = _copies_in(h, PUBLIC)
    assert [c.ts for c in h.deps.store.get(request.id).card_copies] == [copy_ts]
    assert _copies_left(h) == []


def test_copies_left_to_post_are_dropped_once_the_request_moved_on(start: Callable[..., Harness]) -> None:
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC)
    request = create_request(h, channel=DM)
    _slack_down(h, "conversations.join")
    h.finish_run(request.id, "plan")
    assert len(_copies_left(h)) == 1
    # Approved meanwhile (in another channel): a copy asking for approval is moot.
    h.deps.store.update(request.id, lambda r: r.model_copy(update={"status": "approved"}))
    h.deps.notifier.render_missed()
    assert _copies_in(h, PUBLIC) == [] and _copies_left(h) == []


def test_a_channel_refusal_someone_must_fix_keeps_its_claim(start: Callable[..., Harness]) -> None:
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC)
    h.fake.fail_next("conversations.join", 200, error="is_archived")
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    retry_plan_ready(h, request.id)  # would fail the same way: no second note in the thread
    assert len([r for r in thread_replies(h, request.id) if "is_archived" in r]) == 1
    assert _copies_in(h, PUBLIC) == [] and h.deps.store.get(request.id).card_copies == []


def test_a_copy_posted_but_not_recorded_is_posted_again_only_after_the_lapse(start: Callable[..., Harness]) -> None:
    # The documented cost of the lapse: a copy Slack took but the store did not record is, to
    # another try, a copy never posted. Within the lapse a retry posts none; after it, one more.
    h = start(project=PUBLIC)
    h.fake.add_channel(PUBLIC, bot_member=True)
    request = create_request(h, channel=DM)
    h.finish_run(request.id, "plan")
    (first,) = _copies_in(h, PUBLIC)
    # A later transition awaiting approval, told by another process whose record of the copy
    # fails: forget the recorded copy so that it posts one (its own claim: another event).
    h.deps.store.update(request.id, lambda r: r.model_copy(update={"card_copies": []}))
    clock = ManualClock(datetime.now(UTC))
    engine = FailingWhile(h.deps.requests, "record_card_copies")
    other = _other_process(h, clock, record=engine)
    voided = Transition(event="approval_voided", previous_status="approved", status="plan_ready")
    other.request_changed(h.deps.store.get(request.id), voided)
    assert len(_copies_in(h, PUBLIC)) == 2 and h.deps.store.get(request.id).card_copies == []

    engine.failing = False
    clock.advance(seconds=COPY_CLAIM_LAPSE.total_seconds() - 1)
    other.request_changed(h.deps.store.get(request.id), voided)
    assert len(_copies_in(h, PUBLIC)) == 2  # the claim holds: no third copy
    clock.advance(seconds=1)
    other.request_changed(h.deps.store.get(request.id), voided)
    copies = _copies_in(h, PUBLIC)
    assert len(copies) == 3 and copies[0] == first
    assert [c.ts for c in h.deps.store.get(request.id).card_copies] == [copies[-1]]
