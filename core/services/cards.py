"""``CardCommands``: where a request's Slack card is, recorded through the engine.

The notifier posts the card (the parent message of the request's thread) and hands its ``ts``
back as a command (``RequestService.record_card``): one compare-and-swap through ``Operations``
(outbox kept, like every engine write), never a raw store write from ``bot/``. The mutation
itself is ``card_at`` (pure), so a stand-in of the command applies the same change.
"""

from __future__ import annotations

from core.domain.request import Request
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


class CardCommands(CommandBase):
    def record_card(self, request_id: str, ts: str) -> Request:
        """Record the ``ts`` of the request's card (idempotent).

        Called by the notifier while the bus runs a notice: the write prunes the events handled
        (as every engine write) but runs none itself, since the bus is still going through that
        document's events in order (and the notifier holds the request's card lock)."""
        record = card_at(ts)

        def mutate(request: Request) -> Request | None:
            self._bus.prune(request)
            return record(request)

        return self._store.update(request_id, mutate)
