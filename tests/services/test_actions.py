"""approve, merge, apply, destroy, replan, update_config: success, refusals, state, idempotency."""

from __future__ import annotations

import pytest

from bot.views.fact_text import outcome_text
from bot.views.reasons import transition_text
from bot.views.refusals import reason_text, recorded_reason
from bot.views.timeline_text import timeline_label
from core.domain.errors import PermissionDenied, RequestNotFound
from core.domain.fact_reasons import FactCode, said
from core.domain.policy import Action, Actor, Policy
from core.ports.code_host import CodeHostError
from module_registry.errors import ConfigRejected
from tests.services.conftest import ADMIN, APPROVER, DEV, PROD_APPROVER, VIEWER, World, create_cmd
from tests.services.helpers import (
    applied,
    approved,
    finish_run,
    legacy_destroy,
    merged,
    planned,
    pr_fact,
    run_fact,
    use_policy,
)


def _refused(world: World, rid: str, call, event: str, words: str) -> None:
    before = world.host.total()
    with pytest.raises(PermissionDenied) as err:
        call()
    assert words in reason_text(err.value.reason)
    last = world.audit.events(rid)[-1]
    # The record keeps the reason whole (code and data), enough to render it again.
    assert last.event == event and last.data["reason"] == err.value.reason.model_dump(mode="json")
    assert recorded_reason(last.data["reason"]) == reason_text(err.value.reason)
    assert world.host.total() == before


# -- approve ---------------------------------------------------------------------------------


def test_approve_records_approval_and_comments_as_the_app(world: World) -> None:
    request = planned(world)
    assert request.status == "plan_ready"
    done = world.requests.approve(request.id, APPROVER)
    assert done.status == "approved"
    assert done.approval.approved and done.approval.approvers == ["U_APP"]
    assert done.approval.approved_sha == request.pr.head_sha and done.approval.source == "tfpilot"
    (comment,) = world.host.repo(world.repo).comments[request.pr.number]
    assert "Abe Approver" in comment and request.pr.head_sha[:12] in comment
    assert world.events(request.id)[-1] == "approved"
    assert timeline_label(done.timeline[-1]) == "Approved by Abe Approver"
    assert world.notifier.events(request.id)[-1] == "approved"
    assert world.notifier.sent[-1][1].previous_status == "plan_ready"


def test_approve_with_a_linked_account_reviews_as_the_user(world: World) -> None:
    request = planned(world)
    done = world.requests.approve(request.id, APPROVER, user_token="tok-abe")
    (review,) = world.host.repo(world.repo).reviews[request.pr.number]
    assert review.state == "APPROVED" and review.commit_id == request.pr.head_sha
    assert done.approval.source == "github" and done.approval.approvers == ["user-of-tok-abe"]
    assert world.host.repo(world.repo).comments == {}


def test_approve_twice_with_the_same_key_is_one_approval(world: World) -> None:
    request = planned(world)
    world.requests.approve(request.id, APPROVER, key="btn-1")
    calls = world.host.total()
    again = world.requests.approve(request.id, APPROVER, key="btn-1")
    assert world.host.total() == calls and again.approval.approvers == ["U_APP"]
    assert world.events(request.id).count("approved") == 1


def test_approve_refusals(world: World) -> None:
    request = planned(world)
    _refused(world, request.id, lambda: world.requests.approve(request.id, VIEWER), "approve_blocked", "approver role")
    requester_as_approver = Actor(id="U_DEV")
    _refused(
        world,
        request.id,
        lambda: world.requests.approve(request.id, requester_as_approver),
        "approve_blocked",
        "approver role",
    )
    use_policy(world, Policy.of(approvers=["U_DEV"]))
    _refused(
        world,
        request.id,
        lambda: world.requests.approve(request.id, DEV),
        "approve_blocked",
        "cannot approve your own request",
    )


def test_approve_before_the_plan_is_ready_is_refused(world: World) -> None:
    request = world.requests.create(create_cmd())
    _refused(
        world, request.id, lambda: world.requests.approve(request.id, APPROVER), "approve_blocked", "successful plan"
    )


def test_prod_approval_needs_the_prod_allowlist(world: World) -> None:
    request = planned(world, environment="prod")
    _refused(
        world, request.id, lambda: world.requests.approve(request.id, APPROVER), "approve_blocked", "prod allowlist"
    )
    assert world.requests.approve(request.id, PROD_APPROVER).status == "approved"


def test_unknown_request(world: World) -> None:
    with pytest.raises(RequestNotFound):
        world.requests.approve("req_missing0001", APPROVER)


# -- approval bound to the commit ---------------------------------------------------------------


def test_a_new_commit_voids_the_approval_until_approved_again(world: World) -> None:
    request = approved(world)
    sent = len(world.notifier.sent)
    world.host.push(world.repo, request.branch_name, {"envs/dev/extra.tf": "# hand edit\n"})
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "synchronize"))
    assert outcome.changed and outcome.previous_status == "approved" and outcome.status == "planning"
    stored = world.get(request.id)
    assert not stored.approval.approved
    assert "approval_voided" in world.events(request.id)
    assert world.notifier.events(request.id)[sent:] == ["approval_voided"]
    # Merging is refused now; a fresh plan and approval of the new head allow it again.
    _refused(world, request.id, lambda: world.requests.merge(request.id, APPROVER), "merge_blocked", "approved")
    world.requests.replan(request.id, DEV)
    finish_run(world, stored, "plan")
    again = world.requests.approve(request.id, APPROVER)
    assert again.approval.approved_sha == world.host.pr_info(world.repo, request.pr.number).head_sha
    assert world.requests.merge(request.id, APPROVER).status == "merged"


# -- merge -----------------------------------------------------------------------------------


def test_merge_squashes_at_the_approved_commit(world: World) -> None:
    request = approved(world)
    done = world.requests.merge(request.id, APPROVER)
    assert done.status == "merged" and done.pr.merged and not done.pr.open
    main_tree = world.host.tree(world.repo, "main")
    assert f"envs/dev/tfpilot_{request.id}.tf" in main_tree
    assert done.merged_sha == world.host.repo(world.repo).branches["main"] == done.pr.merged_sha
    assert world.events(request.id)[-1] == "merged"
    assert world.notifier.events(request.id)[-1] == "merged"
    # The merged webhook that follows changes nothing and notifies nobody.
    sent = len(world.notifier.sent)
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed"))
    assert not outcome.changed and len(world.notifier.sent) == sent


def test_merge_refused_before_approval_and_for_viewers(world: World) -> None:
    request = planned(world)
    _refused(world, request.id, lambda: world.requests.merge(request.id, APPROVER), "merge_blocked", "approved")
    request = world.requests.approve(request.id, APPROVER)
    _refused(world, request.id, lambda: world.requests.merge(request.id, VIEWER), "merge_blocked", "approver role")


def test_merge_of_a_moved_head_fails_cleanly(world: World) -> None:
    request = approved(world)
    world.host.push(world.repo, request.branch_name, {"x.tf": "# sneaky\n"})  # webhook not yet arrived
    with pytest.raises(CodeHostError):
        world.requests.merge(request.id, APPROVER)
    stored = world.get(request.id)
    assert not stored.pr.merged and stored.status == "approved"
    op = next(op for op in stored.operations if op.kind == "merge")
    assert op.error and "modified" in op.error and op.steps.lease is None
    assert "merge_failed" in world.events(request.id)


# -- apply -----------------------------------------------------------------------------------


def test_apply_dispatches_on_the_base_branch(world: World) -> None:
    request = merged(world)
    done = world.requests.apply(request.id, APPROVER)
    (run,) = world.host.runs_of("apply.yml")
    assert run.ref == "main" and run.inputs == {"request_id": request.id, "environment": "dev"}
    assert run.head_sha == request.merged_sha
    assert done.status == "applying" and done.apply_run.run_id == run.run_id
    assert done.apply_triggered_at == world.clock.now()
    assert world.events(request.id)[-1] == "apply_dispatched"
    assert world.notifier.events(request.id)[-1] == "applying"
    finish_run(world, done, "apply")
    final = world.get(request.id)
    assert final.status == "applied" and final.applied_at is not None


def test_double_click_on_apply_dispatches_once(world: World) -> None:
    request = merged(world)
    world.requests.apply(request.id, APPROVER, key="click-1")
    world.requests.apply(request.id, APPROVER, key="click-1")  # Slack retry of the same click
    with pytest.raises(PermissionDenied) as err:  # a second click while the run is in flight
        world.requests.apply(request.id, APPROVER, key="click-2")
    assert "already running" in reason_text(err.value.reason)
    with pytest.raises(PermissionDenied):  # no key: the default key sees the recorded run
        world.requests.apply(request.id, APPROVER)
    assert len(world.host.runs_of("apply.yml")) == 1
    assert world.events(request.id).count("apply_dispatched") == 1


def test_apply_only_after_merge(world: World) -> None:
    request = approved(world)
    _refused(world, request.id, lambda: world.requests.apply(request.id, APPROVER), "apply_blocked", "merged")


def test_apply_again_after_a_failed_apply(world: World) -> None:
    request = merged(world)
    request = world.requests.apply(request.id, APPROVER)
    finish_run(world, request, "apply", "failure")
    assert world.get(request.id).status == "failed"
    retry = world.requests.apply(request.id, APPROVER)
    assert retry.status == "applying" and len(world.host.runs_of("apply.yml")) == 2


def test_prod_apply_needs_the_prod_allowlist(world: World) -> None:
    request = planned(world, environment="prod")
    request = world.requests.approve(request.id, PROD_APPROVER)
    request = world.requests.merge(request.id, PROD_APPROVER)
    _refused(world, request.id, lambda: world.requests.apply(request.id, APPROVER), "apply_blocked", "prod allowlist")
    assert world.requests.apply(request.id, PROD_APPROVER).status == "applying"


# -- destroy ---------------------------------------------------------------------------------


def test_a_legacy_destroy_dispatches_cleanup_then_merges_its_pr_and_destroys(world: World) -> None:
    """A destroy begun before the removal-PR flow (its document holds the cleanup marker) still
    finishes the old way."""
    request = applied(world)
    requested = legacy_destroy(world, request.id)
    # Only the cleanup workflow is dispatched, on the base branch; the status stays what the facts say.
    (cleanup_run,) = world.host.runs_of("cleanup.yml")
    assert cleanup_run.ref == "main" and cleanup_run.inputs == {"request_id": request.id, "environment": "dev"}
    assert world.host.calls["dispatch_workflow"] == 3 and not world.host.runs_of("destroy.yml")
    assert requested.status == "applied" and requested.cleanup_pr is None and requested.destroy_run is None
    op = requested.operation("destroy", "destroy")
    assert op.completed_at is None and op.steps.cleanup_run.run_id == cleanup_run.run_id and op.steps.lease is None
    assert timeline_label(requested.timeline[-1]) == "Destroy requested"
    assert world.events(request.id)[-1] == "destroy_requested"
    sent = world.notifier.sent[-1][1]
    assert (sent.event, sent.previous_status, sent.status) == ("destroy_requested", "applied", "applied")
    assert f"cleanup/{request.id}" in transition_text(sent) and sent.run_url

    # The workflow opened its PR (branch cleanup/<id>, the file removed); its fact continues the destroy.
    number = world.host.cleanup_pr(world.repo, request.id)
    pr = world.host.repo(world.repo).prs[number]
    assert pr.head == f"cleanup/{request.id}" and pr.base == "main" and not pr.merged
    head = world.host.pr_info(world.repo, number).head_sha
    outcome = world.sync.apply_fact(pr_fact(world, request.id, number, "opened", cleanup=True))
    assert outcome.changed and outcome_text(outcome) == f"cleanup PR #{number} opened"
    assert outcome.reasons == (said(FactCode.CLEANUP_PR_ACTION, number=number, action="opened"),)
    done = world.get(request.id)
    assert pr.merged and world.host.commits[pr.merge_sha].parent is not None
    assert f"envs/dev/tfpilot_{request.id}.tf" not in world.host.tree(world.repo, "main")
    (run,) = world.host.runs_of("destroy.yml")
    assert run.ref == "main" and run.inputs["request_id"] == request.id
    assert done.status == "destroying" and done.destroy_triggered_at == world.clock.now()
    assert done.cleanup_pr.merged and done.cleanup_pr.head_sha == head and done.destroy_run.run_id == run.run_id
    assert done.operation("destroy", "destroy").completed_at is not None
    assert world.events(request.id)[-3:] == ["cleanup_pr_opened", "cleanup_pr_merged", "destroy_dispatched"]
    assert world.notifier.events(request.id)[-2:] == ["destroy_requested", "destroying"]
    # The cleanup run's end changes nothing more; the destroy run succeeds: destroyed, archived.
    world.host.complete_run(cleanup_run.run_id)
    assert not world.sync.apply_fact(run_fact(world, request.id, cleanup_run.run_id, "cleanup")).changed
    finish_run(world, done, "destroy")
    assert request.id in world.store.history and request.id not in world.store.active
    archived = world.get(request.id)
    assert archived.status == "destroyed" and archived.destroyed_at is not None and archived.archived_at
    assert world.events(request.id)[-1] == "archived"
    assert world.notifier.events(request.id)[-1] == "destroyed"


def test_destroy_refusals(world: World) -> None:
    request = merged(world)
    _refused(
        world, request.id, lambda: world.requests.destroy(request.id, ADMIN), "destroy_blocked", "nothing was applied"
    )
    request = world.requests.apply(request.id, APPROVER)
    finish_run(world, request, "apply")
    _refused(world, request.id, lambda: world.requests.destroy(request.id, APPROVER), "destroy_blocked", "admin role")


def test_prod_destroy_needs_the_destroy_allowlist(world: World) -> None:
    request = planned(world, environment="prod")
    request = world.requests.approve(request.id, PROD_APPROVER)
    request = world.requests.merge(request.id, PROD_APPROVER)
    request = world.requests.apply(request.id, PROD_APPROVER)
    finish_run(world, request, "apply")
    use_policy(
        world, Policy.of(admins=["U_ADM", "U_ADM2"], prod_allowed=["U_ADM", "U_ADM2"], destroy_prod_allowed=["U_ADM"])
    )
    _refused(
        world,
        request.id,
        lambda: world.requests.destroy(request.id, Actor(id="U_ADM2")),
        "destroy_blocked",
        "prod destroy allowlist",
    )
    assert world.requests.destroy(request.id, ADMIN).status == "destroying"


def test_destroy_twice_dispatches_once(world: World) -> None:
    request = applied(world)
    assert world.requests.destroy(request.id, ADMIN).status == "destroying"
    calls, version = world.host.total(), world.get(request.id).version
    # Clicked again (a Slack retry, the same key) while the destroy runs: nothing new, not even a write.
    assert world.requests.destroy(request.id, ADMIN).status == "destroying"
    assert world.get(request.id).version == version
    # A new click (another key) is told the request is being destroyed, and nothing is dispatched.
    with pytest.raises(PermissionDenied) as refused:
        world.requests.destroy(request.id, ADMIN, key="another-click")
    assert "destroying" in reason_text(refused.value.reason)
    assert world.host.total() == calls and world.get(request.id).version == version
    assert len(world.host.runs_of("destroy.yml")) == 1 and not world.host.runs_of("cleanup.yml")
    assert len([p for p in world.host.repo(world.repo).prs.values() if p.head.startswith("destroy/")]) == 1


def test_replan_clears_the_old_plan_and_dispatches_again(world: World) -> None:
    request = planned(world)
    assert request.plan.summary is not None
    done = world.requests.replan(request.id, DEV)
    assert done.plan is None and done.status == "planning"
    assert len(world.host.runs_of("plan.yml")) == 2 and done.plan_run.run_id == world.host.runs_of("plan.yml")[1].run_id
    assert world.events(request.id)[-1] == "replan_dispatched"
    assert world.notifier.events(request.id)[-1] == "planning"
    _refused(
        world,
        request.id,
        lambda: world.requests.replan(request.id, DEV, key="again"),
        "replan_blocked",
        "already running",
    )


def test_replan_by_a_stranger_is_refused(world: World) -> None:
    request = planned(world)
    use_policy(world, Policy.of(developers=["U_DEV", "U_OTHER"]))
    _refused(
        world,
        request.id,
        lambda: world.requests.replan(request.id, Actor(id="U_OTHER")),
        "replan_blocked",
        "only the requester",
    )


# -- update_config ---------------------------------------------------------------------------


def test_update_config_commits_on_the_head_and_replans(world: World) -> None:
    request = approved(world)
    head = world.host.repo(world.repo).branches[request.branch_name]
    # An approved request can no longer be updated (state): re-plan needs an open PR and no plan running.
    done = world.requests.update_config(request.id, {"name": "logs-v2"}, DEV, key="edit-1")
    new_head = world.host.repo(world.repo).branches[request.branch_name]
    assert world.host.commits[new_head].parent == head
    path = f"envs/dev/tfpilot_{request.id}.tf"
    assert 'name = "logs-v2"' in world.host.tree(world.repo, request.branch_name)[path]
    assert done.revision == 2 and done.config == {"name": "logs-v2", "versioning": True}
    assert done.commit_sha == new_head == done.pr.head_sha
    assert done.plan is None and not done.approval.approved
    assert done.plan_run.head_sha == new_head and done.status == "planning"
    events = world.events(request.id)
    assert events[-3:] == ["config_updated", "approval_voided", "plan_dispatched"]
    assert world.notifier.events(request.id)[-1] == "updated"
    # Its own synchronize webhook then changes nothing.
    sent = len(world.notifier.sent)
    assert not world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "synchronize")).changed
    assert len(world.notifier.sent) == sent
    # Same key again: nothing new.
    world.requests.update_config(request.id, {"name": "logs-v2"}, DEV, key="edit-1")
    assert len(world.host.runs_of("plan.yml")) == 2


def test_update_config_is_validated_and_permission_checked(world: World) -> None:
    request = planned(world)
    with pytest.raises(ConfigRejected):
        world.requests.update_config(request.id, {"name": "BAD"}, DEV)
    _refused(
        world,
        request.id,
        lambda: world.requests.update_config(request.id, {"name": "ok"}, VIEWER),
        "update_blocked",
        "developer role",
    )
    request = world.requests.replan(request.id, DEV)
    _refused(
        world,
        request.id,
        lambda: world.requests.update_config(request.id, {"name": "ok"}, DEV),
        "update_blocked",
        "already running",
    )


# -- authorize: the service's one check, asked before a form opens ------------------------------


def test_authorize_returns_the_request_when_allowed_and_records_nothing(world: World) -> None:
    request = planned(world)
    before = world.audit.names(request.id)
    got = world.requests.authorize(request.id, Action.UPDATE, DEV, source="slack")
    assert got.id == request.id and got.version == world.get(request.id).version
    assert world.audit.names(request.id) == before


@pytest.mark.parametrize(
    ("action", "actor", "words"),
    [
        (Action.UPDATE, VIEWER, "developer role"),
        (Action.DESTROY, APPROVER, "admin role"),
        (Action.APPROVE, APPROVER, "already approved"),  # the state refuses, whoever asks
    ],
)
def test_authorize_records_the_refusal_as_blocked_and_raises_it(
    world: World, action: Action, actor: Actor, words: str
) -> None:
    request = approved(world)
    _refused(
        world, request.id, lambda: world.requests.authorize(request.id, action, actor, source="slack"),
        f"{action.value}_blocked", words,
    )  # fmt: skip
    last = world.audit.events(request.id)[-1]
    assert last.actor == actor.id and last.source == "slack"
