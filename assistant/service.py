"""``IntakeService``: the assistant's entry point for Slack, the console and tests.

``handle(key, user, text)`` takes plain text (Slack's markup is read back by the Slack
listeners, ``bot.slack_text``), cleans it, loads the conversation's session from the object
store (``sessions/<team>/<channel>/<thread>.json``), extracts candidates (OpenAI with the rules
as fallback, or the rules alone), runs the pure flow, and saves the session with
compare-and-swap, retrying on a lost race, so any process can continue a conversation and a
restart loses nothing. Submitting calls ``RequestService.create`` with the session id as
idempotency key and the request id reserved at confirm: a second "submit" never creates a second
request. Every user and assistant turn goes to the ``ChatLog`` through a ``ChatTurnWriter``: a
chat-log failure is logged and never fails the reply, and a slow one delays it by at most
``chat_log_wait`` seconds.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from assistant.chat_turns import DEFAULT_WAIT, ChatTurnWriter
from assistant.domain import flow
from assistant.domain.catalog import ProjectsView, RegistryView, RequestBrief
from assistant.domain.chat_model import Candidates, ChatModel, ExtractionContext, FallbackChatModel
from assistant.domain.flow import FlowContext, PreviewFailed, SubmitRefused, Submitted
from assistant.domain.reply import Reply
from assistant.domain.rules import RuleExtractor
from assistant.domain.session import DEFAULT_TTL, ConversationKey, IntakeSession
from core.domain.errors import PermissionDenied, VersionConflict
from core.domain.ids import new_request_id
from core.domain.refusals import Denial
from core.domain.request import Requester, SlackThread
from core.ports.chat_log import ChatEntry, ChatLog
from core.ports.clock import Clock, SystemClock
from core.ports.object_store import ObjectStore

if TYPE_CHECKING:
    from core.domain.request import Request

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
MAX_ATTEMPTS = 6
# Bidirectional-override and isolate controls can disguise what a message says; right-to-left
# text itself is kept.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")

# A message that asks for something ("I need an SQS queue"), as opposed to one that answers.
_ASKS_FOR = re.compile(
    r"\b(?:i\s+need|we\s+need|i\s+want|we\s+want|i'?d\s+like|can\s+i\s+(?:get|have)|create|provision|"
    r"request|set\s+up|spin\s+up|another|one\s+more|please|give\s+me|get\s+me|can\s+you|could\s+you)\b",
    re.IGNORECASE,
)
_ANOTHER = re.compile(r"\b(?:another|one\s+more|a\s+second)\b", re.IGNORECASE)

__all__ = ["MAX_MESSAGE_CHARS", "ConversationKey", "IntakeService", "Reply", "clean_text"]


def clean_text(text: str) -> str:
    """NFC-normalized text without NUL/control characters (newlines and tabs kept).

    The text is plain: a channel's markup (Slack's links, mentions, escapes) is read back by
    that channel before it calls the assistant (``bot.slack_text``)."""
    normalized = unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n"))
    kept = []
    for ch in normalized:
        if ch in "\n\t":
            kept.append(ch)
        elif ch == "\r":
            kept.append("\n")
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            continue
        else:
            kept.append(ch)
    return "".join(kept).strip()


@dataclass
class _Loaded:
    session: IntakeSession
    etag: str | None  # None: not stored yet (create-if-absent)
    note: str | None = None


class IntakeService:
    def __init__(
        self,
        objects: ObjectStore,
        chat_log: ChatLog,
        registry: RegistryView,
        projects: ProjectsView,
        requests: Any,  # core.services.requests.RequestService (create, preview)
        model: ChatModel | None = None,
        clock: Clock | None = None,
        *,
        ttl: timedelta = DEFAULT_TTL,
        max_chars: int = MAX_MESSAGE_CHARS,
        source: str = "slack",
        new_session_id: Callable[[], str] | None = None,
        new_request_id_fn: Callable[[], str] | None = None,
        chat_log_wait: float = DEFAULT_WAIT,
        queries: Any = None,  # core.services.queries.QueryService (get, list): "my requests", status
        refusal_text: Callable[[Denial], str],  # bot.views.refusals.reason_text (core gives a code)
    ) -> None:
        self._objects = objects
        self._chat_log = chat_log
        # Turns are logged off the reply's path: a slow chat bucket delays a reply by at most
        # ``chat_log_wait`` seconds, a failing one never fails it.
        self._turns = ChatTurnWriter(chat_log, wait=chat_log_wait)
        self._registry = registry
        self._projects = projects
        self._requests = requests
        self._queries = queries
        self._refusal_text = refusal_text
        self._rules = RuleExtractor()
        if model is None or isinstance(model, RuleExtractor | FallbackChatModel):
            self.model: ChatModel = model or self._rules
        else:
            self.model = FallbackChatModel(model, self._rules)
        self._clock = clock or SystemClock()
        self._ttl = ttl
        self._max_chars = max_chars
        self._source = source
        self._new_session_id = new_session_id or (lambda: "ses_" + secrets.token_hex(8))
        self._new_request_id = new_request_id_fn or new_request_id

    # --- public API --------------------------------------------------------------------
    def handle(self, key: ConversationKey, user: Requester, text: str) -> Reply:
        now = self._clock.now()
        cleaned = clean_text(text)
        loaded = self._load(key, user, now)
        if len(cleaned) > self._max_chars:
            reply = Reply(
                text=(
                    f"That message is {len(cleaned):,} characters long; I read at most {self._max_chars:,}. "
                    "Please send a shorter one: nothing was changed."
                ),
                step=loaded.session.step,
                request_id=loaded.session.request_id,
            )
            self._log_turns(loaded.session, user, cleaned[: self._max_chars], reply, None, now, refused="too_long")
            return reply
        if not cleaned:
            reply = Reply(text="I didn't get any text in that message.", step=loaded.session.step)
            self._log_turns(loaded.session, user, cleaned, reply, None, now, refused="empty")
            return reply
        foreign = self._not_theirs(loaded.session, user)
        if foreign is not None:
            self._log_turns(loaded.session, user, cleaned, foreign, None, now, refused="not_the_requester")
            return foreign
        candidates = self._extract(cleaned, loaded.session)
        session, reply = self._transact(
            key,
            user,
            now,
            loaded,
            lambda current, ctx, retry: flow.advance(
                current, cleaned, self._recheck(cleaned, current, candidates) if retry else candidates, ctx
            ),
        )
        self._log_turns(session, user, cleaned, reply, candidates, now)
        return reply

    @staticmethod
    def _not_theirs(session: IntakeSession, user: Requester) -> Reply | None:
        """In a shared thread only the person who started the request fills it in and submits
        it: whoever submits becomes the requester, so nobody may do it in someone else's name."""
        if session.user_id == user.id or session.turns == 0 or session.step in ("submitted", "cancelled"):
            return None
        return Reply(
            text=(
                f"This request is <@{session.user_id}>'s to fill in and submit; nothing was changed. "
                "Start your own in a DM with me or with `/tfpilot new`."
            ),
            step=session.step,
            request_id=session.request_id,
        )

    def submit_form(self, key: ConversationKey, user: Requester, values: Mapping[str, Any]) -> Reply:
        now = self._clock.now()
        loaded = self._load(key, user, now)
        foreign = self._not_theirs(loaded.session, user)
        if foreign is not None:
            self._log_turns(loaded.session, user, "[form]", foreign, None, now, refused="not_the_requester")
            return foreign
        session, reply = self._transact(
            key, user, now, loaded, lambda current, ctx, _retry: flow.apply_form(current, values, ctx)
        )
        shown = ", ".join(f"{k}={v!r}" for k, v in list(values.items())[:50])[: self._max_chars]
        self._log_turns(session, user, f"[form] {shown}", reply, None, now)
        return reply

    def flush_chat_log(self, timeout: float | None = None) -> bool:
        """Wait for chat-log entries still being written (shutdown, tests); True when done."""
        return self._turns.flush(timeout)

    def sweep_expired(self, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` stored sessions idle past their expiry; returns how many.

        A message to an expired session starts a fresh one anyway: this only keeps abandoned
        conversations from piling up under ``sessions/``. A document that changed since it was
        read (a new turn) is kept; an unreadable one is left alone (it may be a newer format).
        """
        now = self._clock.now()
        deleted = 0
        for key in self._objects.list_keys("sessions/"):
            if deleted >= limit:
                break
            stored = self._objects.get(key)
            if stored is None:
                continue
            try:
                session = IntakeSession.model_validate_json(stored.body)
            except ValidationError:
                continue
            if not session.expired(now):
                continue
            if self._objects.get_if_changed(key, stored.etag) is not None:
                continue  # a turn landed meanwhile
            self._objects.delete(key)
            deleted += 1
        if deleted:
            log.info("removed %d expired intake sessions", deleted)
        return deleted

    def is_new_request(self, key: ConversationKey, text: str) -> bool:
        """True when ``text`` asks for another resource than the one the conversation at ``key``
        is collecting ("I need an SQS queue" while a bucket's name is asked for): a channel that
        continues a pending conversation with unthreaded messages (a DM) then starts a new one
        instead of reading the message as an answer. Read by the rules, never by the model: the
        decision must be cheap and predictable."""
        session = self.session(key)
        cleaned = clean_text(text)
        if session is None or session.terminal or session.module is None or not _ASKS_FOR.search(cleaned):
            return False
        probe = IntakeSession.start(key, session.user_id, session_id="probe", now=self._clock.now(), ttl=self._ttl)
        try:
            named = self._rules.extract(cleaned, self._context(probe)).module
        except Exception:
            log.warning("reading a new request in %s failed", key.object_key(), exc_info=True)
            return False
        if named is None:
            return False
        return named != session.module or bool(_ANOTHER.search(cleaned))

    def session(self, key: ConversationKey) -> IntakeSession | None:
        """The stored session of a conversation (None when absent or unreadable)."""
        stored = self._objects.get(key.object_key())
        if stored is None:
            return None
        try:
            return IntakeSession.model_validate_json(stored.body)
        except ValidationError:
            return None

    # --- internals ---------------------------------------------------------------------
    def _load(self, key: ConversationKey, user: Requester, now: datetime) -> _Loaded:
        stored = self._objects.get(key.object_key())
        fresh = IntakeSession.start(key, user.id, session_id=self._new_session_id(), now=now, ttl=self._ttl)
        if stored is None:
            return _Loaded(fresh, None)
        try:
            session = IntakeSession.model_validate_json(stored.body)
        except ValidationError as exc:
            log.warning("unreadable session at %s (%d problems): starting fresh", key.object_key(), exc.error_count())
            return _Loaded(fresh, stored.etag, note="I couldn't read our earlier conversation, so let's start fresh.")
        if session.expired(now) and not session.terminal:
            fresh.version = session.version
            return _Loaded(fresh, stored.etag, note="Our earlier conversation expired, so let's start fresh.")
        if session.expired(now):
            fresh.version = session.version
            return _Loaded(fresh, stored.etag)
        return _Loaded(session, stored.etag)

    def _extract(self, text: str, session: IntakeSession) -> Candidates:
        context = self._context(session)
        try:
            return self.model.extract(text, context)
        except Exception:
            log.exception("extractor %s failed: using the rules", getattr(self.model, "name", "?"))
            return self._rules.extract(text, context)

    def _context(self, session: IntakeSession) -> ExtractionContext:
        return flow.extraction_context(session, self._registry, self._projects)

    def _recheck(self, text: str, current: IntakeSession, candidates: Candidates) -> Candidates:
        # After a lost race the session may have moved on (another step, another module): the
        # rules are cheap and deterministic, so read the message again against the new state.
        # A model's reading is kept (it does not depend on the step).
        if candidates.extractor != self._rules.name:
            return candidates
        return self._rules.extract(text, self._context(current))

    def _transact(
        self,
        key: ConversationKey,
        user: Requester,
        now: datetime,
        loaded: _Loaded,
        step: Callable[[IntakeSession, FlowContext, bool], tuple[IntakeSession, Reply]],
    ) -> tuple[IntakeSession, Reply]:
        for attempt in range(MAX_ATTEMPTS):
            ctx = self._flow_context(key, user, now)
            session, reply = step(loaded.session, ctx, attempt > 0)
            if loaded.note:
                reply.text = f"{loaded.note}\n{reply.text}"
            session.version = loaded.session.version + 1
            try:
                if loaded.etag is None:
                    self._objects.put(key.object_key(), session.model_dump_json().encode(), if_none_match=True)
                else:
                    self._objects.put(key.object_key(), session.model_dump_json().encode(), if_match=loaded.etag)
            except VersionConflict:
                log.info("session %s changed underneath: retrying the turn", key.object_key())
                loaded = self._load(key, user, now)
                continue
            return session, reply
        log.warning("gave up saving session %s after %d conflicts", key.object_key(), MAX_ATTEMPTS)
        return loaded.session, Reply(
            text="Several messages arrived at once and I couldn't keep up: please send that again.",
            step=loaded.session.step,
        )

    def _flow_context(self, key: ConversationKey, user: Requester, now: datetime) -> FlowContext:
        return FlowContext(
            registry=self._registry,
            projects=self._projects,
            now=now,
            new_request_id=self._new_request_id,
            new_session_id=self._new_session_id,
            preview=lambda session, config: self._preview(session, config, user, key),
            submit=lambda session, config: self._submit(session, config, user, key),
            ttl=self._ttl,
            prod_refusal=lambda: self._prod_refusal(user),
            my_requests=(lambda: self._my_requests(user, key)) if self._queries is not None else None,
            find_request=(lambda ref: self._find_request(user, key, ref)) if self._queries is not None else None,
        )

    # --- what the person may do and has asked for (core's policy and queries) ---------------
    def _prod_refusal(self, user: Requester) -> str | None:
        """The policy's reason this person may not open prod requests, asked through the same
        check ``RequestService.create`` makes (so the answer at submit cannot differ)."""
        ask = getattr(self._requests, "create_refusal", None)
        if ask is None:
            return None
        try:
            reason: Denial | None = ask(user, prod=True)
        except Exception:  # the early check is a courtesy: create checks again
            log.exception("could not check prod eligibility of %s", user.id)
            return None
        return None if reason is None else self._refusal_text(reason)

    def _team(self, key: ConversationKey) -> str | None:
        """The Slack workspace a conversation may see requests of (None outside Slack)."""
        return key.team_id if self._source == "slack" else None

    def _my_rows(self, user: Requester, key: ConversationKey, limit: int) -> list[Any]:
        from core.domain.index import ListFilter

        page = self._queries.list(ListFilter(requester=user.id, slack_team=self._team(key)), limit=limit)
        return list(page.rows)

    def _brief(self, row: Any) -> RequestBrief:
        request = self._queries.get(row.id)
        name = request.config.get("name") if isinstance(request.config, dict) else None
        return RequestBrief(
            id=request.id,
            project=request.project,
            environment=request.environment,
            module=request.module,
            name=str(name) if name is not None else None,
            status=str(getattr(row, "status", None) or request.status),
            link=request.pr_url,
        )

    def _my_requests(self, user: Requester, key: ConversationKey) -> list[RequestBrief]:
        return [self._brief(row) for row in self._my_rows(user, key, 10)]

    def _find_request(self, user: Requester, key: ConversationKey, ref: str) -> RequestBrief | None:
        from core.domain.errors import RequestNotFound

        if ref.startswith("req_"):
            try:
                request = self._queries.get(ref)
            except RequestNotFound:
                return None
            # Another workspace's request is answered like a missing one (as `/tfpilot status`).
            owner = request.slack.team_id if getattr(request, "slack", None) is not None else None
            team = self._team(key)
            if team is not None and owner is not None and owner != team:
                return None
            return self._brief(request)
        for row in self._my_rows(user, key, 50):
            brief = self._brief(row)
            if brief.name is not None and brief.name.lower() == ref.lower():
                return brief
        return None

    def _command(self, session: IntakeSession, config: dict[str, Any], user: Requester, key: ConversationKey) -> Any:
        from core.services.commands import CreateRequest

        slack = SlackThread(team_id=key.team_id, channel=key.channel) if self._source == "slack" else None
        assert session.project and session.environment and session.module
        return CreateRequest(
            project=session.project,
            environment=session.environment,
            module=session.module,
            config=dict(config),
            requester=user,
            idempotency_key=session.id,
            chat_session_id=session.id,  # links the request to this conversation for the audit export
            request_id=session.request_id,
            slack=slack,
            source=self._source,
        )

    def _preview(
        self, session: IntakeSession, config: dict[str, Any], user: Requester, key: ConversationKey
    ) -> Mapping[str, str]:
        try:
            files: Mapping[str, str] = self._requests.preview(self._command(session, config, user, key))
        except PermissionDenied as exc:
            raise PreviewFailed(self._refusal_text(exc.reason)) from exc
        except Exception as exc:
            problems = _config_problems(exc)
            if problems is not None:
                raise PreviewFailed("; ".join(f"{k}: {v}" for k, v in problems.items())) from exc
            log.exception("preview failed for session %s", session.id)
            raise PreviewFailed(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return files

    def _submit(
        self, session: IntakeSession, config: dict[str, Any], user: Requester, key: ConversationKey
    ) -> Submitted:
        try:
            request: Request = self._requests.create(self._command(session, config, user, key))
        except PermissionDenied as exc:
            said = self._refusal_text(exc.reason).rstrip(".")
            raise SubmitRefused(f"you are not allowed to create it ({said}).") from exc
        except Exception as exc:
            problems = _config_problems(exc)
            if problems is not None:
                detail = "; ".join(f"{k}: {v}" for k, v in problems.items())
                raise SubmitRefused(f"the registry rejected the configuration ({detail}).", problems) from exc
            log.exception("create failed for session %s", session.id)
            raise SubmitRefused(
                f"something went wrong ({type(exc).__name__}). Say `submit` to try again: it will not create twice."
            ) from exc
        link = request.pr_url
        return Submitted(request_id=request.id, link=link)

    def _log_turns(
        self,
        session: IntakeSession,
        user: Requester,
        text: str,
        reply: Reply,
        candidates: Candidates | None,
        now: datetime,
        *,
        refused: str | None = None,
    ) -> None:
        try:
            entries = self._turn_entries(session, user, text, reply, candidates, now, refused=refused)
        except Exception:  # the chat log is an audit aid: it must never fail a reply
            log.exception("could not build the chat log entries of session %s", session.id)
            return
        self._turns.write(entries)

    def _turn_entries(
        self,
        session: IntakeSession,
        user: Requester,
        text: str,
        reply: Reply,
        candidates: Candidates | None,
        now: datetime,
        *,
        refused: str | None,
    ) -> list[ChatEntry]:
        key = session.key
        common = {
            "session_id": session.id,
            "team_id": key.team_id,
            "channel": key.channel,
            "thread_ts": key.thread_ts,
            "request_id": reply.request_id or session.request_id,
        }
        user_data: dict[str, Any] = {"step": session.step}
        if refused:
            user_data["refused"] = refused
        if candidates is not None and candidates.fallback_reason:
            user_data["fallback_reason"] = candidates.fallback_reason
        return [
            ChatEntry(
                role="user",
                text=text,
                timestamp=now,
                user_id=user.id,
                extractor=candidates.extractor if candidates is not None else None,
                data=user_data,
                **common,
            ),
            ChatEntry(
                role="assistant",
                text=reply.text + (f"\n\n{reply.terraform}" if reply.terraform else ""),
                timestamp=now,
                user_id=None,
                data={"step": reply.step, "choices": [c.value for c in reply.choices], "done": reply.done},
                **common,
            ),
        ]


def _config_problems(exc: Exception) -> dict[str, str] | None:
    """Field errors of a ``ConfigRejected`` (duck-typed: ``errors`` of field/message items)."""
    if type(exc).__name__ != "ConfigRejected":
        return None
    out: dict[str, str] = {}
    for err in getattr(exc, "errors", None) or []:
        name = str(getattr(err, "field", "") or "config")
        out[name] = str(getattr(err, "message", err))
    return out or {"config": str(exc)}
