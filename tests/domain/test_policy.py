"""allowed_actions: the matrix role x status x prod/non-prod x requester, and the reasons."""

from __future__ import annotations

import pytest

from core.domain.policy import (
    Action,
    Actor,
    Policy,
    Role,
    allowed_actions,
    check,
    check_create,
    needed_role,
    state_allows,
)
from tests.domain.builders import at_status

POLICY = Policy.of(
    admins=["U_ADMIN"],
    approvers=["U_APP", "approver@example.com"],
    developers=["U_DEV", "U_REQ"],
    prod_allowed=["U_ADMIN", "U_APP", "U_REQ"],
    destroy_prod_allowed=["U_ADMIN"],
)
# An admin on every allowlist: only the request's state can refuse them.
EVERYONE_ADMIN = Policy.of(admins=["U_ADMIN"], prod_allowed=["U_ADMIN"], destroy_prod_allowed=["U_ADMIN"])
ACTORS = {
    Role.VIEWER: Actor("U_VIEW"),
    Role.DEVELOPER: Actor("U_DEV"),
    Role.APPROVER: Actor("U_APP"),
    Role.ADMIN: Actor("U_ADMIN"),
}
STATES = [
    "request_created",
    "planning",
    "pr_open",
    "plan_ready",
    "approved",
    "merged",
    "applying",
    "applied",
    "apply_failed",
    "plan_failed",
    "destroying",
    "destroyed",
    "destroy_failed",
    "pr_closed",
    "stale_approval",
    "applied_with_drift",
    "drift_planning",
    "drift_planned",
    "drift_plan_failed",
]
# The states in which each action is possible at all (for someone with the role).
STATE_ALLOWS: dict[Action, set[str]] = {
    Action.APPROVE: {"plan_ready", "stale_approval"},
    Action.MERGE: {"approved"},
    # After drift, apply only once the plan of the base branch dispatched after it succeeded.
    Action.APPLY: {"merged", "apply_failed", "drift_planned"},
    Action.DESTROY: {
        "applied",
        "apply_failed",
        "destroy_failed",
        "applied_with_drift",
        "drift_planning",
        "drift_planned",
        "drift_plan_failed",
    },
    # A plan already running blocks both; an open PR whose plan never started allows them.
    # After the merge only drift re-opens Re-plan (again after a failed or successful drift plan).
    Action.REPLAN: {
        "pr_open",
        "plan_ready",
        "approved",
        "plan_failed",
        "stale_approval",
        "applied_with_drift",
        "drift_planned",
        "drift_plan_failed",
    },
    Action.UPDATE: {"pr_open", "plan_ready", "approved", "plan_failed", "stale_approval"},
    # Only while a destroy guard holds (none in these states' documents: see the guard tests).
    Action.PREPARE_DESTROY: set(),
}
MIN_ROLE = {
    Action.APPROVE: Role.APPROVER,
    Action.MERGE: Role.APPROVER,
    Action.APPLY: Role.APPROVER,
    Action.DESTROY: Role.ADMIN,
    Action.REPLAN: Role.DEVELOPER,
    Action.UPDATE: Role.DEVELOPER,
    Action.PREPARE_DESTROY: Role.ADMIN,
}


def expected(action: Action, role: Role, state: str, prod: bool, is_requester: bool, actor: Actor) -> bool:
    if role < MIN_ROLE[action]:
        return False
    if action is Action.APPROVE and is_requester:
        return False
    if action in (Action.REPLAN, Action.UPDATE) and role < Role.APPROVER and not is_requester:
        return False
    if prod:
        if action in (Action.DESTROY, Action.PREPARE_DESTROY) and actor.id not in {"U_ADMIN"}:
            return False
        if actor.id not in {"U_ADMIN", "U_APP", "U_REQ"}:
            return False
    return state in STATE_ALLOWS[action]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("prod", [False, True], ids=["nonprod", "prod"])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.label)
@pytest.mark.parametrize("is_requester", [False, True], ids=["other", "requester"])
def test_matrix(state: str, prod: bool, role: Role, is_requester: bool) -> None:
    request = at_status(state, prod=prod)
    actor = ACTORS[role]
    if is_requester:
        assert request.requester is not None
        request = request.model_copy(update={"requester": request.requester.model_copy(update={"id": actor.id})})
    decisions = allowed_actions(request, actor, POLICY)
    assert list(decisions) == list(Action)
    for action, decision in decisions.items():
        want = expected(action, role, state, prod, is_requester, actor)
        assert decision.allowed is want, (action, decision.reason)
        if not decision.allowed:
            assert decision.reason, f"{action} refused without a reason"


def test_reasons_name_the_problem() -> None:
    merged = at_status("merged")
    assert allowed_actions(merged, Actor("U_VIEW"), POLICY)[Action.APPLY].reason == (
        "apply needs the approver role; you are a viewer"
    )
    plan_ready = at_status("plan_ready")
    own = plan_ready.model_copy(update={"requester": plan_ready.requester.model_copy(update={"id": "U_APP"})})  # type: ignore[union-attr]
    assert allowed_actions(own, Actor("U_APP"), POLICY)[Action.APPROVE].reason == "you cannot approve your own request"
    assert "merged" in (allowed_actions(plan_ready, Actor("U_APP"), POLICY)[Action.APPLY].reason or "")
    prod_applied = at_status("applied", prod=True)
    assert "destroy allowlist" in (
        allowed_actions(prod_applied, Actor("U_ADMIN2"), Policy.of(admins=["U_ADMIN2"]))[Action.DESTROY].reason or ""
    )
    assert "prod allowlist" in (
        allowed_actions(at_status("merged", prod=True), Actor("U_DEV2"), Policy.of(approvers=["U_DEV2"]))[
            Action.APPLY
        ].reason
        or ""
    )


def test_roles_resolve_by_user_id_or_email_case_insensitively() -> None:
    assert POLICY.role_of(Actor("U_X", email="Approver@Example.com")) is Role.APPROVER
    assert POLICY.role_of(Actor("u_admin")) is Role.ADMIN
    assert POLICY.role_of(Actor("U_NOBODY")) is Role.VIEWER


def test_empty_prod_allowlist_means_nobody_acts_in_prod() -> None:
    policy = Policy.of(admins=["U_ADMIN"])
    assert not allowed_actions(at_status("merged", prod=True), Actor("U_ADMIN"), policy)[Action.APPLY].allowed


def test_create() -> None:
    assert not check_create(False, Actor("U_VIEW"), POLICY).allowed
    assert check_create(False, Actor("U_DEV"), POLICY).allowed
    assert not check_create(True, Actor("U_DEV"), POLICY).allowed
    assert check_create(True, Actor("U_REQ"), POLICY).allowed


def test_destroy_is_not_offered_twice_while_one_is_under_way() -> None:
    from core.domain.operation import DestroyOp

    applied = at_status("applied")
    started = DestroyOp(key="destroy", started_at=applied.updated_at)
    pending = applied.model_copy(update={"operations": [started]})
    decision = allowed_actions(pending, Actor("U_ADMIN"), POLICY)[Action.DESTROY]
    assert not decision.allowed and "under way" in (decision.reason or "")
    failed = applied.model_copy(update={"operations": [started.model_copy(update={"error": "cleanup failed"})]})
    assert allowed_actions(failed, Actor("U_ADMIN"), POLICY)[Action.DESTROY].allowed


def test_state_reasons_for_closed_pull_requests_and_failed_destroys() -> None:
    approver = Actor("U_APP")
    closed = allowed_actions(at_status("pr_closed"), approver, POLICY)
    assert closed[Action.APPROVE].reason == "pull request #7 was closed without merging; re-open it first"
    approved_then_closed = at_status("approved")
    assert approved_then_closed.pr is not None
    approved_then_closed.pr = approved_then_closed.pr.model_copy(update={"open": False})
    assert "closed without merging" in (
        allowed_actions(approved_then_closed, approver, POLICY)[Action.MERGE].reason or ""
    )
    no_pr = at_status("plan_ready").model_copy(update={"pr": None})
    assert allowed_actions(no_pr, approver, POLICY)[Action.APPROVE].reason == "the request has no pull request yet"
    destroy_failed = allowed_actions(at_status("destroy_failed"), Actor("U_ADMIN"), POLICY)
    assert destroy_failed[Action.DESTROY].allowed
    assert destroy_failed[Action.APPLY].reason == "a destroy of this request failed; retry the destroy instead"


def test_refusals_read_as_english() -> None:
    decision = allowed_actions(at_status("applied"), Actor("U_APP"), POLICY)[Action.DESTROY]
    assert decision.reason == "destroy needs the admin role; you are an approver"


def test_drift_states_derive_the_documented_status() -> None:
    from core.domain.lifecycle import derive_status
    from core.domain.status import Status

    assert derive_status(at_status("applied_with_drift")) is Status.APPLIED
    assert derive_status(at_status("drift_planning")) is Status.APPLIED
    assert derive_status(at_status("drift_planned")) is Status.APPLIED
    assert derive_status(at_status("drift_plan_failed")) is Status.FAILED


def test_drift_reasons() -> None:
    approver = Actor("U_APP")
    assert allowed_actions(at_status("applied"), approver, POLICY)[Action.REPLAN].reason == (
        "the pull request is merged; re-plan is offered again only when drift is detected after apply"
    )
    assert allowed_actions(at_status("applied_with_drift"), approver, POLICY)[Action.APPLY].reason == (
        "drift was detected: re-plan it first, then apply the new plan"
    )
    planning = allowed_actions(at_status("drift_planning"), approver, POLICY)
    assert planning[Action.APPLY].reason == "wait for the drift plan to succeed"
    assert planning[Action.REPLAN].reason == "a plan is already running"
    assert allowed_actions(at_status("drift_planned"), approver, POLICY)[Action.UPDATE].reason == (
        "the pull request is no longer open"
    )


def test_a_drift_check_newer_than_the_drift_plan_needs_a_new_plan() -> None:
    from datetime import timedelta

    from tests.domain.builders import T0, drift

    planned = at_status("drift_planned")
    planned.drift = drift(checked_at=T0 + timedelta(days=2))
    decisions = allowed_actions(planned, Actor("U_APP"), POLICY)
    assert not decisions[Action.APPLY].allowed and decisions[Action.REPLAN].allowed


def test_no_replan_after_drift_while_a_destroy_is_under_way() -> None:
    from core.domain.operation import DestroyOp

    request = at_status("applied_with_drift")
    request.operations = [DestroyOp(key="destroy", started_at=request.updated_at)]
    assert allowed_actions(request, Actor("U_APP"), POLICY)[Action.REPLAN].reason == "a destroy is under way"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("prod", [False, True], ids=["nonprod", "prod"])
def test_state_allows_is_the_state_part_alone(state: str, prod: bool) -> None:
    request = at_status(state, prod=prod)
    for action in Action:
        # Whoever asks: exactly the states listed for the action, prod or not.
        assert state_allows(action, request) is (state in STATE_ALLOWS[action]), action
        # ... and it agrees with the full check for an actor no role or allowlist can refuse.
        assert state_allows(action, request) is check(action, request, Actor("U_ADMIN"), EVERYONE_ADMIN).allowed


def test_needed_role_is_the_role_table() -> None:
    assert {action: needed_role(action) for action in Action} == MIN_ROLE


def test_a_destroy_guard_that_holds_hides_destroy_and_offers_prepare_destroy() -> None:
    from module_registry.catalogue import load_registry

    guards = list(load_registry(None).get("dynamodb-table").destroy_guards)
    applied = at_status("applied")
    protected = applied.model_copy(
        update={"module": "dynamodb-table", "config": {"deletion_protection": True}, "destroy_guards": guards}
    )
    admin = ACTORS[Role.ADMIN]
    destroy = check(Action.DESTROY, protected, admin, POLICY)
    assert not destroy.allowed and destroy.reason is not None
    assert "`deletion_protection` true → false" in destroy.reason and "Prepare destroy first" in destroy.reason
    assert check(Action.PREPARE_DESTROY, protected, admin, POLICY).allowed
    assert not check(Action.PREPARE_DESTROY, protected, ACTORS[Role.APPROVER], POLICY).allowed
    # Lifted (the prepare change applied): Destroy again, nothing left to prepare.
    lifted = protected.model_copy(update={"config": {"deletion_protection": False}})
    assert check(Action.DESTROY, lifted, admin, POLICY).allowed
    refused = check(Action.PREPARE_DESTROY, lifted, admin, POLICY)
    assert not refused.allowed and "needs no preparation" in (refused.reason or "")
    # A guard that holds only while data is held leaves Destroy on (the run's preflight decides)
    # and offers the preparation too.
    bucket = applied.model_copy(
        update={
            "config": {"force_destroy": False},
            "destroy_guards": list(load_registry(None).get("s3-bucket").destroy_guards),
        }
    )
    assert check(Action.DESTROY, bucket, admin, POLICY).allowed
    assert check(Action.PREPARE_DESTROY, bucket, admin, POLICY).allowed
