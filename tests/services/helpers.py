"""Drive a request through its lifecycle in tests: GitHub-side events become facts for SyncService."""

from __future__ import annotations

from typing import Any

from core.domain.facts import PullRequestFact, ReviewFact, RunFact
from core.domain.request import Request
from core.domain.workflows import RunKind
from core.services.sync import SyncOutcome
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd


def run_fact(world: World, request_id: str, run_id: int, kind: RunKind) -> RunFact:
    return RunFact(request_id=request_id, kind=kind, run=world.host.run_info(world.host.runs[run_id]))


def finish_run(world: World, request: Request, kind: RunKind, conclusion: str = "success") -> SyncOutcome:
    run = getattr(world.get(request.id), f"{kind}_run")
    assert run is not None and run.run_id is not None, f"no {kind} run recorded"
    world.host.start_run(run.run_id)
    world.sync.apply_fact(run_fact(world, request.id, run.run_id, kind))
    world.host.complete_run(run.run_id, conclusion)
    return world.sync.apply_fact(run_fact(world, request.id, run.run_id, kind))


def pr_fact(world: World, request_id: str, number: int, action: str, *, cleanup: bool = False) -> PullRequestFact:
    return PullRequestFact(
        request_id=request_id, action=action, pr=world.host.pr_info(world.repo, number), cleanup=cleanup
    )


def review_fact(
    world: World,
    request_id: str,
    number: int,
    login: str,
    *,
    state: str = "APPROVED",
    commit: str | None = None,
    action: str = "submitted",
) -> ReviewFact:
    review = world.host.add_review(world.repo, number, login, state, commit)
    return ReviewFact(request_id=request_id, action=action, pr_number=number, review=review)


def planned(world: World, **overrides: Any) -> Request:
    request = world.requests.create(create_cmd(**overrides))
    finish_run(world, request, "plan")
    return world.get(request.id)


def approved(world: World, **overrides: Any) -> Request:
    request = planned(world, **overrides)
    return world.requests.approve(request.id, APPROVER)


def merged(world: World, **overrides: Any) -> Request:
    request = approved(world, **overrides)
    return world.requests.merge(request.id, APPROVER)


def applied(world: World, **overrides: Any) -> Request:
    request = merged(world, **overrides)
    request = world.requests.apply(request.id, APPROVER)
    finish_run(world, request, "apply")
    return world.get(request.id)


def destroying(world: World, **overrides: Any) -> Request:
    request = applied(world, **overrides)
    return world.requests.destroy(request.id, ADMIN)
