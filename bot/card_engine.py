"""``CardEngine``: the engine commands the Slack notifier hands its posts to.

The notifier never writes (nor reads) a request document: the claim on the card's post (so two
processes never both post it), and where it posted the card and its copies, go through these
commands, each one compare-and-swap of the request engine (``core.services.cards.CardCommands``;
``RequestService`` is one). The composition root connects them (``SlackNotifier.connect``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.domain.request import CardCopy
from core.services.cards import CardTurn


class CardEngine(Protocol):
    def record_card(self, request_id: str, ts: str) -> object:
        """Record the ts of the request's card (idempotent)."""
        ...

    def record_card_copies(self, request_id: str, copies: Sequence[CardCopy]) -> object:
        """Record copies of the card posted where approvers are (idempotent per destination)."""
        ...

    def claim_card(self, request_id: str, owner: str, *, replacing: str | None = None) -> CardTurn:
        """Claim the post of the card (a first one, or one replacing the card at ``replacing``)."""
        ...

    def release_card(self, request_id: str, owner: str) -> object:
        """End ``owner``'s claim (its post failed)."""
        ...
