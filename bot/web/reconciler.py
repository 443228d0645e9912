"""The reconciler: a slow background pass so a lost webhook delays an update, never loses it.

Each pass reads the index rows (no document reads to choose work) and picks:

- **stale** requests: not terminal (``status.meta(...).terminal`` is False) and neither synced
  nor updated for ``TFPILOT_RECONCILE_MINUTES``: ``SyncService.sync`` refreshes them from the
  code host (conditional GETs make an unchanged answer free of rate limit), oldest first;
- **possibly half-done** requests: updated within ``resume_lookback`` but longer ago than an
  operation lease (a live worker holds its lease; an expired one means its worker stopped): the
  document is read and, when an operation is unfinished, ``RequestService.resume`` finishes it.
  A (request, version) found clean is remembered, so an idle request is read once, not every
  pass. Synced requests are checked the same way with the document the sync returned.

Several replicas may run it: before touching a request, a pass takes a lease with ``Once`` on
``dedupe/reconcile/<window>/<id>`` (the window is the stale period), so one replica handles a
request per window. Old windows' markers are deleted as passes go. ``run_once()`` is the unit
tests drive; ``start()``/``stop()`` run it every ``interval`` seconds in a daemon thread (the
web app's lifespan does this).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.web.logging import correlation, new_correlation_id
from core.domain.index import IndexRow, ListFilter
from core.domain.status import meta
from core.services.once import Once
from core.services.operations import LEASE, pending

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.web.metrics import WebMetrics

log = logging.getLogger(__name__)

LEASE_PREFIX = "dedupe/reconcile"
DEFAULT_INTERVAL_SECONDS = 60.0
DEFAULT_MAX_PER_PASS = 100
DEFAULT_RESUME_LOOKBACK = timedelta(hours=24)
_CLEAN_MEMO_MAX = 50_000
_MAX_MARKER_DELETES = 500


SESSION_SWEEP_EVERY = timedelta(hours=1)


@dataclass
class ReconcileReport:
    synced: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    leased_elsewhere: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    sessions_swept: int = 0


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
    ) -> None:
        self._deps = deps
        self.sweep_every = sweep_every
        self._last_sweep: datetime | None = None
        self.stale_after = stale_after or timedelta(minutes=deps.settings.reconcile_minutes)
        self.interval = interval
        self.max_per_pass = max_per_pass
        self.resume_lookback = resume_lookback
        self._metrics = metrics
        self._clean: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    # --- one pass -------------------------------------------------------------------------

    def run_once(self) -> ReconcileReport:
        with self._pass_lock, correlation(new_correlation_id("reconcile")):
            report = ReconcileReport()
            now = self._deps.clock.now()
            window = self._window(now)
            rows = self._deps.store.rows(ListFilter())
            stale, maybe_half_done = self._candidates(rows, now)
            budget = self.max_per_pass
            for row in stale:
                if budget <= 0:
                    break
                if not self._lease(row.id, window, now, report):
                    continue
                budget -= 1
                self._sync(row, report)
            for row in maybe_half_done:
                if budget <= 0:
                    break
                if row.id in report.synced or row.id in report.errors:
                    continue
                if not self._lease(row.id, window, now, report):
                    continue
                budget -= 1
                self._check_resume(row, report)
            self._forget_old_windows(window)
            report.sessions_swept = self._sweep_sessions(now)
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

    def _window(self, now: datetime) -> int:
        seconds = max(int(self.stale_after.total_seconds()), 1)
        return int(now.timestamp()) // seconds

    def _candidates(self, rows: list[IndexRow], now: datetime) -> tuple[list[IndexRow], list[IndexRow]]:
        cutoff = now - self.stale_after
        stale: list[IndexRow] = []
        recent: list[IndexRow] = []
        for row in rows:
            if row.archived:
                continue
            seen = max(row.updated_at, row.last_synced_at or row.received_at)
            if not meta(row.status).terminal and seen <= cutoff:
                stale.append(row)
            elif now - self.resume_lookback <= row.updated_at <= now - LEASE and self._clean.get(row.id) != row.version:
                recent.append(row)
        stale.sort(key=lambda r: (max(r.updated_at, r.last_synced_at or r.received_at), r.id))
        recent.sort(key=lambda r: (r.updated_at, r.id))
        return stale, recent

    def _lease(self, request_id: str, window: int, now: datetime, report: ReconcileReport) -> bool:
        try:
            taken = Once(self._deps.objects, f"{LEASE_PREFIX}/{window:012d}").first(request_id, at=now)
        except Exception as exc:
            report.errors[request_id] = f"lease: {type(exc).__name__}"
            log.warning("reconciler lease for %s failed", request_id, exc_info=True)
            return False
        if not taken:
            report.leased_elsewhere.append(request_id)
        return taken

    def _sync(self, row: IndexRow, report: ReconcileReport) -> None:
        try:
            request = self._deps.sync.sync(row.id)
            report.synced.append(row.id)
            if pending(request):
                self._deps.requests.resume(row.id)
                report.resumed.append(row.id)
        except Exception as exc:
            report.errors[row.id] = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("reconciling %s failed: %s", row.id, type(exc).__name__, exc_info=True)

    def _check_resume(self, row: IndexRow, report: ReconcileReport) -> None:
        try:
            request = self._deps.store.get(row.id)
            if not pending(request):
                self._remember_clean(row.id, request.version)
                return
            resumed = self._deps.requests.resume(row.id)
            report.resumed.append(row.id)
            if not pending(resumed):
                self._remember_clean(row.id, resumed.version)
        except Exception as exc:
            report.errors[row.id] = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("resuming %s failed: %s", row.id, type(exc).__name__, exc_info=True)

    def _remember_clean(self, request_id: str, version: int) -> None:
        if len(self._clean) >= _CLEAN_MEMO_MAX:
            self._clean.clear()
        self._clean[request_id] = version

    def _forget_old_windows(self, window: int) -> None:
        """Delete lease markers of windows before the previous one (bounded per pass)."""
        keep_from = f"{LEASE_PREFIX}/{window - 1:012d}/"
        deleted = 0
        try:
            for key in self._deps.objects.list_keys(f"{LEASE_PREFIX}/"):
                if key >= keep_from or deleted >= _MAX_MARKER_DELETES:
                    break
                self._deps.objects.delete(key)
                deleted += 1
        except Exception:
            log.warning("cleaning old reconciler leases failed", exc_info=True)

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
            try:
                self.run_once()
            except Exception:
                log.exception("reconciler pass failed")
