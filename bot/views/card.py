"""The request card: the parent message of a request's thread, rebuilt on every transition.

Pure: ``request_card(request)`` turns a ``Request`` into ``{"text", "blocks"}``. The card is
shared by everyone in the channel, so its buttons are those the request's *state* allows
(``state_allows``, independent of who looks); a click is checked for the person who clicked by
the services. Every value is escaped and clipped to Slack's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views import fmt
from bot.views.ids import CardRef, card_action_id
from bot.views.limits import (
    BUTTON_TEXT,
    CONFIRM_TEXT,
    CONFIRM_TITLE,
    HEADER_TEXT,
    SECTION_FIELD_TEXT,
    SECTION_TEXT,
    clip,
    escape,
    join_lines,
    mrkdwn,
    plain,
)
from bot.views.run_report import diagnostics_section, outputs_section
from bot.views.timeline_text import timeline_label
from core.domain.destroy import HeldGuard, held_guards
from core.domain.policy import Action, Role, needed_role, state_allows
from core.domain.request import PlanSummary, Request

TIMELINE_STEPS = 5
ADDRESSES_SHOWN = 8
CONFIG_CHARS = 1200

_LABELS: dict[Action, str] = {
    Action.APPROVE: "Approve",
    Action.MERGE: "Merge",
    Action.APPLY: "Apply",
    Action.DESTROY: "Destroy",
    Action.REPLAN: "Re-plan",
    Action.UPDATE: "Edit",
    Action.PREPARE_DESTROY: "Prepare destroy",
}
_STYLES: dict[Action, str] = {Action.APPROVE: "primary", Action.APPLY: "primary", Action.DESTROY: "danger"}


def card_actions(request: Request, viewer: Role | None = None) -> list[Action]:
    """The actions the card offers, in button order: those the request's state allows and, for
    a card shown to one ``viewer``, that their role may do."""
    return [
        action
        for action in Action
        if state_allows(action, request) and (viewer is None or viewer >= needed_role(action))
    ]


def _confirm(title: str, text: str, confirm: str, *, danger: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": plain(title, CONFIRM_TITLE),
        "text": mrkdwn(text, CONFIRM_TEXT),
        "confirm": plain(confirm, 30),
        "deny": plain("Cancel", 30),
    }
    if danger:
        out["style"] = "danger"
    return out


def button_confirmation(action: Action, request: Request) -> dict[str, Any] | None:
    where = f"{request.project}/{request.environment}"
    summary = request.plan.summary if request.plan else None
    if action is Action.MERGE:
        pr = request.pr_number
        return _confirm(
            "Merge the pull request?",
            f"Squash-merge PR #{pr or '?'} of `{request.id}` into `{clip(escape(request.target_base or 'main'), 60)}`.",
            "Merge",
        )
    if action is Action.APPLY:
        return _confirm(
            f"Apply in {clip(request.environment, 60)}?",
            f"Terraform will change real infrastructure in `{clip(escape(where), 120)}`: {fmt.plan_counts(summary)}.",
            "Apply",
            danger=bool(summary and (summary.destroy or summary.replace)),
        )
    if request.is_prod and action in (Action.APPROVE, Action.REPLAN):
        # Anything in prod asks first (DESIGN); Edit opens its form, which is its own step.
        verb = "Approve" if action is Action.APPROVE else "Re-plan"
        return _confirm(
            f"{verb} in prod?",
            f"`{request.id}` changes *{clip(escape(where), 120)}*, a production environment.",
            verb,
        )
    if action is Action.DESTROY and not request.is_prod:
        # Prod destroy opens a modal where the request id must be typed instead.
        return _confirm(
            "Destroy this infrastructure?",
            f"Every resource `{request.id}` created in `{clip(escape(where), 120)}` will be destroyed. "
            + destroy_guard_note(request),
            "Destroy",
            danger=True,
        )
    if action is Action.PREPARE_DESTROY:
        changes = ", ".join(f"`{escape(g.field)}` → `{_json(g.safe)}`" for g in _held(request))
        return _confirm(
            "Prepare the destroy?",
            f"Opens a change of `{request.id}` that sets {changes}: planned, approved, merged and applied like any "
            "change. Destroy is offered once it is applied.",
            "Prepare",
        )
    return None


def _held(request: Request) -> list[HeldGuard]:
    return held_guards(request.destroy_guards, request.config, {})


def _json(value: Any) -> str:
    return "true" if value is True else "false" if value is False else escape(str(value))


def destroy_guard_note(request: Request) -> str:
    """What the Destroy confirmation says about guards that hold only while data is held."""
    data = [g for g in _held(request) if not g.blocks]
    if not data:
        return ""
    what = "; ".join(f"`{escape(g.field)}` is off and it may hold {escape(g.data or 'data')}" for g in data)
    return (
        f"{what}: if it does, the destroy refuses before deleting anything (nothing changes); "
        "Prepare destroy first to let it go."
    )


def _buttons(request: Request) -> list[dict[str, Any]]:
    return action_buttons(request, card_actions(request))


def action_buttons(request: Request, actions: Sequence[Action]) -> list[dict[str, Any]]:
    """Buttons for ``actions`` with the card's action ids, values and confirmations, so the
    card's listener handles a click on them wherever they are shown (App Home included)."""
    ref = CardRef(request.id, request.version).encode()
    buttons: list[dict[str, Any]] = []
    for action in actions:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": card_action_id(action),
            "text": plain(_LABELS[action], BUTTON_TEXT),
            "value": ref,
        }
        if action in _STYLES:
            button["style"] = _STYLES[action]
        confirm = button_confirmation(action, request)
        if confirm is not None:
            button["confirm"] = confirm
        buttons.append(button)
    return buttons


def _addresses(summary: PlanSummary, keys: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for key in keys:
        found.extend(summary.addresses.get(key, []))
    return found


def plan_section(
    summary: PlanSummary | None, *, preview: bool = False, preview_reason: str | None = None
) -> str | None:
    """Plan counts with deletions and replacements called out (addresses listed, bounded)."""
    if summary is None:
        return None
    label = "*Plan (local preview, not a cloud plan):*" if preview else "*Plan:*"
    if preview and preview_reason:
        label = f"*Plan (local preview: {escape(clip(preview_reason, 300))}):*"
    lines = [f"{label} {fmt.plan_counts(summary)}"]
    deleted = _addresses(summary, ("delete", "destroy"))
    replaced = _addresses(summary, ("replace", "delete-create", "create-delete"))
    if summary.destroy or summary.has_deletions:
        lines.append(f":warning: *{summary.destroy or len(deleted)} resource(s) will be DESTROYED*")
        lines += [f"• `{escape(clip(a, 200))}`" for a in deleted[:ADDRESSES_SHOWN]]
        if len(deleted) > ADDRESSES_SHOWN:
            lines.append(f"…and {len(deleted) - ADDRESSES_SHOWN} more")
    if summary.replace or summary.has_replacements:
        lines.append(f":warning: *{summary.replace or len(replaced)} resource(s) will be REPLACED*")
        lines += [f"• `{escape(clip(a, 200))}`" for a in replaced[:ADDRESSES_SHOWN]]
        if len(replaced) > ADDRESSES_SHOWN:
            lines.append(f"…and {len(replaced) - ADDRESSES_SHOWN} more")
    if summary.truncated:
        lines.append("_The plan was truncated; the full plan is in the thread._")
    return join_lines(lines, SECTION_TEXT)


def _links(request: Request) -> list[str]:
    pr_number = request.pr_number
    candidates = [
        (request.pr_url, f"PR #{pr_number}" if pr_number else "Pull request"),
        (request.plan_run.url if request.plan_run else None, "Plan run"),
        (request.apply_run.url if request.apply_run else None, "Apply run"),
        (request.destroy_run.url if request.destroy_run else None, "Destroy run"),
        (request.cleanup_pr.url if request.cleanup_pr else None, "Cleanup PR"),
    ]
    return [text for url, label in candidates if (text := fmt.link(url, label))]


def _cost(request: Request) -> str | None:
    cost = request.cost
    if cost is None or cost.monthly_cost is None:
        return None
    currency = escape(clip(cost.currency, 8))
    text = f"*Cost:* {cost.monthly_cost:,.2f} {currency}/month"
    if cost.monthly_delta is not None:
        text += f" ({cost.monthly_delta:+,.2f} {currency})"
    return text


def _drift(request: Request) -> str | None:
    drift = request.drift
    if drift is None or not drift.detected:
        return None
    text = ":warning: *Drift detected*"
    if drift.counts is not None:
        c = drift.counts
        text += f" (+{c.add} ~{c.change} -{c.destroy})"
    if drift.summary:
        text += f": {escape(clip(drift.summary, 1500))}"
    run = fmt.link(drift.run_url, "drift run")
    if run:
        text += f" — {run}"
    if drift.checked_at:
        text += f" — checked {fmt.when(drift.checked_at)}"
    return clip(text, SECTION_TEXT)


def _timeline(request: Request) -> str | None:
    steps = request.timeline[-TIMELINE_STEPS:]
    if not steps:
        return None
    lines = []
    for step in steps:
        line = f"{fmt.when(step.at)} · *{escape(clip(timeline_label(step), 80))}*"
        if step.status:
            line += f" ({escape(clip(step.status, 40))})"
        if step.message:
            line += f" — {escape(clip(step.message, 200))}"
        if step.actor:
            line += f" — {fmt.mention(clip(step.actor, 60))}"
        lines.append(line)
    hidden = len(request.timeline) - len(steps)
    header = "*Timeline*" + (f" (last {len(steps)} of {len(request.timeline)})" if hidden else "")
    return join_lines([header, *lines], SECTION_TEXT)


def _config(request: Request) -> str | None:
    if not request.config:
        return None
    lines = [
        f"`{escape(clip(str(key), 60))}` = {escape(clip(fmt.config_value(value), 200))}"
        for key, value in sorted(request.config.items())
    ]
    return join_lines(["*Config*", *lines], CONFIG_CHARS)


def card_text(request: Request) -> str:
    """Notification fallback text (also what screen readers announce)."""
    return clip(
        f"{fmt.badge(fmt.status_of(request))}: {request.module} in {request.project}/{request.environment} "
        f"({request.id})",
        300,
    )


def request_card(request: Request) -> dict[str, Any]:
    """The card message: ``{"text": ..., "blocks": [...]}`` within Slack's message limits."""
    status = fmt.status_of(request)
    env = request.environment + (" (prod)" if request.is_prod and request.environment != "prod" else "")
    fields = [
        f"*Status*\n{fmt.badge(status)}",
        f"*Request*\n`{request.id}`",
        f"*Project*\n{escape(request.project)}",
        f"*Environment*\n{escape(env)}",
        f"*Module*\n{escape(request.module)}",
        f"*Requester*\n{fmt.requester_text(request.requester)}",
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": plain(
                f"{fmt.meta_emoji(status)} {request.module} · {request.project}/{request.environment}", HEADER_TEXT
            ),
        },
        {"type": "section", "fields": [mrkdwn(f, SECTION_FIELD_TEXT) for f in fields]},
    ]
    links = _links(request)
    if links:
        blocks.append({"type": "section", "text": mrkdwn(" · ".join(links))})
    plan = (
        plan_section(request.plan.summary, preview=request.plan.preview, preview_reason=request.plan.preview_reason)
        if request.plan
        else None
    )
    for text in (plan, diagnostics_section(request), outputs_section(request), _cost(request), _drift(request)):
        if text:
            blocks.append({"type": "section", "text": mrkdwn(text)})
    config = _config(request)
    if config:
        blocks.append({"type": "section", "text": mrkdwn(config)})
    timeline = _timeline(request)
    if timeline:
        blocks.append({"type": "section", "text": mrkdwn(timeline)})
    buttons = _buttons(request)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"card:{request.id}", "elements": buttons})
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Updated {fmt.when(request.updated_at)} · revision {request.revision} · "
                    "buttons are checked against your role when clicked"
                )
            ],
        }
    )
    return {"text": card_text(request), "blocks": blocks}
