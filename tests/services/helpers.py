"""Drive a request through its lifecycle in tests: GitHub-side events become facts for SyncService."""

from __future__ import annotations

from typing import Any

from core.domain.facts import PullRequestFact, ReviewFact, RunFact
from core.domain.operation import DestroyOp, DestroySteps
from core.domain.policy import Policy
from core.domain.request import Request
from core.domain.workflows import RunKind
from core.services.gate import Gate
from core.services.sync import SyncOutcome
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd


def run_fact(world: World, request_id: str, run_id: int, kind: RunKind) -> RunFact:
    return RunFact(request_id=request_id, kind=kind, run=world.host.run_info(world.host.runs[run_id]))


def finish_run(world: World, request: Request, kind: RunKind, conclusion: str = "success") -> SyncOutcome:
    run = world.get(request.id).run(kind)
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


def cleanup_run_id(world: World, request_id: str) -> int:
    """The cleanup run the request's newest destroy dispatched."""
    ops = [op for op in world.get(request_id).operations if op.kind == "destroy"]
    assert ops and ops[-1].steps.cleanup_run is not None, "no cleanup run recorded"
    run_id = ops[-1].steps.cleanup_run.run_id
    assert isinstance(run_id, int)
    return run_id


def finish_cleanup(
    world: World, request_id: str, conclusion: str = "success", *, pr_webhook: bool = True
) -> list[SyncOutcome]:
    """GitHub runs the cleanup workflow: in progress, its PR opened (the fake host opened it at
    dispatch; the ``opened`` fact is delivered here, unless the webhook is "lost"), completed."""
    run_id = cleanup_run_id(world, request_id)
    out = [world.sync.apply_fact(RunFact(request_id=request_id, kind="cleanup", run=world.host.start_run(run_id)))]
    number = world.host.cleanup_pr(world.repo, request_id)
    if conclusion == "success" and pr_webhook and number is not None:
        out.append(world.sync.apply_fact(pr_fact(world, request_id, number, "opened", cleanup=True)))
    completed = world.host.complete_run(run_id, conclusion)
    out.append(world.sync.apply_fact(RunFact(request_id=request_id, kind="cleanup", run=completed)))
    return out


def legacy_destroy(world: World, request_id: str, actor_id: str = ADMIN.id) -> Request:
    """A destroy begun the old way (the cleanup workflow first), as a document written before
    the removal-PR flow holds it: its ``cleanup_dispatch`` marker is recorded, and the service
    continues it (``resume``) the old way."""
    now = world.clock.now()

    def begun(request: Request) -> Request:
        request.operations.append(
            DestroyOp(
                key="destroy",
                started_at=now,
                actor=actor_id,
                # the old key, upgraded at read as a stored document's is
                steps=DestroySteps.model_validate({"cleanup_dispatch": {"at": now.isoformat(), "previous": None}}),
            )
        )
        return request

    world.store.update(request_id, begun)
    return world.requests.resume(request_id)


def legacy_destroying(world: World, **overrides: Any) -> Request:
    """Applied, then destroying through an in-flight legacy destroy (cleanup PR merged first)."""
    request = applied(world, **overrides)
    legacy_destroy(world, request.id)
    finish_cleanup(world, request.id)
    return world.get(request.id)


def destroying(world: World, **overrides: Any) -> Request:
    """Applied, then Destroy: the removal PR opened and the destroy run dispatched on the base."""
    request = applied(world, **overrides)
    return world.requests.destroy(request.id, ADMIN)


def use_policy(world: World, policy: Policy) -> None:
    """From now on ``world.requests`` checks actions against ``policy`` (through its one gate)."""
    world.requests._gate = Gate(policy, world.requests._bus)
