"""The sentences of refusals: why an action is refused (``core.domain.refusals.Denial``, a code
and its data), in words for the person refused.

Pure, no Slack import: the Slack ephemeral replies (``refused_reply``), the console
(``bot.console.session``) and the assistant (injected by ``bot.bootstrap``) all render through
``reason_text``; an audit record's ``reason`` (the dumped denial, or the sentence itself in
records written before the code) reads back through ``recorded_reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.views.limits import clip, escape
from core.domain.policy import Action
from core.domain.refusals import Denial, DenialCode


def _article(label: object) -> str:
    text = str(label)
    return ("an " if text[:1] in tuple("aeiou") else "a ") + text


def _status(data: Mapping[str, Any]) -> str:
    return str(data.get("status", "unknown"))


def _guard_words(guard: Mapping[str, Any]) -> str:
    change = f"`{guard.get('field')}` {_json(guard.get('value'))} → {_json(guard.get('safe'))}"
    if guard.get("blocks", True):
        return f"{change}: {guard.get('message', '')}"
    return f"{change} if it still holds {guard.get('data')}: {guard.get('message', '')}"


def _guards_hold(data: Mapping[str, Any]) -> str:
    changes = "; ".join(_guard_words(g) for g in data.get("guards") or [] if isinstance(g, Mapping))
    return (
        f"AWS would refuse this destroy: {changes}. Prepare destroy first (a reviewed change that lifts "
        "exactly these protections); Destroy is offered once it is applied"
    )


def _json(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "unset" if value is None else str(value)


SENTENCES: dict[DenialCode, Callable[[Mapping[str, Any]], str]] = {
    "needs_role": lambda d: (
        f"{d.get('action')} needs the {d.get('needed')} role; you are {_article(d.get('role', 'viewer'))}"
    ),
    "create_needs_role": lambda d: (
        f"creating requests needs the {d.get('needed', 'developer')} role; you are {_article(d.get('role', 'viewer'))}"
    ),
    "own_request": lambda d: "you cannot approve your own request",
    "requester_or_approver": lambda d: f"only the requester or an approver can {d.get('action')} this request",
    "prod_destroy_allowlist": lambda d: "destroying in prod needs the prod destroy allowlist",
    "prod_allowlist": lambda d: f"{d.get('action')} in prod needs the prod allowlist",
    "create_prod_allowlist": lambda d: "requests in prod need the prod allowlist",
    "request_closed": lambda d: f"the request is {_status(d)}",
    "already_approved": lambda d: "it is already approved for the current commit",
    "approval_needs_plan": lambda d: f"approval needs a successful plan of the current commit (status is {_status(d)})",
    "no_pr": lambda d: "the request has no pull request yet",
    "pr_closed": lambda d: f"pull request #{d.get('number', '?')} was closed without merging; re-open it first",
    "merge_needs_approval": lambda d: f"merging needs an approved request (status is {_status(d)})",
    "apply_needs_merge": lambda d: "apply runs only after the pull request is merged",
    "destroy_failed": lambda d: "a destroy of this request failed; retry the destroy instead",
    "apply_running": lambda d: "an apply is already running",
    "already_applied": lambda d: "it is already applied",
    "drift_replan_first": lambda d: "drift was detected: re-plan it first, then apply the new plan",
    "drift_plan_wait": lambda d: "wait for the drift plan to succeed",
    "failed_before_apply": lambda d: "the request failed before apply; re-plan it first",
    "removal_under_way": lambda d: "a destroy is already under way (its removal pull request comes first)",
    "prepare_first": lambda d: "the prepare-destroy change must be merged and applied first",
    "guards_hold": _guards_hold,
    "nothing_applied": lambda d: "nothing was applied, so there is nothing to destroy",
    "apply_wait": lambda d: "wait for the running apply to finish",
    "prepare_needs_applied": lambda d: (
        "preparing a destroy needs an applied request (or one whose destroy failed) with no destroy under "
        f"way (status is {_status(d)})"
    ),
    "prepare_under_way": lambda d: "a prepare-destroy change is already under way",
    "no_guard_holds": lambda d: "no destroy guard holds for this request's configuration: Destroy needs no preparation",
    "pr_not_open": lambda d: "the pull request is no longer open",
    "plan_running": lambda d: "a plan is already running",
    "merged_replan_drift_only": lambda d: (
        "the pull request is merged; re-plan is offered again only when drift is detected after apply"
    ),
    "destroy_under_way": lambda d: "a destroy is under way",
    "not_allowed": lambda d: "not allowed",
}


def reason_text(denial: Denial) -> str:
    """Why the action is refused, in words for the person refused (no markup, no final stop)."""
    return SENTENCES[denial.code](denial.data)


def recorded_reason(reason: object) -> str:
    """The sentence of an audit record's ``reason``: the dumped denial (code and data), or the
    sentence itself in records written before refusals were typed."""
    if isinstance(reason, str):
        return reason
    try:
        return reason_text(Denial.model_validate(reason))
    except ValueError:
        return str(reason)


VERBS = {
    Action.APPROVE: "approve",
    Action.MERGE: "merge",
    Action.APPLY: "apply",
    Action.DESTROY: "destroy",
    Action.REPLAN: "re-plan",
    Action.UPDATE: "edit",
    Action.PREPARE_DESTROY: "prepare the destroy of",
}


def refused_reply(action: Action, denial: Denial | str) -> str:
    """The Slack ephemeral reply to a refused click (mrkdwn, escaped, clipped)."""
    reason = denial if isinstance(denial, str) else reason_text(denial)
    return f":no_entry: You cannot {VERBS[action]} this request: {escape(clip(reason, 500))}."


def console_refusal(name: str, action: str, denial: Denial) -> str:
    """The console's line for a refused action."""
    return f"⛔ {name}: {action} refused: {reason_text(denial)}"
