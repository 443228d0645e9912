"""Checking a body sent to ``/slack/events`` before anything parses it.

The v0 signature is checked first, over the raw bytes (slack_sdk's ``SignatureVerifier``,
5-minute window): an unsigned body is never parsed. A signed one is then parsed the way Bolt
will parse it (JSON when it says so or starts with ``{``, otherwise a form whose ``payload``
field may hold JSON), with bounds: the JSON must be an object nested at most ``MAX_DEPTH``
deep (a deeply nested document would otherwise exhaust the parser's recursion). A body that
fails either check is answered 401 or 400 with a short reason, never handed to Bolt.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

MAX_DEPTH = 32


class BadSlackBody(ValueError):
    """Why a body is refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify_signature(secret: str, body: bytes, headers: Any) -> None:
    """Raise ``BadSlackBody(401)`` unless ``body`` carries a valid, fresh v0 signature."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise BadSlackBody(401, "the request is not signed (X-Slack-Signature missing)")
    if not timestamp.isdigit():
        raise BadSlackBody(401, "X-Slack-Request-Timestamp is not a number")
    if not SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature):
        raise BadSlackBody(401, "invalid or expired Slack signature")


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
        return _json_object(text, "the body")
    try:
        form = {k: v[0] for k, v in parse_qs(text, strict_parsing=True, max_num_fields=1000).items() if v}
    except ValueError:
        raise BadSlackBody(400, "the body is neither JSON nor a form") from None
    if "payload" in form:
        return _json_object(form["payload"], "the form's payload")
    return form
