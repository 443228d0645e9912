"""Slack's AI-app surface: assistant threads, through Bolt's ``Assistant`` middleware.

When a person opens a thread with the app (the assistant container), ``assistant_thread_started``
greets them and offers suggested prompts; each message in that thread is an intake turn (the
same assistant and sessions as DMs), with a status shown while it runs (``set_status``, which
Slack clears when the answer is posted) and the thread titled from the request once its module
is known (``set_title``). "What can you create?" and "My requests" are answered from the
registry and the request index. The thread's context (the channel the person is viewing) is
kept in the object store (``ObjectThreadContextStore``), which also marks which IM threads are
assistant threads: any other threaded DM falls through to ``bot.listeners.messages``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt import Assistant
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

from assistant.domain.session import ConversationKey
from bot.listeners.common import Kit, converse, first_event, kit_of
from bot.views import home as home_views
from bot.views.assistant import GREETING, PROMPTS, PROMPTS_TITLE, WORKING, shortcut_of, thread_title
from bot.views.ids import ThreadRef, is_ts
from core.domain.index import ListFilter

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.deps import Deps
    from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "assistant-threads/"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _key(channel_id: str, thread_ts: str) -> str:
    parts = [(_SAFE.sub("_", p or "")[:100].strip(".") or "_") for p in (channel_id, thread_ts)]
    return f"{PREFIX}{parts[0]}/{parts[1]}.json"


class ObjectThreadContextStore(AssistantThreadContextStore):
    """Bolt's thread context store over the object store (any process reads what another saved)."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        doc = {k: v for k, v in (context or {}).items() if isinstance(v, str)}
        self._objects.put(_key(channel_id, thread_ts), json.dumps(doc).encode())

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        stored = self._objects.get(_key(channel_id, thread_ts))
        if stored is None:
            return None
        try:
            doc = json.loads(stored.body)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        return AssistantThreadContext({**doc, "channel_id": doc.get("channel_id") or channel_id})


def _thread_of(body: dict[str, Any]) -> tuple[str, str] | None:
    event = body.get("event") or {}
    thread = event.get("assistant_thread") or {}
    channel = thread.get("channel_id") or event.get("channel")
    ts = thread.get("thread_ts") or event.get("thread_ts")
    return (str(channel), str(ts)) if isinstance(channel, str) and is_ts(ts) else None


class AssistantHandlers:
    """The assistant-thread listeners, bound to one ``Kit`` and the thread context store."""

    def __init__(self, kit: Kit, contexts: ObjectThreadContextStore) -> None:
        self.k = kit
        self.contexts = contexts

    def is_assistant_thread(self, body: dict[str, Any]) -> bool:
        where = _thread_of(body)
        return where is not None and self.contexts.find(channel_id=where[0], thread_ts=where[1]) is not None

    def started(self, body: dict[str, Any], payload: dict[str, Any], say: Any, set_suggested_prompts: Any) -> None:
        # Bolt has acked: the store and Slack are written after the ack, on the listener pool.
        self.k.later(self.greet, body, payload, say, set_suggested_prompts)

    def greet(self, body: dict[str, Any], payload: dict[str, Any], say: Any, set_suggested_prompts: Any) -> None:
        where = _thread_of(body)
        if where is None or not first_event(self.k, body):
            return
        context = (payload.get("assistant_thread") or {}).get("context") or {}
        self.contexts.save(channel_id=where[0], thread_ts=where[1], context=context)
        say(GREETING)
        set_suggested_prompts(prompts=list(PROMPTS), title=PROMPTS_TITLE)

    def context_changed(self, payload: dict[str, Any], save_thread_context: Any) -> None:
        context = (payload.get("assistant_thread") or {}).get("context")
        if isinstance(context, dict):
            self.k.later(save_thread_context, context)

    def message(
        self, body: dict[str, Any], event: dict[str, Any], client: Any, set_status: Any, set_title: Any
    ) -> None:
        if isinstance(event.get("user"), str):
            self.k.later(self.turn, body, event, client, set_status, set_title)

    def turn(self, body: dict[str, Any], event: dict[str, Any], client: Any, set_status: Any, set_title: Any) -> None:
        if not first_event(self.k, body):
            return
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else event.get("team")
        thread = ThreadRef(team, str(event["channel"]), str(event["thread_ts"]))
        user, text = str(event["user"]), str(event.get("text") or "")
        try:
            set_status(WORKING)
        except Exception:
            log.warning("assistant.threads.setStatus failed in %s", thread.channel, exc_info=True)
        shortcut = shortcut_of(text)
        if shortcut is not None:
            self.answer_shortcut(client, thread, user, shortcut)
            return
        if converse(self.k, client, thread, user, text) is None:
            return
        title = self.title_of(thread)
        if title:
            try:
                set_title(title)
            except Exception:
                log.warning("assistant.threads.setTitle failed in %s", thread.channel, exc_info=True)

    def answer_shortcut(self, client: Any, thread: ThreadRef, user: str, shortcut: str) -> None:
        if shortcut == "modules":
            message = home_views.modules_message(self.k.deps.registry.modules())
        else:
            page = self.k.deps.queries.list(ListFilter(requester=user, slack_team=thread.team_id), 25, None)
            message = home_views.list_message("My requests", page.rows, more=page.cursor is not None)
        client.chat_postMessage(channel=thread.channel, thread_ts=thread.thread_ts, **message)

    def title_of(self, thread: ThreadRef) -> str | None:
        key = ConversationKey(team_id=thread.team_id, channel=thread.channel, thread_ts=thread.thread_ts)
        session = self.k.deps.intake.session(key)
        if session is None or session.module is None:
            return None
        try:
            module_title = self.k.deps.registry.get(session.module).title
        except Exception:
            module_title = None
        return thread_title(session, module_title)


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    handlers = AssistantHandlers(kit_of(deps, kit), ObjectThreadContextStore(deps.objects))
    assistant = Assistant(thread_context_store=handlers.contexts)
    assistant.thread_started(handlers.started)
    assistant.thread_context_changed(handlers.context_changed)
    # Bolt annotates ``matchers`` as one callable but concatenates it to a list: pass a list.
    assistant.user_message(matchers=[handlers.is_assistant_thread])(handlers.message)  # type: ignore[arg-type]
    app.use(assistant)
