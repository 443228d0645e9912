"""Small mrkdwn formatters shared by the builders: mentions, links, dates, status badges,
plan counts. Every user-supplied string passes through ``escape``."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bot.views.limits import clip, escape
from core.domain.lifecycle import derive_status
from core.domain.request import PlanSummary, Request, Requester
from core.domain.status import Status, meta

SLACK_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SAFE_URL_RE = re.compile(r"^https?://[^\s<>|]+$")


def is_slack_user(value: str | None) -> bool:
    return bool(value) and bool(SLACK_USER_RE.match(value or ""))


def mention(user: str | None) -> str:
    """``<@U…>`` for a Slack user id; the escaped text otherwise (console users, emails)."""
    if user and is_slack_user(user):
        return f"<@{user}>"
    return escape(user or "someone")


def requester_text(requester: Requester | None) -> str:
    if requester is None:
        return "unknown"
    who = mention(requester.id) if is_slack_user(requester.id) else escape(requester.name or requester.email or "")
    who = who or escape(requester.id)
    if requester.github_login:
        who += f" (GitHub `{escape(clip(requester.github_login, 39))}`)"
    return who


def link(url: str | None, label: str) -> str | None:
    """A mrkdwn link, or None when ``url`` is not a plain http(s) URL (never inject markup)."""
    if not url or len(url) > 2000 or not _SAFE_URL_RE.match(url):
        return None
    return f"<{url}|{escape(label)}>"


def when(at: datetime | None) -> str:
    """A Slack date token (rendered in the reader's time zone) with a UTC fallback."""
    if at is None:
        return "—"
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def status_of(request: Request) -> Status:
    return derive_status(request)


def badge(status: Status | str) -> str:
    m = meta(status)
    return f"{m.emoji} {m.label}"


def plan_counts(summary: PlanSummary | None) -> str:
    if summary is None:
        return "no plan yet"
    parts = [f"+{summary.add} to add", f"~{summary.change} to change", f"-{summary.destroy} to destroy"]
    if summary.replace:
        parts.append(f"±{summary.replace} to replace")
    return ", ".join(parts)


def config_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def card_link(channel: str | None, ts: str | None) -> str | None:
    """A permalink-shaped link to a message (Slack redirects it into the workspace)."""
    if not channel or not ts:
        return None
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def meta_emoji(status: Status | str) -> str:
    return meta(status).emoji
