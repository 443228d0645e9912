"""ReconcilePolicy: which rows a pass syncs or checks for a half-done operation, and its window.

The pass itself (leases, sync, resume, errors, replicas) is driven end to end in
tests/web/test_reconciler.py; here are the pure decisions, from index rows and the time only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.domain.index import IndexRow
from core.services.operations import LEASE
from core.services.reconcile import ReconcilePolicy
from core.services.reconcile_claims import lease_prefix

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
POLICY = ReconcilePolicy(timedelta(minutes=10), resume_lookback=timedelta(hours=24))


def row(rid: str, *, status: str = "planning", age: timedelta, synced: timedelta | None = None, **kw: Any) -> IndexRow:
    return IndexRow(
        id=rid,
        project="core",
        environment="dev",
        module="s3-bucket",
        status=status,
        received_at=NOW - age - timedelta(minutes=1),
        updated_at=NOW - age,
        version=kw.pop("version", 3),
        last_synced_at=None if synced is None else NOW - synced,
        **kw,
    )


def ids(rows: list[IndexRow]) -> list[str]:
    return [r.id for r in rows]


def test_stale_rows_are_those_not_terminal_and_quiet_for_the_stale_period_oldest_first() -> None:
    rows = [
        row("req_new", age=timedelta(minutes=5)),
        row("req_old", age=timedelta(hours=3)),
        row("req_mid", age=timedelta(minutes=11)),
        row("req_done", status="destroyed", age=timedelta(hours=5)),
        row("req_gone", age=timedelta(hours=5), archived=True),
        row("req_synced", age=timedelta(hours=2), synced=timedelta(minutes=1)),
    ]
    stale, _recent = POLICY.candidates(rows, NOW, {})
    assert ids(stale) == ["req_old", "req_mid"]


def test_exactly_the_stale_period_counts_as_stale() -> None:
    stale, _ = POLICY.candidates([row("req_edge", age=timedelta(minutes=10))], NOW, {})
    assert ids(stale) == ["req_edge"]


def test_recent_rows_past_their_lease_may_hold_a_half_done_operation() -> None:
    rows = [
        row("req_live", status="destroyed", age=LEASE - timedelta(seconds=1)),  # its worker may still hold it
        row("req_past", status="destroyed", age=LEASE + timedelta(seconds=1)),
        row("req_ancient", status="destroyed", age=timedelta(hours=25)),  # beyond the lookback
    ]
    stale, recent = POLICY.candidates(rows, NOW, {})
    assert stale == [] and ids(recent) == ["req_past"]


def test_a_row_found_clean_at_its_version_is_not_read_again() -> None:
    rows = [row("req_idle", status="destroyed", age=timedelta(hours=1), version=4)]
    assert ids(POLICY.candidates(rows, NOW, {"req_idle": 4})[1]) == []
    assert ids(POLICY.candidates(rows, NOW, {"req_idle": 3})[1]) == ["req_idle"]  # written since


@pytest.mark.parametrize(("minutes", "expected"), [(0, 0), (9, 0), (10, 1), (25, 2)])
def test_windows_are_one_stale_period_long(minutes: int, expected: int) -> None:
    start = datetime.fromtimestamp(0, UTC)
    assert POLICY.window(start + timedelta(minutes=minutes)) == expected


def test_lease_keys_sort_by_window() -> None:
    assert lease_prefix(7) == "dedupe/reconcile/000000000007"
    assert lease_prefix(9) < lease_prefix(10) < lease_prefix(100)
