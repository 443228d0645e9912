"""Action ids, callback ids and the compact values buttons and modals carry.

Builders and listeners share these names, so a renamed button can never silently stop
matching its listener. Values are small JSON documents, decoded defensively: they come back
from Slack inside user-triggered payloads and are validated like any external input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.domain.ids import is_request_id
from core.domain.policy import Action

# Request card buttons: "req:<action>" (approve, merge, apply, destroy, replan, update).
CARD_ACTION_PREFIX = "req:"
CARD_ACTION_RE = re.compile(r"^req:(approve|merge|apply|destroy|replan|update)$")
# Intake replies.
CHOICE_ACTION_PREFIX = "intake:choice:"
CHOICE_ACTION_RE = re.compile(r"^intake:choice:\d+$")
SELECT_ACTION = "intake:select"
FORM_ACTION = "intake:form"
# Links (buttons with a url still send an interaction payload, which we acknowledge).
LINK_ACTION_RE = re.compile(r"^link:.*$")
# Modals.
INTAKE_FORM_CALLBACK = "intake_form"
EDIT_FORM_CALLBACK = "edit_form"
DESTROY_CONFIRM_CALLBACK = "destroy_confirm"
DESTROY_CONFIRM_BLOCK = "confirm_id"
DESTROY_CONFIRM_INPUT = "value"


def card_action_id(action: Action) -> str:
    return f"{CARD_ACTION_PREFIX}{action.value}"


def action_of(action_id: str) -> Action | None:
    match = CARD_ACTION_RE.match(action_id or "")
    return Action(match.group(1)) if match else None


@dataclass(frozen=True)
class CardRef:
    """What a card button carries: the request and the version of the card it was rendered at.

    The version makes an intent key: two clicks on the same rendering are one intent."""

    request_id: str
    version: int

    def encode(self) -> str:
        return json.dumps({"r": self.request_id, "v": self.version}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None) -> CardRef | None:
        doc = _json_object(raw)
        if doc is None:
            return None
        request_id, version = doc.get("r"), doc.get("v")
        if not isinstance(request_id, str) or not is_request_id(request_id):
            return None
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            return None
        return cls(request_id, version)


@dataclass(frozen=True)
class ThreadRef:
    """An intake conversation: team, channel and the thread's parent ts."""

    team_id: str | None
    channel: str
    thread_ts: str

    def as_list(self) -> list[str | None]:
        return [self.team_id, self.channel, self.thread_ts]

    @classmethod
    def from_list(cls, value: Any) -> ThreadRef | None:
        if not isinstance(value, list) or len(value) != 3:
            return None
        team, channel, ts = value
        if team is not None and not isinstance(team, str):
            return None
        if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not _TS_RE.match(ts):
            return None
        return cls(team, channel, ts)


_TS_RE = re.compile(r"^\d{1,12}\.\d{1,9}$")


def is_ts(value: Any) -> bool:
    return isinstance(value, str) and bool(_TS_RE.match(value))


def _json_object(raw: str | None) -> dict[str, Any] | None:
    if not raw or len(raw) > 4000:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def decode_json_object(raw: str | None) -> dict[str, Any] | None:
    """A JSON object from a button value or private_metadata, or None when malformed."""
    return _json_object(raw)
