"""Roles and permissions: one pure ``check(action, request, actor, policy)``.

It has two parts. ``state_allows(action, request)`` is the part that depends on the request
alone (status, PR, runs, drift, operations under way): the shared Slack card shows a button
exactly when it says yes. ``check`` adds the actor's side (role, prod allowlists,
self-approval) and is what the services ask before every action (``core.services.gate``), so a
button is a hint, never a permission. Every refusal carries a reason written for the person
refused.
It also says when drift reopens an applied request (``drift_open``, ``drift_plan``): Re-plan
plans the base branch, and Apply follows once that plan succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from core.domain.destroy import guard_refusal, held_guards, waits_for_review
from core.domain.lifecycle import derive_status, run_failed, run_in_flight, run_succeeded
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

    @property
    def with_article(self) -> str:
        return ("an " if self.label[0] in "aeiou" else "a ") + self.label


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
    reason: str | None = None  # why not, in words for the person refused

    @classmethod
    def yes(cls) -> Decision:
        return cls(True, None)

    @classmethod
    def no(cls, reason: str) -> Decision:
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


def _drift_replan_check(request: Request) -> str | None:
    """Why a merged request may not be re-planned now (only drift on an applied request allows it)."""
    if not run_succeeded(request.apply_run) or not drift_open(request):
        return "the pull request is merged; re-plan is offered again only when drift is detected after apply"
    if _pending(request, "destroy"):
        return "a destroy is under way"
    if run_failed(request.destroy_run):
        return "a destroy of this request failed; retry the destroy instead"
    if run_in_flight(request.plan_run):
        return "a plan is already running"
    return None


def _no_open_pr(request: Request) -> str:
    if request.pr is None or request.pr.number is None:
        return "the request has no pull request yet"
    return f"pull request #{request.pr.number} was closed without merging; re-open it first"


def _state_check(action: Action, request: Request, status: Status) -> str | None:
    """Why the request's state forbids the action now, or None when the state allows it."""
    pr = request.pr
    pr_open = pr is not None and pr.open and not pr.merged
    if status in (Status.DESTROYING, Status.DESTROYED):
        return f"the request is {status.value}"
    if action is Action.APPROVE:
        uncounted = status is Status.APPROVED and request.approval is not None and request.approval.satisfies is False
        if status is Status.APPROVED and not uncounted:
            return "it is already approved for the current commit"
        if status is not Status.PLAN_READY and not uncounted:
            return f"approval needs a successful plan of the current commit (status is {status.value})"
        return None if pr_open else _no_open_pr(request)
    if action is Action.MERGE:
        if status is not Status.APPROVED:
            return f"merging needs an approved request (status is {status.value})"
        return None if pr_open else _no_open_pr(request)
    if action is Action.APPLY:
        if pr is None or not pr.merged:
            return "apply runs only after the pull request is merged"
        if run_failed(request.destroy_run):
            return "a destroy of this request failed; retry the destroy instead"
        if run_in_flight(request.apply_run):
            return "an apply is already running"
        if status is Status.APPLIED:
            if not drift_open(request):
                return "it is already applied"
            planned = drift_plan(request)
            if planned is None:
                return "drift was detected: re-plan it first, then apply the new plan"
            if not run_succeeded(planned):
                return "wait for the drift plan to succeed"
            return None
        if status is Status.FAILED and not run_failed(request.apply_run):
            return "the request failed before apply; re-plan it first"
        return None
    if action is Action.DESTROY:
        waiting = [op for op in request.operations if op.kind == "destroy" and op.completed_at is None]
        if waiting and all(waits_for_review(request, op) for op in waiting):
            return None  # the click continues it (a linked admin's click reviews the removal PR)
        if _pending(request, "destroy"):
            return "a destroy is already under way (its removal pull request comes first)"
        if request.prepared_destroy is not None and request.apply_run is None:
            return "the prepare-destroy change must be merged and applied first"
        if not waiting:
            refusal = guard_refusal(held_guards(request.destroy_guards, request.config, {}))
            if refusal is not None:
                return refusal
        if request.apply_run is None:
            return "nothing was applied, so there is nothing to destroy"
        if run_in_flight(request.apply_run):
            return "wait for the running apply to finish"
        return None
    if action is Action.PREPARE_DESTROY:
        # After a destroy the run refused (a guard: protection on, data held), the request is
        # failed with its resources intact: preparing is the way on from there too.
        destroy_failed = status is Status.FAILED and run_failed(request.destroy_run)
        if (status is not Status.APPLIED and not destroy_failed) or _pending(request, "destroy"):
            return (
                "preparing a destroy needs an applied request (or one whose destroy failed) with no destroy under "
                f"way (status is {status.value})"
            )
        if _pending(request, "prepare_destroy"):
            return "a prepare-destroy change is already under way"
        if not held_guards(request.destroy_guards, request.config, {}):
            return "no destroy guard holds for this request's configuration: Destroy needs no preparation"
        return None
    if action is Action.REPLAN and plans_on_base(request):
        return _drift_replan_check(request)
    if action in (Action.REPLAN, Action.UPDATE):
        if not pr_open:
            return "the pull request is no longer open"
        if run_in_flight(request.plan_run):
            return "a plan is already running"
        return None
    return None  # pragma: no cover - every action is handled above


def state_reason(action: Action, request: Request) -> str | None:
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
        return Decision.no(f"{action.value} needs the {needed.label} role; you are {role.with_article}")
    if action is Action.APPROVE and _is_requester(request, actor):
        return Decision.no("you cannot approve your own request")
    if action in (Action.REPLAN, Action.UPDATE) and role < Role.APPROVER and not _is_requester(request, actor):
        return Decision.no(f"only the requester or an approver can {action.value} this request")
    if request.is_prod:
        if action in (Action.DESTROY, Action.PREPARE_DESTROY) and not policy.may_destroy_prod(actor):
            return Decision.no("destroying in prod needs the prod destroy allowlist")
        if not policy.may_act_in_prod(actor):
            return Decision.no(f"{action.value} in prod needs the prod allowlist")
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
        return Decision.no(f"creating requests needs the developer role; you are {role.with_article}")
    if environment_is_prod and not policy.may_act_in_prod(actor):
        return Decision.no("requests in prod need the prod allowlist")
    return Decision.yes()
