"""Checking a body sent to ``/slack/events`` before Bolt dispatches it, and parsing it once.

The v0 signature is checked first, over the raw bytes (HMAC-SHA256, constant-time compare,
5-minute window): an unsigned body is never parsed. A signed one is then parsed by Bolt's own
rules (``slack_bolt.request.internals.parse_body``: JSON when the content type is
``application/json`` or the body starts with ``{``, otherwise a form whose ``payload`` field
holds JSON), strictly and with bounds: the JSON must be an object nested at most ``MAX_DEPTH``
deep, and the envelope fields Bolt and the listeners read must have the JSON type Slack sends.
A body that fails is answered 401 or 400 with a short reason, never handed to Bolt; one that
passes is handed to Bolt already parsed (``SlackBody.bolt_request``), so it is parsed once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

MAX_DEPTH = 32
SIGNATURE_WINDOW_SECONDS = 5 * 60
# The envelope fields Bolt and our listeners read, by the JSON type Slack sends them as: a
# signed body with another type there is refused rather than left to fail inside a listener.
_OBJECTS = ("event", "team", "view", "container", "channel", "message", "enterprise", "state")
# Of those, the ones Slack sends as null when absent (outside Enterprise Grid, an org-wide
# install); Bolt reads the others with ``body.get(name, {}).get(...)``, which a null breaks.
_NULLABLE = ("team", "enterprise")
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


def nesting(value: Any) -> int:
    """How deeply the lists and dicts of a parsed JSON ``value`` nest (0 for a scalar); the walk
    stops as soon as it passes ``MAX_DEPTH``."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                break
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def _json_object(text: str, what: str) -> dict[str, Any]:
    too_deep = BadSlackBody(400, f"{what} nests deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(text)
    except RecursionError:
        # json's decoder recurses per level: a document nested past the interpreter's limit.
        raise too_deep from None
    except ValueError:
        raise BadSlackBody(400, f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadSlackBody(400, f"{what} is not a JSON object")
    if nesting(doc) > MAX_DEPTH:
        raise too_deep
    return doc


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=1000)
    except ValueError:
        raise BadSlackBody(400, "the body is neither JSON nor a form") from None
    return dict(pairs)


class SlackBody(NamedTuple):
    """A signed body that passed the checks: its text and the envelope Bolt would parse from it."""

    text: str
    envelope: dict[str, Any]


def parse_slack_body(body: bytes, content_type: str) -> SlackBody:
    """The envelope, parsed as Bolt parses it (the same dict), or ``BadSlackBody(400)``
    saying what is wrong with the body. Stricter than Bolt, never looser: a form must be
    well formed, JSON must be an object within ``MAX_DEPTH``, the envelope well typed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSlackBody(400, "the body is not UTF-8") from None
    if not text.strip():
        raise BadSlackBody(400, "the body is empty")
    # Bolt's rule: JSON when the media type (before any ";") is exactly application/json or
    # the body starts with "{"; otherwise a form, whose "payload" field holds the JSON envelope
    # of an interaction. (Bolt itself looks for the word "payload" anywhere in the body, so a
    # slash command whose text says "payload" reached it as an empty envelope: handing it the
    # form we parsed, it gets the command.)
    if content_type.split(";", maxsplit=1)[0] == "application/json" or text.startswith("{"):
        return SlackBody(text, _shaped(_json_object(text, "the body")))
    form = _form(text)
    payload = form.get("payload")
    if payload is None:
        return SlackBody(text, form)
    return SlackBody(text, _shaped(_json_object(payload, "the form's payload")))


def _shaped(doc: dict[str, Any]) -> dict[str, Any]:
    # null is what Slack sends for an absent team or enterprise (``"enterprise": null`` outside
    # Enterprise Grid): Bolt and the listeners read it as absent.
    for name in _OBJECTS:
        if name in doc and not isinstance(doc[name], dict) and not (doc[name] is None and name in _NULLABLE):
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
