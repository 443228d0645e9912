"""Retries of Slack Web API calls: slack_sdk's retry handlers, bounded, on every ``WebClient``
the bot builds (``bot.slack_notifier.web_client``; Bolt copies them into each per-request
client, so OAuth mode's per-installation clients retry the same way).

- HTTP 429: wait ``Retry-After`` (plus up to a second of jitter) and retry, at most
  ``RATE_LIMIT_RETRIES`` times; a ``Retry-After`` beyond ``MAX_RETRY_AFTER_SECONDS`` is not
  waited for (a card update minutes late helps nobody, and a worker thread would be held).
- HTTP 500/503: retry with exponential backoff, ``SERVER_ERROR_RETRIES`` times.
- A connection reset / refused / unreachable: the same, ``CONNECTION_ERROR_RETRIES`` times.

slack_sdk counts retries per call across handlers (a 429 then a 500 is two retries), so a call
makes at most ``1 + max(...)`` attempts. Each retry is logged with the API method and the
reason only: never a token, header or body. When the handlers give up, the call raises as it
would without them and the caller logs that.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CONNECTION_ERROR_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 30.0
BACKOFF_FACTOR_SECONDS = 0.5

Sleep = Callable[[float], None]


def pause(seconds: float) -> None:
    """How the handlers wait (a module function so that tests can record the waits)."""
    time.sleep(seconds)


def api_method(request: HttpRequest) -> str:
    """The Web API method of ``request`` (``chat.update``), for logs: never its query or body."""
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def retry_after(response: HttpResponse) -> float | None:
    """``Retry-After`` in seconds; None when absent or unreadable."""
    headers: Mapping[str, Any] = response.headers or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def _reason(response: HttpResponse | None, error: Exception | None) -> str:
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(error).__name__ if error is not None else "error"


class _Logged(RetryHandler):
    """Logs each retry (method, reason, wait) and waits through ``sleep``."""

    def __init__(self, max_retry_count: int, *, sleep: Sleep | None = None, **kwargs: Any) -> None:
        super().__init__(max_retry_count=max_retry_count, **kwargs)
        self._sleep = sleep

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float:
        return float(self.interval_calculator.calculate_sleep_duration(state.current_attempt))

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self._wait(state, response)
        log.info(
            "slack %s: %s, retry %d of at most %d in %.1fs",
            api_method(request),
            _reason(response, error),
            state.current_attempt + 1,
            self.max_retry_count,
            wait,
        )
        (self._sleep or pause)(wait)
        state.next_attempt_requested = True
        state.increment_current_attempt()


class BoundedRateLimitRetryHandler(_Logged, RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, refusing to wait more than ``max_wait`` seconds."""

    def __init__(
        self, max_retry_count: int = RATE_LIMIT_RETRIES, *, max_wait: float = MAX_RETRY_AFTER_SECONDS, **kwargs: Any
    ) -> None:
        super().__init__(max_retry_count, **kwargs)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        assert response is not None  # a 429 has a response
        wait = retry_after(response)
        if wait is not None and wait > self.max_wait:
            log.warning(
                "slack %s: rate limited for %.0fs, more than the %.0fs TfPilot waits: not retried",
                api_method(request),
                wait,
                self.max_wait,
            )
            return False
        return True

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float:
        wait = retry_after(response) if response is not None else None
        return (1.0 if wait is None else wait) + random.random()  # noqa: S311 - jitter, not security


class LoggedServerErrorRetryHandler(_Logged, ServerErrorRetryHandler):
    """slack_sdk's 500/503 handler with exponential backoff."""


class LoggedConnectionErrorRetryHandler(_Logged, ConnectionErrorRetryHandler):
    """slack_sdk's connection error handler with exponential backoff."""


def slack_retry_handlers(
    *,
    sleep: Sleep | None = None,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
    server_error_retries: int = SERVER_ERROR_RETRIES,
    connection_error_retries: int = CONNECTION_ERROR_RETRIES,
    max_wait: float = MAX_RETRY_AFTER_SECONDS,
) -> list[RetryHandler]:
    """The handlers every TfPilot ``WebClient`` gets (``sleep``: tests record the waits)."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=BACKOFF_FACTOR_SECONDS)
    return [
        BoundedRateLimitRetryHandler(rate_limit_retries, max_wait=max_wait, sleep=sleep),
        LoggedServerErrorRetryHandler(server_error_retries, sleep=sleep, interval_calculator=backoff),
        LoggedConnectionErrorRetryHandler(connection_error_retries, sleep=sleep, interval_calculator=backoff),
    ]
