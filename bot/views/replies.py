"""Thread replies, one short message per transition of a request.

Pure: ``transition_reply(request, transition, approvers=...)`` returns ``{"text", "blocks"}``.
Replies mention the requester, and the approvers (Slack ids only) when their approval is
awaited. A plan small enough is quoted in the reply; a larger one becomes a file
(``plan_file``), uploaded into the thread by the notifier. A drift reply carries the card's
Re-plan button (same action id and value) when the request's state allows a re-plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views import fmt
from bot.views.card import button_confirmation, card_actions
from bot.views.ids import CardRef, card_action_id
from bot.views.limits import BUTTON_TEXT, FILE_THRESHOLD, SECTION_TEXT, clip, escape, mrkdwn, plain
from bot.views.protection_text import approval_lines, block_fix, block_reason, removal_review_lines
from bot.views.reasons import transition_text
from bot.views.run_report import diagnostics_lines, outputs_lines
from core.domain.policy import Action
from core.domain.request import Request
from core.ports.notifier import Transition

MAX_APPROVER_MENTIONS = 20
# Events after which an approver is the one who must act next.
AWAITING_APPROVAL = frozenset({"plan_ready", "approval_voided"})


def approvals_note(channel: str | None, dm_users: Sequence[str] = ()) -> str:
    """Told in the request's thread: where its approvers got the card."""
    if channel:
        return f":inbox_tray: The card is also posted in <#{channel}> for the approvers, who can act on it there."
    shown = " ".join(f"<@{u}>" for u in dm_users[:MAX_APPROVER_MENTIONS])
    return f":inbox_tray: The card is also sent to the approvers ({shown}) in a direct message."


def invite_note(channel: str) -> str:
    """Told in the request's thread when the approvals channel is one the bot cannot post in."""
    return (
        f":lock: I could not post this request for its approvers in <#{channel}>: I am not a member of that "
        f"channel, and a private channel needs an invitation. Someone in <#{channel}> must invite me "
        "(`/invite @TfPilot`); requests waiting for approval are posted there from then on."
    )


def channel_refused_note(channel: str, reason: str) -> str:
    """Told in the request's thread when Slack refused the card in the approvals channel for
    another reason than membership (archived channel, missing scope...)."""
    return (
        f":warning: I could not post this request for its approvers in <#{channel}>: Slack answered "
        f"`{escape(clip(reason, 60))}`. Check the project's approvals_channel in the projects map."
    )


def approver_mentions(approvers: Sequence[str], *, exclude: str | None = None) -> list[str]:
    """``<@U…>`` for each approver given as a Slack user id (emails cannot be mentioned)."""
    seen: list[str] = []
    for raw in approvers:
        who = raw.strip()
        if fmt.is_slack_user(who) and who != exclude and who not in seen:
            seen.append(who)
    return [f"<@{who}>" for who in seen[:MAX_APPROVER_MENTIONS]]


def _run_link(request: Request, transition: Transition) -> str | None:
    url = transition.run_url
    if url is None:
        for run in (request.destroy_run, request.apply_run, request.plan_run):
            if run is not None and run.url:
                url = run.url
                break
    return fmt.link(url, "run")


def _plan_inline(request: Request) -> str | None:
    output = request.plan.output if request.plan else None
    if not output or len(output) > FILE_THRESHOLD:
        return None
    # Escaped: a plan quotes user values, and Slack parses <!channel> even inside code blocks.
    return "```" + escape(output.replace("```", "'''")) + "```"


def plan_file(request: Request) -> tuple[str, str] | None:
    """``(filename, content)`` when the plan is too long to quote in the thread."""
    output = request.plan.output if request.plan else None
    if not output or len(output) <= FILE_THRESHOLD:
        return None
    return f"plan-{request.id}-r{request.revision}.txt", output


def _plan_ready_lines(request: Request, who: str) -> list[str]:
    summary = request.plan.summary if request.plan else None
    lines = [f":clipboard: {who} the plan is ready: {fmt.plan_counts(summary)}."]
    if summary and (summary.destroy or summary.replace):
        lines.append(":warning: This plan deletes or replaces resources; review it before approving.")
    inline = _plan_inline(request)
    if inline:
        lines.append(inline)
    elif plan_file(request):
        lines.append("The full plan is attached below.")
    return lines


def _headline(request: Request, transition: Transition) -> list[str]:
    who = fmt.mention(request.requester.id if request.requester else None)
    by = f" by {fmt.mention(transition.actor)}" if transition.actor else ""
    run = _run_link(request, transition)
    at_run = f" — {run}" if run else ""
    in_run = f" ({run})" if run else ""
    event = transition.event
    if event == "plan_ready":
        return _plan_ready_lines(request, who)
    if event in ("merge_blocked", "destroy_blocked"):
        return _blocked_lines(request, transition, who, by)
    if event == "destroy_review_needed":
        number = request.cleanup_pr.number if request.cleanup_pr else None
        pr = fmt.link(transition.run_url, f"removal PR #{number}") or "the removal PR"
        asked = f" {fmt.mention(transition.actor)}" if transition.actor else ""
        return [
            f":hourglass_flowing_sand: {who}{asked} destroy is waiting for a review of {pr}.",
            *removal_review_lines(transition.approval, request.target_base or "main", pr),
        ]
    if event == "drift_detected":
        drift = request.drift
        counts = (
            f" (+{drift.counts.add} ~{drift.counts.change} -{drift.counts.destroy})" if drift and drift.counts else ""
        )
        lines = [f":warning: {who} drift detected{counts}{at_run}."]
        if Action.REPLAN in card_actions(request):
            lines.append("Re-plan to see what brings it back to the code, then Apply that plan.")
        return lines
    simple = {
        "created": f"{who} request `{request.id}` created: {escape(request.module)} in {escape(request.environment)}.",
        "planning": f":hourglass_flowing_sand: Planning `{request.id}`…{in_run}",
        "failed": f":x: {who} `{request.id}` failed" + (f": {run}" if run else "."),
        "approved": f":white_check_mark: {who} approved{by}. Merge is next.",
        "approval_not_counted": f":white_check_mark: {who} approval{by} recorded.",
        "approval_voided": f":arrows_counterclockwise: {who} a new commit voided the approval; "
        "the plan must be approved again.",
        "merged": f":twisted_rightwards_arrows: {who} merged{by}. Apply is next.",
        "applying": f":gear: Applying…{in_run}",
        "applied": f":rocket: {who} applied{at_run}.",
        "destroying": f":wastebasket: Destroying…{in_run}",
        "destroy_requested": f":wastebasket: {who} destroy requested{by}: the removal pull request comes first "
        "(approved like any PR), then the destroy run with the code still in place, then its merge.",
        "destroy_prepare": f":shield: {who} prepare destroy requested{by}: a change lifting the protections AWS "
        "would refuse the destroy with" + (f" — {run}" if run else "") + ".",
        "destroy_failed": f":x: {who} destroy did not go through"
        + (f": {run}" if run else ".")
        + " The resources are unchanged; Destroy can be tried again.",
        "destroyed": f":headstone: {who} destroyed{at_run}.",
        "updated": f":pencil2: {who} configuration updated (revision {request.revision}); re-planning.",
    }
    return [simple.get(event) or f"{fmt.badge(fmt.status_of(request))} ({escape(clip(event, 40))})"]


def _blocked_lines(request: Request, transition: Transition, who: str, by: str) -> list[str]:
    why = block_reason(transition.blocked, transition.required_approvals)
    fix = block_fix(transition.blocked)
    removal = request.cleanup_pr is not None and (request.cleanup_pr.branch or "").startswith("destroy/")
    if transition.event == "destroy_blocked" and removal:
        number = request.cleanup_pr.number if request.cleanup_pr else None
        pr = fmt.link(transition.run_url, f"removal PR #{number}") or "the removal PR"
        base = escape(request.target_base or "main")
        return [
            f":no_entry: {who} GitHub will not merge {pr}: {why}. The resources are destroyed, but the request's "
            f"file stays on `{base}` until the PR merges: an apply of the environment meanwhile would create "
            "them again.",
            f"To fix: {fix} TfPilot merges it on its next check.",
        ]
    if transition.event == "destroy_blocked":
        number = request.cleanup_pr.number if request.cleanup_pr else None
        pr = fmt.link(transition.run_url, f"cleanup PR #{number}") or "the cleanup PR"
        asked = fmt.mention(transition.actor) if transition.actor else ""
        return [
            f":no_entry: {who} {asked} destroy is waiting: GitHub will not merge {pr}: {why}. Nothing was destroyed.",
            f"To fix: {fix} Then click Destroy again (TfPilot also retries on its next check).",
        ]
    number = request.pr.number if request.pr else request.pr_number
    return [f":no_entry: {who} GitHub will not merge PR #{number}{by}: {why}.", f"To fix: {fix}"]


def _removal_left_lines(request: Request, transition: Transition) -> list[str]:
    """After a failed destroy run: where the code and the removal PR stand, and what a retry does."""
    removal = request.cleanup_pr
    run = request.destroy_run
    if transition.event != "failed" or run is None or run.conclusion in (None, "success"):
        return []
    if removal is None or not removal.open or not (removal.branch or "").startswith("destroy/"):
        return []
    pr = fmt.link(removal.url, f"removal PR #{removal.number}") or "the removal PR"
    base = escape(request.target_base or "main")
    return [
        f"The destroy changed nothing it should not: the request's file is still on `{base}` and {pr} stays "
        "open (a destroy that failed part-way re-applied the request's resources). Fix what the run says, "
        "then Destroy again: it reuses the PR and runs the destroy again."
    ]


def _drift_actions(request: Request) -> list[dict[str, Any]]:
    """The card's Re-plan button under a drift reply, when the state allows a re-plan (the click
    is re-checked for whoever clicks, as on the card)."""
    if Action.REPLAN not in card_actions(request):
        return []
    button: dict[str, Any] = {
        "type": "button",
        "action_id": card_action_id(Action.REPLAN),
        "text": plain("Re-plan", BUTTON_TEXT),
        "value": CardRef(request.id, request.version).encode(),
    }
    confirm = button_confirmation(Action.REPLAN, request)  # prod asks first, as on the card
    if confirm is not None:
        button["confirm"] = confirm
    return [{"type": "actions", "elements": [button]}]


def transition_reply(request: Request, transition: Transition, *, approvers: Sequence[str] = ()) -> dict[str, Any]:
    lines = _headline(request, transition)
    if transition.event in ("failed", "destroy_failed"):
        lines.extend(diagnostics_lines(request))
        lines.extend(_removal_left_lines(request, transition))
    elif transition.event == "applied" and request.outputs:
        lines.extend(["Outputs:", *outputs_lines(request)])
    if transition.event != "destroy_review_needed":
        lines.extend(approval_lines(transition.approval, request.target_base or "main"))
    said = transition_text(transition)
    if said:
        lines.append(f"> {escape(clip(said, 500))}")
    if transition.event in AWAITING_APPROVAL:
        requester_id = request.requester.id if request.requester else None
        mentions = approver_mentions(approvers, exclude=requester_id)
        if mentions:
            lines.append(f"Approvers {' '.join(mentions)}: your approval is awaited.")
    text = clip("\n".join(lines), SECTION_TEXT)
    fallback = clip(f"{request.id}: {fmt.badge(fmt.status_of(request))}", 300)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(text)}]
    if transition.event == "drift_detected":
        blocks.extend(_drift_actions(request))
    return {"text": fallback, "blocks": blocks}
