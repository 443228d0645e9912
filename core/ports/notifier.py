"""``Notifier``: tells people a request changed (Slack card + thread reply, or the console)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from core.domain.protection import ApprovalStanding, MergeBlockReason
from core.domain.request import Request


class Transition(BaseModel):
    """What changed: the status move and the event that caused it."""

    model_config = ConfigDict(frozen=True)

    event: str  # created | plan_ready | failed | approved | merged | applying | applied |
    # destroying | destroyed | drift_detected | updated | planning | blocked |
    # approval_not_counted | merge_blocked | destroy_blocked
    previous_status: str | None
    status: str
    actor: str | None = None
    message: str | None = None
    run_url: str | None = None
    # approve: whether this approval satisfies the base branch's required reviews.
    approval: ApprovalStanding | None = None
    # merge_blocked / destroy_blocked: the lasting reason GitHub refused the merge.
    blocked: MergeBlockReason | None = None
    required_approvals: int = 0


class Notifier(Protocol):
    def request_changed(self, request: Request, transition: Transition) -> None:
        """Update the request's card and post a short thread reply. Must not raise."""
        ...
