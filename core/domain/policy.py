"""Roles and permissions: one pure ``check(action, request, actor, policy)``.

It has two parts. ``state_allows(action, request)`` is the part that depends on the request
alone (status, PR, runs, drift, operations under way): the shared Slack card shows a button
exactly when it says yes. ``check`` adds the actor's side (role, prod allowlists,
self-approval) and is what the services ask before every action (``core.services.gate``), so a
button is a hint, never a permission. Every refusal carries a typed reason
(``core.domain.refusals.Denial``: a code and its data); the sentence the person refused reads is
the views' (``bot.views.refusals``).
It also says when drift reopens an applied request (``drift_open``, ``drift_plan``): Re-plan
plans the base branch, and Apply follows once that plan succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from core.domain.destroy import guard_denial, held_guards, waits_for_review
from core.domain.lifecycle import derive_status, run_failed, run_in_flight, run_succeeded
from core.domain.refusals import Denial, denial
from core.domain.request import Request, RunRef
from core.domain.status import Status


class Role(IntEnum):
    VIEWER = 0
    DEVELOPER = 1
    APPROVER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Action(StrEnum):
    APPROVE = "approve"
    MERGE = "merge"
    APPLY = "apply"
    DESTROY = "destroy"
    REPLAN = "replan"
    UPDATE = "update"
    PREPARE_DESTROY = "prepare_destroy"


@dataclass(frozen=True)
class Actor:
    """A person acting: a Slack user id (or console user) and, when known, their email."""

    id: str
    email: str | None = None
    name: str | None = None
    github_login: str | None = None

    def identities(self) -> set[str]:
        ids = {self.id.lower()}
        if self.email:
            ids.add(self.email.lower())
        return ids


def _norm(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v.strip())


@dataclass(frozen=True)
class Policy:
    """Who holds which role, from the TFPILOT_* lists (Slack user ids or emails).

    An empty prod allowlist means nobody may act in prod: the safe reading of "not configured".
    """

    admins: frozenset[str] = field(default_factory=frozenset)
    approvers: frozenset[str] = field(default_factory=frozenset)
    developers: frozenset[str] = field(default_factory=frozenset)
    prod_allowed: frozenset[str] = field(default_factory=frozenset)
    destroy_prod_allowed: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        admins: Iterable[str] = (),
        approvers: Iterable[str] = (),
        developers: Iterable[str] = (),
        prod_allowed: Iterable[str] = (),
        destroy_prod_allowed: Iterable[str] = (),
    ) -> Policy:
        return cls(
            _norm(admins),
            _norm(approvers),
            _norm(developers),
            _norm(prod_allowed),
            _norm(destroy_prod_allowed),
        )

    def role_of(self, actor: Actor) -> Role:
        ids = actor.identities()
        if ids & self.admins:
            return Role.ADMIN
        if ids & self.approvers:
            return Role.APPROVER
        if ids & self.developers:
            return Role.DEVELOPER
        return Role.VIEWER

    def may_act_in_prod(self, actor: Actor) -> bool:
        return bool(actor.identities() & self.prod_allowed)

    def may_destroy_prod(self, actor: Actor) -> bool:
        return bool(actor.identities() & self.destroy_prod_allowed)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Denial | None = None  # why not (rendered for the person refused by bot.views.refusals)

    @classmethod
    def yes(cls) -> Decision:
        return cls(True, None)

    @classmethod
    def no(cls, reason: Denial) -> Decision:
        return cls(False, reason)


_NEEDS: dict[Action, Role] = {
    Action.APPROVE: Role.APPROVER,
    Action.MERGE: Role.APPROVER,
    Action.APPLY: Role.APPROVER,
    Action.DESTROY: Role.ADMIN,
    Action.REPLAN: Role.DEVELOPER,
    Action.UPDATE: Role.DEVELOPER,
    Action.PREPARE_DESTROY: Role.ADMIN,
}


def _is_requester(request: Request, actor: Actor) -> bool:
    if request.requester is None:
        return False
    theirs = {request.requester.id.lower()}
    if request.requester.email:
        theirs.add(request.requester.email.lower())
    return bool(theirs & actor.identities())


def _pending(request: Request, kind: str) -> bool:
    """An operation of ``kind`` was started and has neither finished nor failed."""
    return any(op.kind == kind and op.completed_at is None and op.error is None for op in request.operations)


def drift_open(request: Request) -> bool:
    """The drift job found the applied infrastructure different from the code (not resolved yet)."""
    return request.drift is not None and request.drift.detected


def drift_plan(request: Request) -> RunRef | None:
    """The plan run dispatched after the drift was found (a plan of the base branch), if any.

    A plan dispatched before the drift check says nothing about the drift, so it is never it."""
    drift, plan = request.drift, request.plan_run
    if drift is None or not drift.detected or drift.checked_at is None:
        return None
    if plan is None or plan.dispatched_at is None or plan.dispatched_at < drift.checked_at:
        return None
    return plan


def plans_on_base(request: Request) -> bool:
    """Once the PR is merged, the only plan is the drift re-plan, and it plans the base branch."""
    return request.pr is not None and request.pr.merged


def _drift_replan_check(request: Request) -> Denial | None:
    """Why a merged request may not be re-planned now (only drift on an applied request allows it)."""
    if not run_succeeded(request.apply_run) or not drift_open(request):
        return denial("merged_replan_drift_only")
    if _pending(request, "destroy"):
        return denial("destroy_under_way")
    if run_failed(request.destroy_run):
        return denial("destroy_failed")
    if run_in_flight(request.plan_run):
        return denial("plan_running")
    return None


def _no_open_pr(request: Request) -> Denial:
    if request.pr is None or request.pr.number is None:
        return denial("no_pr")
    return denial("pr_closed", number=request.pr.number)


def _state_check(action: Action, request: Request, status: Status) -> Denial | None:
    """Why the request's state forbids the action now, or None when the state allows it."""
    pr = request.pr
    pr_open = pr is not None and pr.open and not pr.merged
    if status in (Status.DESTROYING, Status.DESTROYED):
        return denial("request_closed", status=status.value)
    if action is Action.APPROVE:
        uncounted = status is Status.APPROVED and request.approval is not None and request.approval.satisfies is False
        if status is Status.APPROVED and not uncounted:
            return denial("already_approved")
        if status is not Status.PLAN_READY and not uncounted:
            return denial("approval_needs_plan", status=status.value)
        return None if pr_open else _no_open_pr(request)
    if action is Action.MERGE:
        if status is not Status.APPROVED:
            return denial("merge_needs_approval", status=status.value)
        return None if pr_open else _no_open_pr(request)
    if action is Action.APPLY:
        if pr is None or not pr.merged:
            return denial("apply_needs_merge")
        if run_failed(request.destroy_run):
            return denial("destroy_failed")
        if run_in_flight(request.apply_run):
            return denial("apply_running")
        if status is Status.APPLIED:
            if not drift_open(request):
                return denial("already_applied")
            planned = drift_plan(request)
            if planned is None:
                return denial("drift_replan_first")
            if not run_succeeded(planned):
                return denial("drift_plan_wait")
            return None
        if status is Status.FAILED and not run_failed(request.apply_run):
            return denial("failed_before_apply")
        return None
    if action is Action.DESTROY:
        waiting = [op for op in request.operations if op.kind == "destroy" and op.completed_at is None]
        if waiting and all(waits_for_review(request, op) for op in waiting):
            return None  # the click continues it (a linked admin's click reviews the removal PR)
        if _pending(request, "destroy"):
            return denial("removal_under_way")
        if request.prepared_destroy is not None and request.apply_run is None:
            return denial("prepare_first")
        if not waiting:
            refusal = guard_denial(held_guards(request.destroy_guards, request.config, {}))
            if refusal is not None:
                return refusal
        if request.apply_run is None:
            return denial("nothing_applied")
        if run_in_flight(request.apply_run):
            return denial("apply_wait")
        return None
    if action is Action.PREPARE_DESTROY:
        # After a destroy the run refused (a guard: protection on, data held), the request is
        # failed with its resources intact: preparing is the way on from there too.
        destroy_failed = status is Status.FAILED and run_failed(request.destroy_run)
        if (status is not Status.APPLIED and not destroy_failed) or _pending(request, "destroy"):
            return denial("prepare_needs_applied", status=status.value)
        if _pending(request, "prepare_destroy"):
            return denial("prepare_under_way")
        if not held_guards(request.destroy_guards, request.config, {}):
            return denial("no_guard_holds")
        return None
    if action is Action.REPLAN and plans_on_base(request):
        return _drift_replan_check(request)
    if action in (Action.REPLAN, Action.UPDATE):
        if not pr_open:
            return denial("pr_not_open")
        if run_in_flight(request.plan_run):
            return denial("plan_running")
        return None
    return None  # pragma: no cover - every action is handled above


def state_reason(action: Action, request: Request) -> Denial | None:
    """Why the request's state forbids ``action`` now, whoever asks; None when it allows it."""
    return _state_check(action, request, derive_status(request))


def state_allows(action: Action, request: Request) -> bool:
    """Does the request's state allow ``action`` now (independent of who asks)?"""
    return state_reason(action, request) is None


def needed_role(action: Action) -> Role:
    """The least role that may do ``action`` (prod and self-approval rules come on top)."""
    return _NEEDS[action]


def check(action: Action, request: Request, actor: Actor, policy: Policy) -> Decision:
    """May ``actor`` do ``action`` on ``request`` now? Role, prod allowlists, self-approval, state."""
    role = policy.role_of(actor)
    needed = _NEEDS[action]
    if role < needed:
        return Decision.no(denial("needs_role", action=action.value, needed=needed.label, role=role.label))
    if action is Action.APPROVE and _is_requester(request, actor):
        return Decision.no(denial("own_request"))
    if action in (Action.REPLAN, Action.UPDATE) and role < Role.APPROVER and not _is_requester(request, actor):
        return Decision.no(denial("requester_or_approver", action=action.value))
    if request.is_prod:
        if action in (Action.DESTROY, Action.PREPARE_DESTROY) and not policy.may_destroy_prod(actor):
            return Decision.no(denial("prod_destroy_allowlist"))
        if not policy.may_act_in_prod(actor):
            return Decision.no(denial("prod_allowlist", action=action.value))
    reason = state_reason(action, request)
    if reason is not None:
        return Decision.no(reason)
    return Decision.yes()


def allowed_actions(request: Request, actor: Actor, policy: Policy) -> dict[Action, Decision]:
    """Every action with its decision, in button order."""
    return {action: check(action, request, actor, policy) for action in Action}


def check_create(environment_is_prod: bool, actor: Actor, policy: Policy) -> Decision:
    """May ``actor`` open a new request (which dispatches a plan) in this environment?"""
    role = policy.role_of(actor)
    if role < Role.DEVELOPER:
        return Decision.no(denial("create_needs_role", needed=Role.DEVELOPER.label, role=role.label))
    if environment_is_prod and not policy.may_act_in_prod(actor):
        return Decision.no(denial("create_prod_allowlist"))
    return Decision.yes()
