"""Infracost reports read into ``Cost``; anything else refused with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.domain.cost import InvalidCost, load_cost, parse_cost
from core.domain.request import Request

# The shape `infracost diff --format json` writes (amounts as decimal strings).
REPORT: dict[str, Any] = {
    "version": "0.2",
    "currency": "USD",
    "projects": [{"name": "envs/dev", "breakdown": {"totalMonthlyCost": "42.5"}}],
    "totalHourlyCost": "0.0582",
    "totalMonthlyCost": "42.5",
    "pastTotalHourlyCost": "0.0137",
    "pastTotalMonthlyCost": "10",
    "diffTotalHourlyCost": "0.0445",
    "diffTotalMonthlyCost": "32.5",
    "timeGenerated": "2026-11-26T09:00:00Z",
}


def test_report_with_diff() -> None:
    cost = parse_cost(REPORT)
    assert (cost.monthly_cost, cost.monthly_delta, cost.currency, cost.source) == (42.5, 32.5, "USD", "infracost")


def test_delta_from_past_total_when_no_diff() -> None:
    doc = {k: v for k, v in REPORT.items() if not k.startswith("diff")}
    assert parse_cost(doc).monthly_delta == 32.5


def test_numbers_and_nulls() -> None:
    cost = parse_cost({"totalMonthlyCost": 12, "pastTotalMonthlyCost": None, "currency": "EUR"})
    assert (cost.monthly_cost, cost.monthly_delta, cost.currency) == (12.0, None, "EUR")
    unknown = parse_cost({"totalMonthlyCost": None})
    assert (unknown.monthly_cost, unknown.monthly_delta, unknown.currency) == (None, None, "USD")


def test_cost_is_stored_in_the_request_document() -> None:
    doc = {
        "id": "req_abc123def456",
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "receivedAt": "2026-11-26T09:00:00Z",
        "updatedAt": "2026-11-26T09:00:00Z",
    }
    request = Request.from_doc(doc)
    request.cost = load_cost(json.dumps(REPORT))
    assert request.to_doc()["cost"] == {
        "monthlyCost": 42.5,
        "monthlyDelta": 32.5,
        "currency": "USD",
        "source": "infracost",
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected a JSON object, got list"),
        ({"format_version": "1.2"}, "no totalMonthlyCost"),
        ({"totalMonthlyCost": "lots"}, "totalMonthlyCost 'lots' is not a number"),
        ({"totalMonthlyCost": True}, "totalMonthlyCost must be a number or a decimal string"),
        ({"totalMonthlyCost": {"v": 1}}, "totalMonthlyCost must be a number or a decimal string"),
        ({"totalMonthlyCost": "NaN"}, "totalMonthlyCost is not finite"),
        ({"totalMonthlyCost": float("inf")}, "totalMonthlyCost is not finite"),
        ({"totalMonthlyCost": "1", "diffTotalMonthlyCost": "x"}, "diffTotalMonthlyCost 'x' is not a number"),
        ({"totalMonthlyCost": "1", "currency": "dollars"}, "currency 'dollars' is not an ISO 4217 code"),
        ({"totalMonthlyCost": "1", "currency": 5}, "currency '5' is not an ISO 4217 code"),
    ],
)
def test_refused(doc: Any, message: str) -> None:
    with pytest.raises(InvalidCost) as info:
        parse_cost(doc)
    assert message in str(info.value)


def test_invalid_json() -> None:
    with pytest.raises(InvalidCost, match="invalid JSON"):
        load_cost(b"{")
