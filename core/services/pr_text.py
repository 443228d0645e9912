"""What TfPilot writes on GitHub: PR titles, bodies, labels, commit messages and comments.

User values reach Markdown here, so every value is flattened to one line, stripped of the
characters that would break a table or code span, and bounded; the body stays well inside
GitHub's 65,536-character limit.
"""

from __future__ import annotations

import json
from typing import Any

from core.domain.request import Request, SlackThread

MAX_BODY = 60_000
MAX_VALUE = 200
MAX_ROWS = 100


def labels(request: Request, *extra: str) -> list[str]:
    return ["tfpilot", f"env:{request.environment}", f"module:{request.module}", *extra]


def title(request: Request) -> str:
    return f"TfPilot: {request.module} in {request.project}/{request.environment} ({request.id})"


def cleanup_title(request: Request) -> str:
    return f"TfPilot: remove {request.module} {request.id} from {request.project}/{request.environment} (destroy)"


def cleanup_review_body(request: Request, *, who: str) -> str:
    return (
        f"TfPilot approves removing `{request.id}` ({request.module} in {request.project}/{request.environment}): "
        f"its destroy was requested by {who} and allowed by TfPilot's destroy policy."
    )


def commit_message(request: Request, *, revision: int) -> str:
    head = f"tfpilot: {request.module} for {request.project}/{request.environment} ({request.id})"
    return head if revision == 1 else f"{head}, revision {revision}"


def slack_link(thread: SlackThread | None) -> str | None:
    """A link to the request's Slack thread once its card is posted, else to its channel."""
    if thread is None or not thread.channel.isalnum():
        return None
    ts = (thread.ts or "").replace(".", "")
    if ts.isdigit():
        return f"https://slack.com/archives/{thread.channel}/p{ts}"
    team = thread.team_id if thread.team_id and thread.team_id.isalnum() else None
    return f"https://slack.com/app_redirect?channel={thread.channel}" + (f"&team={team}" if team else "")


def cell(value: Any) -> str:
    """One Markdown table cell: single line, no pipes or backticks, bounded."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = " ".join(text.split()).replace("|", "\\|").replace("`", "'")
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return text


def body(request: Request) -> str:
    requester = request.requester
    who = (requester.name or requester.email or requester.id) if requester else "unknown"
    lines = [
        f"### TfPilot request `{request.id}`",
        "",
        f"**Module:** `{request.module}` · **Project:** `{request.project}` · "
        f"**Environment:** `{request.environment}`{' (prod)' if request.is_prod else ''}",
        f"**Requested by:** {cell(who)}",
    ]
    link = slack_link(request.slack)
    if link:
        lines.append(f"**Slack:** {link}")
    lines += ["", "| Field | Value |", "|---|---|"]
    items = sorted(request.config.items())
    for key, value in items[:MAX_ROWS]:
        lines.append(f"| `{cell(key)}` | `{cell(value)}` |")
    if len(items) > MAX_ROWS:
        lines.append(f"| … | {len(items) - MAX_ROWS} more fields |")
    if request.target_files:
        lines += ["", "Files: " + ", ".join(f"`{cell(p)}`" for p in request.target_files)]
    lines += [
        "",
        "Approve, merge, apply and destroy from the request's card in Slack. "
        "A new commit on this branch voids an earlier approval.",
        f"<!-- tfpilot:request {request.id} revision {request.revision} -->",
    ]
    text = "\n".join(lines)
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 20] + "\n\n(truncated)"


def cleanup_body(request: Request) -> str:
    files = ", ".join(f"`{cell(p)}`" for p in request.target_files) or "(none)"
    pr = f" (#{request.pr.number})" if request.pr and request.pr.number else ""
    return (
        f"### TfPilot destroy of `{request.id}`\n\n"
        f"Removes the request's file(s) {files} added by the request's pull request{pr}, "
        "before the destroy workflow runs.\n\n"
        f"<!-- tfpilot:cleanup {request.id} -->"
    )


def approval_comment(request: Request, *, who: str, sha: str) -> str:
    return (
        f"Approved in TfPilot by {cell(who)} for commit `{sha[:12]}`. "
        f"A new commit voids this approval. <!-- tfpilot:approval {request.id} {sha} -->"
    )


def review_body(request: Request, *, who: str) -> str:
    return f"Approved through TfPilot by {cell(who)} ({request.id})."


def removal_body(request: Request, *, who: str) -> str:
    files = ", ".join(f"`{cell(p)}`" for p in request.target_files) or "(none)"
    base = request.target_base or "main"
    return (
        f"### TfPilot destroy of `{request.id}`\n\n"
        f"Removes {files}. Destroy requested by {cell(who)}.\n\n"
        f"Order: once this PR is approved, TfPilot runs the destroy workflow on `{cell(base)}` (where the "
        "file still is, so only the request's own resources are targeted); it merges this PR only after "
        "the destroy succeeded. A destroy that fails leaves this PR open and the code as it was.\n\n"
        f"<!-- tfpilot:removal {request.id} -->"
    )


def removal_review_body(request: Request, *, who: str) -> str:
    return f"Removal of `{request.id}` approved through TfPilot by {cell(who)} (destroy)."


def prepare_body(request: Request, fields: dict[str, Any], *, who: str) -> str:
    lifted = ", ".join(f"`{cell(f)}` = `{cell(json.dumps(v))}`" for f, v in sorted(fields.items()))
    return (
        f"### TfPilot: prepare the destroy of `{request.id}`\n\n"
        f"Sets {lifted}: the protection AWS would otherwise refuse the destroy with. Asked by {cell(who)}.\n\n"
        "Review, merge and apply it like any change; TfPilot offers Destroy once it is applied. "
        "The environment's policy allows exactly these values only in this change.\n\n"
        f"<!-- tfpilot:prepare-destroy {request.id} -->"
    )
