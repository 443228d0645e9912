"""Typed step state: each operation kind parses into its own steps model; legacy keys upgrade."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from core.domain.operation import (
    DestroyOp,
    Lease,
    Operation,
    OtherOp,
    UpdateOp,
    new_operation,
)

OPS: TypeAdapter[Operation] = TypeAdapter(Operation)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_an_update_in_flight_from_before_typed_steps_upgrades_once() -> None:
    op = OPS.validate_python(
        {
            "kind": "update",
            "key": "update:1:abc",
            "startedAt": "2026-01-01T00:00:00Z",
            "steps": {
                "lease": {"owner": "w1", "until": "2026-01-01T00:02:00+00:00"},
                "config": {"name": "b"},
                "revision": 2,
                "plan_previous": 7,
                "commit_attempt": "abc",
            },
        }
    )
    assert isinstance(op, UpdateOp)
    assert op.steps.config == {"name": "b"} and op.steps.revision == 2 and op.steps.commit_attempt == "abc"
    assert op.steps.launches["plan"].previous == 7 and op.steps.launches["plan"].at is None
    assert op.lease_held(T0, "w2") and not op.lease_held(T0, "w1")
    doc = op.to_doc()["steps"]
    assert "plan_previous" not in doc and doc["launches"]["plan"]["previous"] == 7
    assert OPS.validate_python(op.to_doc()) == op  # the typed shape reads back as itself


def test_a_destroy_marker_without_a_sha_means_merged_only_in_an_old_document() -> None:
    old = {"kind": "destroy", "key": "destroy", "startedAt": "2026-01-01T00:00:00Z", "steps": {"cleanup_merged": None}}
    assert OPS.validate_python(old).steps.cleanup_merged is not None  # type: ignore[union-attr]
    new = DestroyOp(key="destroy", started_at=T0)
    assert OPS.validate_python(new.to_doc()).steps.cleanup_merged is None  # type: ignore[union-attr]


def test_an_unknown_kind_is_kept_not_rejected() -> None:
    op = OPS.validate_python({"kind": "rotate", "key": "k", "startedAt": "2026-01-01T00:00:00Z", "steps": {"x": 1}})
    assert isinstance(op, OtherOp) and op.to_doc()["steps"]["x"] == 1


def test_steps_reject_wrong_types_and_unknown_names() -> None:
    with pytest.raises(ValidationError, match="revision"):
        OPS.validate_python(
            {"kind": "update", "key": "k", "startedAt": "2026-01-01T00:00:00Z", "steps": {"revision": "x"}}
        )
    op = new_operation("update", key="k", started_at=T0)
    with pytest.raises(AttributeError, match="no step 'revison'"):
        op.steps.set(revison=3)


def test_one_way_to_end_an_operation() -> None:
    op = new_operation("apply", key="k", started_at=T0)
    op.take(Lease(owner="w1", until=T0))
    op.fail("GitHub is down")
    assert op.error == "GitHub is down" and op.steps.lease is None and op.completed_at is None
    op.end("x" * 2000, T0)
    assert op.completed_at == T0 and op.error is not None and len(op.error) == 1000
    op.finish(T0)
    assert op.error is None
