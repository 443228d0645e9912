"""``IntakeSession``: the state of one guided conversation, keyed by (team, channel, thread).

It is plain data: the flow (``assistant.domain.flow``) computes the next session from the
current one, and ``IntakeService`` persists it under ``sessions/<team>/<channel>/<thread>.json``
with compare-and-swap, so any process can continue a conversation. ``config`` only ever holds
values that passed the registry's validation (defaults are applied at confirm, not stored).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Step = Literal["project", "environment", "module", "config", "confirm", "submitted", "cancelled"]
TERMINAL_STEPS: frozenset[str] = frozenset({"submitted", "cancelled"})
DEFAULT_TTL = timedelta(hours=24)
MAX_HISTORY = 30

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _safe_part(value: str | None) -> str:
    # Slack ids and thread timestamps are [A-Z0-9.]: anything else is replaced so a crafted
    # key can never climb out of the sessions/ prefix.
    cleaned = _SAFE.sub("_", value or "")[:100].strip(".")
    return cleaned or "_"


class ConversationKey(BaseModel):
    """Where a conversation lives: a Slack thread (or a console session)."""

    model_config = ConfigDict(frozen=True)

    team_id: str | None = None
    channel: str
    thread_ts: str

    @classmethod
    def console(cls, thread: str = "local") -> ConversationKey:
        """The key of a terminal conversation (``tfpilot chat``): no team, channel "console"."""
        return cls(team_id=None, channel="console", thread_ts=thread)

    def object_key(self) -> str:
        return f"sessions/{_safe_part(self.team_id)}/{_safe_part(self.channel)}/{_safe_part(self.thread_ts)}.json"


class Snapshot(BaseModel):
    """What "back" restores."""

    step: Step
    project: str | None = None
    environment: str | None = None
    module: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    pending_field: str | None = None


class IntakeSession(BaseModel):
    id: str  # idempotency key of the request this conversation creates
    key: ConversationKey
    user_id: str
    step: Step = "project"
    project: str | None = None
    environment: str | None = None
    module: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    pending_field: str | None = None  # the field the last question asked for
    errors: dict[str, str] = Field(default_factory=dict)  # last validation errors, by field
    explained: dict[str, str] = Field(default_factory=dict)  # the reason the last question gave, by field
    request_id: str | None = None  # reserved at confirm, the id the request is created with
    request_link: str | None = None
    confirmed_digest: str | None = None  # what the confirm step showed (submit needs a match)
    offered_optional: bool = False  # optional fields and presets offered once
    forced: list[str] = Field(default_factory=list)  # config values the environment's policy fixes
    terraform_shown: bool = False  # the full summary and Terraform were shown at this confirm step
    # The Terraform as last shown (in full or as changes): the next edit shows what changed since.
    last_terraform: str | None = None
    history: list[Snapshot] = Field(default_factory=list)
    turns: int = 0  # user messages seen
    last_extractor: str | None = None
    version: int = 0  # incremented on every save
    created_at: datetime
    updated_at: datetime
    expires_at: datetime

    @classmethod
    def start(
        cls, key: ConversationKey, user_id: str, *, session_id: str, now: datetime, ttl: timedelta = DEFAULT_TTL
    ) -> IntakeSession:
        return cls(id=session_id, key=key, user_id=user_id, created_at=now, updated_at=now, expires_at=now + ttl)

    @property
    def terminal(self) -> bool:
        return self.step in TERMINAL_STEPS

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def touch(self, now: datetime, ttl: timedelta = DEFAULT_TTL) -> None:
        self.updated_at = now
        self.expires_at = now + ttl

    def snapshot(self) -> Snapshot:
        return Snapshot(
            step=self.step,
            project=self.project,
            environment=self.environment,
            module=self.module,
            config=dict(self.config),
            pending_field=self.pending_field,
        )

    def remember(self) -> None:
        """Push the current state for "back" (bounded)."""
        snap = self.snapshot()
        if self.history and self.history[-1] == snap:
            return
        self.history = [*self.history, snap][-MAX_HISTORY:]

    def restore(self, snap: Snapshot) -> None:
        self.step = snap.step
        self.project = snap.project
        self.environment = snap.environment
        self.module = snap.module
        self.config = dict(snap.config)
        self.pending_field = snap.pending_field
        self.errors = {}
        self.confirmed_digest = None
