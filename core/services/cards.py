"""``CardCommands``: where a request's Slack card and its copies are, recorded through the engine.

The notifier posts the card (the parent message of the request's thread) and its copies where
approvers are, and hands where they went back as commands (``RequestService.record_card``,
``record_card_copies``): each one compare-and-swap through the store with the outbox pruned,
like every engine write, never a raw store write from ``bot/``. The mutations themselves are
pure (``card_at``, ``copies_added``), so a stand-in of a command applies the same change.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.request import CardCopy, Request
from core.ports.request_store import Mutation
from core.services.command_base import CommandBase


def card_at(ts: str) -> Mutation:
    """The change recording the card's ``ts`` (none when it is recorded or the request has no
    thread): a card posted again (the old one could not be edited) replaces the ts."""

    def mutate(request: Request) -> Request | None:
        if request.slack is None or request.slack.ts == ts:
            return None
        request.slack.ts = ts
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

    def _card_write(self, request_id: str, change: Mutation) -> Request:
        def mutate(request: Request) -> Request | None:
            self._bus.prune(request)
            return change(request)

        return self._store.update(request_id, mutate)
