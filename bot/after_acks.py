"""Work after acks: the queue that keeps Slack's acks ahead of the work of earlier clicks.

In HTTP mode one interpreter both acknowledges Slack requests (on the event loop) and does the
work they hand over (``Kit.later``: S3, GitHub, Slack replies, on the listener pool). All of
them share one GIL, and Python threads have no priorities: during a burst of clicks the work of
the first clicks took most of the GIL while the later clicks' acks waited (py-spy: the loop got
8% of the samples, the pool 77%). ``AckGate`` counts the acks in progress; ``AfterAcks`` is the
executor ``Kit.later`` submits to: it holds the work in a bounded queue and starts it on the
pool only once no ack is in progress and none arrived for ``quiet`` seconds, so a burst is
acknowledged first and worked on afterwards. Work waits at most ``max_hold`` seconds (a steady
stream of acks never starves it), and a full queue hands work straight to the pool (degrading
to the unqueued behaviour, never dropping a click). Work already running when a burst starts
cannot be paused: ``tfpilot serve --workers N`` gives the acks more interpreters.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_QUIET = 0.02
DEFAULT_MAX_HOLD = 2.0
DEFAULT_QUEUE = 10_000


class AckGate:
    """How many acks are in progress, and when the last one started (thread-safe)."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._cond = threading.Condition()
        self._in_flight = 0
        self._last = float("-inf")

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Wrap one ack: work is held while any ack is inside."""
        with self._cond:
            self._in_flight += 1
            self._last = self._now()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def wait_quiet(self, quiet: float, deadline: float) -> bool:
        """Block until no ack is in progress and none started in the last ``quiet`` seconds, or
        until ``deadline`` (monotonic). True when quiet, False when the deadline passed."""
        with self._cond:
            while True:
                now = self._now()
                idle_for = now - self._last
                if self._in_flight == 0 and idle_for >= quiet:
                    return True
                if now >= deadline:
                    return False
                wait = deadline - now if self._in_flight else min(quiet - idle_for, deadline - now)
                self._cond.wait(timeout=max(wait, 0.001))

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()


class AfterAcks(Executor):
    """An executor that starts each piece of work on ``pool`` once ``gate`` is quiet (see the
    module docstring). One daemon thread moves work from the queue to the pool, oldest first."""

    def __init__(
        self,
        pool: Executor,
        gate: AckGate,
        *,
        quiet: float = DEFAULT_QUIET,
        max_hold: float = DEFAULT_MAX_HOLD,
        max_queue: int = DEFAULT_QUEUE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.gate = gate
        self._quiet = quiet
        self._max_hold = max_hold
        self._max_queue = max_queue
        self._now = monotonic
        self._lock = threading.Condition()
        self._queue: collections.deque[tuple[float, Future[Any], Callable[..., Any], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="tfpilot-after-acks", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("AfterAcks.submit takes positional arguments only")
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            if len(self._queue) >= self._max_queue:
                log.warning("the after-ack queue is full (%d): work starts at once", self._max_queue)
                return self.pool.submit(fn, *args)
            future: Future[Any] = Future()
            self._queue.append((self._now(), future, fn, args))
            self._lock.notify()
        return future

    def _drain(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue:
                    return  # closed and empty
                queued_at = self._queue[0][0]
            self.gate.wait_quiet(self._quiet, queued_at + self._max_hold)
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
            for _at, future, fn, args in batch:
                self._start(future, fn, args)

    def _start(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not future.set_running_or_notify_cancel():
            return

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        try:
            self.pool.submit(run)
        except RuntimeError as exc:  # the pool is shutting down
            future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self.gate.notify()
        if wait:
            self._thread.join(timeout=self._max_hold + 5)
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
