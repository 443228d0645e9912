"""Documents written before the steps were typed read back, upgrade once and carry on.

``data/main_f7163e5_destroy_waiting.json`` was written by main at f7163e5 (the commit before
typed steps), running this same scenario on the same fakes: a request created, approved,
merged and applied, then a destroy waiting for its cleanup PR. Its steps have the old shape
(``plan_dispatch``/``plan_run``, ``apply_dispatch``/``apply_run``, ``cleanup_dispatch`` and a
``cleanup_run`` dict with ``id``). The test puts it in the store in place of the document the
new code wrote, then lets the destroy continue.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.domain.operation import ApplyOp, ApproveOp, CreateOp, DestroyOp, MergeOp
from tests.services.conftest import World
from tests.services.helpers import applied, finish_run, legacy_destroy, pr_fact

LEGACY = Path(__file__).parent / "data" / "main_f7163e5_destroy_waiting.json"


def test_a_document_from_main_reads_back_typed_and_its_destroy_continues(world: World) -> None:
    request = applied(world)
    # The same state on the fake host as when main wrote it: the cleanup workflow dispatched.
    legacy_destroy(world, request.id)
    raw = LEGACY.read_bytes()
    assert json.loads(raw)["id"] == request.id
    key = f"requests/{request.id}.json"
    world.store.memory.put(key, raw)

    legacy = world.get(request.id)
    create = legacy.find(CreateOp, legacy.idempotency_key or "")
    assert create is not None and create.steps.source == "slack" and create.steps.pr == legacy.pr_number
    assert create.steps.branch is not None and create.steps.commit == legacy.commit_sha
    plan = create.steps.launches["plan"]
    assert plan.at is not None and plan.recorded and plan.run_id == legacy.plan_run.run_id
    approve = next(op for op in legacy.operations if isinstance(op, ApproveOp))
    assert approve.steps.comment and approve.steps.standing is not None and approve.steps.standing.satisfies
    merge = next(op for op in legacy.operations if isinstance(op, MergeOp))
    assert merge.steps.merged == legacy.merged_sha
    apply = next(op for op in legacy.operations if isinstance(op, ApplyOp))
    assert apply.steps.launches["apply"].recorded and apply.steps.launches["apply"].run_id == legacy.apply_run.run_id
    destroy = legacy.find(DestroyOp, "destroy")
    assert destroy is not None and destroy.completed_at is None
    assert destroy.steps.cleanup_run is not None and destroy.steps.cleanup_run.status == "queued"
    (cleanup_run,) = world.host.runs_of("cleanup.yml")
    assert destroy.steps.cleanup_run.run_id == cleanup_run.run_id
    assert destroy.steps.launches["cleanup"].at is not None and destroy.steps.cleanup_merged is None

    # The cleanup workflow opens its PR: its fact continues the destroy written by main.
    number = world.host.cleanup_pr(world.repo, request.id)
    outcome = world.sync.apply_fact(pr_fact(world, request.id, number, "opened", cleanup=True))
    assert outcome.changed
    done = world.get(request.id)
    assert done.status == "destroying" and done.cleanup_pr is not None and done.cleanup_pr.merged
    (destroy_run,) = world.host.runs_of("destroy.yml")
    assert done.destroy_run is not None and done.destroy_run.run_id == destroy_run.run_id

    # Written back in the typed shape only: no step key of the old shape is left.
    stored = world.store.memory.get(key)
    assert stored is not None
    steps = json.loads(stored.body)["operations"][-1]["steps"]
    assert not {"cleanup_dispatch", "destroy_dispatch", "destroy_run"} & set(steps)
    assert steps["cleanup_run"]["runId"] == cleanup_run.run_id and steps["cleanup_merged"] is not None
    assert steps["launches"]["destroy"]["recorded"] is True

    finish_run(world, done, "destroy")
    assert world.store.history[request.id].status == "destroyed"
