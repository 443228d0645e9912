"""``CardClaims``: one process posts a request's card, the others wait for its ts.

Before ``chat.postMessage`` of a card (the request's first, or one replacing a card Slack no
longer lets us edit) the notifier claims the post through the engine (``CardEngine.claim_card``,
a compare-and-swap on the request document). The process that holds the claim posts; another
one re-asks the engine (each ask re-reads the document through the core) every ``poll`` seconds
for at most ``wait`` seconds until the winner's ts is recorded, then updates that card. Still
nothing after ``wait`` (the winner is slow, died holding its claim, or posted but could not
record the ts yet: it keeps the claim and records it later, ``SlackNotifier._record_ts``):
``CardBusy`` is raised, the notifier records the notification as missed, and the render backlog
renders it later, when the ts is recorded or the dead owner's claim has lapsed
(``core.services.cards.CARD_CLAIM_TTL``).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.card_engine import CardEngine

log = logging.getLogger(__name__)


class CardBusy(RuntimeError):
    """Another process holds the post of the card and its ts did not come in time."""


class CardClaims:
    def __init__(
        self,
        *,
        wait: float = 8.0,
        poll: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Who this notifier is in the claims it writes (the pid helps reading a document).
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._wait = wait
        self._poll = poll
        self._sleep = sleep
        self._monotonic = monotonic

    def turn(self, engine: CardEngine, request_id: str, *, replacing: str | None) -> str | None:
        """None when this process is to post the card; the ts of the card another posted.
        Raises ``CardBusy`` when another holds the post longer than ``wait``."""
        deadline = self._monotonic() + self._wait
        while True:
            turn = engine.claim_card(request_id, self.owner, replacing=replacing)
            if turn.post:
                return None
            if turn.ts is not None:
                return turn.ts
            if turn.held_until is None:
                return None  # nothing to claim (no Slack thread): nothing to wait for either
            if self._monotonic() >= deadline:
                raise CardBusy(f"the card of {request_id} is being posted by another process (until {turn.held_until})")
            self._sleep(self._poll)

    def release(self, engine: CardEngine, request_id: str) -> None:
        """Our post failed: let the next try post at once (a failure here only delays it)."""
        try:
            engine.release_card(request_id, self.owner)
        except Exception:
            log.warning("releasing the card claim of %s failed: it lapses on its own", request_id, exc_info=True)
