"""The services over the real ``GitHubCodeHost`` and ``GitHubClient``: every request goes through
respx to ``GitHubSim`` behind the OpenAPI contract checker (a violation fails the test), and the
GitHub side reaches the request only as webhook deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.domain.facts import NotOurs
from core.domain.webhooks import parse_delivery
from core.services.requests import RequestService
from core.services.sync import SyncOutcome, SyncService
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.conftest import (
    ADMIN,
    APPROVER,
    POLICY,
    FakeProjects,
    FakeRegistry,
    World,
    create_cmd,
    fake_render,
)
from tests.services.github_sim import API_URL, GitHubSim

REPO = "acme/infra"
TOKEN = "ghs_SIMULATEDtoken000000000000000000000000"


class Stack:
    def __init__(self, world: World, checker: OpenApiChecker, plan_doc: dict[str, Any]) -> None:
        self.world = world
        self.sim = GitHubSim(now=world.clock.now)
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.route().mock(side_effect=self.sim.handler)
        self.client = GitHubClient(
            auth=StaticToken(TOKEN),
            base_url=API_URL,
            transport=checker.transport(self.router.handler),
            sleep=lambda _s: None,
            rand=lambda: 0.5,
        )
        self.host = GitHubCodeHost(self.client, dispatch_poll_seconds=0.0)
        self.requests = RequestService(
            world.store,
            world.audit,
            self.host,
            FakeRegistry(),
            FakeProjects(),
            world.notifier,
            world.clock,
            POLICY,
            world.workflows,
            renderer=fake_render,
        )
        self.sync = SyncService(world.store, self.host, world.notifier, world.audit, world.clock, world.workflows)
        self.plan_doc = plan_doc

    def deliver(self, event: str, payload: dict[str, Any]) -> SyncOutcome:
        fact = parse_delivery(event, payload, workflows=self.world.workflows, delivery_id="d")
        assert not isinstance(fact, NotOurs), fact.reason
        return self.sync.apply_fact(fact)

    def run_to_end(self, run_id: int, rid: str, *, kind: str, conclusion: str = "success") -> list[SyncOutcome]:
        out = [self.deliver(*self.sim.workflow_run_delivery(REPO, run_id))]
        self.sim.set_run(REPO, run_id, "in_progress")
        out.append(self.deliver(*self.sim.workflow_run_delivery(REPO, run_id)))
        self.world.clock.advance(minutes=3)
        if kind == "plan":
            self.sim.add_artifact(REPO, run_id, f"tfplan-{rid}", "plan.json", self.plan_doc)
        self.sim.set_run(REPO, run_id, "completed", conclusion)
        out.append(self.deliver(*self.sim.workflow_run_delivery(REPO, run_id)))
        return out


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    yield built
    built.client.close()


def test_full_lifecycle_through_github_code_host(stack: Stack, openapi_checker: OpenApiChecker) -> None:  # noqa: F811
    world, sim = stack.world, stack.sim
    request = stack.requests.create(create_cmd())
    rid = request.id
    assert request.status == "planning" and request.pr.number in sim.repo(REPO).pulls
    pull = sim.repo(REPO).pulls[request.pr.number]
    assert [label["name"] for label in pull["labels"]] == ["tfpilot", "env:dev", "module:s3-bucket"]
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, f"request/{rid}")
    create_calls = stack.client.stats.calls

    assert not stack.deliver(*sim.pull_request_delivery(REPO, request.pr.number, "opened")).changed
    outcomes = stack.run_to_end(request.plan_run.run_id, rid, kind="plan")
    assert [o.status for o in outcomes] == ["planning", "planning", "plan_ready"]
    stored = world.get(rid)
    assert stored.plan.summary is not None and stored.plan.summary.add >= 1

    review = sim.add_review(REPO, request.pr.number, "carol")
    assert stack.deliver(*sim.review_delivery(REPO, request.pr.number, review)).status == "approved"

    assert stack.requests.merge(rid, APPROVER).status == "merged"
    assert not stack.deliver(*sim.pull_request_delivery(REPO, request.pr.number, "closed")).notified
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, "main")

    applying = stack.requests.apply(rid, APPROVER)
    assert [o.status for o in stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")] == [
        "applying",
        "applying",
        "applied",
    ]

    destroying = stack.requests.destroy(rid, ADMIN)
    assert destroying.cleanup_pr.merged and f"envs/dev/tfpilot_{rid}.tf" not in sim.files(REPO, "main")
    assert not stack.deliver(*sim.pull_request_delivery(REPO, destroying.cleanup_pr.number, "closed")).notified
    assert [o.status for o in stack.run_to_end(destroying.destroy_run.run_id, rid, kind="destroy")] == [
        "destroying",
        "destroying",
        "destroyed",
    ]
    assert rid in world.store.history
    assert world.notifier.events(rid) == [
        "created",
        "plan_ready",
        "approved",
        "merged",
        "applying",
        "applied",
        "destroying",
        "destroyed",
    ]
    stats = stack.client.stats
    print("lifecycle through GitHubClient:", stats.snapshot())
    # Create: ref, create ref, commit, tree, commit, update ref, PR, labels, dispatch.
    assert create_calls == 9
    assert stats.calls <= 25, stats.snapshot()
    assert not openapi_checker.violations and len(openapi_checker.calls) == stats.calls
    assert "blob.example.net" in openapi_checker.external  # the plan artifact download


def test_idle_refresh_costs_no_rate_limit(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    stack.sync.sync(request.id)  # first refresh primes the ETag cache
    before = stack.client.stats.snapshot()
    for _ in range(5):
        stack.world.clock.advance(minutes=10)
        synced = stack.sync.sync(request.id)
    after = stack.client.stats.snapshot()
    assert synced.status == "plan_ready"
    assert after["calls"] - before["calls"] == 10  # the PR and its reviews, five times
    assert after["rate_limit_cost"] == before["rate_limit_cost"]  # every one answered 304


@pytest.mark.parametrize("n", range(1, 10))
def test_crash_between_steps_through_github(stack: Stack, n: int) -> None:
    """A worker dies after the n-th HTTP call of create (its effect landed); the retry re-finds
    what it made through the GitHub host: one branch, one commit, one PR, one plan run."""
    from core.services.operations import LEASE

    calls: list[int] = []
    original = stack.sim.handler

    class Died(BaseException):
        pass

    def dying(request: Any) -> Any:
        response = original(request)
        calls.append(1)
        if len(calls) == n:
            raise Died
        return response

    stack.router.routes.clear()
    stack.router.route().mock(side_effect=dying)
    with pytest.raises(Died):
        stack.requests.create(create_cmd())
    stack.world.clock.advance(seconds=LEASE.total_seconds() + 1)
    request = stack.requests.create(create_cmd())
    repo = stack.sim.repo(REPO)
    assert [b for b in repo.refs if b.startswith("request/")] == [f"request/{request.id}"]
    assert len(repo.pulls) == 1 and len(stack.sim.runs(REPO, "plan.yml")) == 1
    assert request.status == "planning"
    head = repo.refs[f"request/{request.id}"]
    assert stack.sim.commits[head]["parents"] == [repo.forks[f"request/{request.id}"]]  # exactly one commit
