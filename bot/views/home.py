"""App Home and the list-shaped answers of ``/tfpilot``: request rows, KPIs, modules, help.

Pure: builders take index rows, ops metrics and module definitions, and return views or
messages within Slack's limits. The Home tab's "waiting for my approval" rows also take the
buttons the viewer may use on each (built by the listener from the request with the card's
action ids and values, so the card's click listener handles them; the click is re-checked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.views import fmt
from bot.views.limits import (
    HEADER_TEXT,
    MAX_BLOCKS,
    SECTION_FIELD_TEXT,
    SECTION_TEXT,
    clip,
    escape,
    join_lines,
    mrkdwn,
    plain,
)
from core.domain.index import IndexRow
from core.domain.status import Status, normalize_status

HOME_ROWS = 15
MAX_ROW_BUTTONS = 7  # one per card action; Slack allows 25 elements in an actions block
LIST_ROWS = 25


def row_line(row: IndexRow) -> str:
    status = normalize_status(row.status)
    line = (
        f"{fmt.meta_emoji(status)} `{row.id}` *{escape(clip(row.module, 64))}* · "
        f"{escape(clip(row.project, 64))}/{escape(clip(row.environment, 64))} — {fmt.badge(status).split(' ', 1)[1]}"
    )
    if row.requester:
        line += f" — {fmt.mention(row.requester)}"
    if row.drift_detected:
        line += " — :warning: drift"
    return line


def rows_text(rows: Sequence[IndexRow], *, empty: str, limit: int = SECTION_TEXT) -> str:
    if not rows:
        return f"_{empty}_"
    return join_lines([row_line(r) for r in rows], limit)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.0f} s"


def kpi_fields(metrics: Any) -> list[str]:
    """The ops KPIs as section fields (read by attribute so an older metrics model still works)."""

    def get(name: str) -> Any:
        return getattr(metrics, name, None)

    fields = [
        f"*Requests*\n{get('total') if get('total') is not None else '—'}",
        f"*Applies (24h / 7d)*\n{get('applies_last_24h') or 0} / {get('applies_last_7d') or 0}",
        f"*Failures (24h / 7d)*\n{get('failures_last_24h') or 0} / {get('failures_last_7d') or 0}",
        f"*Destroys (24h / 7d)*\n{get('destroys_last_24h') or 0} / {get('destroys_last_7d') or 0}",
        f"*Apply time (avg / p95, 7d)*\n{_secs(get('avg_apply_seconds_last_7d'))} / "
        f"{_secs(get('p95_apply_seconds_last_7d'))}",
        f"*Success rate (plan / apply, 7d)*\n{_pct(get('plan_success_rate_last_7d'))} / "
        f"{_pct(get('apply_success_rate_last_7d'))}",
    ]
    counts = get("status_counts") or {}
    if isinstance(counts, dict) and counts:
        ordered = [s for s in Status if counts.get(s.value)]
        text = "  ".join(f"{fmt.meta_emoji(s)} {counts[s.value]}" for s in ordered) or "—"
        fields.append(f"*By status*\n{text}")
    return [clip(f, SECTION_FIELD_TEXT) for f in fields]


def kpi_blocks(metrics: Any) -> list[dict[str, Any]]:
    if metrics is None:
        return [{"type": "section", "text": mrkdwn("_Metrics are not available right now._")}]
    fields = kpi_fields(metrics)
    blocks = [{"type": "section", "fields": [mrkdwn(f) for f in fields]}]
    generated = getattr(metrics, "generated_at", None)
    if isinstance(generated, datetime):
        blocks.append({"type": "context", "elements": [mrkdwn(f"Computed {fmt.when(generated)}")]})
    return blocks


def home_view(
    *,
    user_id: str,
    role_label: str,
    mine: Sequence[IndexRow],
    awaiting: Sequence[IndexRow] | None,
    metrics: Any,
    github_login: str | None = None,
    buttons: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The Home tab: my requests, waiting for my approval (approvers; each row with the
    ``buttons`` given for its request id), KPIs."""
    who = f"{fmt.mention(user_id)} · role *{escape(role_label)}*"
    if github_login:
        who += f" · GitHub `{escape(clip(github_login, 39))}`"
    else:
        who += " · GitHub not linked (`/tfpilot link`)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("TfPilot", HEADER_TEXT)},
        {"type": "context", "elements": [mrkdwn(who)]},
        {"type": "divider"},
        {"type": "header", "text": plain("My requests", HEADER_TEXT)},
        {
            "type": "section",
            "text": mrkdwn(rows_text(mine[:HOME_ROWS], empty="No requests yet. Send me a DM to start one.")),
        },
    ]
    if awaiting is not None:
        blocks += [
            {"type": "divider"},
            {"type": "header", "text": plain("Waiting for my approval", HEADER_TEXT)},
            *awaiting_blocks(awaiting[:HOME_ROWS], buttons or {}),
        ]
    blocks += [{"type": "divider"}, {"type": "header", "text": plain("Operations (KPIs)", HEADER_TEXT)}]
    blocks += kpi_blocks(metrics)
    return {"type": "home", "blocks": blocks[: MAX_BLOCKS["home"]]}


def awaiting_blocks(rows: Sequence[IndexRow], buttons: Mapping[str, Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One section per row, each followed by its buttons (rows without any stay text only)."""
    if not rows:
        return [{"type": "section", "text": mrkdwn(rows_text(rows, empty="Nothing is waiting for you."))}]
    blocks: list[dict[str, Any]] = []
    for row in rows:
        blocks.append({"type": "section", "text": mrkdwn(clip(row_line(row), SECTION_TEXT))})
        elements = list(buttons.get(row.id) or [])[:MAX_ROW_BUTTONS]
        if elements:
            blocks.append({"type": "actions", "block_id": f"home:{row.id}", "elements": elements})
    return blocks


def list_message(title: str, rows: Sequence[IndexRow], *, more: bool = False) -> dict[str, Any]:
    text = rows_text(rows[:LIST_ROWS], empty="No requests match.")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title, HEADER_TEXT)},
        {"type": "section", "text": mrkdwn(text)},
    ]
    if more or len(rows) > LIST_ROWS:
        blocks.append({"type": "context", "elements": [mrkdwn("More requests match: narrow the filter.")]})
    return {"text": clip(title, 300), "blocks": blocks}


def modules_message(modules: Sequence[Any]) -> dict[str, Any]:
    lines = []
    for module in modules:
        title = clip(str(getattr(module, "title", "") or getattr(module, "id", "")), 100)
        desc = clip(str(getattr(module, "description", "") or ""), 160)
        line = f"• `{escape(clip(str(getattr(module, 'id', '')), 64))}` *{escape(title)}*"
        lines.append(line + (f" — {escape(desc)}" if desc else ""))
    text = join_lines(lines, SECTION_TEXT) if lines else "_No modules are registered._"
    return {
        "text": "TfPilot modules",
        "blocks": [
            {"type": "header", "text": plain("Modules", HEADER_TEXT)},
            {"type": "section", "text": mrkdwn(text)},
        ],
    }


def insights_message(metrics: Any) -> dict[str, Any]:
    return {
        "text": "TfPilot insights",
        "blocks": [{"type": "header", "text": plain("Insights", HEADER_TEXT)}, *kpi_blocks(metrics)],
    }


HELP_TEXT = "\n".join(
    [
        "*TfPilot* — Terraform self-service. Send me a DM or mention me to start a request.",
        "`/tfpilot new [what you need]` start a request (in a thread)",
        "`/tfpilot list [mine|pending|all] [status]` list requests (pending: waiting for an approver)",
        "`/tfpilot status <request id>` show a request's card",
        "`/tfpilot modules` what you can ask for",
        "`/tfpilot insights` operations KPIs",
        "`/tfpilot link` link your GitHub account (approvals are then posted as you)",
        "`/tfpilot unlink` forget your linked GitHub account and its token",
        "`/tfpilot help` this help",
    ]
)


def help_message() -> dict[str, Any]:
    return {"text": "TfPilot help", "blocks": [{"type": "section", "text": mrkdwn(HELP_TEXT)}]}


def text_message(text: str) -> dict[str, Any]:
    return {"text": clip(text, 300), "blocks": [{"type": "section", "text": mrkdwn(text)}]}
