"""``@TfPilot`` mentions in channels: start or continue an intake in the mention's thread.

In a channel the app reads only messages that mention it, so answers given in a thread mention
the app too (or use the buttons). The mention itself is removed from the text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot.listeners.common import Kit, converse, first_event, kit_of
from bot.views.ids import ThreadRef, is_ts

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps

_MENTION_RE = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str, bot_user_id: str | None = None) -> str:
    """The message without the app's mention (all leading mentions when the id is unknown)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    else:
        text = re.sub(r"^\s*(?:" + _MENTION_RE.pattern + r"\s*)+", " ", text)
    return " ".join(text.split())


def is_user_mention(event: dict[str, Any]) -> bool:
    """A person's mention with what a thread needs (not a bot's post, not a malformed event)."""
    channel = event.get("channel")
    return (
        not event.get("bot_id")
        and isinstance(event.get("user"), str)
        and isinstance(channel, str)
        and bool(channel)
        and is_ts(event.get("ts"))
    )


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    k = kit_of(deps, kit)

    def handle_mention(body: dict[str, Any], event: dict[str, Any], client: Any, bot_user_id: str | None) -> None:
        if not is_user_mention(event) or not first_event(k, body):
            return
        ts = str(event["ts"])
        thread_ts = event.get("thread_ts") if is_ts(event.get("thread_ts")) else ts
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else event.get("team")
        text = strip_mentions(str(event.get("text") or ""), bot_user_id)
        thread = ThreadRef(team, str(event["channel"]), str(thread_ts))
        converse(k, client, thread, str(event["user"]), text or "hello")

    def ack_mention(ack: Ack, body: dict[str, Any], event: dict[str, Any], client: Any, context: Any) -> None:
        ack()
        k.later(handle_mention, body, event, client, getattr(context, "bot_user_id", None))

    app.event("app_mention")(ack_mention)
