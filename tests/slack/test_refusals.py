"""The sentences of refusals (``bot.views.refusals``): the policy's typed reasons, as the person
refused reads them in Slack, the console and the assistant; and audit records old and new.

The texts asserted here were asserted on the policy itself before it answered a code
(tests/domain/test_policy.py keeps the codes): ``allowed_actions`` and ``check`` below are the
policy's, with each reason rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from bot.views.refusals import SENTENCES, console_refusal, reason_text, recorded_reason, refused_reply
from core.domain import policy
from core.domain.policy import Action, Actor, Policy, Role
from core.domain.refusals import Denial, DenialCode, denial
from core.domain.request import Request
from tests.domain.builders import at_status
from tests.domain.test_policy import ACTORS, POLICY


@dataclass(frozen=True)
class Said:
    allowed: bool
    reason: str | None


def _said(decision: policy.Decision) -> Said:
    return Said(decision.allowed, reason_text(decision.reason) if decision.reason is not None else None)


def allowed_actions(request: Request, actor: Actor, given: Policy) -> dict[Action, Said]:
    return {action: _said(d) for action, d in policy.allowed_actions(request, actor, given).items()}


def check(action: Action, request: Request, actor: Actor, given: Policy) -> Said:
    return _said(policy.check(action, request, actor, given))


def test_every_refusal_code_has_its_sentence() -> None:
    assert set(SENTENCES) == set(get_args(DenialCode))
    for code in get_args(DenialCode):
        assert reason_text(Denial(code=code)), code  # renders, even without its data


def test_every_refusal_of_the_matrix_renders() -> None:
    from tests.domain.test_policy import STATES

    for state in STATES:
        for prod in (False, True):
            for actor in ACTORS.values():
                for decision in policy.allowed_actions(at_status(state, prod=prod), actor, POLICY).values():
                    if decision.reason is not None:
                        text = reason_text(decision.reason)
                        assert text and "{" not in text and "None" not in text, (state, decision.reason)


def test_create_refusals() -> None:
    assert reason_text(denial("create_needs_role", needed="developer", role="viewer")) == (
        "creating requests needs the developer role; you are a viewer"
    )
    assert reason_text(denial("create_prod_allowlist")) == "requests in prod need the prod allowlist"


def test_audit_records_old_and_new_read_as_the_same_sentence() -> None:
    typed = denial("pr_closed", number=7)
    assert (
        recorded_reason(typed.model_dump(mode="json")) == "pull request #7 was closed without merging; re-open it first"
    )
    # A record written before refusals were typed carries the sentence itself.
    assert recorded_reason("you cannot approve your own request") == "you cannot approve your own request"


def test_each_family_says_the_sentence() -> None:
    own = denial("own_request")
    assert (
        refused_reply(Action.APPROVE, own)
        == ":no_entry: You cannot approve this request: you cannot approve your own request."
    )
    assert console_refusal("Ana", "approve", own) == "⛔ Ana: approve refused: you cannot approve your own request"


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


def test_no_replan_after_drift_while_a_destroy_is_under_way() -> None:
    from core.domain.operation import DestroyOp

    request = at_status("applied_with_drift")
    request.operations = [DestroyOp(key="destroy", started_at=request.updated_at)]
    assert allowed_actions(request, Actor("U_APP"), POLICY)[Action.REPLAN].reason == "a destroy is under way"


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


def test_destroy_is_not_offered_twice_while_one_is_under_way() -> None:
    from core.domain.operation import DestroyOp

    applied = at_status("applied")
    started = DestroyOp(key="destroy", started_at=applied.updated_at)
    pending = applied.model_copy(update={"operations": [started]})
    decision = allowed_actions(pending, Actor("U_ADMIN"), POLICY)[Action.DESTROY]
    assert not decision.allowed and "under way" in (decision.reason or "")
    failed = applied.model_copy(update={"operations": [started.model_copy(update={"error": "cleanup failed"})]})
    assert allowed_actions(failed, Actor("U_ADMIN"), POLICY)[Action.DESTROY].allowed
