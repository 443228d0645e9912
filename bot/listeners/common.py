"""What every listener shares: the ``Kit`` (deps, identity resolver, dedupe markers, the pool
that runs work after the ack), payload readers, deduplication of events and clicks, ephemeral
refusals, and the intake turn (``converse``) used by DMs, mentions, slash commands and choice
clicks.

Ack first, work later: a listener calls ``ack()`` and hands the slow part to ``Kit.later``,
which runs it on the listener pool with the payload Bolt already parsed. This replaces Bolt's
``lazy=[...]`` listeners, which deep-copy the whole request and its context (client, ack, say,
respond...) for every lazy function: about 0.6 ms of CPU per ack, 85% of Bolt's share of the
ack path (``bench/bench_slack.py`` measures both). Nothing Slack sends is mutated after the
ack, so handing the parsed body over is safe.

Deduplication: an event is processed once per ``event_id`` (Slack retries resend it with
``X-Slack-Retry-Num``); a click once per container ts + action id + ``action_ts`` (a redelivered
payload). A bounded in-memory LRU (``Kit.recent``) rejects a redelivery to the same process
before any S3 call; the ``Once`` markers decide across processes and replicas.
Double clicks are two intents with one meaning: the core's idempotency keys and operation
leases make them one effect.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.domain.session import ConversationKey
from bot.identity import SlackIdentity
from bot.listeners.recent import RecentKeys
from bot.slack_text import plain_text
from bot.terraform_file import share_terraform
from bot.views import fmt
from bot.views.ids import ThreadRef
from bot.views.intake import intake_message
from bot.views.limits import MAX_BLOCKS, clip, mrkdwn
from bot.views.secrets import pasted_secret_message
from core.domain.redaction import secrets_found
from core.services.once import Once

if TYPE_CHECKING:
    from bot.deps import Deps
    from core.ports.object_store import ObjectStore

log = logging.getLogger("bot.listeners")

DEDUPE_PREFIX = "dedupe/slack"
DEFAULT_WORKERS = 8
MODAL_WORKERS = 4


@dataclass
class Kit:
    deps: Deps
    identity: SlackIdentity
    once: Once
    executor: Executor | None = None
    # Work that opens a modal: Slack's trigger_id expires 3 s after the click, so it must not
    # queue behind GitHub calls on the main pool.
    modal_executor: Executor | None = None
    # Keys of clicks and events this process already saw: a redelivery is dropped before S3.
    recent: RecentKeys = field(default_factory=RecentKeys)
    _accounts: Any = field(default=None, repr=False)

    def later(self, work: Callable[..., None], /, *args: Any, opens_modal: bool = False) -> None:
        """Run ``work(*args)`` after the ack, on the listener pool, or on the small pool kept
        for modals when ``opens_modal`` (the caller's context vars, such as the correlation
        id, go with it). A failure is logged, never raised to Slack."""
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=DEFAULT_WORKERS, thread_name_prefix="tfpilot-slack")
        if opens_modal and self.modal_executor is None:
            self.modal_executor = ThreadPoolExecutor(max_workers=MODAL_WORKERS, thread_name_prefix="tfpilot-modal")
        pool = self.modal_executor if opens_modal and self.modal_executor is not None else self.executor
        context = contextvars.copy_context()
        name = getattr(work, "__name__", "work")

        def run() -> None:
            try:
                context.run(work, *args)
            except Exception:
                log.exception("Slack work %s failed after the ack", name)

        try:
            pool.submit(run)
        except RuntimeError:  # the pool is shutting down: the process is stopping
            log.warning("Slack work %s dropped: the listener pool is shut down", name)

    def github_token(self, team_id: str | None, user_id: str) -> str | None:
        """The user's linked GitHub token (reviews are then posted as them), or None: not
        linked, or ``TFPILOT_ENCRYPTION_KEY`` unset or unable to decrypt it. Never logged."""
        secret = self.deps.settings.encryption_key
        if secret is None:
            return None
        try:
            if self._accounts is None:
                from bot.web.identities import LinkedAccounts, fernet_from_setting

                self._accounts = LinkedAccounts(self.deps.objects, fernet_from_setting(secret.get_secret_value()))
            token = self._accounts.token(team_id, user_id)
        except Exception:
            log.warning("reading the linked GitHub account of %s failed", user_id)
            return None
        return token if isinstance(token, str) else None

    @classmethod
    def build(cls, deps: Deps, *, executor: Executor | None = None, modal_executor: Executor | None = None) -> Kit:
        return cls(
            deps=deps,
            identity=SlackIdentity(deps.policy, deps.objects),
            once=Once(deps.objects, DEDUPE_PREFIX),
            executor=executor,
            modal_executor=modal_executor,
        )


def kit_of(deps: Deps, kit: Kit | None) -> Kit:
    return kit if kit is not None else Kit.build(deps)


# --- payload readers ---------------------------------------------------------------------------


def team_of(body: dict[str, Any]) -> str | None:
    team = body.get("team")
    if isinstance(team, dict) and isinstance(team.get("id"), str):
        return str(team["id"])
    for candidate in (body.get("team_id"), (body.get("user") or {}).get("team_id")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def user_of(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return str(user["id"])
    value = body.get("user_id")
    return value if isinstance(value, str) else None


def channel_of(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    for candidate in (container.get("channel_id"), (body.get("channel") or {}).get("id"), body.get("channel_id")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def other_team(request: Any, team_id: str | None) -> bool:
    """True when ``request`` was made in another Slack workspace than ``team_id``: a click,
    command or event from there is refused (a request made outside Slack belongs to none)."""
    slack = getattr(request, "slack", None)
    owner = getattr(slack, "team_id", None) if slack is not None else None
    return owner is not None and owner != team_id


OTHER_TEAM_TEXT = ":no_entry: This request belongs to another Slack workspace; nothing was done."
OTHER_TEAM_REASON = "the request belongs to another Slack workspace"


def foreign_team(kit: Kit, request: Any, team_id: str | None, action: str, user: str | None) -> bool:
    """True (and ``<action>_blocked`` recorded in the request's audit log, with the reason, the
    actor and both teams) when ``request`` belongs to another workspace than ``team_id``: the
    caller refuses. Recorded like the services' own refusals (``Gate.refuse``); the audit port
    never raises."""
    if not other_team(request, team_id):
        return False
    log.warning("%s of %s refused: asked from another workspace", action, request.id)
    kit.deps.audit.record(
        request.id,
        f"{action}_blocked",
        actor=user,
        source="slack",
        data={"reason": OTHER_TEAM_REASON, "team": team_id, "request_team": request.slack.team_id},
    )
    return True


# --- dedupe -----------------------------------------------------------------------------------


def first_event(kit: Kit, body: dict[str, Any]) -> bool:
    """True the first time this Events API delivery (by ``event_id``) is seen."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return True  # nothing to dedupe on (Socket Mode test payloads); process it
    return _first_seen(kit, f"event:{event_id}")


def first_action(kit: Kit, body: dict[str, Any], action: dict[str, Any]) -> bool:
    """True the first time this exact click (container ts + action id + action ts) is seen."""
    container = body.get("container") or {}
    where = container.get("message_ts") or container.get("view_id") or (body.get("view") or {}).get("id") or "-"
    return _first_seen(kit, f"action:{where}:{action.get('action_id')}:{action.get('action_ts')}")


def _first_seen(kit: Kit, key: str) -> bool:
    # The in-memory check first (no S3 call for a redelivery to this process), then the
    # create-if-absent marker that decides across processes and replicas.
    if not kit.recent.first(key):
        log.info("duplicate Slack delivery dropped in memory (%s)", key.split(":", 1)[0])
        return False
    try:
        return kit.once.first(key, at=kit.deps.clock.now())
    except Exception:
        kit.recent.forget(key)  # undecided: a later delivery must still be able to run
        raise


# --- answering --------------------------------------------------------------------------------


def ephemeral(client: Any, *, channel: str | None, user: str, text: str, thread_ts: str | None = None) -> None:
    """Tell one person something only they see (a refusal, an error); DM them when the
    channel does not allow it (App Home, a channel the bot is not in)."""
    blocks = [{"type": "section", "text": mrkdwn(text)}]
    fallback = clip(text, 300)
    if channel:
        try:
            kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": fallback, "blocks": blocks}
            if thread_ts:
                kwargs["thread_ts"] = thread_ts
            client.chat_postEphemeral(**kwargs)
            return
        except Exception:
            log.warning("chat.postEphemeral to %s failed: sending a DM", channel, exc_info=True)
    try:
        client.chat_postMessage(channel=user, text=fallback, blocks=blocks)
    except Exception:
        log.exception("could not tell %s: %s", user, fallback)


TOP_LEVEL = "top"  # ``answer_in``: answer at the top level of the conversation (a DM)


def _answer_kwargs(thread: ThreadRef, answer_in: str | None) -> dict[str, Any]:
    """Where an answer goes: the conversation's thread (None), the top level (``TOP_LEVEL``),
    or the thread the person wrote in (its ts)."""
    if answer_in == TOP_LEVEL:
        return {}
    return {"thread_ts": answer_in or thread.thread_ts}


def post_intake_reply(
    client: Any,
    thread: ThreadRef,
    reply: Any,
    *,
    note: str | None = None,
    answer_in: str | None = None,
    objects: ObjectStore | None = None,
) -> dict[str, Any]:
    """Post the assistant's reply. At the confirm step its Terraform is first shared as a file
    where the answer goes (once per version, remembered in ``objects``), and the reply refers to
    it; without ``objects`` the Terraform is quoted."""
    where = _answer_kwargs(thread, answer_in)
    shared = None
    terraform = getattr(reply, "terraform", None)
    if terraform and objects is not None:
        shared = share_terraform(
            client,
            objects,
            thread,
            str(terraform),
            request_id=getattr(reply, "request_id", None),
            thread_ts=where.get("thread_ts"),
        )
    # Buttons and forms always name the conversation's thread, wherever the answer is shown.
    message = intake_message(reply, thread_ts=thread.thread_ts, terraform_file=shared)
    blocks = message["blocks"]
    if note:
        blocks = [*blocks, {"type": "context", "elements": [mrkdwn(note)]}][: MAX_BLOCKS["message"]]
    posted = client.chat_postMessage(channel=thread.channel, text=message["text"], blocks=blocks, **where)
    data = getattr(posted, "data", posted)
    return data if isinstance(data, dict) else {}


def _card_note(kit: Kit, reply: Any) -> str | None:
    request_id = getattr(reply, "request_id", None)
    if not request_id or not (getattr(reply, "submitted", False) or getattr(reply, "done", False)):
        return None
    try:
        request = kit.deps.store.get(request_id)
    except Exception:
        return None
    slack = request.slack
    link = fmt.link(fmt.card_link(slack.channel, slack.ts), "its card") if slack else None
    return f"Follow `{request.id}` on {link}: every change is posted in its thread." if link else None


def owner_elsewhere(kit: Kit, thread: ThreadRef, user_id: str) -> str | None:
    """Who owns the conversation under way in ``thread`` when it is not ``user_id`` (None when
    it is theirs, finished, expired or absent). In a channel anyone can reply in a thread or
    click its buttons; a request in preparation belongs to the person who started it."""
    key = ConversationKey(team_id=thread.team_id, channel=thread.channel, thread_ts=thread.thread_ts)
    try:
        session = kit.deps.intake.session(key)
    except Exception:
        log.warning("reading the conversation in %s/%s failed", thread.channel, thread.thread_ts, exc_info=True)
        return None
    if session is None or session.user_id == user_id or session.terminal or session.expired(kit.deps.clock.now()):
        return None
    return session.user_id


def refuse_foreign_turn(client: Any, thread: ThreadRef, user_id: str, owner: str) -> None:
    ephemeral(
        client,
        channel=thread.channel,
        user=user_id,
        text=f"This thread holds {fmt.mention(owner)}'s request in preparation, so only they can answer here. "
        "Mention me in a new message to start your own.",
        thread_ts=thread.thread_ts,
    )


def warn_pasted_secret(client: Any, thread: ThreadRef, text: str, answer_in: str | None) -> None:
    """Tell the person to rotate a credential they pasted (the logs keep it redacted)."""
    kinds = secrets_found(text)
    if not kinds:
        return
    log.warning("a message in %s held a credential (%s): redacted from the logs", thread.channel, ", ".join(kinds))
    try:
        client.chat_postMessage(
            channel=thread.channel, **pasted_secret_message(kinds), **_answer_kwargs(thread, answer_in)
        )
    except Exception:
        log.warning("could not warn about a pasted credential in %s", thread.channel, exc_info=True)


def converse(
    kit: Kit,
    client: Any,
    thread: ThreadRef,
    user_id: str,
    text: str,
    *,
    checked: bool = False,
    answer_in: str | None = None,
    note: str | None = None,
) -> Any:
    """One intake turn: the message goes to the assistant, its reply into the thread, or where
    ``answer_in`` says (unless the thread's conversation belongs to someone else; ``checked``:
    the caller made sure). ``note`` is shown under the reply. Returns the assistant's reply
    (None when there was none)."""
    if not checked:
        owner = owner_elsewhere(kit, thread, user_id)
        if owner is not None:
            refuse_foreign_turn(client, thread, user_id, owner)
            return None
    try:
        profile = kit.identity.profile(client, thread.team_id, user_id)
        key = ConversationKey(team_id=thread.team_id, channel=thread.channel, thread_ts=thread.thread_ts)
        # Slack's links, mentions and escapes are read back here: the assistant reads plain text.
        plain = plain_text(text)
        warn_pasted_secret(client, thread, plain, answer_in)
        reply = kit.deps.intake.handle(key, profile.requester(), plain)
        notes = [n for n in (note, _card_note(kit, reply)) if n]
        post_intake_reply(
            client, thread, reply, note="\n".join(notes) or None, answer_in=answer_in, objects=kit.deps.objects
        )
        return reply
    except Exception as exc:
        log.exception("intake turn in %s/%s failed", thread.channel, thread.thread_ts)
        try:
            client.chat_postMessage(
                channel=thread.channel,
                text=f"Sorry, something went wrong ({type(exc).__name__}). Please try again.",
                **_answer_kwargs(thread, answer_in),
            )
        except Exception:
            log.exception("could not report the failure in %s", thread.channel)
        return None
