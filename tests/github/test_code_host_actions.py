"""GitHubCodeHost workflows: dispatch with run details or the run-name fallback, runs, and
plan/cost artifacts read from zips in memory with size bounds."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.ports.code_host import CodeHostError
from tests.github import payloads
from tests.github.conftest import REPO, FakeTime
from tests.github.openapi_contract import OpenApiChecker

RID = "req_abc123def456"
BRANCH = f"request/{RID}"
DISPATCH = "/repos/acme/infra/actions/workflows/plan.yml/dispatches"
RUNS = "/repos/acme/infra/actions/workflows/plan.yml/runs"
INPUTS = {"request_id": RID, "environment": "dev"}
DATE = "Thu, 26 Nov 2026 09:00:04 GMT"


def dispatch(code_host: GitHubCodeHost) -> object:
    return code_host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs=INPUTS)


def test_dispatch_returns_the_run_from_run_details(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    route = github_api.post(DISPATCH).respond(
        200,
        json={
            "workflow_run_id": 555,
            "run_url": "https://api.github.com/repos/acme/infra/actions/runs/555",
            "html_url": "https://github.com/acme/infra/actions/runs/555",
        },
    )
    run = dispatch(code_host)
    assert run is not None
    assert (run.run_id, run.url, run.status, run.workflow, run.head_branch, run.event) == (
        555,
        "https://github.com/acme/infra/actions/runs/555",
        "queued",
        "plan.yml",
        BRANCH,
        "workflow_dispatch",
    )
    assert json.loads(route.calls.last.request.content) == {
        "ref": BRANCH,
        "inputs": INPUTS,
        "return_run_details": True,
    }
    assert openapi_checker.operation_ids() == ["actions/create-workflow-dispatch"]
    assert code_host.run_details_supported is True


def test_dispatch_204_falls_back_to_finding_the_run_by_request_id(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float], openapi_checker: OpenApiChecker
) -> None:
    github_api.post(DISPATCH).respond(204, headers={"date": DATE})
    older = payloads.run(500, title=f"plan {RID} dev", created_at="2026-11-26T08:00:00Z", status="completed")
    other = payloads.run(502, title="plan req_zzzzzzzzzzzz dev", created_at="2026-11-26T09:00:05Z")
    ours = payloads.run(501, title=f"plan {RID} dev", created_at="2026-11-26T09:00:05Z")
    runs = github_api.get(RUNS).mock(
        side_effect=[
            httpx.Response(200, json={"total_count": 1, "workflow_runs": [older]}),
            httpx.Response(200, json={"total_count": 3, "workflow_runs": [other, ours, older]}),
        ]
    )
    run = dispatch(code_host)
    assert run is not None
    assert (run.run_id, run.name, run.workflow, run.status) == (501, f"plan {RID} dev", "plan.yml", "queued")
    assert dict(runs.calls.last.request.url.params) == {
        "event": "workflow_dispatch",
        "branch": BRANCH,
        "per_page": "50",
    }
    assert sleeps == [1.0]  # the re-plan's older run was not taken for the new one
    assert openapi_checker.operation_ids() == [
        "actions/create-workflow-dispatch",
        "actions/list-workflow-runs",
        "actions/list-workflow-runs",
    ]


def test_dispatch_422_rejecting_run_details_retries_without_it_then_finds_the_run(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    route = github_api.post(DISPATCH).mock(
        side_effect=[
            httpx.Response(422, json={"message": 'Invalid request.\n\n"return_run_details" is not a permitted key.'}),
            httpx.Response(204, headers={"date": DATE}),
            httpx.Response(204, headers={"date": DATE}),
        ]
    )
    github_api.get(RUNS).respond(
        200, json={"total_count": 1, "workflow_runs": [payloads.run(601, title=f"plan {RID} dev")]}
    )
    run = dispatch(code_host)
    assert run is not None and run.run_id == 601
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert bodies == [{"ref": BRANCH, "inputs": INPUTS, "return_run_details": True}, {"ref": BRANCH, "inputs": INPUTS}]
    assert code_host.run_details_supported is False
    # The next dispatch does not spend a call on the refused field.
    dispatch(code_host)
    assert json.loads(route.calls.last.request.content) == {"ref": BRANCH, "inputs": INPUTS}
    assert route.call_count == 3


def test_dispatch_400_rejecting_run_details_is_handled_the_same(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.post(DISPATCH).mock(
        side_effect=[
            httpx.Response(400, json={"message": "Problems parsing JSON"}),
            httpx.Response(204, headers={"date": DATE}),
        ]
    )
    github_api.get(RUNS).respond(200, json={"total_count": 1, "workflow_runs": [payloads.run(9, title=f"x {RID}")]})
    run = dispatch(code_host)
    assert run is not None and run.run_id == 9


def test_dispatch_refused_for_another_reason_is_an_error(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    route = github_api.post(DISPATCH).respond(
        422, json={"message": "Workflow does not have 'workflow_dispatch' trigger"}
    )
    with pytest.raises(CodeHostError, match="does not have 'workflow_dispatch' trigger") as caught:
        dispatch(code_host)
    assert caught.value.status == 422
    assert route.call_count == 2
    assert code_host.run_details_supported is None  # the field was not what the server refused


def test_dispatch_run_not_found_in_time_is_none(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.post(DISPATCH).respond(204)
    runs = github_api.get(RUNS).respond(200, json={"total_count": 0, "workflow_runs": []})
    assert dispatch(code_host) is None
    assert runs.call_count == code_host.dispatch_find_attempts == 5
    assert sleeps == [1.0, 2.0, 3.0, 4.0]


def test_dispatch_is_never_repeated_when_its_outcome_is_unknown(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    route = github_api.post(DISPATCH).respond(502)
    with pytest.raises(CodeHostError, match="may have been applied") as caught:
        dispatch(code_host)
    assert route.call_count == 1
    assert caught.value.retryable is True


def test_dispatch_without_a_date_header_uses_the_local_clock(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, fake_time: FakeTime
) -> None:
    fake_time.value = datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC).timestamp()
    github_api.post(DISPATCH).respond(204)
    github_api.get(RUNS).respond(
        200,
        json={
            "total_count": 2,
            "workflow_runs": [
                payloads.run(701, title=f"plan {RID}", created_at="2026-11-26T09:00:31Z"),
                payloads.run(700, title=f"plan {RID}", created_at="2026-11-26T08:00:00Z"),
            ],
        },
    )
    run = dispatch(code_host)
    assert run is not None and run.run_id == 701
    github_api.get(RUNS).respond(
        200,
        json={
            "total_count": 1,
            "workflow_runs": [payloads.run(700, title=f"plan {RID}", created_at="2026-11-26T08:00:00Z")],
        },
    )
    assert dispatch(code_host) is None  # an hour-old run of the same request is not this dispatch's


def test_find_run_matches_the_exact_request_id(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    runs = github_api.get("/repos/acme/infra/actions/workflows/apply.yml/runs").respond(
        200,
        json={
            "total_count": 3,
            "workflow_runs": [
                payloads.run(3, title=f"apply {RID}x dev", workflow="apply.yml"),
                payloads.run(
                    2, title=f"apply {RID} dev", workflow="apply.yml", status="completed", conclusion="success"
                ),
                payloads.run(1, title="apply something else", workflow="apply.yml"),
            ],
        },
    )
    run = code_host.find_run(REPO, "apply.yml", request_id=RID)
    assert run is not None
    assert (run.run_id, run.conclusion, run.workflow) == (2, "success", "apply.yml")
    assert "branch" not in runs.calls.last.request.url.params
    assert code_host.find_run(REPO, "apply.yml", request_id="req_nothere00000") is None


def test_get_run(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get("/repos/acme/infra/actions/runs/77").respond(
        200, json=payloads.run(77, title=f"plan {RID}", status="completed", conclusion="failure")
    )
    run = code_host.get_run(REPO, 77)
    assert (run.run_id, run.status, run.conclusion, run.head_branch, run.event) == (
        77,
        "completed",
        "failure",
        BRANCH,
        "workflow_dispatch",
    )
    assert run.created_at is not None and run.created_at.year == 2026


def _fixture_job(shared_fixtures: Path) -> dict[str, object]:
    """A real ``job`` document: the one in GitHub's workflow_job webhook is the REST job schema."""
    name = "octokit__workflow_job_completed.failure.with-organization.payload.json"
    job: dict[str, object] = json.loads((shared_fixtures / "github" / "webhooks" / name).read_text())["workflow_job"]
    return job


def test_list_jobs_maps_jobs_and_steps(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker, shared_fixtures: Path
) -> None:
    job = _fixture_job(shared_fixtures)
    route = github_api.get("/repos/acme/infra/actions/runs/77/jobs").respond(
        200, json={"total_count": 1, "jobs": [job]}
    )
    (found,) = code_host.list_jobs(REPO, 77)
    assert (found.id, found.name, found.url, found.status, found.conclusion) == (
        289782451,
        "linters",
        "https://github.com/octo-org/octo-repo/runs/1291536064",
        "completed",
        "failure",
    )
    failed = [s for s in found.steps if s.conclusion == "failure"]
    assert [(s.number, s.name) for s in failed] == [(8, "Run yarn run format-check")]
    assert len(found.steps) == len(job["steps"])  # type: ignore[arg-type]
    assert dict(route.calls.last.request.url.params) == {"filter": "latest", "per_page": "100", "page": "1"}
    assert openapi_checker.operation_ids() == ["actions/list-jobs-for-workflow-run"]


def test_list_jobs_follows_pages(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    def job(i: int) -> dict[str, object]:
        return {
            "id": i,
            "name": f"job {i}",
            "html_url": f"https://github.com/acme/infra/runs/{i}",
            "status": "completed",
        }

    route = github_api.get("/repos/acme/infra/actions/runs/77/jobs").mock(
        side_effect=[
            httpx.Response(200, json={"total_count": 101, "jobs": [job(i) for i in range(100)]}),
            httpx.Response(200, json={"total_count": 101, "jobs": [job(100)]}),
        ]
    )
    jobs = code_host.list_jobs(REPO, 77)
    assert [j.id for j in jobs] == list(range(101)) and jobs[0].steps == ()
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]


# --- artifacts -----------------------------------------------------------------------------


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def artifact(artifact_id: int, name: str, *, expired: bool = False, created_at: str = "2026-11-26T09:05:00Z") -> dict:
    return {
        "id": artifact_id,
        "name": name,
        "size_in_bytes": 100,
        "expired": expired,
        "created_at": created_at,
        "archive_download_url": f"https://api.github.com/repos/acme/infra/actions/artifacts/{artifact_id}/zip",
    }


SIGNED = "https://productionresults.blob.example.test/artifact.zip?sig=SIGNATURE"


def mock_artifact(github_api: respx.MockRouter, archive: bytes, name: str = f"tfplan-{RID}") -> respx.Route:
    github_api.get("/repos/acme/infra/actions/runs/88/artifacts").respond(
        200,
        json={
            "total_count": 3,
            "artifacts": [
                artifact(10, name, expired=True, created_at="2026-11-27T00:00:00Z"),
                artifact(11, name),
                artifact(12, "something-else"),
            ],
        },
    )
    github_api.get("/repos/acme/infra/actions/artifacts/11/zip").respond(302, headers={"location": SIGNED})
    return github_api.get(SIGNED).respond(200, content=archive)


def test_get_plan_json_follows_the_redirect_and_unzips_in_memory(
    code_host: GitHubCodeHost,
    github_api: respx.MockRouter,
    openapi_checker: OpenApiChecker,
    shared_fixtures: Path,
) -> None:
    plan_files = sorted((shared_fixtures / "terraform" / "plans").glob("*.json"))
    plan_bytes = plan_files[0].read_bytes() if plan_files else b'{"format_version": "1.2", "resource_changes": []}'
    blob = mock_artifact(github_api, zip_of({"plan.json": plan_bytes}))
    assert code_host.get_plan_json(REPO, 88, RID) == json.loads(plan_bytes)
    assert "authorization" not in blob.calls.last.request.headers
    assert openapi_checker.operation_ids() == ["actions/list-workflow-run-artifacts", "actions/download-artifact"]
    listing = github_api.routes[0].calls.last.request.url.params
    assert dict(listing) == {"per_page": "100"}  # unfiltered: the cost artifact comes with it


def test_plan_json_in_a_folder_is_found(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    mock_artifact(github_api, zip_of({"out/plan.json": b'{"a": 1}', "out/plan.txt": b"x"}))
    assert code_host.get_plan_json(REPO, 88, RID) == {"a": 1}


def test_no_artifact_means_none(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get("/repos/acme/infra/actions/runs/88/artifacts").respond(200, json={"total_count": 0, "artifacts": []})
    assert code_host.get_plan_json(REPO, 88, RID) is None
    assert code_host.get_cost_json(REPO, 88, RID) is None


def test_expired_artifact_download_is_none(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get("/repos/acme/infra/actions/runs/88/artifacts").respond(
        200, json={"total_count": 1, "artifacts": [artifact(11, f"tfplan-{RID}")]}
    )
    github_api.get("/repos/acme/infra/actions/artifacts/11/zip").respond(410, json={"message": "Artifact has expired"})
    assert code_host.get_plan_json(REPO, 88, RID) is None


def test_get_cost_json(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    cost = {"version": "0.2", "currency": "USD", "totalMonthlyCost": "12.5", "diffTotalMonthlyCost": "12.5"}
    mock_artifact(github_api, zip_of({"infracost.json": json.dumps(cost).encode()}), name=f"infracost-{RID}")
    assert code_host.get_cost_json(REPO, 88, RID) == cost


def test_artifact_without_the_member_is_a_clear_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    mock_artifact(github_api, zip_of({"plan.txt": b"no json"}))
    with pytest.raises(CodeHostError, match=f"artifact tfplan-{RID} has no plan.json"):
        code_host.get_plan_json(REPO, 88, RID)


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not a zip", "not a valid zip"),
        (zip_of({"plan.json": b"[1, 2]"}), "not a JSON object"),
        (zip_of({"plan.json": b"{nope"}), "not valid JSON"),
    ],
)
def test_malformed_artifacts_are_clear_errors(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, archive: bytes, message: str
) -> None:
    mock_artifact(github_api, archive)
    with pytest.raises(CodeHostError, match=message):
        code_host.get_plan_json(REPO, 88, RID)


def test_oversized_archive_and_zip_bomb_are_refused(client: GitHubClient, github_api: respx.MockRouter) -> None:
    blob = mock_artifact(github_api, zip_of({"plan.json": b'{"a": "' + b"x" * 100 + b'"}'}))
    small = GitHubCodeHost(client, max_artifact_bytes=64, max_json_bytes=1024)
    with pytest.raises(CodeHostError, match="over the 64-byte limit"):
        small.get_plan_json(REPO, 88, RID)
    bomb = zip_of({"plan.json": b'{"a": "' + b"0" * 200_000 + b'"}'})
    assert len(bomb) < 2_000
    blob.respond(200, content=bomb)
    roomy_zip = GitHubCodeHost(client, max_artifact_bytes=10_000, max_json_bytes=1024)
    with pytest.raises(CodeHostError, match="over the 1024-byte limit"):
        roomy_zip.get_plan_json(REPO, 88, RID)
