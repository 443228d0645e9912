"""Anything that is not a Terraform plan is refused with a clear reason."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.plan_summary import InvalidPlan, load_plan, render_plan_text, summarize_plan
from tests.plan.conftest import synthetic_plan


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "not a Terraform plan: expected a JSON object, got list"),
        ("plan", "not a Terraform plan: expected a JSON object, got str"),
        ({}, "not a Terraform plan: no format_version"),
        ({"format_version": 1.2}, "not a Terraform plan: no format_version"),
        ({"format_version": "2.0", "planned_values": {}}, "unsupported plan format_version '2.0': expected 1.x"),
        (
            {"format_version": "1.0", "values": {"root_module": {}}},
            "no planned_values or resource_changes (is this a state file?)",
        ),
        (
            {"format_version": "1.2", "resource_changes": {}},
            "invalid Terraform plan at resource_changes: Input should be a valid list",
        ),
        (
            {"format_version": "1.2", "resource_changes": [{"address": "a.b"}]},
            "invalid Terraform plan at resource_changes.0.change: Field required",
        ),
        (
            {"format_version": "1.2", "resource_changes": [{"address": "a.b", "change": {"actions": []}}]},
            "resource_changes.0.change.actions",
        ),
        ({"totalMonthlyCost": "1.00", "version": "0.2"}, "no format_version"),
    ],
)
def test_refused(doc: Any, message: str) -> None:
    with pytest.raises(InvalidPlan) as info:
        summarize_plan(doc)
    assert message in str(info.value)
    with pytest.raises(InvalidPlan):
        render_plan_text(doc)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", "not json"])
def test_invalid_json(raw: bytes | str) -> None:
    with pytest.raises(InvalidPlan, match="invalid JSON"):
        load_plan(raw)


def test_invalid_plan_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        summarize_plan({})


def test_minimal_plan_is_accepted() -> None:
    assert summarize_plan(synthetic_plan([])).text.startswith("No changes.")


def test_deeply_nested_values_are_refused_not_crashing() -> None:
    value: Any = "leaf"
    for _ in range(5000):
        value = {"k": value}
    doc = synthetic_plan(
        [{"address": "x_a.b", "change": {"actions": ["create"], "after": value, "after_sensitive": False}}]
    )
    assert summarize_plan(doc).add == 1  # the summary never reads values
    with pytest.raises(InvalidPlan, match="nested too deeply"):
        render_plan_text(doc)
