"""Structured JSON logs with one correlation id per unit of work.

A ``ContextVar`` holds the id of what is being handled: an HTTP request (``http-…``, or the
caller's ``X-Request-Id`` when it is well formed), a GitHub delivery (``gh-<X-GitHub-Delivery>``)
or a Slack envelope (``slack-<event_id|trigger_id>``). ``CorrelationMiddleware`` sets it per
HTTP request and echoes it in the ``X-Request-Id`` response header; ``correlation()`` rebinds it
for a delivery or envelope; ``CorrelationFilter`` stamps it on every record and ``JsonFormatter``
writes one JSON object per line. Access lines carry method, path (never the query string: OAuth
codes and states travel there), status and duration; no route logs a body or a header value.
The formatter also runs every message through ``core.domain.redaction.redact`` so a token that
slips into an exception text is still masked.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

from core.domain.redaction import is_secret_key, redact

CORRELATION: contextvars.ContextVar[str | None] = contextvars.ContextVar("tfpilot_correlation_id", default=None)
REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_HANDLER_MARK = "_tfpilot_json_handler"
ACCESS_LOGGER = "tfpilot.web.access"

# LogRecord attributes that are not "extra" fields.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "correlation_id",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def current_correlation_id() -> str | None:
    return CORRELATION.get()


def new_correlation_id(prefix: str = "http") -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def safe_id(value: str | None) -> str | None:
    """``value`` when it is a short id of safe characters (it ends up in logs and headers)."""
    if value is None:
        return None
    value = value.strip()
    return value if _SAFE_ID.match(value) else None


@contextlib.contextmanager
def correlation(correlation_id: str) -> Iterator[str]:
    """Bind ``correlation_id`` for the enclosed work (this thread or task only)."""
    token = CORRELATION.set(correlation_id)
    try:
        yield correlation_id
    finally:
        CORRELATION.reset(token)


class CorrelationFilter(logging.Filter):
    """Stamps ``record.correlation_id`` from the context (keeps one set explicitly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = CORRELATION.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, correlation_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "correlation_id": getattr(record, "correlation_id", None) or CORRELATION.get(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_") or key in doc:
                continue
            if is_secret_key(key):
                doc[key] = "[redacted]"
            elif isinstance(value, bool | int | float) or value is None:
                doc[key] = value
            else:
                doc[key] = redact(str(value))
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(level: str | int = "INFO", *, stream: IO[str] | None = None) -> logging.Handler:
    """Route the root logger to one JSON handler (idempotent: a second call reuses it)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            root.setLevel(level)
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class CorrelationMiddleware:
    """Pure ASGI middleware: one correlation id per HTTP request, echoed as ``X-Request-Id``,
    and one access log line (method, path, status, duration; no query string, no body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers") or ():
            if name.lower() == REQUEST_ID_HEADER.encode():
                incoming = safe_id(value.decode("latin-1"))
                break
        cid = incoming or new_correlation_id("http")
        status = {"code": 500}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message.get("status", 500))
                headers = list(message.get("headers") or [])
                # A route that rebound the id (a delivery, an envelope) has already set its own.
                if not any(name.lower() == REQUEST_ID_HEADER.encode() for name, _ in headers):
                    headers.append((REQUEST_ID_HEADER.encode(), cid.encode()))
                message["headers"] = headers
            await send(message)

        token = CORRELATION.set(cid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.log.info(
                "%s %s %s",
                scope.get("method", "-"),
                scope.get("path", "-"),
                status["code"],
                extra={
                    "http_method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status["code"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            CORRELATION.reset(token)


def slack_envelope_id(body: dict[str, Any]) -> str | None:
    """The id of one Slack envelope: the Events API ``event_id``, else an interaction's or a
    command's ``trigger_id``, else a view id (only safe characters are kept)."""
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and safe_id(value):
            return value
    view = body.get("view")
    if isinstance(view, dict) and isinstance(view.get("id"), str) and safe_id(view["id"]):
        return str(view["id"])
    return None


def bolt_correlation_middleware(body: dict[str, Any], next: Callable[[], Any]) -> Any:
    """A Bolt global middleware (``app.use(bolt_correlation_middleware)``) binding the envelope's
    correlation id while Bolt handles it (Socket Mode has no HTTP request to carry one)."""
    envelope = slack_envelope_id(body) if isinstance(body, dict) else None
    if envelope is None:
        return next()
    with correlation(f"slack-{envelope}"):
        return next()
