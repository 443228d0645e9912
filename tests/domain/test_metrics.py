"""Ops metrics over index rows: windows, durations, rates, empty input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.domain.index import IndexRow
from core.domain.metrics import OpsMetrics, build_ops_metrics, percentile
from core.domain.status import Status

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


def row(n: int, status: str, **fields: Any) -> IndexRow:
    base: dict[str, Any] = {
        "id": f"req_m{n:05d}",
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "status": status,
        "received_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "version": 1,
    }
    base.update(fields)
    return IndexRow(**base)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def test_empty_input() -> None:
    metrics = build_ops_metrics([], NOW)
    assert metrics.total == 0
    assert metrics.status_counts == {status.value: 0 for status in Status}
    assert (metrics.failures_last_24h, metrics.applies_last_7d, metrics.destroys_last_7d) == (0, 0, 0)
    assert metrics.avg_apply_seconds_last_7d is None and metrics.p95_apply_seconds_last_7d is None
    assert metrics.apply_success_rate_last_7d is None and metrics.plan_success_rate_last_7d is None
    assert metrics.generated_at == NOW


def test_status_counts_cover_every_canonical_status() -> None:
    rows = [row(1, "applied"), row(2, "applied"), row(3, "planning"), row(4, "plan_failed"), row(5, "complete")]
    counts = build_ops_metrics(rows, NOW).status_counts
    assert set(counts) == {status.value for status in Status}
    assert counts["applied"] == 3  # "complete" is the legacy name of applied
    assert counts["failed"] == 1 and counts["planning"] == 1 and counts["merged"] == 0
    assert build_ops_metrics(rows, NOW).total == 5


def test_window_boundaries_are_inclusive_at_the_start() -> None:
    rows = [
        row(1, "applied", applied_at=ago(hours=24)),  # exactly 24 h ago: inside both windows
        row(2, "applied", applied_at=ago(hours=24, microseconds=1)),  # just outside 24 h
        row(3, "applied", applied_at=ago(days=7)),  # exactly 7 d ago: inside 7 d
        row(4, "applied", applied_at=ago(days=7, seconds=1)),  # outside both
        row(5, "applied", applied_at=NOW + timedelta(seconds=5)),  # clock skew: counted
    ]
    metrics = build_ops_metrics(rows, NOW)
    assert (metrics.applies_last_24h, metrics.applies_last_7d) == (2, 4)


def test_failures_are_timed_by_the_failing_run() -> None:
    rows = [
        row(1, "failed", plan_conclusion="failure", plan_completed_at=ago(hours=2), updated_at=ago(hours=1)),
        row(2, "failed", apply_conclusion="timed_out", apply_completed_at=ago(days=3), updated_at=ago(hours=1)),
        row(3, "failed", destroy_conclusion="cancelled", updated_at=ago(days=2)),
        row(4, "failed", plan_conclusion="failure", plan_completed_at=ago(days=8), updated_at=ago(days=8)),
        row(5, "failed", updated_at=ago(hours=30)),  # legacy row: no run facts, its update time
        row(6, "applied", plan_conclusion="failure", plan_completed_at=ago(hours=1)),  # not failed now
    ]
    metrics = build_ops_metrics(rows, NOW)
    assert (metrics.failures_last_24h, metrics.failures_last_7d) == (1, 4)


def test_destroys_in_windows() -> None:
    rows = [
        row(1, "destroyed", destroyed_at=ago(hours=3), archived=True),
        row(2, "destroyed", destroyed_at=ago(days=6), archived=True),
        row(3, "destroyed", updated_at=ago(hours=5)),  # no destroyed_at: its update time
        row(4, "destroyed", destroyed_at=ago(days=9)),
        row(5, "destroying", updated_at=ago(hours=1)),
    ]
    metrics = build_ops_metrics(rows, NOW)
    assert (metrics.destroys_last_24h, metrics.destroys_last_7d) == (2, 3)


def test_apply_durations_average_and_p95() -> None:
    rows = [
        row(n, "applied", apply_triggered_at=ago(hours=2, seconds=seconds), applied_at=ago(hours=2))
        for n, seconds in enumerate(
            [60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 660, 720, 780, 840, 900, 960, 1020, 1080, 1140, 6000]
        )
    ]
    rows.append(row(50, "applied", apply_triggered_at=ago(days=9), applied_at=ago(days=8)))  # outside 7 d
    rows.append(row(51, "applied", applied_at=ago(hours=1)))  # no trigger time: no duration
    metrics = build_ops_metrics(rows, NOW)
    expected = [60.0 * k for k in range(1, 20)] + [6000.0]
    assert metrics.avg_apply_seconds_last_7d == pytest.approx(sum(expected) / 20)
    assert metrics.p95_apply_seconds_last_7d == 1140.0  # nearest rank: the 19th of 20
    assert metrics.applies_last_7d == 21


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_success_rates_over_seven_days() -> None:
    rows = [
        row(
            1,
            "applied",
            apply_conclusion="success",
            apply_completed_at=ago(days=1),
            applied_at=ago(days=1),
            plan_conclusion="success",
            plan_completed_at=ago(days=1),
        ),
        row(
            2,
            "applied",
            apply_conclusion="success",
            apply_completed_at=ago(days=2),
            applied_at=ago(days=2),
            plan_conclusion="success",
            plan_completed_at=ago(days=2),
        ),
        row(
            3,
            "failed",
            apply_conclusion="failure",
            apply_completed_at=ago(days=3),
            plan_conclusion="success",
            plan_completed_at=ago(days=3),
        ),
        row(4, "failed", plan_conclusion="failure", plan_completed_at=ago(hours=5)),
        row(
            5,
            "failed",
            apply_conclusion="failure",
            apply_completed_at=ago(days=10),
            plan_conclusion="failure",
            plan_completed_at=ago(days=10),
        ),  # outside the window
        row(6, "planning", plan_conclusion="neutral", plan_completed_at=ago(hours=1)),  # no verdict
        row(7, "applying", plan_conclusion="success", plan_completed_at=ago(hours=1)),  # apply still running
    ]
    metrics = build_ops_metrics(rows, NOW)
    assert metrics.apply_success_rate_last_7d == pytest.approx(2 / 3)
    assert metrics.plan_success_rate_last_7d == pytest.approx(4 / 5)


def test_no_rate_without_concluded_runs() -> None:
    metrics = build_ops_metrics([row(1, "planning"), row(2, "request_created")], NOW)
    assert metrics.apply_success_rate_last_7d is None and metrics.plan_success_rate_last_7d is None


def test_naive_timestamps_are_read_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    rows = [
        row(1, "applied", applied_at=naive_now - timedelta(hours=1), apply_triggered_at=naive_now - timedelta(hours=2))
    ]
    metrics = build_ops_metrics(rows, NOW)
    assert metrics.applies_last_24h == 1 and metrics.avg_apply_seconds_last_7d == 3600.0


def test_wire_names_follow_the_reference() -> None:
    doc = build_ops_metrics([row(1, "applied", applied_at=ago(hours=1))], NOW).model_dump(mode="json", by_alias=True)
    assert {
        "total",
        "statusCounts",
        "failuresLast24h",
        "failuresLast7d",
        "appliesLast24h",
        "appliesLast7d",
        "destroysLast24h",
        "destroysLast7d",
        "avgApplySecondsLast7d",
        "p95ApplySecondsLast7d",
        "applySuccessRateLast7d",
        "planSuccessRateLast7d",
        "generatedAt",
    } == set(doc)
    assert OpsMetrics.model_validate(doc).applies_last_24h == 1
