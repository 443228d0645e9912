"""``SlackNotifier``: the core's ``Notifier`` for Slack. On every transition it keeps the
request's card (the parent message of its thread) current and posts one short reply in the
thread; a plan too long to quote is uploaded into the thread as a file.

The notifier renders the document it is handed (the committed one, from the ``MessageBus``) and
never writes it, nor reads the store: the first notification posts the card and hands its ts to
the engine (``bot.card_engine.CardEngine``, connected by the composition root:
``RequestService.record_card``, an engine write of ``slack.ts``); later ones ``chat.update`` it.
The ts this process posted is remembered, so a document committed before the ts was recorded
never posts a second card. A card that can no longer be edited is posted again. Only the
reconciler's pass over missed renders needs a document it was not handed: it reads it through the
core's query (``read``: ``QueryService.get``). Rate limits
(429 with ``Retry-After``), Slack's 5xx and connection errors are retried by the client's
slack_sdk retry handlers (``bot.slack_retry``, bounded). Nothing raises into the service:
failures are logged, and a notification that failed is recorded and rendered again later
(``bot.slack_render_backlog``). Also home of ``web_client(settings)``, the one place a Slack
``WebClient`` is configured (``SLACK_API_URL`` as its base URL, the retry handlers).

Copies of the card where approvers are (the project's approvals channel, or their DMs) are kept
by ``bot.card_copies.ApprovalCopies``, run after the card and its reply (``_sync_copies``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.card_claim import CardBusy, CardClaims
from bot.card_copies import COPY_CLAIM_LAPSE, ApprovalCopies
from bot.slack_render_backlog import COPIES_PREFIX, RenderBacklog
from bot.slack_retry import slack_retry_handlers
from bot.views.card import request_card
from bot.views.replies import plan_file, transition_reply
from core.domain.errors import TfPilotError
from core.domain.request import CardCopy, Request
from core.ports.clock import Clock, SystemClock
from core.ports.notifier import Transition
from core.services.claims import LapsingClaims
from core.services.once import Once

if TYPE_CHECKING:
    from collections.abc import Callable

    from slack_sdk.oauth.installation_store import InstallationStore

    from bot.card_engine import CardEngine
    from bot.settings import Settings
    from core.ports.object_store import ObjectStore
    from module_registry.projects import ProjectsMap

log = logging.getLogger(__name__)

# chat.update answers these when the card cannot be edited any more: post a fresh one.
_REPOST_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed", "msg_too_long"})


def api_base_url(settings: Settings) -> str:
    """The Web API base URL slack_sdk expects (ending in ``/``), from ``SLACK_API_URL``."""
    base = settings.slack_api_url or "https://slack.com/api"
    return base.rstrip("/") + "/"


def web_client(settings: Settings, *, token: str | None = None, timeout: int = 10) -> WebClient:
    """A WebClient for the configured Slack Web API (``SLACK_BOT_TOKEN`` unless ``token``),
    retrying rate limits, 5xx and connection errors (``bot.slack_retry``)."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token, base_url=api_base_url(settings), timeout=timeout, retry_handlers=slack_retry_handlers()
    )


def client_like(client: WebClient, token: str | None) -> WebClient:
    """A client for another token (a workspace's installation) with ``client``'s base URL,
    timeout and retry handlers."""
    return WebClient(
        token=token, base_url=client.base_url, timeout=client.timeout, retry_handlers=list(client.retry_handlers)
    )


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        *,
        approvers: Sequence[str] = (),
        objects: ObjectStore | None = None,
        installation_store: InstallationStore | None = None,
        approvals_channel: Callable[[Request], str | None] | None = None,
        dm_approvers: Sequence[str] | None = None,
        cards: CardEngine | None = None,
        read: Callable[[str], Request] | None = None,
        claims: CardClaims | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._claims = claims or CardClaims()
        self._engine = cards
        self._read = read
        self._cards: dict[str, str] = {}  # request id -> the card ts this process posted
        self._unsettled: set[str] = set()  # requests whose card ts we posted but could not record
        self._approvers = list(approvers)
        self._once = Once(objects, "dedupe/slack") if objects is not None else None
        self._backlog = RenderBacklog(objects) if objects is not None else None
        # Copies left to post (a passing refusal, a claim held elsewhere): tried at each pass.
        self._copy_backlog = RenderBacklog(objects, COPIES_PREFIX) if objects is not None else None
        self._installations = installation_store
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Who gets a DM copy without an approvals channel: the approvers given, else everyone
        # mentioned (approvers and admins).
        self._copies = ApprovalCopies(
            approvals_channel=approvals_channel or (lambda _request: None),
            approvers=self._approvers if dm_approvers is None else dm_approvers,
            record=self._record_copies,
            claims=LapsingClaims(objects, "dedupe/slack", lapse=COPY_CLAIM_LAPSE) if objects is not None else None,
            now=(clock or SystemClock()).now,
        )

    def connect(self, cards: CardEngine | None, read: Callable[[str], Request] | None = None) -> None:
        """Where posts go and documents come from (the composition root): ``cards``, the engine
        commands recording the card's ts and copies (``RequestService``); ``read``, the core's
        query of a request (``QueryService.get``), for the reconciler's pass over missed
        renders, the one time the notifier needs a document it was not handed."""
        self._engine = cards
        self._read = read

    # --- Notifier ------------------------------------------------------------------------
    def request_changed(self, request: Request, transition: Transition) -> None:
        try:
            self._notify(request, transition)
        except CardBusy as busy:
            # Another process posts the card and its ts has not come yet: rendered later.
            log.warning("slack notification of %s (%s) deferred: %s", request.id, transition.event, busy)
            self._missed(request, transition)
        except Exception:
            log.exception("slack notification of %s (%s) failed", request.id, transition.event)
            self._missed(request, transition)
        else:
            self._render_missed_of(request)
        # Approvers' copies are their own posts: a failed main card does not hold them back.
        if not self._sync_copies(request, transition) and self._copy_backlog is not None:
            try:
                self._copy_backlog.record(request.id, transition, at=request.updated_at)
            except Exception:
                log.exception("recording the copies of %s left to post failed", request.id)

    # --- missed renders (bot.slack_render_backlog) ---------------------------------------
    def _missed(self, request: Request, transition: Transition) -> None:
        if self._backlog is None or request.slack is None:
            return
        try:
            self._backlog.record(request.id, transition, at=request.updated_at)
        except Exception:
            log.exception("recording the missed card of %s failed", request.id)

    def _render_missed_of(self, request: Request) -> None:
        """After a notification Slack took: the request's missed replies, from the document
        just rendered (the card already shows it: only the replies go out)."""
        if self._backlog is None:
            return
        team = request.slack.team_id if request.slack is not None else None
        for missed in self._backlog.missed(request.id):
            try:
                self._reply(self._client_for(team), request, missed.transition)
            except Exception:
                log.warning("rendering the missed reply of %s failed again", request.id, exc_info=True)
                return
            self._backlog.done(missed)

    def render_missed(self, request_id: str | None = None) -> int:
        """Render again what Slack did not take (one request's, or all; the reconciler's pass):
        the card from the current document, read through the core's query (``read``), then
        each missed reply in order, then the approvers' copies left to post. Returns how many
        went out; what fails again stays for the next try. Cards this process posted but could
        not record are recorded first."""
        self._settle_unsettled(request_id)
        if self._backlog is None or self._read is None:
            return 0
        done, failed = 0, set()
        for missed in self._backlog.missed(request_id):
            if missed.request_id in failed:
                continue
            try:
                request = self._current_by_id(missed.request_id)
                if request is not None and request.slack is not None:
                    self._notify(request, missed.transition)
            except Exception:
                log.warning("rendering the missed card of %s failed again", missed.request_id, exc_info=True)
                failed.add(missed.request_id)
                continue
            self._backlog.done(missed)
            done += 1
        return done + self._post_missed_copies(request_id)

    def _post_missed_copies(self, request_id: str | None) -> int:
        """The approvers' copies left to post, tried again from the current document while the
        request still waits in the status their transition moved it to (then they are moot)."""
        if self._copy_backlog is None:
            return 0
        done = 0
        for missed in self._copy_backlog.missed(request_id):
            try:
                request = self._current_by_id(missed.request_id)
            except Exception:
                log.warning("reading %s for its card copies failed", missed.request_id, exc_info=True)
                continue
            moot = request is None or request.status != missed.transition.status
            if moot or (request is not None and self._sync_copies(request, missed.transition)):
                self._copy_backlog.done(missed)
                done += 1
        return done

    def _current_by_id(self, request_id: str) -> Request | None:
        if self._read is None:
            return None
        try:
            return self._read(request_id)
        except TfPilotError:
            return None  # gone or archived: nothing left to render

    # --- internals -----------------------------------------------------------------------
    def _lock(self, request_id: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 10_000:
                self._locks.clear()
            return self._locks.setdefault(request_id, threading.Lock())

    def _client_for(self, team_id: str | None) -> WebClient:
        if self._installations is None or team_id is None:
            return self._client
        bot = self._installations.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            return self._client
        return client_like(self._client, bot.bot_token)

    def _card_ts(self, request: Request) -> str | None:
        # A document committed before this process recorded its card's ts still has none.
        recorded = request.slack.ts if request.slack is not None else None
        return recorded or self._cards.get(request.id)

    def _remember(self, request_id: str, ts: str) -> None:
        if len(self._cards) > 10_000:
            self._cards.clear()
            self._unsettled.clear()
        self._cards[request_id] = ts

    def _record_ts(self, request_id: str, ts: str) -> None:
        """Record the ts of the card we posted, which ends our claim on its post. When that
        fails the claim is kept, not released: another process would post a second card at
        once, not knowing ours. It is settled instead by this process's next notification of
        the request or reconciler pass (``_settle``); meanwhile others wait, then render later."""
        self._remember(request_id, ts)
        if self._engine is None:
            return
        try:
            self._engine.record_card(request_id, ts)
        except Exception:
            log.exception("recording the card ts of %s failed: recorded again on its next notification", request_id)
            self._unsettled.add(request_id)
        else:
            self._unsettled.discard(request_id)

    def _settle(self, request: Request) -> None:
        """Record again the ts of a card this process posted but could not record (a failure
        again leaves it unsettled)."""
        if request.id not in self._unsettled:
            return
        ours = self._cards.get(request.id)
        recorded = request.slack.ts if request.slack is not None else None
        if ours is None or recorded is not None:
            self._unsettled.discard(request.id)  # forgotten, or recorded (ours, or a card since)
            return
        self._record_ts(request.id, ours)

    def _settle_unsettled(self, request_id: str | None) -> None:
        """At the reconciler's pass (every minute), not only at the request's next notification:
        a card's claim lapses after two minutes, and then another process would post a second."""
        for unsettled in [request_id] if request_id is not None else list(self._unsettled):
            if unsettled not in self._unsettled:
                continue
            try:
                request = self._current_by_id(unsettled)
            except Exception:
                log.warning("reading %s to record its card failed: tried again later", unsettled, exc_info=True)
                continue
            if request is None:
                self._unsettled.discard(unsettled)  # gone or archived: nothing to record on
                continue
            with self._lock(unsettled):
                self._settle(request)

    def _record_copies(self, request_id: str, copies: Sequence[CardCopy]) -> None:
        if self._engine is not None:
            self._engine.record_card_copies(request_id, copies)

    def _post_card(self, client: WebClient, request: Request, channel: str, *, replacing: str | None) -> str:
        """Post the card (a first one, or one replacing the card at ``replacing``) once across
        processes: claimed through the engine first (``bot.card_claim``); a card another
        process posted meanwhile is updated instead."""
        engine = self._engine
        posted = self._claims.turn(engine, request.id, replacing=replacing) if engine is not None else None
        if posted is not None:
            self._remember(request.id, posted)
            self._update_card(client, request, channel, posted)
            return posted
        card = request_card(request)
        try:
            response = client.chat_postMessage(channel=channel, text=card["text"], blocks=card["blocks"])
        except Exception:
            if engine is not None:
                self._claims.release(engine, request.id)
            raise
        ts = str(response["ts"])
        self._record_ts(request.id, ts)
        return ts

    def _update_card(self, client: WebClient, request: Request, channel: str, ts: str) -> None:
        card = request_card(request)
        client.chat_update(channel=channel, ts=ts, text=card["text"], blocks=card["blocks"])

    def _ensure_card(self, client: WebClient, request: Request) -> str | None:
        slack = request.slack
        if slack is None:
            return None
        with self._lock(request.id):
            self._settle(request)
            ts = self._card_ts(request)
            if ts is None:
                return self._post_card(client, request, slack.channel, replacing=None)
            try:
                self._update_card(client, request, slack.channel, ts)
            except SlackApiError as error:
                if error.response.get("error") not in _REPOST_ERRORS:
                    raise
                log.warning("card of %s cannot be updated (%s): posting it again", request.id, error.response["error"])
                return self._post_card(client, request, slack.channel, replacing=ts)
            return ts

    def _notify(self, request: Request, transition: Transition) -> None:
        if request.slack is None or not request.slack.channel:
            return
        client = self._client_for(request.slack.team_id)
        ts = self._ensure_card(client, request)
        if ts is None:
            return
        self._reply(client, request, transition, ts)

    def _reply(self, client: WebClient, request: Request, transition: Transition, ts: str | None = None) -> None:
        """The transition's reply in the card's thread (and a plan too long to quote, as a file)."""
        ts = ts or self._card_ts(request)
        if request.slack is None or ts is None:
            return
        reply = transition_reply(request, transition, approvers=self._approvers)
        channel = request.slack.channel
        client.chat_postMessage(channel=channel, thread_ts=ts, text=reply["text"], blocks=reply["blocks"])
        if transition.event == "plan_ready":
            self._upload_plan(client, request, channel, ts)

    def _sync_copies(self, request: Request, transition: Transition) -> bool:
        """The card's copies where approvers are (``bot.card_copies``), after the card itself;
        False when one is left to post."""
        if request.slack is None or not request.slack.channel:
            return True
        try:
            client = self._client_for(request.slack.team_id)
            with self._lock(request.id):
                return self._copies.sync(client, self._with_card(request), transition)
        except Exception:
            log.exception("copies of the card of %s (%s) failed", request.id, transition.event)
            return False

    def _with_card(self, request: Request) -> Request:
        ts = self._card_ts(request)
        if request.slack is None or ts == request.slack.ts:
            return request
        return request.model_copy(update={"slack": request.slack.model_copy(update={"ts": ts})})

    def _upload_plan(self, client: WebClient, request: Request, channel: str, ts: str) -> None:
        attachment = plan_file(request)
        if attachment is None:
            return
        filename, content = attachment
        run = request.plan.run_id if request.plan else None
        if self._once is not None and not self._once.first(f"planfile:{request.id}:{run or request.revision}"):
            return
        client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=content,
            filename=filename,
            title=f"Plan of {request.id} (revision {request.revision})",
        )


def build_slack_notifier(
    settings: Settings,
    *,
    objects: ObjectStore,
    client: WebClient | None = None,
    projects: ProjectsMap | None = None,
    clock: Clock | None = None,
) -> SlackNotifier:
    """The notifier as the composition root wires it: the configured Web API client, the
    approvers and admins from the settings lists (only Slack ids get mentioned), the projects
    map's approvals channels, and, for a multi-workspace app, the installation store holding
    each workspace's bot token."""
    installations = None
    if settings.slack_oauth_enabled:
        from bot.slack_oauth import installation_store

        installations = installation_store(settings)
    return SlackNotifier(
        client or web_client(settings),
        approvers=[*settings.approvers, *settings.admins],
        objects=objects,
        installation_store=installations,
        approvals_channel=approvals_channel_of(projects) if projects is not None else None,
        dm_approvers=settings.approvers or settings.admins,
        clock=clock,
    )


def approvals_channel_of(projects: ProjectsMap) -> Callable[[Request], str | None]:
    """The approvals channel of a request's project/environment, looked up at each transition
    (not kept in the request: after a restart with a changed map, open requests follow it)."""
    return lambda request: projects.approvals_channel(request.project, request.environment)
