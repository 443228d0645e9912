"""``workflow_run`` deliveries of TfPilot's workflows become run facts for one request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs, RunFact
from core.domain.workflows import WorkflowNames
from tests.webhooks.conftest import REQUEST_ID, WORKFLOW_RUN_FILES

Loader = Callable[[str], dict[str, Any]]

# What each shared run delivery says about the run (read from the files).
EXPECTED_STATE = {
    "octokit-webhooks.net__workflow_run_in_progress.payload.json": ("in_progress", None, "2020-10-05T16:33:24Z"),
    "octokit__workflow_run_completed.payload.json": ("completed", "success", "2020-10-05T16:33:49Z"),
    "octokit__workflow_run_completed.with-pull-requests.payload.json": ("completed", "success", "2020-10-05T16:33:49Z"),
    "octokit__workflow_run_requested.payload.json": ("queued", None, "2020-10-05T16:33:24Z"),
    "octokit__workflow_run_requested.with-conclusion.payload.json": (
        "completed",
        "action_required",
        "2020-10-05T16:33:24Z",
    ),
}


def ours(payload: dict[str, Any], *, kind: str = "plan", name: str | None = None) -> dict[str, Any]:
    run = payload["workflow_run"]
    run["path"] = f".github/workflows/{kind}.yml"
    payload["workflow"]["path"] = run["path"]
    run["name"] = name if name is not None else f"{kind} {REQUEST_ID} dev"
    run["display_title"] = run["name"]
    return payload


@pytest.mark.parametrize("name", WORKFLOW_RUN_FILES)
def test_rewritten_run_becomes_fact_with_payload_values(name: str, load: Loader, workflows: WorkflowNames) -> None:
    result = parse_delivery("workflow_run", ours(load(name)), workflows=workflows, delivery_id="delivery-7")
    status, conclusion, updated = EXPECTED_STATE[name]
    assert isinstance(result, RunFact)
    assert result.request_id == REQUEST_ID
    assert result.delivery_id == "delivery-7"
    assert result.kind == "plan"
    run = result.run
    assert run.run_id == 289782451
    assert run.url == "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    assert run.status == status
    assert run.conclusion == conclusion
    assert run.head_sha == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert run.head_branch == "master"
    assert run.workflow == "plan.yml"
    assert run.name == f"plan {REQUEST_ID} dev"
    assert run.event == "repository_dispatch"
    assert run.created_at == datetime(2020, 10, 5, 16, 33, 24, tzinfo=UTC)
    assert run.updated_at == datetime.fromisoformat(updated)


@pytest.mark.parametrize("kind", ["plan", "apply", "destroy", "cleanup", "drift"])
def test_kind_comes_from_the_workflow_path(kind: str, load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"), kind=kind)
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.kind == kind
    assert result.run.workflow == f"{kind}.yml"


def test_custom_workflow_names(load: Loader) -> None:
    names = WorkflowNames(plan="tf-plan.yaml")
    payload = ours(load("octokit__workflow_run_completed.payload.json"))
    assert isinstance(parse_delivery("workflow_run", payload, workflows=names), NotOurs)
    payload["workflow_run"]["path"] = ".github/workflows/tf-plan.yaml"
    result = parse_delivery("workflow_run", payload, workflows=names)
    assert isinstance(result, RunFact)
    assert result.kind == "plan"


def test_path_from_workflow_object_when_run_lacks_it(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"), kind="apply")
    del payload["workflow_run"]["path"]
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.kind == "apply"


def test_path_with_ref_suffix(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"), kind="destroy")
    payload["workflow_run"]["path"] = ".github/workflows/destroy.yml@refs/heads/main"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.kind == "destroy"


def test_request_id_from_name_when_display_title_has_none(load: Loader, workflows: WorkflowNames) -> None:
    # The fixture's display_title is a commit message; the id can sit in ``name`` only.
    payload = ours(load("octokit__workflow_run_completed.payload.json"))
    payload["workflow_run"]["display_title"] = "ci(action): update actions/setup-node digest to 8c91899"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.request_id == REQUEST_ID
    assert result.run.name == "ci(action): update actions/setup-node digest to 8c91899"


def test_request_id_from_request_branch(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_requested.payload.json"), name="")
    payload["workflow_run"]["display_title"] = ""
    payload["workflow_run"]["head_branch"] = f"request/{REQUEST_ID}"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.request_id == REQUEST_ID
    assert result.run.head_branch == f"request/{REQUEST_ID}"
    assert result.run.status == "queued"


def test_run_name_wins_over_branch(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"), kind="apply")
    payload["workflow_run"]["head_branch"] = "request/req_zzzzzz999999"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, RunFact)
    assert result.request_id == REQUEST_ID


def test_our_workflow_without_request_id_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    # The scheduled drift run covers many requests and names none.
    payload = ours(load("octokit__workflow_run_completed.payload.json"), kind="drift", name="drift")
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert result == NotOurs(event="workflow_run", reason="no request id in run name 'drift' or branch 'master'")


def test_id_lookalikes_are_not_ids(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"), name="plan xreq_abc123def456 REQ_ABC123DEF456")
    payload["workflow_run"]["head_branch"] = "feature/req_abc123def456"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, NotOurs)
    assert result.reason.startswith("no request id in run name")


def test_run_from_a_fork_is_not_ours(load: Loader, workflows: WorkflowNames) -> None:
    payload = ours(load("octokit__workflow_run_completed.payload.json"))
    payload["workflow_run"]["head_repository"]["full_name"] = "mallory/octo-repo"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert result == NotOurs(event="workflow_run", reason="run of plan.yml comes from a fork ('mallory/octo-repo')")


def test_unknown_workflow_keeps_reason_short(load: Loader, workflows: WorkflowNames) -> None:
    payload = load("octokit__workflow_run_completed.payload.json")
    payload["workflow_run"]["path"] = ".github/workflows/" + "x" * 5000 + ".yml"
    result = parse_delivery("workflow_run", payload, workflows=workflows)
    assert isinstance(result, NotOurs)
    assert result.reason.startswith("workflow '.github/workflows/xxx")
    assert len(result.reason) < 200
