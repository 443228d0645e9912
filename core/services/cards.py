"""``CardCommands``: where a request's Slack card and its copies are, recorded through the engine.

The notifier posts the card (the parent message of the request's thread) and its copies where
approvers are, and hands where they went back as commands (``RequestService.record_card``,
``record_card_copies``): each one compare-and-swap through the store with the outbox pruned,
like every engine write, never a raw store write from ``bot/``. The mutations themselves are
pure (``card_at``, ``copies_added``, ``card_claimed``), so a stand-in of a command applies the
same change.

Two processes (replicas, or the bot and the web side service) may tell the first notice of one
request at once: before ``chat.postMessage`` the notifier claims the post (``claim_card``, a
``CardClaim`` written by compare-and-swap, so exactly one caller holds it). The others are told
to wait, and see the winner's ts once it is recorded (which clears the claim). A claim whose
owner died lapses after ``CARD_CLAIM_TTL``; a post that failed releases it at once
(``release_card``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.request import CardClaim, CardCopy, Request
from core.ports.request_store import Mutation
from core.services.command_base import CommandBase

# Longer than a post can take with the client's retries (three 429s of up to 30 s, two 5xx
# backoffs): a live owner keeps its claim; a dead one's lapses after this.
CARD_CLAIM_TTL = timedelta(minutes=2)


@dataclass(frozen=True)
class CardTurn:
    """What a claim on the card's post says to its caller: ``post`` (the claim is the caller's),
    or the ``ts`` of the card another posted (update that one), or neither: another holds the
    claim until ``held_until`` (wait for its ts), or the request has no Slack thread."""

    post: bool = False
    ts: str | None = None
    held_until: datetime | None = None


def card_at(ts: str) -> Mutation:
    """The change recording the card's ``ts`` and ending any claim on its post (none when it is
    recorded or the request has no thread): a card posted again (the old one could not be
    edited) replaces the ts."""

    def mutate(request: Request) -> Request | None:
        if request.slack is None or (request.slack.ts == ts and request.slack.claim is None):
            return None
        request.slack.ts = ts
        request.slack.claim = None
        return request

    return mutate


def _posted(request: Request, replacing: str | None) -> str | None:
    """The card's ts when one is posted and it is not the one the caller replaces."""
    ts = request.slack.ts if request.slack is not None else None
    return ts if ts and ts != replacing else None


def card_claimed(owner: str, *, replacing: str | None, now: datetime, until: datetime) -> Mutation:
    """The change giving ``owner`` the card's post (a first card, or one replacing the card at
    ``replacing``): none when the card is posted already, or another holds a live claim."""

    def mutate(request: Request) -> Request | None:
        slack = request.slack
        if slack is None or _posted(request, replacing) is not None:
            return None
        if slack.claim is not None and slack.claim.until > now:
            return None  # a live claim: another's (it posts), or ours already
        slack.claim = CardClaim(owner=owner, until=until)
        return request

    return mutate


def card_turn(request: Request, owner: str, *, replacing: str | None, now: datetime) -> CardTurn:
    """What the stored ``request`` says to ``owner`` after its claim (pure)."""
    posted = _posted(request, replacing)
    if posted is not None:
        return CardTurn(ts=posted)
    claim = request.slack.claim if request.slack is not None else None
    if claim is None:
        return CardTurn()
    if claim.owner == owner:
        return CardTurn(post=True)
    return CardTurn(held_until=claim.until if claim.until > now else None)


def claim_released(owner: str) -> Mutation:
    """The change ending ``owner``'s claim (none when it holds none)."""

    def mutate(request: Request) -> Request | None:
        if request.slack is None or request.slack.claim is None or request.slack.claim.owner != owner:
            return None
        request.slack.claim = None
        return request

    return mutate


def place_of(copy: CardCopy) -> tuple[str, str | None]:
    """Where a copy is, as destinations are named: (``channel``, the channel id) or (``dm``,
    the approver's user id): one copy per place."""
    return (copy.kind, copy.user if copy.kind == "dm" else copy.channel)


def copy_recorded(request: Request, kind: str, target: str) -> bool:
    """Whether ``request`` records a copy of its card at a destination: the approvals channel
    ``target`` (``kind="channel"``) or approver ``target``'s DM (``kind="dm"``)."""
    return any(place_of(copy) == (kind, target) for copy in request.card_copies)


def copies_added(copies: Sequence[CardCopy]) -> Mutation:
    """The change recording ``copies`` of the card (none when every destination already has
    one: the copy recorded first stays, a later one for the same place is not kept)."""

    def mutate(request: Request) -> Request | None:
        added = list(request.card_copies)
        for copy in copies:
            if all(place_of(copy) != place_of(kept) for kept in added):
                added.append(copy)
        if len(added) == len(request.card_copies):
            return None
        request.card_copies = added
        return request

    return mutate


class CardCommands(CommandBase):
    def record_card(self, request_id: str, ts: str) -> Request:
        """Record the ``ts`` of the request's card (idempotent).

        Called by the notifier while the bus runs a notice: the write prunes the events handled
        (as every engine write) but runs none itself, since the bus is still going through that
        document's events in order (and the notifier holds the request's card lock)."""
        return self._card_write(request_id, card_at(ts))

    def record_card_copies(self, request_id: str, copies: Sequence[CardCopy]) -> Request:
        """Record copies of the request's card posted where its approvers are (idempotent: a
        destination already recorded keeps its copy). Called by the notifier like
        ``record_card``, under the same card lock, with the same pruning."""
        return self._card_write(request_id, copies_added(copies))

    def claim_card(self, request_id: str, owner: str, *, replacing: str | None = None) -> CardTurn:
        """Claim the post of the request's card for ``owner`` (one compare-and-swap; none when
        the card is posted or another's claim is live): ``post`` when ``owner`` holds the claim,
        the ``ts`` when a card is posted (not the one at ``replacing``), else whose turn it is.
        Called again while waiting, it re-reads the document (and takes a lapsed claim)."""
        now = self._clock.now()
        change = card_claimed(owner, replacing=replacing, now=now, until=now + CARD_CLAIM_TTL)
        stored = self._card_write(request_id, change)
        return card_turn(stored, owner, replacing=replacing, now=now)

    def release_card(self, request_id: str, owner: str) -> Request:
        """End ``owner``'s claim on the card's post (its post failed): the next try need not wait
        for the claim to lapse."""
        return self._card_write(request_id, claim_released(owner))

    def _card_write(self, request_id: str, change: Mutation) -> Request:
        def mutate(request: Request) -> Request | None:
            self._bus.prune(request)
            return change(request)

        return self._store.update(request_id, mutate)
