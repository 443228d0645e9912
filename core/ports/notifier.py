"""``Notifier``: tells people a request changed (Slack card + thread reply, or the console)."""

from __future__ import annotations

from typing import Protocol

from core.domain.events import Transition
from core.domain.request import Request

__all__ = ["Notifier", "Transition"]


class Notifier(Protocol):
    def request_changed(self, request: Request, transition: Transition) -> None:
        """Update the request's card and post a short thread reply. Must not raise."""
        ...
