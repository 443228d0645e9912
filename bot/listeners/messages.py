"""Direct messages: every DM to the app (top level or in a thread) is an intake turn.

People answer a DM at its top level, whatever thread the question was asked in. So a DM keeps
a pointer to the intake waiting for an answer (``PendingDms``): a top-level message continues
it, unless it clearly asks for something else ("I need an SQS queue" while a bucket is being
described), which starts a new intake and says so. A reply in a thread continues that thread's
conversation (or, in the thread of one of our top-level answers, the pending one). The answer
goes where the person wrote: top level to top level, thread to thread. Edits, deletions, bot
messages and other subtypes are ignored. Acknowledged at once; the turn runs afterwards on the
listener pool, once per ``event_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.domain.session import ConversationKey
from bot.listeners.common import TOP_LEVEL, Kit, converse, first_event, kit_of
from bot.listeners.dm_pending import PendingDm, PendingDms
from bot.views import fmt
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


NEW_REQUEST_NOTE = "That reads as a new request, so I started one. The earlier one waits in {link}."


def _waiting(k: Kit, team: str | None, channel: str, thread_ts: str, user: str) -> bool:
    """Whether the conversation at ``thread_ts`` is ``user``'s and still waits for an answer."""
    try:
        session = k.deps.intake.session(ConversationKey(team_id=team, channel=channel, thread_ts=thread_ts))
    except Exception:
        return False
    return (
        session is not None
        and session.user_id == user
        and not session.terminal
        and not session.expired(k.deps.clock.now())
    )


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    k = kit_of(deps, kit)
    pending = PendingDms(deps.objects)

    def conversation_of(team: str | None, channel: str, user: str, event: dict[str, Any]) -> tuple[str, str | None]:
        """(the conversation's thread, a note for the answer) for this DM."""
        ts = str(event["ts"])
        in_thread = event.get("thread_ts") if is_ts(event.get("thread_ts")) else None
        if in_thread is not None and k.deps.intake.session(
            ConversationKey(team_id=team, channel=channel, thread_ts=str(in_thread))
        ):
            return str(in_thread), None
        waiting = pending.get(team, channel)
        if waiting is None or waiting.user_id != user or not _waiting(k, team, channel, waiting.thread_ts, user):
            return str(in_thread or ts), None
        key = ConversationKey(team_id=team, channel=channel, thread_ts=waiting.thread_ts)
        if k.deps.intake.is_new_request(key, str(event.get("text") or "")):
            link = fmt.link(fmt.card_link(channel, waiting.thread_ts), "its thread") or "its thread"
            return str(in_thread or ts), NEW_REQUEST_NOTE.format(link=link)
        return waiting.thread_ts, None

    def handle_dm(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if not first_event(k, body):
            return
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else event.get("team")
        channel, user = str(event["channel"]), str(event["user"])
        in_thread = event.get("thread_ts") if is_ts(event.get("thread_ts")) else None
        thread_ts, note = conversation_of(team, channel, user, event)
        thread = ThreadRef(team, channel, thread_ts)
        # The DM waits on this conversation from now on: pointed at before the answer is posted,
        # so the person's next message (sent as soon as they read it) finds it.
        pending.point(team, channel, PendingDm(thread_ts=thread_ts, user_id=user))
        converse(
            k, client, thread, user, str(event.get("text") or ""), answer_in=str(in_thread or TOP_LEVEL), note=note
        )
        if not _waiting(k, team, channel, thread_ts, user):
            pending.clear(team, channel, thread_ts)  # finished or cancelled: the DM lets go

    def ack_dm(ack: Ack, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        ack()
        k.later(handle_dm, body, event, client)

    app.event("message", matchers=[is_user_dm])(ack_dm)

    # Other message events (channels we are in, edits, our own posts) need an ack and nothing else.
    def ignore_other_messages(ack: Ack) -> None:
        ack()

    app.event("message")(ignore_other_messages)
