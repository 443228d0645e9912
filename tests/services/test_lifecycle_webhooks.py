"""The whole lifecycle, driven by real webhook payloads: create -> plan -> approve -> merge ->
apply -> destroy. Every GitHub-side change reaches the request only as a delivery built from the
octokit fixtures, parsed by ``parse_delivery`` and folded by ``SyncService.apply_fact``."""

from __future__ import annotations

from typing import Any

import pytest

from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs
from core.services.sync import SyncOutcome
from tests.services import deliveries
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd


@pytest.fixture(autouse=True)
def _needs_fixtures(shared_fixtures: Any) -> None:
    assert deliveries.exists()


class Driver:
    def __init__(self, world: World) -> None:
        self.world = world
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.counter = 0

    def deliver(self, event: str, payload: dict[str, Any]) -> SyncOutcome:
        self.counter += 1
        fact = parse_delivery(event, payload, workflows=self.world.workflows, delivery_id=f"d-{self.counter}")
        assert not isinstance(fact, NotOurs), fact.reason
        self.log.append((event, payload))
        return self.world.sync.apply_fact(fact)

    def run_events(self, run_id: int, conclusion: str = "success") -> list[SyncOutcome]:
        host = self.world.host
        run = host.runs[run_id]
        out = [self.deliver(*deliveries.workflow_run(run))]  # requested
        host.start_run(run_id)
        out.append(self.deliver(*deliveries.workflow_run(run)))
        self.world.clock.advance(minutes=2)
        host.complete_run(run_id, conclusion)
        out.append(self.deliver(*deliveries.workflow_run(run)))
        return out

    def pr_event(self, number: int, action: str) -> SyncOutcome:
        return self.deliver(*deliveries.pull_request(self.world.host, self.world.repo, number, action))


def test_full_lifecycle_from_webhook_payloads(world: World) -> None:
    drive = Driver(world)
    host = world.host

    request = world.requests.create(create_cmd())
    rid = request.id
    assert drive.pr_event(request.pr.number, "opened").changed is False  # we recorded it already

    outcomes = drive.run_events(request.plan_run.run_id)
    assert [o.status for o in outcomes] == ["planning", "planning", "plan_ready"]
    assert world.get(rid).plan.summary.add == 1

    # A reviewer approves on GitHub at the head commit.
    review = host.add_review(world.repo, request.pr.number, "carol")
    approved = drive.deliver(*deliveries.review(host, world.repo, request.pr.number, review))
    assert approved.status == "approved"

    merged = world.requests.merge(rid, APPROVER)
    closed = drive.pr_event(request.pr.number, "closed")
    assert merged.status == "merged" and closed.status == "merged" and not closed.notified

    applying = world.requests.apply(rid, APPROVER)
    outcomes = drive.run_events(applying.apply_run.run_id)
    assert [o.status for o in outcomes] == ["applying", "applying", "applied"]

    # Destroy: TfPilot opens the removal PR (destroy/<id>) and, no review being required, runs
    # the destroy on main (the file still there); the PR's "opened" delivery adds nothing.
    requested = world.requests.destroy(rid, ADMIN)
    assert requested.status == "destroying" and not host.runs_of("cleanup.yml")
    removal = requested.cleanup_pr.number
    event, payload = deliveries.pull_request(host, world.repo, removal, "opened")
    assert payload["pull_request"]["head"]["ref"] == f"destroy/{rid}" and payload["pull_request"]["state"] == "open"
    assert not drive.deliver(event, payload).notified
    assert f"envs/dev/tfpilot_{rid}.tf" in host.tree(world.repo, "main")
    outcomes = drive.run_events(requested.destroy_run.run_id)
    assert [o.status for o in outcomes] == ["destroying", "destroying", "destroyed"]
    # The destroy run's success merged the removal PR (its delivery afterwards changes nothing).
    assert host.repo(world.repo).prs[removal].merged
    assert f"envs/dev/tfpilot_{rid}.tf" not in host.tree(world.repo, "main")
    assert not drive.pr_event(removal, "closed").notified

    # Archived to history/, with the whole trail.
    assert rid in world.store.history and rid not in world.store.active
    final = world.get(rid)
    assert final.archived_at is not None and final.destroyed_at is not None
    assert world.notifier.events(rid) == [
        "created",
        "plan_ready",
        "approved",
        "merged",
        "applying",
        "applied",
        "destroy_requested",
        "destroying",
        "destroyed",
    ]
    statuses = [t.status for _, t in world.notifier.sent if _ == rid]
    assert statuses == [
        "planning",
        "plan_ready",
        "approved",
        "merged",
        "applying",
        "applied",
        "applied",  # destroy requested: the removal PR is opened first
        "destroying",
        "destroyed",
    ]
    events = world.events(rid)
    for name in (
        "request_created",
        "plan_dispatched",
        "plan_completed",
        "approved",
        "merged",
        "apply_dispatched",
        "apply_completed",
        "destroy_requested",
        "destroy_dispatched",
        "destroy_completed",
        "removal_pr_merged",
        "archived",
    ):
        assert name in events, name

    # Every delivery replayed (GitHub redelivers): nothing changes, nobody is told.
    sent = len(world.notifier.sent)
    for event, payload in drive.log:
        fact = parse_delivery(event, payload, workflows=world.workflows)
        assert not world.sync.apply_fact(fact).changed
    assert len(world.notifier.sent) == sent


def test_synchronize_delivery_voids_the_approval(world: World) -> None:
    drive = Driver(world)
    request = world.requests.create(create_cmd())
    drive.run_events(request.plan_run.run_id)
    world.requests.approve(request.id, APPROVER)
    world.host.push(world.repo, request.branch_name, {"hand.tf": "# edit\n"})
    outcome = drive.pr_event(request.pr.number, "synchronize")
    assert (outcome.previous_status, outcome.status) == ("approved", "planning")
    assert world.notifier.events(request.id)[-1] == "approval_voided"


def test_dismissed_review_delivery_voids_a_github_approval(world: World) -> None:
    drive = Driver(world)
    host = world.host
    request = world.requests.create(create_cmd())
    drive.run_events(request.plan_run.run_id)
    review = host.add_review(world.repo, request.pr.number, "carol")
    drive.deliver(*deliveries.review(host, world.repo, request.pr.number, review))
    dismissed = host.dismiss_review(world.repo, request.pr.number, review.id)
    outcome = drive.deliver(*deliveries.review(host, world.repo, request.pr.number, dismissed, "dismissed"))
    assert (outcome.previous_status, outcome.status) == ("approved", "plan_ready")


def test_failed_plan_delivery(world: World) -> None:
    drive = Driver(world)
    request = world.requests.create(create_cmd())
    outcomes = drive.run_events(request.plan_run.run_id, "failure")
    assert outcomes[-1].status == "failed" and outcomes[-1].notified
