"""The reconciler's driver: runs ``ReconcileService`` passes every ``interval`` seconds.

What a pass works on, under which lease, and what it does to each request is decided in
``core.services.reconcile`` (so a lost webhook delays an update, never loses it). This module
keeps what belongs to the running process: the daemon thread (``start()``/``stop()``, run by
the web app's lifespan), one pass at a time, a correlation id per pass for the logs, the
``tfpilot_reconciler_*`` metrics, the hourly sweep of abandoned intake conversations, and the
Slack cards and replies that failed after the client's retries (rendered again each pass).
``run_once()`` is the unit tests drive.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.web.logging import correlation, new_correlation_id
from core.adapters.index_migration import MigrationOutcome
from core.services.reconcile import (
    DEFAULT_MAX_PER_PASS,
    DEFAULT_RESUME_LOOKBACK,
    ReconcilePolicy,
    ReconcileReport,
    ReconcileService,
)
from core.services.reconcile_claims import LEASE_PREFIX

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.web.metrics import WebMetrics

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_INTERVAL_SECONDS", "LEASE_PREFIX", "SESSION_SWEEP_EVERY", "ReconcileReport", "Reconciler"]

DEFAULT_INTERVAL_SECONDS = 60.0
SESSION_SWEEP_EVERY = timedelta(hours=1)
INDEX_UPGRADE_RECHECK = timedelta(minutes=5)


class HostLock:
    """An exclusive ``flock`` on a file, held until the process exits: the workers of one
    ``tfpilot serve --workers N`` elect the one that reconciles. The kernel releases it when
    that worker dies, and another takes it at its next interval. (Across replicas the passes
    already coordinate through the per-request leases of ``core.services.reconcile``.)"""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process holds the lock (taking it if it is free)."""
        if self._fd is not None:
            return True
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("this worker runs the reconciler (lock %s)", self.path)
        return True

    @property
    def held(self) -> bool:
        return self._fd is not None


class Reconciler:
    def __init__(
        self,
        deps: Deps,
        *,
        stale_after: timedelta | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        max_per_pass: int = DEFAULT_MAX_PER_PASS,
        resume_lookback: timedelta = DEFAULT_RESUME_LOOKBACK,
        metrics: WebMetrics | None = None,
        sweep_every: timedelta = SESSION_SWEEP_EVERY,
        host_lock: HostLock | None = None,
    ) -> None:
        self._deps = deps
        self._host_lock = host_lock
        self.sweep_every = sweep_every
        self._last_sweep: datetime | None = None
        self._index_checked: datetime | None = None
        self._index_upgraded = False
        self.stale_after = stale_after or timedelta(minutes=deps.settings.reconcile_minutes)
        self.interval = interval
        self._metrics = metrics
        self._service = ReconcileService(
            deps.store,
            deps.objects,
            deps.clock,
            ReconcilePolicy(self.stale_after, resume_lookback=resume_lookback, max_per_pass=max_per_pass),
            sync=deps.sync.sync,
            resume=deps.requests.resume,
            drain=deps.bus.handle,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    # --- one pass -------------------------------------------------------------------------

    def run_once(self) -> ReconcileReport:
        with self._pass_lock, correlation(new_correlation_id("reconcile")):
            self._upgrade_index(self._deps.clock.now())
            report = self._service.run_once()
            report.sessions_swept = self._sweep_sessions(self._deps.clock.now())
            report.cards_rendered = self._render_missed_cards()
            if self._metrics is not None:
                self._metrics.reconciler_passes.inc()
                self._metrics.reconciler_actions.labels("sync").inc(len(report.synced))
                self._metrics.reconciler_actions.labels("resume").inc(len(report.resumed))
                self._metrics.reconciler_actions.labels("error").inc(len(report.errors))
            if report.synced or report.resumed or report.errors:
                log.info(
                    "reconciler pass: %d synced, %d resumed, %d errors",
                    len(report.synced),
                    len(report.resumed),
                    len(report.errors),
                )
            return report

    def _upgrade_index(self, now: datetime) -> None:
        """A store still holding the previous (sharded) index is rebuilt before the pass reads
        the index: one LIST at the first pass when there is nothing to do, then never again. When
        another replica holds the migration lease (or the storage failed) it looks again after
        ``INDEX_UPGRADE_RECHECK``; a store without the hook (fakes) has nothing to upgrade."""
        if self._index_upgraded:
            return
        if self._index_checked is not None and now - self._index_checked < INDEX_UPGRADE_RECHECK:
            return
        self._index_checked = now
        upgrade = getattr(self._deps.store, "upgrade_legacy_index", None)
        if upgrade is None:
            self._index_upgraded = True
            return
        outcome = upgrade()
        self._index_upgraded = outcome in {MigrationOutcome.NOT_NEEDED, MigrationOutcome.MIGRATED}

    def _render_missed_cards(self) -> int:
        """Cards and replies Slack refused earlier go out again (a notifier without a backlog,
        such as the console's, has none); a failure waits for the next pass."""
        render = getattr(self._deps.notifier, "render_missed", None)
        if render is None:
            return 0
        try:
            rendered: int = render()
        except Exception:
            log.warning("rendering missed Slack cards failed", exc_info=True)
            return 0
        if rendered:
            log.info("rendered %d missed Slack card update(s)", rendered)
        return rendered

    def _sweep_sessions(self, now: datetime) -> int:
        """Abandoned intake conversations are deleted now and then (deleting one twice, from two
        replicas, is harmless); a failure is logged and retried at the next sweep."""
        if self._last_sweep is not None and now - self._last_sweep < self.sweep_every:
            return 0
        self._last_sweep = now
        intake = self._deps.intake
        if intake is None:  # a side service built without the assistant (tests)
            return 0
        try:
            swept: int = intake.sweep_expired()
        except Exception:  # the sweep is housekeeping: it never stops reconciling
            log.warning("sweeping expired intake sessions failed", exc_info=True)
            return 0
        if swept:
            log.info("swept %d expired intake session(s)", swept)
        return swept

    # --- background thread ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tfpilot-reconciler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self._host_lock is not None and not self._host_lock.acquire():
                continue  # another worker on this host reconciles
            try:
                self.run_once()
            except Exception:
                log.exception("reconciler pass failed")
