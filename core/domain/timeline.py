"""What a request's timeline records: a code and its data per line (``TimelineStep.code`` and
``data``), never words. The words are the views' (``bot/views/timeline_text.py``, one per code).
Documents written before the codes hold the words themselves in ``step``; they are shown as
they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.domain.request import TimelineStep


class TimelineCode(StrEnum):
    # data each code carries, when any, in the comment
    REQUEST_CREATED = "request_created"
    BRANCH_CREATED = "branch_created"
    TERRAFORM_COMMITTED = "terraform_committed"
    PR_OPENED = "pr_opened"
    CONFIG_UPDATED = "config_updated"  # revision
    PLAN_DISPATCHED = "plan_dispatched"
    APPLY_STARTED = "apply_started"
    DESTROY_STARTED = "destroy_started"
    RUN_CONCLUDED = "run_concluded"  # kind (plan/apply/destroy), conclusion
    APPROVED = "approved"  # by (the clicker's name)
    APPROVED_ON_GITHUB = "approved_on_github"  # by (a GitHub login)
    APPROVAL_DISMISSED = "approval_dismissed"  # by (a GitHub login)
    APPROVAL_VOIDED = "approval_voided"
    NEW_COMMIT = "new_commit"
    MERGED = "merged"
    PR_CLOSED = "pr_closed"
    DRIFT_RESOLVED = "drift_resolved"
    DESTROY_REQUESTED = "destroy_requested"
    DESTROY_FAILED = "destroy_failed"
    CLEANUP_PR_OPENED = "cleanup_pr_opened"
    CLEANUP_PR_MERGED = "cleanup_pr_merged"
    CLEANUP_PR_BLOCKED = "cleanup_pr_blocked"
    CLEANUP_OPENED_NO_PR = "cleanup_opened_no_pr"
    PREPARE_DESTROY_OPENED = "prepare_destroy_opened"
    REMOVAL_PR_OPENED = "removal_pr_opened"
    REMOVAL_PR_NEEDS_REVIEW = "removal_pr_needs_review"
    REMOVAL_PR_APPROVED = "removal_pr_approved"  # by (a GitHub login), absent when approved in Slack
    REMOVAL_PR_PLANNED = "removal_pr_planned"
    REMOVAL_PR_MERGED = "removal_pr_merged"
    REMOVAL_PR_BLOCKED = "removal_pr_blocked"


@dataclass(frozen=True)
class Line:
    """A timeline line to write: its code and data."""

    code: TimelineCode
    data: Mapping[str, Any] = field(default_factory=dict)


Said = TimelineCode | Line


def line(said: Said) -> Line:
    return said if isinstance(said, Line) else Line(said)


def step_of(
    said: Said,
    at: datetime,
    *,
    actor: str | None = None,
    status: str | None = None,
    message: str | None = None,
) -> TimelineStep:
    """The stored line: the code and its data, when and by whom, a run's conclusion as status."""
    said = line(said)
    return TimelineStep(code=said.code.value, data=dict(said.data), at=at, actor=actor, status=status, message=message)
