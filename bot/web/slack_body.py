"""Checking a body sent to ``/slack/events`` before anything parses it.

The v0 signature is checked first, over the raw bytes (HMAC-SHA256, constant-time compare,
5-minute window): an unsigned body is never parsed. A signed one is then parsed the way Bolt
will parse it (JSON when it says so or starts with ``{``, otherwise a form whose ``payload``
field may hold JSON), with bounds: the JSON must be an object nested at most ``MAX_DEPTH``
deep (a deeply nested document would otherwise exhaust the parser's recursion). A body that
fails either check is answered 401 or 400 with a short reason, never handed to Bolt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs

MAX_DEPTH = 32
SIGNATURE_WINDOW_SECONDS = 5 * 60
# The envelope fields Bolt and our listeners read, by the JSON type Slack sends them as: a
# signed body with another type there is refused rather than left to fail inside a listener.
_OBJECTS = ("event", "team", "view", "container", "channel", "message", "enterprise", "state")
_STRINGS = ("type", "team_id", "event_id", "api_app_id", "trigger_id", "user_id", "channel_id", "command", "text")


class BadSlackBody(ValueError):
    """Why a body is refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify_signature(secret: str, body: bytes, headers: Any, *, now: float | None = None) -> None:
    """Raise ``BadSlackBody(401)`` unless ``body`` carries a valid v0 signature made within
    the last five minutes. The HMAC covers the raw bytes (a body need not even be UTF-8)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise BadSlackBody(401, "the request is not signed (X-Slack-Signature missing)")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSlackBody(401, "X-Slack-Request-Timestamp is not a number")
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        raise BadSlackBody(401, "the Slack signature is too old (or from the future)")
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v0={digest}", signature):
        raise BadSlackBody(401, "invalid Slack signature")


def json_depth(text: str) -> int:
    """How deeply the arrays and objects in JSON ``text`` nest (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _json_object(text: str, what: str) -> dict[str, Any]:
    if json_depth(text) > MAX_DEPTH:
        raise BadSlackBody(400, f"{what} nests deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(text)
    except ValueError:
        raise BadSlackBody(400, f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadSlackBody(400, f"{what} is not a JSON object")
    return doc


def parse_slack_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The envelope Bolt will see, or ``BadSlackBody(400)`` saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSlackBody(400, "the body is not UTF-8") from None
    if not text.strip():
        raise BadSlackBody(400, "the body is empty")
    # Bolt reads JSON when the content type says so or the body starts with "{" (its rule).
    if "application/json" in content_type or text.startswith("{"):
        return _shaped(_json_object(text, "the body"))
    try:
        form = {k: v[0] for k, v in parse_qs(text, strict_parsing=True, max_num_fields=1000).items() if v}
    except ValueError:
        raise BadSlackBody(400, "the body is neither JSON nor a form") from None
    if "payload" in form:
        return _shaped(_json_object(form["payload"], "the form's payload"))
    return form


def _shaped(doc: dict[str, Any]) -> dict[str, Any]:
    for name in _OBJECTS:
        if name in doc and not isinstance(doc[name], dict):
            raise BadSlackBody(400, f"`{name}` is not an object")
    for name in _STRINGS:
        if name in doc and not isinstance(doc[name], str):
            raise BadSlackBody(400, f"`{name}` is not a string")
    if "user" in doc and not isinstance(doc["user"], dict | str):
        raise BadSlackBody(400, "`user` is neither an object nor a string")
    actions = doc.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        raise BadSlackBody(400, "`actions` is not a list of objects")
    return doc
