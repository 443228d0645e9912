"""``WebContext``: what the side service's routes share, built once per app.

It holds the ``Deps`` graph, the webhook executor, the app's metrics, the optional Bolt handler
and reconciler, and lazily built helpers: the linked-accounts store and link-state signer (only
when ``TFPILOT_ENCRYPTION_KEY`` is set), the httpx client for GitHub's OAuth endpoints, and the
direct-message sender used to confirm a link. Routes reach it with ``web_context(request)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
from fastapi import Request

if TYPE_CHECKING:
    from bot.after_acks import AckGate
    from bot.deps import Deps
    from bot.settings import Settings
    from bot.web.executor import BoundedExecutor
    from bot.web.identities import LinkedAccounts
    from bot.web.link_state import LinkStates
    from bot.web.metrics import WebMetrics
    from bot.web.reconciler import Reconciler

T = TypeVar("T")
# (team_id, user_id, text): tell one Slack user something privately.
DirectMessage = Callable[[str | None, str, str], None]


class TtlCache(Generic[T]):
    """One value, recomputed when older than ``ttl`` seconds (per process, thread-safe)."""

    def __init__(self, ttl: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._now = monotonic
        self._lock = threading.Lock()
        self._value: tuple[float, T] | None = None

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            if self._value is not None and self._now() - self._value[0] < self._ttl:
                return self._value[1]
        value = compute()
        with self._lock:
            self._value = (self._now(), value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._value = None


@dataclass
class WebContext:
    deps: Deps
    executor: BoundedExecutor
    metrics: WebMetrics
    slack_handler: Any | None = None
    reconciler: Reconciler | None = None
    dm: DirectMessage | None = None
    # Marks each Slack ack in progress: the Bolt app's after-ack work waits on it.
    ack_gate: AckGate | None = None
    http_timeout: float = 10.0
    insights_ttl: float = 60.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)
    _accounts: LinkedAccounts | None = field(default=None, repr=False)
    _states: LinkStates | None = field(default=None, repr=False)
    insights_cache: TtlCache[Any] = field(init=False, repr=False)
    ready_cache: TtlCache[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.insights_cache = TtlCache(self.insights_ttl)
        self.ready_cache = TtlCache(5.0)

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    def _encryption_secret(self) -> str | None:
        key = self.settings.encryption_key
        return key.get_secret_value() if key is not None else None

    def linked_accounts(self) -> LinkedAccounts | None:
        """None when ``TFPILOT_ENCRYPTION_KEY`` is not set (tokens are never stored in clear)."""
        secret = self._encryption_secret()
        if secret is None:
            return None
        with self._lock:
            if self._accounts is None:
                from bot.web.identities import LinkedAccounts, fernet_from_setting

                self._accounts = LinkedAccounts(self.deps.objects, fernet_from_setting(secret))
            return self._accounts

    def link_states(self) -> LinkStates | None:
        secret = self._encryption_secret()
        if secret is None:
            return None
        with self._lock:
            if self._states is None:
                from bot.web.link_state import LinkStates

                self._states = LinkStates(secret, self.deps.objects)
            return self._states

    def http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.http_timeout, follow_redirects=False)
            return self._http

    def close(self) -> None:
        if self.reconciler is not None:
            self.reconciler.stop()
        self.executor.shutdown(wait=True)
        # Chat turns are written off the reply's path: give the last ones a moment to land.
        if self.deps.intake is not None:
            self.deps.intake.flush_chat_log(timeout=5)
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None


def web_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.tfpilot
    return ctx
