"""Ops metrics (the insights KPIs), built purely from index rows.

``build_ops_metrics(rows, now)`` counts requests per canonical status and, over trailing
windows of 24 hours and 7 days, failures, applies and destroys, apply durations (average and
p95 of ``applied_at - apply_triggered_at``) and the apply and plan success rates. A window
holds the instants ``t`` with ``now - window <= t`` (a timestamp slightly ahead of ``now``,
clock skew, still counts). Pass every row, archived ones included, or destroyed requests
(which are archived) drop out of the destroy counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from core.domain.index import IndexRow
from core.domain.lifecycle import FAILURE_CONCLUSIONS
from core.domain.status import Status, normalize_status

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)


def _camel(name: str) -> str:
    # pydantic's to_camel writes "last24H"; the reference's keys are "failuresLast24h".
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class OpsMetrics(BaseModel):
    """The insights figures; camelCase on the wire (``failuresLast24h``...)."""

    model_config = ConfigDict(frozen=True, alias_generator=_camel, populate_by_name=True)

    total: int
    status_counts: dict[str, int]
    failures_last_24h: int
    failures_last_7d: int
    applies_last_24h: int
    applies_last_7d: int
    destroys_last_24h: int
    destroys_last_7d: int
    avg_apply_seconds_last_7d: float | None
    p95_apply_seconds_last_7d: float | None
    apply_success_rate_last_7d: float | None  # 0..1; None when no apply concluded in the window
    plan_success_rate_last_7d: float | None  # 0..1; None when no plan concluded in the window
    generated_at: datetime


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _within(when: datetime | None, start: datetime) -> bool:
    when = _utc(when)
    return when is not None and when >= start


def _concluded(conclusion: str | None) -> bool | None:
    """True for success, False for a failure conclusion, None for anything else (neutral,
    skipped, still running): only runs with a verdict enter a success rate."""
    if conclusion == "success":
        return True
    if conclusion in FAILURE_CONCLUSIONS:
        return False
    return None


def _failure_time(row: IndexRow) -> datetime | None:
    # When the request failed: the completion of the run that failed, else its last update.
    if row.destroy_conclusion in FAILURE_CONCLUSIONS:
        return row.updated_at
    if row.apply_conclusion in FAILURE_CONCLUSIONS:
        return row.apply_completed_at or row.updated_at
    if row.plan_conclusion in FAILURE_CONCLUSIONS:
        return row.plan_completed_at or row.updated_at
    return row.updated_at


def _applied_time(row: IndexRow) -> datetime | None:
    if row.applied_at is not None:
        return row.applied_at
    return row.apply_completed_at if row.apply_conclusion == "success" else None


def _destroyed_time(row: IndexRow) -> datetime | None:
    if row.destroyed_at is not None:
        return row.destroyed_at
    return row.updated_at if normalize_status(row.status) is Status.DESTROYED else None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in 0..1): an observed value, never interpolated."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _rate(verdicts: list[bool]) -> float | None:
    return sum(verdicts) / len(verdicts) if verdicts else None


def build_ops_metrics(rows: Iterable[IndexRow], now: datetime) -> OpsMetrics:
    now = _utc(now) or now
    day_start, week_start = now - DAY, now - WEEK
    rows = list(rows)
    counts = {status.value: 0 for status in Status}
    failures_day = failures_week = applies_day = applies_week = destroys_day = destroys_week = 0
    durations: list[float] = []
    apply_verdicts: list[bool] = []
    plan_verdicts: list[bool] = []

    for row in rows:
        status = normalize_status(row.status)
        counts[status.value] += 1
        if status is Status.FAILED:
            failed_at = _failure_time(row)
            failures_day += _within(failed_at, day_start)
            failures_week += _within(failed_at, week_start)
        applied_at = _utc(_applied_time(row))
        if applied_at is not None:
            applies_day += applied_at >= day_start
            applies_week += applied_at >= week_start
            triggered = _utc(row.apply_triggered_at)
            if applied_at >= week_start and triggered is not None and applied_at >= triggered:
                durations.append((applied_at - triggered).total_seconds())
        destroyed_at = _destroyed_time(row)
        destroys_day += _within(destroyed_at, day_start)
        destroys_week += _within(destroyed_at, week_start)

        apply_verdict = _concluded(row.apply_conclusion)
        if apply_verdict is not None and _within(
            row.apply_completed_at or row.applied_at or row.updated_at, week_start
        ):
            apply_verdicts.append(apply_verdict)
        plan_verdict = _concluded(row.plan_conclusion)
        if plan_verdict is not None and _within(row.plan_completed_at or row.updated_at, week_start):
            plan_verdicts.append(plan_verdict)

    return OpsMetrics(
        total=len(rows),
        status_counts=counts,
        failures_last_24h=failures_day,
        failures_last_7d=failures_week,
        applies_last_24h=applies_day,
        applies_last_7d=applies_week,
        destroys_last_24h=destroys_day,
        destroys_last_7d=destroys_week,
        avg_apply_seconds_last_7d=sum(durations) / len(durations) if durations else None,
        p95_apply_seconds_last_7d=percentile(durations, 0.95),
        apply_success_rate_last_7d=_rate(apply_verdicts),
        plan_success_rate_last_7d=_rate(plan_verdicts),
        generated_at=now,
    )
