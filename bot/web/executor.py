"""``BoundedExecutor``: the webhook worker pool, with a queue that refuses instead of growing.

``concurrent.futures.ThreadPoolExecutor`` queues without bound; a burst of deliveries must not
pile up in memory while GitHub waits, so a semaphore caps work in flight (running + queued).
The webhook route ``reserve()``s a slot before it records the delivery as seen: when none is
free it answers 503 without marking the delivery, so a redelivery is not mistaken for a replay.
A given ``Executor`` (tests pass an inline one) is wrapped, not owned. Work runs in a copy of
the submitting context, so the delivery's correlation id follows it into the worker thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

DEFAULT_WORKERS = 4
DEFAULT_QUEUE = 256


class BoundedExecutor:
    def __init__(
        self,
        executor: Executor | None = None,
        *,
        max_workers: int = DEFAULT_WORKERS,
        max_queue: int = DEFAULT_QUEUE,
        name: str = "tfpilot-webhook",
    ) -> None:
        if max_workers < 1 or max_queue < 0:
            raise ValueError("max_workers must be >= 1 and max_queue >= 0")
        self._owned = executor is None
        self._pool = executor or ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self.capacity = max_workers + max_queue
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reserve(self) -> bool:
        """Take one slot without blocking; False when the pool is full or shut down."""
        if self._closed or not self._slots.acquire(blocking=False):
            return False
        with self._lock:
            self._in_flight += 1
        return True

    def release(self) -> None:
        """Give back a slot ``reserve()`` took and no work used."""
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()
        self._slots.release()

    def submit_reserved(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on a reserved slot (released when it finishes, however it ends)."""
        context = contextvars.copy_context()
        try:
            future = self._pool.submit(context.run, fn, *args)
        except BaseException:
            self.release()
            raise
        future.add_done_callback(lambda _f: self.release())
        return future

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is in flight; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        self._closed = True
        if self._owned:
            self._pool.shutdown(wait=wait)
        elif wait:
            self.wait_idle(timeout=30.0)


class InlineExecutor(Executor):
    """Runs work on the submitting thread (deterministic tests, the bench's baseline)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future
