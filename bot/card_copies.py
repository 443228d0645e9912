"""``ApprovalCopies``: the request's card, also where its approvers are.

A request started in someone's DM keeps its card in that DM, which approvers cannot see. When a
request comes to wait for an approver (``AWAITING_APPROVAL`` events), its card is also posted:

- in the approvals channel the projects map names for its project/environment (the bot joins a
  public channel with ``conversations.join``; for a private one it is not in, Slack answers
  ``channel_not_found`` and the request's thread says who must invite it, naming the channel);
- otherwise, for a request whose conversation is a DM, to each approver (``TFPILOT_APPROVERS``,
  or the admins when no approver is listed; emails resolved with ``users.lookupByEmail``) in
  their DM with the app. A request in a channel already mentions its approvers in its thread.

Each copy (channel + ts) is recorded on the request (``Request.card_copies``) through the engine
(``record``: the composition root connects ``RequestService.record_card_copies``) and every copy is
``chat.update``d on every transition, so a click on any copy acts on the same request (buttons
carry the request id; the services re-check the clicker's role). A retried transition never
posts a second copy: copies already recorded are skipped, and each post first claims a marker
keyed by request, destination and transition (``core.services.claims.LapsingClaims``: another
process retrying the same transition loses the claim). The claim lapses after
``COPY_CLAIM_LAPSE``, so a process that took it and died before its copy was recorded does not
block that copy for good; a post Slack refused releases it at once, unless the refusal needs a
person to act (the thread says so, and the same transition retried would only say it again).
``sync`` says whether a copy is left to post (a passing refusal, a claim held elsewhere); the
notifier then tries again at the reconciler's passes. Nothing raises into the notifier:
failures are logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.views import fmt
from bot.views.card import request_card
from bot.views.replies import (
    AWAITING_APPROVAL,
    MAX_APPROVER_MENTIONS,
    approvals_note,
    channel_refused_note,
    invite_note,
)
from core.domain.request import CardCopy, Request
from core.ports.notifier import Transition
from core.services.cards import copy_recorded

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from core.services.claims import Claim, LapsingClaims

log = logging.getLogger(__name__)

# Slack's answers when the bot may not post in a channel: public and not a member, or a private
# channel it was not invited to (it cannot even see it).
_NOT_IN = "not_in_channel"
_UNSEEN = frozenset({"channel_not_found", "method_not_supported_for_channel_type"})
_CACHE_LIMIT = 1_000
# Slack's answers that say nothing about the destination: another try may well post.
_PASSING = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"})

# How long a copy's claim holds before another process may post that copy. A live post takes
# seconds, at worst about two minutes with the client's retries (three 429s of up to 30 s, two
# 5xx backoffs: the same bound as the card's own claim, ``CARD_CLAIM_TTL``); ten minutes is far
# beyond that, so only a taker that died (or a copy posted but never recorded) is overtaken, and
# a retry within those ten minutes never posts a second copy.
COPY_CLAIM_LAPSE = timedelta(minutes=10)


class _Outcome(Enum):
    POSTED = "posted"
    REFUSED = "refused"  # for a reason a retry may not have: released, tried again at the next pass
    DECLINED = "declined"  # a DM Slack will not take (no such user...): released, not tried again
    TOLD = "told"  # a refusal the thread reports and someone must fix: the claim stays


@dataclass(frozen=True)
class Destination:
    kind: str  # channel | dm
    target: str  # the channel id, or the approver's Slack user id

    def recorded_in(self, request: Request) -> bool:
        return copy_recorded(request, self.kind, self.target)


def copy_claim_key(request: Request, destination: Destination, transition: Transition) -> str:
    """The claim on posting one copy: per request, destination, and transition (its event, the
    request's revision and plan run), so a later transition awaiting approval posts again."""
    run = request.plan.run_id if request.plan else None
    return (
        f"cardcopy:{request.id}:{destination.kind}:{destination.target}:"
        f"{transition.event}:{request.revision}:{run or '-'}"
    )


class ApprovalCopies:
    def __init__(
        self,
        *,
        approvals_channel: Callable[[Request], str | None],
        approvers: Sequence[str] = (),
        record: Callable[[str, Sequence[CardCopy]], object] | None = None,
        claims: LapsingClaims | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._channel_of = approvals_channel
        self._approvers = [a.strip() for a in approvers if a.strip()]
        self._record_copies = record
        self._claims = claims
        self._now = now or (lambda: datetime.now(UTC))
        self._user_ids: dict[str, str | None] = {}
        self._guard = threading.Lock()

    # --- entry point (called under the notifier's per-request lock) -------------------------
    def sync(self, client: WebClient, request: Request, transition: Transition) -> bool:
        """Update every recorded copy; post the missing ones when an approver is awaited.

        False when a copy is left to post: Slack refused it for a reason another try may not
        meet, another process holds its claim (it may have died: the claim lapses), or the card
        itself has no ts yet. The notifier then tries again at the reconciler's pass."""
        for copy in request.card_copies:
            self._update(client, request, copy)
        if transition.event not in AWAITING_APPROVAL or request.slack is None:
            return True
        if not request.slack.ts:
            return False
        missing = [d for d in self.destinations(client, request) if not d.recorded_in(request)]
        posted_dms: list[str] = []
        settled = True
        for destination in missing:
            claim = self._claim(request, destination, transition)
            if claim is False:
                settled = False
                continue
            if destination.kind == "channel":
                outcome = self._post_in_channel(client, request, destination.target)
            else:
                outcome = self._post_in_dm(client, request, destination.target)
                if outcome is _Outcome.POSTED:
                    posted_dms.append(destination.target)
            if outcome in (_Outcome.REFUSED, _Outcome.DECLINED) and claim is not True:
                self._release(claim)
            settled = settled and outcome is not _Outcome.REFUSED
        if posted_dms:
            self._thread_note(client, request, approvals_note(None, posted_dms))
        return settled

    # --- where ---------------------------------------------------------------------------------
    def destinations(self, client: WebClient, request: Request) -> list[Destination]:
        slack = request.slack
        if slack is None:
            return []
        channel = self._channel_of(request)
        if channel:
            return [] if channel == slack.channel else [Destination("channel", channel)]
        if not slack.channel.startswith("D"):
            return []
        requester = request.requester
        own = {v.lower() for v in (requester.id, requester.email) if v} if requester else set()
        users: list[str] = []
        for entry in self._approvers:
            if entry.lower() in own:
                continue
            user = self._user_id(client, entry)
            if user is not None and user.lower() not in own and user not in users:
                users.append(user)
        return [Destination("dm", user) for user in users[:MAX_APPROVER_MENTIONS]]

    def _user_id(self, client: WebClient, entry: str) -> str | None:
        """A policy-list entry as a Slack user id: ids as they are, emails looked up (cached)."""
        if fmt.is_slack_user(entry):
            return entry
        if "@" not in entry:
            return None
        key = entry.lower()
        with self._guard:
            if key in self._user_ids:
                return self._user_ids[key]
        user_id: str | None = None
        try:
            found = client.users_lookupByEmail(email=entry)
            candidate = (found.get("user") or {}).get("id")
            user_id = candidate if isinstance(candidate, str) and fmt.is_slack_user(candidate) else None
        except SlackApiError as error:
            if error.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed (%s): the approver is not DMed", error.response.get("error"))
                return None  # not cached: a passing failure
        with self._guard:
            if len(self._user_ids) > _CACHE_LIMIT:
                self._user_ids.clear()
            self._user_ids[key] = user_id
        return user_id

    # --- posting -------------------------------------------------------------------------------
    def _claim(self, request: Request, destination: Destination, transition: Transition) -> Claim | bool:
        """Our claim on posting the copy (True: nothing to claim with), False when another holds it.

        A post that raised anything but a Slack refusal keeps its claim until it lapses: the
        message may have gone out (a timeout after Slack took it), and a second copy at once
        is worse than one ten minutes late. So does a post whose copy could not be recorded."""
        if self._claims is None:
            return True
        return self._claims.take(copy_claim_key(request, destination, transition), now=self._at()) or False

    def _release(self, claim: Claim) -> None:
        if self._claims is None:
            return
        try:
            self._claims.release(claim)
        except Exception:
            log.warning("releasing the claim %s failed: it lapses on its own", claim.key, exc_info=True)

    def _post_in_channel(self, client: WebClient, request: Request, channel: str) -> _Outcome:
        card = request_card(request)
        try:
            try:
                response = client.chat_postMessage(channel=channel, text=card["text"], blocks=card["blocks"])
            except SlackApiError as error:
                if error.response.get("error") != _NOT_IN:
                    raise
                # A public channel the bot is not in yet: join it, then post.
                client.conversations_join(channel=channel)
                response = client.chat_postMessage(channel=channel, text=card["text"], blocks=card["blocks"])
        except SlackApiError as error:
            reason = str(error.response.get("error") or "unknown error")
            log.warning("approvals channel %s of %s refused the card (%s)", channel, request.id, reason)
            if _passing(error):
                # Slack's side failed: nothing for anyone to fix, and the next pass tries again
                # (a note now would repeat at every failed try).
                return _Outcome.REFUSED
            member = reason in _UNSEEN or reason == _NOT_IN
            self._thread_note(
                client, request, invite_note(channel) if member else channel_refused_note(channel, reason)
            )
            return _Outcome.TOLD
        self._record(request, CardCopy(kind="channel", channel=channel, ts=str(response["ts"]), posted_at=self._at()))
        self._thread_note(client, request, approvals_note(channel))
        return _Outcome.POSTED

    def _post_in_dm(self, client: WebClient, request: Request, user: str) -> _Outcome:
        # A refused DM is only logged and its claim released: another delivery of the transition
        # repeats nothing anyone sees, so it may always try. Only a passing refusal is tried
        # again by the reconciler's pass; one about the approver would fail every minute.
        card = request_card(request)
        try:
            opened = client.conversations_open(users=user)
            dm = str((opened.get("channel") or {}).get("id") or user)
            response = client.chat_postMessage(channel=dm, text=card["text"], blocks=card["blocks"])
        except SlackApiError as error:
            reason = error.response.get("error")
            log.warning("could not DM the card of %s to approver %s (%s)", request.id, user, reason)
            return _Outcome.REFUSED if _passing(error) else _Outcome.DECLINED
        channel = str(response.get("channel") or dm)
        self._record(
            request, CardCopy(kind="dm", channel=channel, ts=str(response["ts"]), user=user, posted_at=self._at())
        )
        return _Outcome.POSTED

    def _update(self, client: WebClient, request: Request, copy: CardCopy) -> None:
        card = request_card(request)
        try:
            client.chat_update(channel=copy.channel, ts=copy.ts, text=card["text"], blocks=card["blocks"])
        except SlackApiError as error:
            # A copy deleted, or a channel the bot was removed from: the request's own card and
            # the other copies still show it; nothing to repost here.
            log.warning(
                "copy of the card of %s in %s cannot be updated (%s)", request.id, copy.channel, error.response["error"]
            )

    def _thread_note(self, client: WebClient, request: Request, text: str) -> None:
        slack = request.slack
        if slack is None or not slack.ts:
            return
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        client.chat_postMessage(channel=slack.channel, thread_ts=slack.ts, text=text[:300], blocks=blocks)

    def _at(self) -> datetime:
        return self._now()

    def _record(self, request: Request, copy: CardCopy) -> None:
        # An engine command (``RequestService.record_card_copies``), never a write of our own.
        if self._record_copies is None:
            return
        try:
            self._record_copies(request.id, [copy])
        except Exception:
            log.exception("recording the card copy of %s in %s failed", request.id, copy.channel)


def _passing(error: SlackApiError) -> bool:
    """Whether Slack's refusal may not recur (its side failed, or it was rate limited) rather
    than being about the channel (membership, archived, a scope): worth another try."""
    status = getattr(error.response, "status_code", None)
    passing_status = isinstance(status, int) and (status >= 500 or status == 429)
    return passing_status or error.response.get("error") in _PASSING
