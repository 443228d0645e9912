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
from core.domain.refusals import denial
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


def test_drift_states_derive_the_documented_status() -> None:
    from core.domain.lifecycle import derive_status
    from core.domain.status import Status

    assert derive_status(at_status("applied_with_drift")) is Status.APPLIED
    assert derive_status(at_status("drift_planning")) is Status.APPLIED
    assert derive_status(at_status("drift_planned")) is Status.APPLIED
    assert derive_status(at_status("drift_plan_failed")) is Status.FAILED


def test_a_drift_check_newer_than_the_drift_plan_needs_a_new_plan() -> None:
    from datetime import timedelta

    from tests.domain.builders import T0, drift

    planned = at_status("drift_planned")
    planned.drift = drift(checked_at=T0 + timedelta(days=2))
    decisions = allowed_actions(planned, Actor("U_APP"), POLICY)
    assert not decisions[Action.APPLY].allowed and decisions[Action.REPLAN].allowed


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


def test_refusals_are_codes_with_their_data() -> None:
    """The domain answers a code and its data; the sentences are the views' (tests/slack/test_refusals.py)."""
    merged = at_status("merged")
    assert allowed_actions(merged, Actor("U_VIEW"), POLICY)[Action.APPLY].reason == denial(
        "needs_role", action="apply", needed="approver", role="viewer"
    )
    closed = allowed_actions(at_status("pr_closed"), Actor("U_APP"), POLICY)
    assert closed[Action.APPROVE].reason == denial("pr_closed", number=7)
    assert check_create(False, Actor("U_VIEW"), POLICY).reason == denial(
        "create_needs_role", needed="developer", role="viewer"
    )
    assert check_create(True, Actor("U_DEV"), POLICY).reason == denial("create_prod_allowlist")
    planning = allowed_actions(at_status("drift_planning"), Actor("U_APP"), POLICY)
    assert planning[Action.REPLAN].reason == denial("plan_running")
