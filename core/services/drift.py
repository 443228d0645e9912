"""``DriftService``: the scheduled drift job's verdict on an applied request, stored and told.

The drift workflow reports through the side service's webhook; ``DriftReport`` validates that
body (counts are non-negative, the run URL is http(s), the summary is bounded). ``record``
stores it on ``request.drift`` and commits with that write the events ``drift_checked`` (and
``drift_detected``) and, only when drift is newly detected or its counts/summary changed, the
notice, so a nightly job that keeps finding the same drift does not post the same message every
night. The ``MessageBus`` runs them after the write, like every engine write's events.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.domain.events import NewEvent, emit_all, notice
from core.domain.lifecycle import derive_status
from core.domain.request import Drift, DriftCounts, Request
from core.ports.audit import AuditLog
from core.ports.clock import Clock
from core.ports.notifier import Notifier, Transition
from core.ports.request_store import RequestStore
from core.services.messagebus import MessageBus

MAX_SUMMARY = 2000


class DriftReportCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    add: int = Field(default=0, ge=0, le=1_000_000)
    change: int = Field(default=0, ge=0, le=1_000_000)
    destroy: int = Field(default=0, ge=0, le=1_000_000)


class DriftReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detected: bool
    summary: str | None = Field(default=None, max_length=20_000)
    counts: DriftReportCounts = Field(default_factory=DriftReportCounts)
    run_url: str | None = Field(default=None, max_length=2000)
    checked_at: datetime | None = None

    @field_validator("summary")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value if len(value) <= MAX_SUMMARY else value[: MAX_SUMMARY - 1] + "…"

    @field_validator("run_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("run_url must be an http(s) URL")
        return value

    @field_validator("checked_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("checked_at needs a timezone")
        return value


class DriftService:
    def __init__(
        self, store: RequestStore, audit: AuditLog, notifier: Notifier, clock: Clock, *, bus: MessageBus | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus or MessageBus(audit, notifier)

    def record(self, request_id: str, report: DriftReport, *, source: str = "webhook") -> Request:
        now = self._clock.now()
        drift = Drift(
            detected=report.detected,
            summary=report.summary,
            counts=DriftCounts(add=report.counts.add, change=report.counts.change, destroy=report.counts.destroy),
            run_url=report.run_url,
            checked_at=report.checked_at or now,
        )
        data = {"detected": report.detected, "counts": report.counts.model_dump(), "runUrl": report.run_url}

        def mutate(request: Request) -> Request:
            self._bus.prune(request)
            previous = request.drift
            news = report.detected and (
                previous is None
                or not previous.detected
                or previous.counts != drift.counts
                or previous.summary != drift.summary
            )
            request.drift = drift
            events = [NewEvent(name="drift_checked", source=source, data=data)]
            if report.detected:
                events.append(NewEvent(name="drift_detected", source=source, data=data))
            if news:
                status = derive_status(request).value
                told = Transition(
                    event="drift_detected",
                    previous_status=status,
                    status=status,
                    message=drift.summary,
                    run_url=drift.run_url,
                )
                events.append(notice(told))
            emit_all(request, events, at=now)
            request.updated_at = now
            return request

        stored = self._store.update(request_id, mutate)
        self._bus.handle(stored)
        return stored
