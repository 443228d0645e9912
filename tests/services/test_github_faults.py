"""GitHub faults at every HTTP call of create and merge, through the real client and host.

The services run over ``GitHubClient`` + ``GitHubCodeHost`` against ``GitHubSim`` (behind the
OpenAPI contract checker). One HTTP exchange answers with a fault: a 500 (before or after GitHub
applied the request), a secondary rate limit 403 with ``retry-after``, a 404, a read timeout
(before or after it was applied) or a connection that never opened. Each call ends either in
success after the client's retries, or in a ``CodeHostError`` that says what failed; in both
cases nothing is left half-done: the operation records the error and releases its lease, and
one retry without faults ends with exactly one branch, one commit, one PR and one plan run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.domain.request import Request
from core.ports.code_host import CodeHostError
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.conftest import APPROVER, World, create_cmd
from tests.services.test_github_lifecycle import REPO, Stack

SECONDARY_LIMIT = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


class Faults:
    """Answers the ``at``-th HTTP exchange from now with ``fault``; every other one reaches the sim."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.exchanges = 0
        self.plan: dict[int, str] = {}
        self.hit: list[tuple[str, str]] = []  # (fault, "METHOD path") actually injected
        stack.router.routes.clear()
        stack.router.route().mock(side_effect=self.handle)

    def arm(self, at: int, fault: str) -> None:
        self.plan = {self.exchanges + at: fault}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.exchanges += 1
        fault = self.plan.pop(self.exchanges, None)
        sim = self.stack.sim.handler
        if fault is None:
            return sim(request)
        self.hit.append((fault, f"{request.method} {request.url.path}"))
        if fault == "500":
            return httpx.Response(500, json={"message": "Server Error"})
        if fault == "500-after":
            sim(request)
            return httpx.Response(502, json={"message": "Server Error"})
        if fault == "403-secondary":
            return httpx.Response(403, headers={"retry-after": "30"}, json={"message": SECONDARY_LIMIT})
        if fault == "404":
            return httpx.Response(404, json={"message": "Not Found"})
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "timeout-after":
            sim(request)
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        raise AssertionError(f"unknown fault {fault}")


FAULTS = ("500", "500-after", "403-secondary", "404", "timeout", "timeout-after", "connect")
# The clean create is 6 exchanges: base ref, create ref, contents PUT, PR, labels, dispatch.
CREATE_EXCHANGES = 6


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    yield built
    built.client.close()


def _assert_one_of_each(stack: Stack, request: Request) -> None:
    repo = stack.sim.repo(REPO)
    branch = f"request/{request.id}"
    assert [b for b in repo.refs if b.startswith("request/")] == [branch]
    assert stack.sim.commits[repo.refs[branch]]["parents"] == [repo.forks[branch]]  # exactly one commit
    assert len(repo.pulls) == 1 and request.pr is not None and request.pr.number in repo.pulls
    (run,) = stack.sim.runs(REPO, "plan.yml")
    assert request.plan_run is not None and request.plan_run.run_id == run["id"]
    assert request.status == "planning"
    op = request.operation("create", request.idempotency_key or "")
    assert op is not None and op.completed_at is not None and op.steps.lease is None
    assert stack.world.events(request.id).count("plan_dispatched") == 1
    assert stack.world.notifier.events(request.id) == ["created"]


def _assert_nothing_half_done(stack: Stack, error: CodeHostError) -> Request:
    """A failed create says what failed and leaves a resumable record, never a second anything."""
    message = str(error)
    assert message and ("GitHub" in message or "github" in message or "branch" in message or "write" in message)
    assert "ghs_" not in message  # no token in an error a user may see
    (rid,) = stack.world.store.active
    stored = stack.world.get(rid)
    op = stored.operation("create", stored.idempotency_key or "")
    assert op is not None and op.completed_at is None
    assert op.error and op.steps.lease is None  # an immediate retry may continue
    assert "create_failed" in stack.world.events(rid)
    repo = stack.sim.repo(REPO)
    assert len([b for b in repo.refs if b.startswith("request/")]) <= 1
    assert len(repo.pulls) <= 1 and len(stack.sim.runs(REPO, "plan.yml")) <= 1
    assert stack.world.notifier.events(rid) == []  # nobody was told of a request that is not there
    return stored


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("at", range(1, CREATE_EXCHANGES + 1))
def test_a_fault_at_any_call_of_create_ends_cleanly(stack: Stack, at: int, fault: str) -> None:
    faults = Faults(stack)
    faults.arm(at, fault)
    try:
        request = stack.requests.create(create_cmd())
    except CodeHostError as exc:
        _assert_nothing_half_done(stack, exc)
        request = stack.requests.create(create_cmd())  # the retry: no faults this time
    ((_, call),) = faults.hit
    _assert_one_of_each(stack, request)
    # A transient fault never reaches the user, except on the dispatch: a 500 there may or may
    # not have started a run, so it is not repeated blindly (the retry looks for the run first).
    transient = fault == "403-secondary" or (fault == "500" and not call.endswith("/dispatches"))
    assert stack.world.events(request.id).count("create_failed") <= (0 if transient else 1), call


def test_transient_faults_are_retried_within_the_call(stack: Stack) -> None:
    """500 then success, and a secondary rate limit: the client waits (retry-after) and goes on."""
    faults = Faults(stack)
    faults.arm(1, "500")
    request = stack.requests.create(create_cmd())
    assert stack.client.stats.retries == 1
    faults.arm(1, "403-secondary")
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")  # the plan download gets the 403
    assert stack.client.stats.rate_limit_waits == 1 and stack.client.stats.slept_seconds >= 30
    assert stack.world.get(request.id).status == "plan_ready"
    assert "create_failed" not in stack.world.events(request.id)


def _approved(stack: Stack) -> Request:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    review = stack.sim.add_review(REPO, request.pr.number, "carol")
    assert stack.deliver(*stack.sim.review_delivery(REPO, request.pr.number, review)).status == "approved"
    return stack.world.get(request.id)


@pytest.mark.parametrize("fault", [*FAULTS, "409-busy"])
def test_a_fault_on_merge_ends_merged_or_in_a_clear_error(stack: Stack, fault: str) -> None:
    request = _approved(stack)
    faults = Faults(stack)
    if fault == "409-busy":
        # GitHub's 409 while the head is unchanged (e.g. the base moved under the merge): try again.
        original = faults.handle

        def busy_once(req: httpx.Request) -> httpx.Response:
            if req.method == "PUT" and req.url.path.endswith("/merge") and not faults.hit:
                faults.hit.append(("409", "PUT merge"))
                return httpx.Response(
                    409, json={"message": "Base branch was modified. Review and try the merge again."}
                )
            return original(req)

        stack.router.routes.clear()
        stack.router.route().mock(side_effect=busy_once)
    else:
        faults.arm(1, fault)
    try:
        merged = stack.requests.merge(request.id, APPROVER)
    except CodeHostError as exc:
        assert "PR #" in str(exc) or "GitHub" in str(exc)
        stored = stack.world.get(request.id)
        op = next(op for op in stored.operations if op.kind == "merge")
        assert op.error and op.steps.lease is None and op.completed_at is None
        assert stored.status == "approved" and not stored.pr.merged  # nothing recorded as merged
        merged = stack.requests.merge(request.id, APPROVER)  # the retry
    assert faults.hit
    assert merged.status == "merged" and merged.pr.merged and merged.merged_sha
    assert stack.sim.repo(REPO).pulls[request.pr.number]["merged"]
    assert f"envs/dev/tfpilot_{request.id}.tf" in stack.sim.files(REPO, "main")
    assert stack.world.events(request.id).count("merged") == 1
    assert stack.world.notifier.events(request.id).count("merged") == 1


@pytest.mark.parametrize("status", [409, 422])
def test_merge_refused_for_good_leaves_the_request_approved(stack: Stack, status: int) -> None:
    """A 409 because the head moved, or a 422 (the repository refuses squash merges): a clear
    error, nothing merged, the approval untouched; a later merge goes through."""
    request = _approved(stack)
    faults = Faults(stack)
    refused: list[int] = []
    original = faults.handle

    def refuse(req: httpx.Request) -> httpx.Response:
        if req.method == "PUT" and req.url.path.endswith("/merge") and not refused:
            refused.append(status)
            if status == 409:
                stack.sim.push(REPO, request.branch_name, {"hand.tf": "# pushed by hand\n"})
                return httpx.Response(
                    409, json={"message": "Head branch was modified. Review and try the merge again."}
                )
            return httpx.Response(422, json={"message": "Squash merges are not allowed on this repository."})
        return original(req)

    stack.router.routes.clear()
    stack.router.route().mock(side_effect=refuse)
    with pytest.raises(CodeHostError) as caught:
        stack.requests.merge(request.id, APPROVER)
    expected = "head changed" if status == 409 else "Squash merges are not allowed"
    assert expected in str(caught.value) and caught.value.status == status
    stored = stack.world.get(request.id)
    assert not stored.pr.merged and stored.merged_sha is None
    assert not stack.sim.repo(REPO).pulls[request.pr.number]["merged"]
    assert "merge_failed" in stack.world.events(request.id)
    assert stack.world.notifier.events(request.id)[-1] == "approved"
    if status == 422:
        assert stack.requests.merge(request.id, APPROVER).status == "merged"
    else:
        # The pushed commit was never approved: its synchronize delivery voids the approval.
        outcome = stack.deliver(*stack.sim.pull_request_delivery(REPO, request.pr.number, "synchronize"))
        assert outcome.status == "planning" and stack.world.notifier.events(request.id)[-1] == "approval_voided"


def test_a_fault_on_the_apply_dispatch_never_starts_two_runs(stack: Stack) -> None:
    request = _approved(stack)
    stack.requests.merge(request.id, APPROVER)
    faults = Faults(stack)
    faults.arm(1, "timeout-after")  # the dispatch happened; its answer was lost
    with pytest.raises(CodeHostError, match="may have been applied"):
        stack.requests.apply(request.id, APPROVER)
    assert len(stack.sim.runs(REPO, "apply.yml")) == 1
    applying = stack.requests.apply(request.id, APPROVER)  # the same click again: the run is found
    (run,) = stack.sim.runs(REPO, "apply.yml")
    assert applying.status == "applying" and applying.apply_run.run_id == run["id"]
    assert applying.apply_triggered_at is not None
