"""``ChatTurnWriter``: appends the assistant's chat-log entries off the reply's critical path.

The chat log is an audit aid (an S3 bucket in production): a slow or failing bucket must never
hold up or fail a reply. Each turn's entries go to one worker thread through a bounded queue, in
order; the caller waits at most ``wait`` seconds for them (so a healthy log is written before
the reply goes out, and tests and the console read it at once), then moves on while the worker
finishes. When the backlog is full, new entries are dropped with a warning rather than queued
without bound. The worker starts on the first write and exits after ``idle_exit`` seconds
without work, so an idle service holds no thread. ``flush`` waits for the backlog (shutdown).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from core.ports.chat_log import ChatEntry, ChatLog

log = logging.getLogger(__name__)

DEFAULT_WAIT = 1.0
DEFAULT_MAX_PENDING = 500  # turns


class ChatTurnWriter:
    def __init__(
        self,
        chat_log: ChatLog,
        *,
        wait: float = DEFAULT_WAIT,
        max_pending: int = DEFAULT_MAX_PENDING,
        idle_exit: float = 5.0,
    ) -> None:
        self.chat_log = chat_log
        self.wait = wait
        self.idle_exit = idle_exit
        self._queue: queue.Queue[tuple[Sequence[ChatEntry], threading.Event]] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.dropped = 0  # turns not logged because the backlog was full

    def write(self, entries: Sequence[ChatEntry]) -> bool:
        """Queue one turn's entries and wait up to ``wait`` seconds; True when they were written
        (or failed and were logged as such) within that time. Never raises."""
        done = threading.Event()
        try:
            self._queue.put_nowait((list(entries), done))
        except queue.Full:
            self.dropped += 1
            log.warning("chat log backlog full: a turn of %s was not logged", entries[0].session_id if entries else "?")
            return False
        self._ensure_worker()
        return done.wait(self.wait) if self.wait > 0 else done.is_set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every turn queued so far was handled (True), or ``timeout`` seconds passed."""
        done = threading.Event()
        try:
            self._queue.put(((), done), timeout=timeout)  # handled after everything queued before it
        except queue.Full:
            return False
        self._ensure_worker()
        return done.wait(timeout)

    # --- internals ---------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="tfpilot-chat-log", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            try:
                entries, done = self._queue.get(timeout=self.idle_exit)
            except queue.Empty:
                with self._lock:
                    # Exit only if nothing arrived meanwhile; a writer that finds this thread
                    # gone starts another.
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            for entry in entries:
                try:
                    self.chat_log.append(entry)
                except Exception:  # the chat log is an audit aid: it must never fail a reply
                    log.exception("chat log append failed for session %s", entry.session_id)
            done.set()
