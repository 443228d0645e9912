"""Where a failed run failed: the job and step GitHub lists for it reach the thread reply and the
audit trail (one jobs read per new failure, never for a replay or a success)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.views.fact_text import failed_text
from bot.views.reasons import transition_text
from core.domain.fact_reasons import JobFailure
from core.ports.code_host import JobInfo, JobStepInfo
from core.services.sync import failed_at
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.conftest import APPROVER, World, create_cmd
from tests.services.test_github_lifecycle import REPO, Stack

JOBS = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
ARTIFACTS = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"
FIXTURE_JOB = "octokit__workflow_job_completed.failure.with-organization.payload.json"


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    yield built
    built.client.close()


@pytest.fixture
def failed_job(shared_fixtures: Path) -> dict[str, Any]:
    job: dict[str, Any] = json.loads((shared_fixtures / "github" / "webhooks" / FIXTURE_JOB).read_text())[
        "workflow_job"
    ]
    return job


def test_a_failed_plan_says_which_job_and_step_failed(stack: Stack, failed_job: dict[str, Any]) -> None:
    request = stack.requests.create(create_cmd())
    run_id = request.plan_run.run_id
    stack.sim.set_jobs(REPO, run_id, [failed_job])
    before = Counter(stack.client.stats.by_operation)
    outcomes = stack.run_to_end(run_id, request.id, kind="plan", conclusion="failure")
    assert outcomes[-1].status == "failed" and outcomes[-1].notified
    # No plan download for a failed plan; one jobs read; one artifact listing (for the run's
    # diagnostics, absent here).
    assert stack.spent(before) == {JOBS: 1, ARTIFACTS: 1}
    _, transition = stack.world.notifier.sent[-1]
    assert transition.event == "failed"
    assert transition_text(transition) == (
        f"plan run {run_id} failure: job 'linters' failed at step 8 'Run yarn run format-check'"
    )
    assert transition.run_url == failed_job["html_url"]  # the failing job's log, not just the run
    (completed,) = [e for e in stack.world.audit.events(request.id) if e.event == "plan_completed"]
    # The audit record keeps where it failed as data; the views say it the same way as the reply.
    failed = completed.data["failedAt"]
    assert failed == {"job": "linters", "conclusion": "failure", "step": 8, "stepName": "Run yarn run format-check"}
    said = failed_text(
        JobFailure(
            kind="plan", job=failed["job"], conclusion=failed["conclusion"], step=8, step_name=failed["stepName"]
        )
    )
    assert said == "job 'linters' failed at step 8 'Run yarn run format-check'"
    # GitHub redelivers the completion: nothing changes, nothing is read again.
    again = Counter(stack.client.stats.by_operation)
    assert not stack.deliver(*stack.sim.workflow_run_delivery(REPO, run_id)).changed
    assert stack.spent(again) == {}


def test_a_failed_apply_names_its_job(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    review = stack.sim.add_review(REPO, request.pr.number, "carol")
    stack.deliver(*stack.sim.review_delivery(REPO, request.pr.number, review))
    stack.requests.merge(request.id, APPROVER)
    applying = stack.requests.apply(request.id, APPROVER)
    run_id = applying.apply_run.run_id
    stack.run_to_end(run_id, request.id, kind="apply", conclusion="timed_out")  # the sim's default job
    _, transition = stack.world.notifier.sent[-1]
    assert (transition.event, transition.status) == ("failed", "failed")
    assert transition_text(transition) == f"apply run {run_id} timed_out: job 'apply' timed out"
    assert transition.run_url and transition.run_url.endswith(f"/job/{run_id * 10}")


def test_success_reads_no_jobs(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    assert stack.client.stats.by_operation[JOBS] == 0


def test_jobs_unavailable_still_tells_of_the_failure(stack: Stack, failed_job: dict[str, Any]) -> None:
    request = stack.requests.create(create_cmd())
    run_id = request.plan_run.run_id
    original = stack.sim.handler

    def no_jobs(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/jobs"):
            return httpx.Response(403, json={"message": "Resource not accessible by integration"})
        return original(req)

    stack.router.routes.clear()
    stack.router.route().mock(side_effect=no_jobs)
    outcomes = stack.run_to_end(run_id, request.id, kind="plan", conclusion="failure")
    assert outcomes[-1].status == "failed" and outcomes[-1].notified
    _, transition = stack.world.notifier.sent[-1]
    assert transition_text(transition) == f"plan run {run_id} failure" and transition.run_url.endswith(
        f"/runs/{run_id}"
    )


def _job(conclusion: str | None, steps: Sequence[tuple[str, str | None]] = (), name: str = "plan") -> JobInfo:
    return JobInfo(
        id=1,
        name=name,
        url="https://github.com/acme/infra/actions/runs/1/job/1",
        status="completed",
        conclusion=conclusion,
        steps=tuple(
            JobStepInfo(number=i, name=n, status="completed", conclusion=c) for i, (n, c) in enumerate(steps, 1)
        ),
    )


@pytest.mark.parametrize(
    ("jobs", "text"),
    [
        ([_job("success"), _job("failure", [("init", "success"), ("terraform plan", "failure")])], "failed at step 2"),
        ([_job("timed_out", [("terraform apply", "cancelled")])], "job 'plan' timed out at step 1 'terraform apply'"),
        ([_job("cancelled")], "job 'plan' was cancelled"),
        ([_job("startup_failure")], "job 'plan' ended startup failure"),
        ([_job("failure", [("x" * 200, "failure")], name="a\nb")], "job 'a b' failed at step 1 'xxx"),
    ],
)
def test_failed_at_wording(jobs: list[JobInfo], text: str) -> None:
    found = failed_at("plan", jobs)
    assert found is not None and text in failed_text(found) and found.kind == "plan"
    assert len(failed_text(found)) < 200 and "\n" not in failed_text(found)
    assert found.url == "https://github.com/acme/infra/actions/runs/1/job/1"


@pytest.mark.parametrize("jobs", [[], [_job("success"), _job("skipped"), _job(None)]])
def test_no_failed_job_says_nothing(jobs: list[JobInfo]) -> None:
    assert failed_at("plan", jobs) is None


def test_a_host_without_jobs_keeps_the_plain_message(world: World) -> None:
    """The in-memory and local hosts list no jobs: the failure is told as before."""
    from tests.services.helpers import finish_run

    request = world.requests.create(create_cmd())
    finish_run(world, request, "plan", "failure")
    _, transition = world.notifier.sent[-1]
    assert transition.event == "failed" and transition_text(transition) == f"plan run {request.plan_run.run_id} failure"
