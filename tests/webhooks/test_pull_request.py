"""``pull_request`` deliveries on request and cleanup branches become pull request facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs, PullRequestFact
from core.domain.workflows import WorkflowNames
from tests.webhooks.conftest import PULL_REQUEST_FILES, REQUEST_ID

Loader = Callable[[str], dict[str, Any]]
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def on_branch(payload: dict[str, Any], branch: str = f"request/{REQUEST_ID}") -> dict[str, Any]:
    payload["pull_request"]["head"]["ref"] = branch
    return payload


@pytest.mark.parametrize("name", PULL_REQUEST_FILES)
def test_rewritten_pr_becomes_fact(name: str, load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load(name))
    result = parse_delivery("pull_request", payload, workflows=workflows, delivery_id="d-2")
    assert isinstance(result, PullRequestFact)
    assert result.request_id == REQUEST_ID
    assert result.delivery_id == "d-2"
    assert result.action == payload["action"]
    assert result.cleanup is False
    pr = result.pr
    assert pr.number == 2
    assert pr.url == "https://github.com/Codertocat/Hello-World/pull/2"
    assert pr.head_sha == HEAD_SHA
    assert pr.head_ref == f"request/{REQUEST_ID}"
    assert pr.base_ref == "master"
    assert pr.merged is False
    assert pr.title == "Update the README with new information."


def test_opened(load: Loader, workflows: WorkflowNames) -> None:
    result = parse_delivery(
        "pull_request", on_branch(load("octokit__pull_request_opened.payload.json")), workflows=workflows
    )
    assert isinstance(result, PullRequestFact)
    assert (result.action, result.pr.state, result.pr.merged) == ("opened", "open", False)
    assert result.pr.merge_commit_sha is None
    assert result.pr.closed_at is None
    assert result.pr.mergeable_state == "unknown"


def test_synchronize(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_synchronize.payload.json"))
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert isinstance(result, PullRequestFact)
    assert (result.action, result.pr.state, result.pr.head_sha) == ("synchronize", "open", HEAD_SHA)


def test_closed_without_merge(load: Loader, workflows: WorkflowNames) -> None:
    result = parse_delivery(
        "pull_request", on_branch(load("octokit__pull_request_closed.payload.json")), workflows=workflows
    )
    assert isinstance(result, PullRequestFact)
    assert (result.action, result.pr.state, result.pr.merged) == ("closed", "closed", False)
    assert result.pr.closed_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)
    assert result.pr.merged_at is None
    assert result.pr.merge_commit_sha == "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


def test_closed_with_merge(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_closed.payload.json"))
    payload["pull_request"]["merged"] = True
    payload["pull_request"]["merged_at"] = "2019-05-15T15:21:18Z"
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert isinstance(result, PullRequestFact)
    assert (result.pr.state, result.pr.merged) == ("closed", True)
    assert result.pr.merged_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)
    assert result.pr.merge_commit_sha == "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


def test_cleanup_branch_is_the_cleanup_pr(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_opened.payload.json"), f"cleanup/{REQUEST_ID}")
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert isinstance(result, PullRequestFact)
    assert result.request_id == REQUEST_ID
    assert result.cleanup is True
    assert result.pr.head_ref == f"cleanup/{REQUEST_ID}"


@pytest.mark.parametrize(
    "branch",
    ["request/not-an-id", f"feature/{REQUEST_ID}", f"request/{REQUEST_ID}/x", "request/", f"{REQUEST_ID}"],
)
def test_other_branches_are_not_ours(branch: str, load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_opened.payload.json"), branch)
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert result == NotOurs(event="pull_request", reason=f"branch {branch!r} is not a request or cleanup branch")


def test_request_branch_from_a_fork_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_opened.payload.json"))
    payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert result == NotOurs(event="pull_request", reason="pull request #2 comes from a fork ('mallory/Hello-World')")


def test_request_branch_from_a_deleted_fork_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    payload = on_branch(load("octokit__pull_request_closed.payload.json"))
    payload["pull_request"]["head"]["repo"] = None
    result = parse_delivery("pull_request", payload, workflows=workflows)
    assert result == NotOurs(event="pull_request", reason="pull request #2 comes from a deleted fork")
