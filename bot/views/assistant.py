"""What TfPilot shows in Slack's AI-app (assistant) threads: the suggested prompts offered when
a thread starts, its greeting, the status shown while a turn runs, and the thread's title once
the conversation says what is being requested. Pure: strings and dicts."""

from __future__ import annotations

import re
from typing import Any

from bot.views.limits import clip

GREETING = "Hi! Tell me what infrastructure you need, in your own words. I'll ask for whatever is missing."
WORKING = "is preparing your request…"
PROMPTS_TITLE = "Try one of these"
# Slack shows at most four; each ``message`` is sent as if the person typed it.
PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "Request an S3 bucket", "message": "I need an S3 bucket"},
    {"title": "What can you create?", "message": "What can you create?"},
    {"title": "My requests", "message": "My requests"},
)
TITLE_CHARS = 255

_WHAT_CAN = re.compile(r"^\s*what\s+can\s+you\s+(?:create|make|do|build)\b", re.IGNORECASE)
_MINE = re.compile(r"^\s*(?:show\s+)?my\s+requests?\s*[.?!]*\s*$", re.IGNORECASE)


def shortcut_of(text: str) -> str | None:
    """ "modules" or "mine" when ``text`` is one of the prompts answered without an intake."""
    if _WHAT_CAN.match(text):
        return "modules"
    if _MINE.match(text):
        return "mine"
    return None


def thread_title(session: Any, module_title: str | None) -> str | None:
    """The thread's title once the module is known: "S3 bucket team-logs · core/dev"."""
    if getattr(session, "module", None) is None:
        return None
    parts = [module_title or str(session.module)]
    name = (getattr(session, "config", None) or {}).get("name")
    if isinstance(name, str) and name:
        parts.append(name)
    where = "/".join(p for p in (getattr(session, "project", None), getattr(session, "environment", None)) if p)
    title = " ".join(parts) + (f" · {where}" if where else "")
    return clip(title, TITLE_CHARS)
