"""Commands the services accept: validated intents from Slack, the console or the API.

``CreateRequest`` is what the assistant hands the core once a request is confirmed. Its
idempotency key (given, or derived from the command itself) names the intent: a retried create
with the same key finds the same request id and never opens a second branch, PR or plan run.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.domain.ids import is_request_id
from core.domain.policy import Actor
from core.domain.request import Requester, SlackThread

# Names become paths and labels further down; the registry checks them again, this is the
# first, cheap gate so a bad value never travels.
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces: Slack action ids, UUIDs
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_CONFIG_BYTES = 64 * 1024


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def digest(value: Any) -> str:
    """A stable hex digest of a JSON-able value (sorted keys), for derived keys."""
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def request_id_for_key(key: str) -> str:
    """The request id a create with idempotency ``key`` gets: same key, same id, every time."""
    number = int.from_bytes(hashlib.sha256(("tfpilot-request:" + key).encode()).digest()[:16], "big")
    chars = []
    for _ in range(12):
        number, rest = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rest])
    return "req_" + "".join(chars)


class CreateRequest(BaseModel):
    """A confirmed request to create infrastructure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str
    environment: str
    module: str
    config: dict[str, Any] = Field(default_factory=dict)
    requester: Requester
    idempotency_key: str | None = None
    request_id: str | None = None
    slack: SlackThread | None = None
    source: str = "slack"
    # The conversation that produced the request (its chat log session), kept on the request as
    # ``chatSessionId`` for the audit export.
    chat_session_id: str | None = None

    @field_validator("project", "environment", "module")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not is_request_id(value):
            raise ValueError("a request id is 'req_' followed by 6-32 lowercase letters or digits")
        return value

    @field_validator("idempotency_key", "chat_session_id")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not _KEY_RE.match(value):
            raise ValueError("use 1-200 printable ASCII characters without spaces")
        return value

    @field_validator("config")
    @classmethod
    def _config_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(_canonical(value)) > MAX_CONFIG_BYTES:
            raise ValueError(f"the config is larger than {MAX_CONFIG_BYTES // 1024} KiB")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("source is a short lowercase word (slack, console, api)")
        return value

    def key(self) -> str:
        """The idempotency key: the given one, else a digest of what makes the intent."""
        if self.idempotency_key:
            return self.idempotency_key
        thread = self.slack.to_doc() if self.slack else None
        return "create:" + digest(
            {
                "project": self.project,
                "environment": self.environment,
                "module": self.module,
                "config": self.config,
                "requester": self.requester.id,
                "thread": {k: thread.get(k) for k in ("teamId", "channel", "ts")} if thread else None,
                "requestId": self.request_id,
            }
        )

    def resolved_request_id(self) -> str:
        """The id the request gets: the given one, else derived from the idempotency key."""
        return self.request_id or request_id_for_key(self.key())

    def actor(self) -> Actor:
        return actor_of(self.requester)


def actor_of(requester: Requester) -> Actor:
    return Actor(
        id=requester.id,
        email=requester.email,
        name=requester.name,
        github_login=requester.github_login,
    )
