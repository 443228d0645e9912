"""``ChatLog``: every chat turn, redacted before storage, in its own bucket (or local dir)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ChatEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    session_id: str
    role: str  # user | assistant
    text: str
    timestamp: datetime
    team_id: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    user_id: str | None = None
    extractor: str | None = None  # openai | rules | None for assistant turns
    request_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ChatLog(Protocol):
    def append(self, entry: ChatEntry) -> None:
        """Store one turn, redacted. Never raises into the conversation."""
        ...

    def read(self, session_id: str) -> list[ChatEntry]:
        """The session's turns, oldest first."""
        ...
