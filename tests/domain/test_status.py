from __future__ import annotations

import pytest

from core.domain.status import CATALOGUE, Status, meta, normalize_status


def test_catalogue_covers_every_status_once() -> None:
    assert set(CATALOGUE) == set(Status)
    assert len({m.label for m in CATALOGUE.values()}) == len(Status)
    for m in CATALOGUE.values():
        assert m.emoji.startswith(":") and m.colour.startswith("#")
        assert not (m.terminal and m.active)


def test_terminal_and_active() -> None:
    assert {s for s, m in CATALOGUE.items() if m.terminal} == {Status.APPLIED, Status.DESTROYED, Status.FAILED}
    assert {s for s, m in CATALOGUE.items() if m.active} == {Status.PLANNING, Status.APPLYING, Status.DESTROYING}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plan_ready", Status.PLAN_READY),
        ("Plan Ready", Status.PLAN_READY),
        ("created", Status.REQUEST_CREATED),
        ("complete", Status.APPLIED),
        ("pr_open", Status.PLANNING),
        ("apply-failed", Status.FAILED),
        ("awaiting_approval", Status.PLAN_READY),
        ("something-else", Status.REQUEST_CREATED),
        (None, Status.REQUEST_CREATED),
    ],
)
def test_normalize_legacy_values(value: str | None, expected: Status) -> None:
    assert normalize_status(value) is expected


def test_destroy_flags_win() -> None:
    assert normalize_status("applied", is_destroying=True) is Status.DESTROYING
    assert normalize_status("applied", is_destroyed=True) is Status.DESTROYED
    assert meta("complete").label == "Applied"
