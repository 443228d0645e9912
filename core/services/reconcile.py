"""Reconciling: a slow pass so a lost webhook delays an update, never loses it.

``ReconcilePolicy`` holds the pure decisions. From the index rows alone (no document reads to
choose work) it picks:

- **stale** requests: not terminal (``status.meta(...).terminal`` is False) and neither synced
  nor updated for ``stale_after``: they are refreshed from the code host (conditional GETs make
  an unchanged answer free of rate limit), oldest first;
- **possibly half-done** requests: updated within ``resume_lookback`` but longer ago than an
  operation lease (a live worker holds its lease; an expired one means its worker stopped),
  unless this (request, version) was already found clean.

``ReconcileService.run_once`` carries a pass out: at most ``max_per_pass`` requests, claimed
for the window (the stale period) in one compare-and-swap of the window's claim object
(``WindowClaims``), so when several replicas reconcile, one handles a request per window, and a
process knows what it holds without a call: a later pass of the same window skips what it
already handled, and sends no conditional PUT it would lose against itself. A synced request
with an unfinished operation is resumed; a possibly half-done one is read and resumed when an
operation is unfinished, else remembered as clean so an idle request is read once, not every
pass. An idle request costs one document read per window (the sync's) and writes nothing. A
request read with domain events still in its outbox (its writer died before running them) has
them run (``drain``: the ``MessageBus``, whose handlers are idempotent, so events another
process ran already change nothing). Claim objects of windows before the previous one are
deleted once per window. One request's
failure is reported and never stops the pass. The thread that runs passes lives in the web
layer (``bot.web.reconciler``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain.index import IndexRow, ListFilter
from core.domain.request import Request
from core.domain.status import meta
from core.ports.clock import Clock
from core.ports.object_store import ObjectStore
from core.ports.request_store import RequestStore
from core.services.operations import LEASE, pending
from core.services.reconcile_claims import LEASE_PREFIX, WindowClaims, lease_prefix

log = logging.getLogger(__name__)

DEFAULT_MAX_PER_PASS = 100
DEFAULT_RESUME_LOOKBACK = timedelta(hours=24)
_CLEAN_MEMO_MAX = 50_000
_MAX_MARKER_DELETES = 500
_ERROR_CHARS = 200


@dataclass
class ReconcileReport:
    synced: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)  # outbox events run for these requests
    leased_elsewhere: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    sessions_swept: int = 0  # filled by the driver, which also sweeps intake sessions
    cards_rendered: int = 0  # filled by the driver: missed Slack cards/replies rendered again


@dataclass(frozen=True)
class ReconcilePolicy:
    """What a pass works on, and under which lease: pure functions of rows and the time."""

    stale_after: timedelta
    resume_lookback: timedelta = DEFAULT_RESUME_LOOKBACK
    max_per_pass: int = DEFAULT_MAX_PER_PASS

    def window(self, now: datetime) -> int:
        """The lease window ``now`` falls in (one stale period long)."""
        seconds = max(int(self.stale_after.total_seconds()), 1)
        return int(now.timestamp()) // seconds

    def candidates(
        self, rows: list[IndexRow], now: datetime, clean: Mapping[str, int]
    ) -> tuple[list[IndexRow], list[IndexRow]]:
        """(stale rows to sync, oldest first; recent rows that may hold a half-done operation)."""
        cutoff = now - self.stale_after
        stale: list[IndexRow] = []
        recent: list[IndexRow] = []
        for row in rows:
            if row.archived:
                continue
            if not meta(row.status).terminal and _seen(row) <= cutoff:
                stale.append(row)
            elif now - self.resume_lookback <= row.updated_at <= now - LEASE and clean.get(row.id) != row.version:
                recent.append(row)
        stale.sort(key=lambda r: (_seen(r), r.id))
        recent.sort(key=lambda r: (r.updated_at, r.id))
        return stale, recent


def _seen(row: IndexRow) -> datetime:
    """When TfPilot last learnt something of the request."""
    return max(row.updated_at, row.last_synced_at or row.received_at)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:_ERROR_CHARS]}"


class ReconcileService:
    def __init__(
        self,
        store: RequestStore,
        objects: ObjectStore,
        clock: Clock,
        policy: ReconcilePolicy,
        *,
        sync: Callable[[str], Request],
        resume: Callable[[str], Request],
        drain: Callable[[Request], int] | None = None,
    ) -> None:
        self._store = store
        self._objects = objects
        self._clock = clock
        self.policy = policy
        self._sync_one = sync  # SyncService.sync: a full refresh from the code host
        self._resume_one = resume  # RequestService.resume: finish an unfinished operation
        self._drain_one = drain  # MessageBus.handle: run the events a write committed
        self._clean: dict[str, int] = {}
        self._claims = WindowClaims(objects)
        self._window: int | None = None

    def run_once(self) -> ReconcileReport:
        report = ReconcileReport()
        now = self._clock.now()
        window = self.policy.window(now)
        if window != self._window:
            self._window = window
            self._forget_old_windows(window)
        stale, maybe_half_done = self.policy.candidates(self._store.rows(ListFilter()), now, self._clean)
        budget = self.policy.max_per_pass
        # Requests this process already handled in this window are skipped (it knows its own
        # claims); those another replica claimed are reported, without a call.
        fresh_stale: list[str] = []
        fresh_recent: list[str] = []
        for rows, fresh in ((stale, fresh_stale), (maybe_half_done, fresh_recent)):
            for row in rows:
                holder = self._claims.holder(window, row.id)
                if holder is None and len(fresh_stale) + len(fresh_recent) < budget:
                    fresh.append(row.id)
                elif holder is not None and holder != self._claims.owner and row.id not in report.leased_elsewhere:
                    report.leased_elsewhere.append(row.id)
        # Everything claimed is handled in this pass (at most ``budget``): a claim is never
        # left unworked for the rest of the window.
        held = self._claim(window, [*fresh_stale, *fresh_recent], now, report)
        for request_id in fresh_stale:
            if request_id in held:
                self._sync(request_id, report)
        for request_id in fresh_recent:
            if request_id in held:
                self._check_resume(request_id, report)
        return report

    def _claim(self, window: int, request_ids: list[str], now: datetime, report: ReconcileReport) -> set[str]:
        if not request_ids:
            return set()
        try:
            held = self._claims.claim(window, request_ids, now)
        except Exception as exc:
            for request_id in request_ids:
                report.errors[request_id] = f"lease: {type(exc).__name__}"
            log.warning("reconciler claim for %d request(s) failed", len(request_ids), exc_info=True)
            return set()
        for request_id in request_ids:
            if request_id not in held and request_id not in report.leased_elsewhere:
                report.leased_elsewhere.append(request_id)
        return held

    def _sync(self, request_id: str, report: ReconcileReport) -> None:
        try:
            request = self._sync_one(request_id)
            report.synced.append(request_id)
            self._drain(request, report)
            if pending(request):
                self._resume_one(request_id)
                report.resumed.append(request_id)
        except Exception as exc:
            report.errors[request_id] = _error(exc)
            log.warning("reconciling %s failed: %s", request_id, type(exc).__name__, exc_info=True)

    def _check_resume(self, request_id: str, report: ReconcileReport) -> None:
        try:
            request = self._store.get(request_id)
            self._drain(request, report)
            if not pending(request):
                self._remember_clean(request_id, request.version)
                return
            resumed = self._resume_one(request_id)
            report.resumed.append(request_id)
            if not pending(resumed):
                self._remember_clean(request_id, resumed.version)
        except Exception as exc:
            report.errors[request_id] = _error(exc)
            log.warning("resuming %s failed: %s", request_id, type(exc).__name__, exc_info=True)

    def _drain(self, request: Request, report: ReconcileReport) -> None:
        if self._drain_one is not None and request.outbox and self._drain_one(request):
            report.drained.append(request.id)

    def _remember_clean(self, request_id: str, version: int) -> None:
        if len(self._clean) >= _CLEAN_MEMO_MAX:
            self._clean.clear()
        self._clean[request_id] = version

    def _forget_old_windows(self, window: int) -> None:
        """Delete claim objects (and older per-request markers) of windows before the previous
        one, once per window (bounded)."""
        keep_from = lease_prefix(window - 1) + "/"
        deleted = 0
        try:
            for key in self._objects.list_keys(f"{LEASE_PREFIX}/"):
                if key >= keep_from or deleted >= _MAX_MARKER_DELETES:
                    break
                self._objects.delete(key)
                deleted += 1
        except Exception:
            log.warning("cleaning old reconciler leases failed", exc_info=True)
