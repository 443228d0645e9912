"""Drift on an applied request: Re-plan plans the base branch, Apply follows, and its success resolves the drift."""

from __future__ import annotations

from typing import Any

import pytest

from bot.views.fact_text import outcome_text
from bot.views.refusals import reason_text
from bot.views.timeline_text import timeline_label
from core.domain.errors import PermissionDenied
from core.domain.facts import RunFact
from core.domain.lifecycle import derive_status
from core.domain.policy import Action, Actor, Policy, allowed_actions
from core.domain.request import Request
from core.domain.status import Status
from core.services.drift import DriftReport
from tests.services.conftest import APPROVER, REQUESTER, World
from tests.services.helpers import applied, finish_run, run_fact

# The drift plan finds the bucket changed outside Terraform: one update.
DRIFT_PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "module.bucket.aws_s3_bucket.this",
            "type": "aws_s3_bucket",
            "name": "this",
            "change": {"actions": ["update"], "before": {"bucket": "demo"}, "after": {"bucket": "demo2"}},
        }
    ],
}


def _drifted(world: World) -> Request:
    request = applied(world)
    world.clock.advance(hours=1)
    report = DriftReport(
        detected=True,
        summary="1 to change: module.bucket.aws_s3_bucket.this (update)",
        counts={"add": 0, "change": 1, "destroy": 0},  # type: ignore[arg-type]
        run_url="https://github.com/acme/infra/actions/runs/77",
    )
    world.drift.record(request.id, report)
    world.clock.advance(minutes=5)
    return world.get(request.id)


REQUESTER_ACTOR = Actor(id=REQUESTER.id, email=REQUESTER.email)


def _actions(request: Request) -> dict[Action, bool]:
    """What the card offers: the state's decisions for a fully-permitted actor."""
    neutral = Actor("U_ALL")
    policy = Policy.of(admins=[neutral.id], prod_allowed=[neutral.id], destroy_prod_allowed=[neutral.id])
    return {action: decision.allowed for action, decision in allowed_actions(request, neutral, policy).items()}


def test_replan_after_drift_plans_the_base_branch_then_apply_resolves_it(world: World) -> None:
    request = _drifted(world)
    old_plan_run = request.plan_run
    assert old_plan_run is not None and old_plan_run.run_id is not None
    assert _actions(request)[Action.REPLAN] and not _actions(request)[Action.APPLY]
    before = len(world.notifier.sent)

    request = world.requests.replan(request.id, REQUESTER_ACTOR)
    plan_run = request.plan_run
    assert plan_run is not None and plan_run.run_id is not None and plan_run.run_id != old_plan_run.run_id
    dispatched = world.host.runs[plan_run.run_id]
    assert dispatched.ref == "main" and dispatched.workflow == world.workflows.plan
    assert request.plan is None  # the old plan is not shown as the drift plan
    assert derive_status(request) is Status.APPLIED
    assert world.notifier.events(request.id)[before:] == ["planning"]
    assert "replan_dispatched" in world.events(request.id)
    # While it runs: neither Apply nor a second Re-plan.
    assert not _actions(request)[Action.APPLY] and not _actions(request)[Action.REPLAN]

    world.host.plan_docs[plan_run.run_id] = DRIFT_PLAN
    outcome = finish_run(world, request, "plan")
    assert outcome.changed and outcome.status == "applied"
    request = world.get(request.id)
    assert request.plan is not None and request.plan.run_id == plan_run.run_id
    assert request.plan.summary.change == 1 and request.plan.summary.add == 0  # type: ignore[union-attr]
    assert world.notifier.events(request.id)[-1] == "plan_ready"
    assert derive_status(request) is Status.APPLIED
    assert _actions(request)[Action.APPLY]

    last_apply = request.apply_run.run_id  # type: ignore[union-attr]
    request = world.requests.apply(request.id, APPROVER)
    apply_run = request.apply_run
    assert apply_run is not None and apply_run.run_id != last_apply
    assert world.host.runs[apply_run.run_id].ref == "main"  # type: ignore[index]
    assert derive_status(request) is Status.APPLYING

    outcome = finish_run(world, request, "apply")
    assert outcome.status == "applied"
    request = world.get(request.id)
    assert request.drift is not None and request.drift.detected is False
    assert request.drift.summary and request.drift.checked_at is not None  # history kept
    assert "drift_resolved" in world.events(request.id)
    assert any(timeline_label(step) == "Drift resolved" for step in request.timeline)
    actions = _actions(request)
    assert not actions[Action.REPLAN] and not actions[Action.APPLY] and actions[Action.DESTROY]
    # Replayed deliveries change nothing and resolve nothing twice.
    again = world.sync.apply_fact(run_fact(world, request.id, apply_run.run_id, "apply"))  # type: ignore[arg-type]
    assert not again.changed and world.events(request.id).count("drift_resolved") == 1


def test_replan_is_refused_without_drift(world: World) -> None:
    request = applied(world)
    with pytest.raises(PermissionDenied) as refused:
        world.requests.replan(request.id, APPROVER)
    assert "drift" in reason_text(refused.value.reason)
    assert "replan_blocked" in world.events(request.id)
    assert world.get(request.id).plan_run == request.plan_run


def test_no_drift_found_does_not_reopen_replan(world: World) -> None:
    request = applied(world)
    world.drift.record(request.id, DriftReport(detected=False, summary="No drift"))
    with pytest.raises(PermissionDenied):
        world.requests.replan(request.id, APPROVER)


def test_apply_is_refused_after_drift_until_the_drift_plan_succeeded(world: World) -> None:
    request = _drifted(world)
    with pytest.raises(PermissionDenied) as refused:
        world.requests.apply(request.id, APPROVER)
    assert "re-plan" in reason_text(refused.value.reason)


def test_a_failed_drift_plan_is_failed_and_offers_replan_again(world: World) -> None:
    request = _drifted(world)
    request = world.requests.replan(request.id, APPROVER)
    first = request.plan_run.run_id  # type: ignore[union-attr]
    outcome = finish_run(world, request, "plan", "failure")
    assert outcome.status == "failed"
    request = world.get(request.id)
    assert derive_status(request) is Status.FAILED
    assert world.notifier.events(request.id)[-1] == "failed"
    actions = _actions(request)
    assert actions[Action.REPLAN] and not actions[Action.APPLY]

    world.clock.advance(minutes=1)
    request = world.requests.replan(request.id, APPROVER)
    assert request.plan_run is not None and request.plan_run.run_id != first
    assert world.host.runs[request.plan_run.run_id].ref == "main"  # type: ignore[index]
    finish_run(world, request, "plan")
    request = world.get(request.id)
    assert derive_status(request) is Status.APPLIED and _actions(request)[Action.APPLY]


def test_a_repeated_replan_click_dispatches_once(world: World) -> None:
    request = _drifted(world)
    world.requests.replan(request.id, APPROVER, key="click-1")
    world.requests.replan(request.id, APPROVER, key="click-1")
    rid = request.id
    plans = [r for r in world.host.runs_of(world.workflows.plan) if rid in r.name and r.ref == "main"]
    assert len(plans) == 1


def test_a_plan_run_after_the_merge_without_a_drift_replan_is_ignored(world: World) -> None:
    request = applied(world)
    stray = world.host.dispatch_workflow(
        world.repo, world.workflows.plan, ref="main", inputs={"request_id": request.id, "environment": "dev"}
    )
    assert stray is not None
    outcome = world.sync.apply_fact(RunFact(request_id=request.id, kind="plan", run=stray))
    assert not outcome.changed and "no drift re-plan" in outcome_text(outcome)
    assert world.get(request.id).plan_run == request.plan_run


def test_the_drift_plan_found_by_the_reconciler_when_dispatch_said_nothing(world: World) -> None:
    request = _drifted(world)
    world.host.return_run_details = False
    request = world.requests.replan(request.id, APPROVER)
    assert request.plan_run is not None and request.plan_run.run_id is None
    (run,) = [r for r in world.host.runs_of(world.workflows.plan) if r.ref == "main" and request.id in r.name]
    world.host.complete_run(run.run_id)
    world.sync.sync(request.id)
    stored = world.get(request.id)
    assert stored.plan_run is not None and stored.plan_run.run_id == run.run_id
    assert stored.plan is not None and stored.plan.run_id == run.run_id
    assert derive_status(stored) is Status.APPLIED
