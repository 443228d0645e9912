"""The local forge's work after a call returns: fact deliveries and run executions, strictly in
order, one at a time and outside any repository lock, in a worker thread (``thread``), before
the call returns (``inline``) or only when ``drain()`` is called (``manual``)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from core.domain.facts import Fact

log = logging.getLogger(__name__)

RunnerMode = Literal["thread", "inline", "manual"]
FactHandler = Callable[[Fact], object]


def sleep_until(deadline: float) -> None:
    wait = deadline - time.monotonic()
    if wait > 0:
        time.sleep(wait)


class ForgeTasks:
    """The queue of pending work and where facts go (``on_fact``)."""

    def __init__(self, runner_mode: RunnerMode, on_fact: FactHandler | None, pickup_delay: float) -> None:
        if runner_mode not in ("thread", "inline", "manual"):
            raise ValueError(f"runner_mode must be thread, inline or manual, not {runner_mode!r}")
        self.runner_mode: RunnerMode = runner_mode
        self.on_fact = on_fact
        self._tasks: collections.deque[Callable[[], None]] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._worker: threading.Thread | None = None
        self._closed = False
        self._drain_lock = threading.Lock()
        # GitHub takes seconds to start a run and a moment to deliver a webhook, so the service
        # that made a call has recorded its result before any fact about it arrives; the worker
        # waits this long before a run or a fact to keep that true.
        self.pickup_delay = pickup_delay if runner_mode == "thread" else 0.0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued fact and run is done; False on timeout."""
        if self.runner_mode != "thread":
            self.drain()
            return not self._tasks
        with self._cond:
            return self._cond.wait_for(lambda: not self._tasks and not self._busy, timeout=timeout)

    def drain(self) -> int:
        """Run every pending task in the calling thread; returns how many ran."""
        done = 0
        while True:
            if not self._drain_lock.acquire(blocking=False):
                return done  # another caller (or an outer frame of this one) is draining
            try:
                while True:
                    with self._cond:
                        if not self._tasks:
                            break
                        task = self._tasks.popleft()
                        self._busy = True
                    try:
                        task()
                        done += 1
                    finally:
                        with self._cond:
                            self._busy = False
                            self._cond.notify_all()
            finally:
                self._drain_lock.release()
            with self._cond:
                if not self._tasks:
                    return done

    def close(self) -> None:
        """Stop the worker thread after the queued work is done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30)

    def enqueue(self, task: Callable[[], None]) -> None:
        """Queue work to run after the current call; starts the worker in ``thread`` mode."""
        with self._cond:
            self._tasks.append(task)
            self._cond.notify_all()
            if self.runner_mode == "thread" and (self._worker is None or not self._worker.is_alive()):
                self._closed = False
                self._worker = threading.Thread(target=self._work, name="tfpilot-local-runner", daemon=True)
                self._worker.start()

    def after_call(self) -> None:
        """End of a forge call: in ``inline`` mode the work it caused is done before it returns."""
        if self.runner_mode == "inline":
            self.drain()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._tasks) or self._closed)
                if not self._tasks and self._closed:
                    return
            self.drain()

    def _emit(self, fact: Fact) -> None:
        handler = self.on_fact
        if handler is None:
            return
        try:
            handler(fact)
        except Exception:  # a failing consumer must not stop the forge; the reconciler catches up
            log.exception("fact handler failed for %s %s", fact.type, fact.request_id)

    def queue_fact(self, fact: Fact | None) -> None:
        """Deliver ``fact`` after the current call returns (None: nothing to deliver)."""
        if fact is None:
            return
        # A webhook reaches TfPilot a moment after the call that caused it returned; the caller
        # has recorded what it did by then, as with GitHub (thread mode only; no delay otherwise).
        not_before = time.monotonic() + self.pickup_delay

        def deliver() -> None:
            sleep_until(not_before)
            self._emit(fact)

        self.enqueue(deliver)

    def emit_now(self, fact: Fact | None) -> None:
        """Deliver ``fact`` in the calling thread (a run reporting as it goes)."""
        if fact is not None:
            self._emit(fact)
