"""Acks ahead of work: the in-memory duplicate check, the ``AckGate``/``AfterAcks`` hand-off, and
a click through the Bolt app whose work waits for the acks in progress."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.after_acks import AckGate, AfterAcks
from bot.listeners.common import Kit, first_action, first_event
from bot.listeners.recent import RecentKeys
from core.domain.lifecycle import derive_status
from core.domain.status import Status
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import APPROVER, Harness, start_harness
from tests.slack.helpers import card_buttons, click_card, create_request, eventually

# --- RecentKeys ----------------------------------------------------------------------------------


def test_recent_keys_reject_a_repeat_and_forget_the_oldest() -> None:
    recent = RecentKeys(size=2)
    assert recent.first("a") and recent.first("b")
    assert not recent.first("a")  # a repeat; "a" becomes the most recent
    assert recent.first("c")  # evicts "b", the least recently seen
    assert len(recent) == 2
    assert recent.first("b")
    assert not recent.first("c")
    recent.forget("c")
    assert recent.first("c")
    with pytest.raises(ValueError, match="at least one"):
        RecentKeys(size=0)


class CountingObjects:
    """The real object store, counting the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)

        return counted


def test_a_redelivered_click_or_event_is_dropped_before_any_store_call(harness: Harness) -> None:
    objects = CountingObjects(harness.deps.objects)
    kit = Kit.build(harness.deps)
    kit.once.__init__(objects, "dedupe/slack")  # type: ignore[misc]
    body = {"container": {"message_ts": "1800000000.000001"}}
    action = {"action_id": "req:apply", "action_ts": "1800000300.000001"}

    assert first_action(kit, body, action)
    calls = len(objects.calls)
    assert calls > 0  # the first sight wrote the cross-replica marker
    assert not first_action(kit, body, action)
    assert len(objects.calls) == calls  # the repeat never reached the store

    assert first_event(kit, {"event_id": "Ev0DUP0001"})
    calls = len(objects.calls)
    assert not first_event(kit, {"event_id": "Ev0DUP0001"})
    assert len(objects.calls) == calls

    # Another process (a fresh Kit: empty memory) still finds the marker: dropped, via the store.
    other = Kit.build(harness.deps)
    assert not first_action(other, body, action)


def test_a_store_failure_leaves_the_key_undecided(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = Kit.build(harness.deps)
    body = {"container": {"message_ts": "1800000000.000002"}}
    action = {"action_id": "req:apply", "action_ts": "1800000300.000002"}

    def unavailable(*_a: Any, **_k: Any) -> bool:
        raise OSError("S3 unavailable")

    monkeypatch.setattr(kit.once, "first", unavailable)
    with pytest.raises(OSError):
        first_action(kit, body, action)
    monkeypatch.undo()
    assert first_action(kit, body, action)  # not remembered as seen: the next delivery runs


# --- AckGate / AfterAcks -------------------------------------------------------------------------


@pytest.fixture
def after_acks() -> Iterator[tuple[AckGate, AfterAcks]]:
    gate = AckGate()
    executor = AfterAcks(ThreadPoolExecutor(max_workers=2), gate, quiet=0.0, max_hold=60.0)
    try:
        yield gate, executor
    finally:
        executor.shutdown(wait=True)


def test_work_waits_until_no_ack_is_in_progress(after_acks: tuple[AckGate, AfterAcks]) -> None:
    gate, executor = after_acks
    ran: list[str] = []
    started = threading.Event()
    released = threading.Event()

    with gate.acking():
        assert gate.in_flight == 1
        future = executor.submit(lambda: (ran.append("work"), started.set()))
        # Held: the drainer is waiting for the ack to finish (max_hold is a minute).
        assert not started.wait(0.2)
        assert ran == [] and executor.queued == 1
        released.set()
    assert started.wait(10)
    future.result(10)
    assert ran == ["work"] and gate.in_flight == 0 and executor.queued == 0


def test_work_is_not_held_forever_by_a_stream_of_acks() -> None:
    gate = AckGate()
    executor = AfterAcks(ThreadPoolExecutor(max_workers=1), gate, quiet=0.0, max_hold=0.05)
    try:
        with gate.acking():
            # max_hold passes while the ack is still in progress: the work starts anyway.
            assert executor.submit(lambda: "done").result(10) == "done"
    finally:
        executor.shutdown(wait=True)


def test_a_full_queue_starts_work_at_once_and_nothing_is_dropped() -> None:
    gate = AckGate()
    executor = AfterAcks(ThreadPoolExecutor(max_workers=1), gate, quiet=0.0, max_hold=60.0, max_queue=1)
    try:
        with gate.acking():
            held = executor.submit(lambda: "held")
            overflow = executor.submit(lambda: "overflow")
            assert overflow.result(10) == "overflow"  # bypassed the full queue
            assert not held.done()
        assert held.result(10) == "held"
    finally:
        executor.shutdown(wait=True)


def test_errors_reach_the_future_and_shutdown_refuses_new_work(after_acks: tuple[AckGate, AfterAcks]) -> None:
    _gate, executor = after_acks

    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        executor.submit(boom).result(10)
    with pytest.raises(TypeError):
        executor.submit(print, end="")
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="shutdown"):
        executor.submit(print)


# --- through the Bolt app ------------------------------------------------------------------------


@pytest.fixture
def gated(fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path) -> Iterator[tuple[Harness, AckGate]]:
    gate = AckGate()
    h = start_harness(fake_slack, tmp_path, shared_fixtures, ack_gate=gate)
    try:
        yield h, gate
    finally:
        h.close()


def _ready_to_apply(h: Harness) -> str:
    from core.domain.policy import Actor

    request = create_request(h)
    h.finish_run(request.id, "plan")
    approver = Actor(id=APPROVER)
    h.deps.requests.approve(request.id, approver)
    h.deps.requests.merge(request.id, approver)
    eventually(lambda: "req:apply" in card_buttons(h, request.id), what="the Apply button")
    return request.id


def test_a_click_is_acked_then_worked_on_once_the_burst_is_acked(gated: tuple[Harness, AckGate]) -> None:
    h, gate = gated
    request_id = _ready_to_apply(h)
    with gate.acking():  # another click's ack in progress
        response = click_card(h, APPROVER, request_id, "req:apply", action_ts="1800000400.000001")
        redelivery = click_card(h, APPROVER, request_id, "req:apply", action_ts="1800000400.000001")
        assert response.status == 200 and redelivery.status == 200
        assert not h.host.runs_of("apply.yml")  # acked; the work waits for the gate
    eventually(
        lambda: h.deps.store.get(request_id).apply_run is not None and h.host.runs_of("apply.yml"), what="the apply"
    )
    h.fake.settle()
    assert len(h.host.runs_of("apply.yml")) == 1
    assert h.deps.audit.names(request_id).count("apply_dispatched") == 1
    assert derive_status(h.deps.store.get(request_id)) is Status.APPLYING


def test_work_that_fails_after_the_ack_is_logged_and_told_to_the_user(
    gated: tuple[Harness, AckGate], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h, _gate = gated
    request_id = _ready_to_apply(h)

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("the work broke")

    monkeypatch.setattr(h.deps.requests, "apply", broken)
    with caplog.at_level(logging.ERROR):
        response = click_card(h, APPROVER, request_id, "req:apply")
        assert response.status == 200
        told = h.fake.wait_for("chat.postEphemeral")[0]
    assert "Apply failed (RuntimeError)" in told.text()
    assert any("apply of" in r.getMessage() and r.exc_info for r in caplog.records)
