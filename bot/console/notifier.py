"""``ConsoleNotifier``: the ``Notifier`` port for a terminal.

On every transition it prints what Slack would show: the request's card (rebuilt by the same
Block Kit builders the Slack notifier uses, rendered by the console ``Presenter``) and the short
thread reply under it. It remembers each request's latest card and its numbered buttons, so the
chat console can let a person "click" them. Writes are serialised: runs finish on a worker
thread while the prompt waits for input.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.console.presenter import Presenter, Rendered
from bot.views.reasons import transition_text
from core.domain.lifecycle import derive_status
from core.domain.request import Request
from core.domain.status import meta
from core.ports.notifier import Transition

log = logging.getLogger(__name__)

CardBuilder = Callable[[Request], dict[str, Any]]
ReplyBuilder = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ViewBuilders:
    """The Block Kit builders to render with: the Slack views, or the plain fallback."""

    card: CardBuilder
    reply: ReplyBuilder


def fallback_card(request: Request) -> dict[str, Any]:
    m = meta(derive_status(request))
    lines = [
        f"{m.emoji} *{m.label}*  `{request.id}`",
        f"{request.module} in {request.project}/{request.environment}",
    ]
    if request.pr_url:
        lines.append(f"PR: {request.pr_url}")
    return {"text": lines[0], "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def fallback_reply(request: Request, transition: Transition, **_: Any) -> dict[str, Any]:
    text = f"{transition.event}: {transition.previous_status or '-'} → {transition.status}"
    said = transition_text(transition)
    if said:
        text += f"\n> {said}"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def slack_builders() -> ViewBuilders:
    """The Slack Block Kit builders (``bot.views``), or the plain fallback when unavailable."""
    try:
        from bot.views.card import request_card
        from bot.views.replies import transition_reply
    except ImportError:  # pragma: no cover - the views ship with the bot
        return ViewBuilders(fallback_card, fallback_reply)
    return ViewBuilders(request_card, transition_reply)


@dataclass
class Printed:
    """One notification as printed: for the chat console's buttons and the demo's summary."""

    request_id: str
    event: str
    status: str
    card: Rendered
    reply: Rendered


@dataclass
class _Cards:
    latest: dict[str, Rendered] = field(default_factory=dict)
    history: list[Printed] = field(default_factory=list)


class ConsoleNotifier:
    def __init__(
        self,
        out: TextIO,
        builders: ViewBuilders | None = None,
        *,
        presenter: Presenter | None = None,
        approvers: Sequence[str] = (),
        show_card: Callable[[Transition], bool] | None = None,
        prompt: Callable[[], str | None] | None = None,
    ) -> None:
        self._out = out
        self._builders = builders or slack_builders()
        self._presenter = presenter or Presenter()
        self._approvers = list(approvers)
        self._show_card = show_card or (lambda _t: True)
        # The prompt a person is looking at while a background run reports (None: no prompt
        # showing): the card goes below it on a fresh line and the prompt is printed again.
        self.prompt = prompt
        self._lock = threading.RLock()
        self._cards = _Cards()

    @property
    def lock(self) -> threading.RLock:
        """Held while printing; the console takes it too so prompts and cards do not interleave."""
        return self._lock

    @property
    def history(self) -> list[Printed]:
        with self._lock:
            return list(self._cards.history)

    def latest_card(self, request_id: str) -> Rendered | None:
        with self._lock:
            return self._cards.latest.get(request_id)

    def show(self, request: Request) -> Rendered:
        """Print the request's current card (no thread reply) and remember its buttons."""
        try:
            payload = self._builders.card(request)
        except Exception:
            log.exception("card builder failed; using the plain card")
            payload = fallback_card(request)
        p = self._presenter
        with self._lock:
            card = p.render(payload)
            self._write(self._boxed(request.id, derive_status(request).value, card))
            self._cards.latest[request.id] = card
        return card

    def _boxed(self, request_id: str, label: str, card: Rendered) -> list[str]:
        p = self._presenter
        title = f" card {request_id} · {label} "
        lines = [p.dim("┌" + title + "─" * max(p.width - len(title) - 1, 3))]
        lines += [p.dim("│ ") + line for line in card.text.splitlines()]
        lines.append(p.dim("└" + "─" * (p.width - 1)))
        return lines

    def _write(self, lines: list[str]) -> None:
        pending = self.prompt() if self.prompt is not None else None
        text = "\n".join(lines) + "\n"
        if pending is not None:
            text = "\n" + text + pending
        self._out.write(text)
        self._out.flush()

    def request_changed(self, request: Request, transition: Transition) -> None:
        try:
            self._print(request, transition)
        except Exception:  # the port promises never to raise into the flow
            log.exception("console notification failed for %s", request.id)

    def _build(self, request: Request, transition: Transition) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            card = self._builders.card(request)
        except Exception:
            log.exception("card builder failed; using the plain card")
            card = fallback_card(request)
        try:
            reply = self._builders.reply(request, transition, approvers=self._approvers)
        except Exception:
            log.exception("reply builder failed; using the plain reply")
            reply = fallback_reply(request, transition)
        return card, reply

    def _print(self, request: Request, transition: Transition) -> None:
        card_payload, reply_payload = self._build(request, transition)
        p = self._presenter
        with self._lock:
            card = p.render(card_payload)
            reply = p.render(reply_payload, number_from=len(card.choices) + 1)
            lines = self._boxed(request.id, transition.event, card) if self._show_card(transition) else []
            lines += ["  ↳ " + line if i == 0 else "    " + line for i, line in enumerate(reply.text.splitlines())]
            self._write(lines)
            self._cards.latest[request.id] = card
            self._cards.history.append(Printed(request.id, transition.event, transition.status, card, reply))
