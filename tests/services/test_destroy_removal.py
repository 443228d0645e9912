"""Destroy that never leaves code and state disagreeing: the removal PR first, the targeted
destroy on the base branch with the request's file still there, the merge only after it
succeeded. A failed destroy run leaves the file, the PR and the state as they were (the request
failed, with the reason); a new click reuses the PR. Guards that AWS would refuse are refused
before anything starts, naming what to change.
"""

from __future__ import annotations

import pytest

from bot.views.fact_text import outcome_text
from bot.views.reasons import transition_text
from bot.views.refusals import reason_text
from bot.views.replies import transition_reply
from bot.views.timeline_text import timeline_label
from core.domain.errors import PermissionDenied
from core.domain.facts import ReviewFact
from core.domain.request import Request
from core.domain.run_report import Diagnostic, RunReport
from core.ports.code_host import ReviewInfo
from module_registry.catalogue import load_registry
from tests.services.conftest import ADMIN, APPROVER, POLICY, World, create_cmd
from tests.services.helpers import applied, finish_run, run_fact


def _file(rid: str) -> str:
    return f"envs/dev/tfpilot_{rid}.tf"


def test_destroy_opens_the_removal_pr_runs_the_destroy_on_main_then_merges(world: World) -> None:
    request = applied(world)
    rid = request.id
    destroying = world.requests.destroy(rid, ADMIN)

    # The removal PR: branch destroy/<id> from main, the request's file deleted, nothing merged.
    removal = destroying.cleanup_pr
    pr = world.host.repo(world.repo).prs[removal.number]
    assert pr.head == f"destroy/{rid}" and pr.base == "main" and not pr.merged
    assert removal.branch == f"destroy/{rid}" and removal.open and removal.head_sha == pr_head(world, pr.head)
    assert _file(rid) not in world.host.tree(world.repo, f"destroy/{rid}")
    # The destroy runs on main, where the file still is: it targets exactly the request's blocks.
    assert _file(rid) in world.host.tree(world.repo, "main")
    (run,) = world.host.runs_of("destroy.yml")
    assert run.ref == "main" and run.inputs == {"request_id": rid, "environment": "dev"}
    assert not world.host.runs_of("cleanup.yml")
    assert destroying.status == "destroying" and destroying.destroy_run.run_id == run.run_id
    op = destroying.operation("destroy", "destroy")
    assert op.completed_at is None and op.steps.lease is None  # waits for the run's fact
    assert op.steps.removal_reviewed is not None and op.steps.removal_reviewed.reason == "not_required"
    assert world.events(rid)[-3:] == ["destroy_requested", "removal_plan_dispatched", "destroy_dispatched"]
    assert world.notifier.events(rid)[-2:] == ["destroy_requested", "destroying"]
    said = world.notifier.sent[-2][1]
    assert f"Removal PR #{removal.number}" in transition_text(
        said
    ) and "only after the destroy succeeded" in transition_text(said)
    # The removal PR's head is planned (its check is what required status checks wait for, its
    # plan what the reviewer reads): the operation's run, not the request's planRun.
    plan = [r for r in world.host.runs_of("plan.yml") if r.ref == f"destroy/{rid}"]
    assert len(plan) == 1 and plan[0].inputs == {"request_id": rid, "environment": "dev"}
    assert op.steps.launch("plan") is not None and op.steps.launch("plan").run_id == plan[0].run_id
    assert destroying.plan_run is not None and destroying.plan_run.run_id != plan[0].run_id
    world.host.complete_run(plan[0].run_id)
    ignored = world.sync.apply_fact(run_fact(world, rid, plan[0].run_id, "plan"))
    assert not ignored.changed and "removal PR" in outcome_text(ignored), ignored
    assert world.get(rid).plan_run == destroying.plan_run

    # The run succeeds: only now is the removal PR merged; the request is archived after it.
    finish_run(world, destroying, "destroy")
    assert pr.merged and _file(rid) not in world.host.tree(world.repo, "main")
    done = world.get(rid)
    assert done.status == "destroyed" and done.cleanup_pr.merged and done.archived_at is not None
    assert rid in world.store.history
    assert world.events(rid)[-3:] == ["destroy_completed", "removal_pr_merged", "archived"]
    assert world.notifier.events(rid)[-1] == "destroyed"
    steps = [timeline_label(s) for s in done.timeline]
    assert steps.index("Destroy requested: removal PR opened") < steps.index("Removal PR merged")


def pr_head(world: World, branch: str) -> str:
    return world.host.repo(world.repo).branches[branch]


def test_a_failed_destroy_run_leaves_code_and_pr_and_a_new_click_reuses_the_pr(world: World) -> None:
    request = applied(world)
    rid = request.id
    destroying = world.requests.destroy(rid, ADMIN)
    number = destroying.cleanup_pr.number
    run_id = destroying.destroy_run.run_id

    # The run fails (AWS refused): the request fails with the reason, the attempt ends.
    world.host.start_run(run_id)
    world.host.complete_run(run_id, "failure")
    refused = Diagnostic(summary="destroy refused before deleting anything: AWS would refuse x")
    fact = run_fact(world, rid, run_id, "destroy").model_copy(update={"report": RunReport(diagnostics=(refused,))})
    failed = world.sync.apply_fact(fact)
    assert failed.status == "failed" and failed.notified
    stored = world.get(rid)
    op = stored.operation("destroy", "destroy")
    assert op.completed_at is not None and "AWS would refuse x" in op.error
    # The failure is recorded as data (run, conclusion, the runner's diagnostic), not as a sentence.
    assert op.steps.failed is not None
    assert (op.steps.failed.run_id, op.steps.failed.conclusion) == (run_id, "failure")
    assert op.steps.failed.reason == refused.summary
    failed_record = next(e for e in world.audit.events(rid) if e.event == "destroy_failed")
    assert failed_record.data["runId"] == run_id and failed_record.data["conclusion"] == "failure"
    # Code, PR and state as they were: the file on main, the removal PR open, nothing archived.
    assert _file(rid) in world.host.tree(world.repo, "main")
    assert stored.cleanup_pr.open and not world.host.repo(world.repo).prs[number].merged
    assert stored.archived_at is None and "destroy_failed" in world.events(rid)
    reply = transition_reply(stored, world.notifier.sent[-1][1])
    text = reply["blocks"][0]["text"]["text"]
    assert "AWS would refuse x" in text and f"removal PR #{number}" in text and "Destroy again" in text

    # A new click: a new attempt that reuses the open PR and runs the destroy again.
    again = world.requests.destroy(rid, ADMIN)
    assert [op.key for op in again.operations if op.kind == "destroy"] == ["destroy", "destroy:retry-1"]
    assert again.cleanup_pr.number == number and len(world.host.repo(world.repo).prs) == 2  # request PR + removal
    assert again.status == "destroying" and len(world.host.runs_of("destroy.yml")) == 2
    finish_run(world, again, "destroy")
    assert world.host.repo(world.repo).prs[number].merged and rid in world.store.history


def test_a_guard_that_always_blocks_refuses_the_destroy_before_anything(world: World) -> None:
    config = {"name": "orders", "hash_key": "id", "deletion_protection": True}
    rid = _applied_dynamodb(world, config)
    calls = world.host.total()
    with pytest.raises(PermissionDenied) as refused:
        world.requests.destroy(rid, ADMIN)
    reason = reason_text(refused.value.reason)
    assert "deletion_protection" in reason and "true → false" in reason and "Prepare destroy" in reason
    assert world.events(rid)[-1] == "destroy_blocked" and world.host.total() == calls
    assert not [b for b in world.host.repo(world.repo).branches if b.startswith("destroy/")]
    # Once the applied config lifts the guard (the prepare change), the destroy goes ahead.
    world.store.update(rid, lambda r: r.model_copy(update={"config": {**r.config, "deletion_protection": False}}))
    assert world.requests.destroy(rid, ADMIN).status == "destroying"


def test_a_data_guard_is_left_to_the_runs_preflight(world: World) -> None:
    """force_destroy off on a bucket blocks only if it holds objects, which only the run sees."""
    rid = applied(world).id  # s3-bucket, force_destroy defaults to false
    assert world.requests.destroy(rid, ADMIN).status == "destroying"


def test_a_review_of_the_removal_pr_when_no_destroy_waits_changes_nothing(world: World) -> None:
    rid = applied(world).id
    destroying = world.requests.destroy(rid, ADMIN)
    number, version = destroying.cleanup_pr.number, destroying.version
    review = ReviewInfo(id=9, user_login="erin", state="APPROVED", commit_id=destroying.cleanup_pr.head_sha)
    outcome = world.sync.apply_fact(ReviewFact(request_id=rid, action="submitted", pr_number=number, review=review))
    assert not outcome.changed and "no destroy waits for it" in outcome_text(outcome)
    assert world.get(rid).version == version


def _applied_dynamodb(world: World, config: dict[str, object]) -> str:
    """An applied request, recorded as a DynamoDB table with ``config`` (the stand-in registry
    validates only buckets; the guards come from the real catalogue's definition)."""
    rid = applied(world).id

    def as_table(request: Request) -> Request:
        request.module, request.config = "dynamodb-table", dict(config)
        request.destroy_guards = list(load_registry(None).get("dynamodb-table").destroy_guards)
        return request

    world.store.update(rid, as_table)
    return rid


def test_prepare_destroy_is_a_reviewed_change_lifting_exactly_the_held_guards_even_in_prod(world: World) -> None:
    from tests.services.conftest import PROD_APPROVER

    request = world.requests.create(create_cmd(environment="prod", config={"name": "vault"}))
    rid = request.id
    finish_run(world, request, "plan")
    world.requests.approve(rid, PROD_APPROVER)
    world.requests.merge(rid, PROD_APPROVER)
    finish_run(world, world.requests.apply(rid, PROD_APPROVER), "apply")
    first_pr = world.get(rid).pr.number
    assert world.get(rid).config.get("force_destroy") in (None, False)

    # Prepare destroy: the bucket may hold objects, so force_destroy must be on before deleting it;
    # prod forbids it, except in exactly this change.
    preparing = world.requests.prepare_destroy(rid, ADMIN)
    pr = world.host.repo(world.repo).prs[preparing.pr.number]
    assert pr.head == f"prepare/{rid}" and preparing.pr.number != first_pr
    assert 'force_destroy = "True"' in world.host.tree(world.repo, f"prepare/{rid}")[_prod_file(rid)]
    assert 'force_destroy = "True"' not in world.host.tree(world.repo, "main")[_prod_file(rid)]
    prepared = preparing.prepared_destroy
    assert prepared.fields == {"force_destroy": True} and prepared.by == ADMIN.id and prepared.pr_number == pr.number
    assert preparing.status == "planning" and preparing.config["force_destroy"] is True
    assert "destroy_prepare_requested" in world.events(rid)
    assert world.notifier.events(rid)[-1] == "destroy_prepare"
    # Destroy waits for the change to be applied.
    with pytest.raises(PermissionDenied) as refused:
        world.requests.destroy(rid, ADMIN)
    assert "prepare-destroy change must be merged and applied first" in reason_text(refused.value.reason)

    # Reviewed like any change (prod stays strict): plan, approval, merge, apply.
    finish_run(world, world.get(rid), "plan")
    world.requests.approve(rid, PROD_APPROVER)
    assert world.requests.merge(rid, PROD_APPROVER).status == "merged"
    assert 'force_destroy = "True"' in world.host.tree(world.repo, "main")[_prod_file(rid)]
    finish_run(world, world.requests.apply(rid, PROD_APPROVER), "apply")
    assert world.get(rid).status == "applied"
    # Now nothing is held: no second preparation, and Destroy goes ahead.
    with pytest.raises(PermissionDenied) as refused_again:
        world.requests.prepare_destroy(rid, ADMIN)
    assert "needs no preparation" in reason_text(refused_again.value.reason)
    assert world.requests.destroy(rid, ADMIN).status == "destroying"


def _prod_file(rid: str) -> str:
    return f"envs/prod/tfpilot_{rid}.tf"


def test_after_a_destroy_a_guard_refused_the_admin_prepares_it_and_destroys_again(world: World) -> None:
    """The run's preflight refused (the bucket holds objects, force_destroy off): the request is
    failed with its resources intact, and Prepare destroy is offered from there. The prepare
    change is reviewed like any change; the next Destroy deletes the file again on the new base
    head (the failed attempt's removal PR deleted it as it was before the change: reusing that
    deletion would be a modify/delete conflict), then destroys and merges."""
    from bot.views.card import card_actions
    from core.domain.policy import Action, allowed_actions

    rid = applied(world).id
    failed_attempt = world.requests.destroy(rid, ADMIN)
    number = failed_attempt.cleanup_pr.number
    run_id = failed_attempt.destroy_run.run_id
    world.host.start_run(run_id)
    world.host.complete_run(run_id, "failure")
    refused = Diagnostic(summary="destroy refused before deleting anything: the bucket holds objects")
    fact = run_fact(world, rid, run_id, "destroy").model_copy(update={"report": RunReport(diagnostics=(refused,))})
    failed = world.get(rid) if world.sync.apply_fact(fact).status == "failed" else None
    assert failed is not None and failed.status == "failed"
    old_head = failed.cleanup_pr.head_sha

    # What the admin sees on the failed request: Prepare destroy (and Destroy again).
    assert Action.PREPARE_DESTROY in card_actions(failed) and Action.DESTROY in card_actions(failed)
    assert allowed_actions(failed, ADMIN, POLICY)[Action.PREPARE_DESTROY].allowed

    preparing = world.requests.prepare_destroy(rid, ADMIN)
    assert preparing.prepared_destroy.fields == {"force_destroy": True}
    assert preparing.status == "planning" and preparing.destroy_run is None  # the failed attempt is history
    finish_run(world, world.get(rid), "plan")
    world.requests.approve(rid, APPROVER)
    world.requests.merge(rid, APPROVER)
    finish_run(world, world.requests.apply(rid, APPROVER), "apply")
    prepared = world.get(rid)
    assert prepared.status == "applied" and 'force_destroy = "True"' in world.host.tree(world.repo, "main")[_file(rid)]

    # Destroy again: the same removal PR, its deletion made again on main's head (the prepare merge).
    again = world.requests.destroy(rid, ADMIN)
    main_head = world.host.repo(world.repo).branches["main"]
    assert again.cleanup_pr.number == number and again.cleanup_pr.head_sha != old_head
    assert world.host.commits[again.cleanup_pr.head_sha].parent == main_head
    assert _file(rid) not in world.host.tree(world.repo, f"destroy/{rid}")
    assert again.status == "destroying" and len(world.host.runs_of("destroy.yml")) == 2
    finish_run(world, again, "destroy")
    assert world.host.repo(world.repo).prs[number].merged and rid in world.store.history
