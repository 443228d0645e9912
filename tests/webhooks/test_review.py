"""``pull_request_review`` deliveries on request branches become review facts (upper-case states)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs, ReviewFact
from core.domain.workflows import WorkflowNames
from tests.webhooks.conftest import REQUEST_ID

Loader = Callable[[str], dict[str, Any]]
SUBMITTED = "octokit__pull_request_review_submitted.payload.json"
DISMISSED = "octokit__pull_request_review_dismissed.payload.json"
COMMIT = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def on_request_branch(payload: dict[str, Any]) -> dict[str, Any]:
    payload["pull_request"]["head"]["ref"] = f"request/{REQUEST_ID}"
    return payload


def test_submitted_comment(load: Loader, workflows: WorkflowNames) -> None:
    result = parse_delivery(
        "pull_request_review", on_request_branch(load(SUBMITTED)), workflows=workflows, delivery_id="d-3"
    )
    assert isinstance(result, ReviewFact)
    assert result.request_id == REQUEST_ID
    assert result.delivery_id == "d-3"
    assert result.action == "submitted"
    assert result.pr_number == 2
    review = result.review
    assert review.id == 237895671
    assert review.state == "COMMENTED"
    assert review.user_login == "Codertocat"
    assert review.commit_id == COMMIT
    assert review.submitted_at == datetime(2019, 5, 15, 15, 20, 38, tzinfo=UTC)


def test_dismissed(load: Loader, workflows: WorkflowNames) -> None:
    result = parse_delivery("pull_request_review", on_request_branch(load(DISMISSED)), workflows=workflows)
    assert isinstance(result, ReviewFact)
    assert result.action == "dismissed"
    assert result.review.state == "DISMISSED"
    assert result.review.commit_id == COMMIT


@pytest.mark.parametrize(
    ("webhook_state", "rest_state"),
    [
        ("approved", "APPROVED"),
        ("changes_requested", "CHANGES_REQUESTED"),
        ("commented", "COMMENTED"),
        ("APPROVED", "APPROVED"),
    ],
)
def test_states_are_normalised_to_rest_upper_case(
    webhook_state: str, rest_state: str, load: Loader, workflows: WorkflowNames
) -> None:
    payload = on_request_branch(load(SUBMITTED))
    payload["review"]["state"] = webhook_state
    result = parse_delivery("pull_request_review", payload, workflows=workflows)
    assert isinstance(result, ReviewFact)
    assert result.review.state == rest_state


def test_review_of_a_deleted_user(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_request_branch(load(SUBMITTED))
    payload["review"]["user"] = None
    result = parse_delivery("pull_request_review", payload, workflows=workflows)
    assert isinstance(result, ReviewFact)
    assert result.review.user_login == "ghost"


def test_review_on_cleanup_pr_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    payload = load(SUBMITTED)
    payload["pull_request"]["head"]["ref"] = f"cleanup/{REQUEST_ID}"
    result = parse_delivery("pull_request_review", payload, workflows=workflows)
    assert result == NotOurs(event="pull_request_review", reason="review on cleanup pull request #2 is not tracked")


def test_review_on_fork_pr_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_request_branch(load(SUBMITTED))
    payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    result = parse_delivery("pull_request_review", payload, workflows=workflows)
    assert isinstance(result, NotOurs)
    assert result.reason == "pull request #2 comes from a fork ('mallory/Hello-World')"
