"""Direct messages: every DM to the app (top level or in a thread) is an intake turn.

A top-level DM starts a conversation whose thread is that message; a reply in the thread
continues it. Edits, deletions, bot messages and other subtypes are ignored. Acknowledged at
once; the turn runs afterwards on the listener pool, once per ``event_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.listeners.common import Kit, converse, first_event, kit_of
from bot.views.ids import ThreadRef, is_ts

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps


def is_user_dm(event: dict[str, Any]) -> bool:
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and isinstance(event.get("user"), str)
        and isinstance(event.get("channel"), str)
        and bool(event.get("channel"))
        and is_ts(event.get("ts"))
    )


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    k = kit_of(deps, kit)

    def handle_dm(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if not first_event(k, body):
            return
        ts = str(event["ts"])
        thread_ts = event.get("thread_ts") if is_ts(event.get("thread_ts")) else ts
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else event.get("team")
        thread = ThreadRef(team, str(event["channel"]), str(thread_ts))
        converse(k, client, thread, str(event["user"]), str(event.get("text") or ""))

    def ack_dm(ack: Ack, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        ack()
        k.later(handle_dm, body, event, client)

    app.event("message", matchers=[is_user_dm])(ack_dm)

    # Other message events (channels we are in, edits, our own posts) need an ack and nothing else.
    def ignore_other_messages(ack: Ack) -> None:
        ack()

    app.event("message")(ignore_other_messages)
