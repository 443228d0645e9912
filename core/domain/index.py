"""Index rows: the compact projection of a request that listing, filtering and metrics read.

A row holds just what a list, a filter or the ops metrics need, so listing N requests never
reads N documents. Rows carry the document ``version``: merging keeps the newest, so a slow
writer can never roll a row back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator

from core.domain.lifecycle import derive_status
from core.domain.request import Request


class IndexRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    project: str
    environment: str
    module: str
    status: str
    requester: str | None = None
    requester_email: str | None = None
    received_at: datetime
    updated_at: datetime
    version: int
    archived: bool = False
    pr_number: int | None = None
    plan_conclusion: str | None = None
    plan_completed_at: datetime | None = None
    apply_conclusion: str | None = None
    apply_triggered_at: datetime | None = None
    applied_at: datetime | None = None
    apply_completed_at: datetime | None = None
    destroy_conclusion: str | None = None
    destroyed_at: datetime | None = None
    drift_detected: bool = False
    last_synced_at: datetime | None = None
    slack_team: str | None = None  # the Slack workspace the request belongs to (None: not from Slack)

    @classmethod
    def of(cls, request: Request) -> IndexRow:
        plan, apply, destroy = request.plan_run, request.apply_run, request.destroy_run
        return cls(
            id=request.id,
            project=request.project,
            environment=request.environment,
            module=request.module,
            status=derive_status(request).value,
            requester=request.requester.id if request.requester else None,
            requester_email=request.requester.email if request.requester else None,
            received_at=request.received_at,
            updated_at=request.updated_at,
            version=request.version,
            archived=request.archived_at is not None,
            pr_number=request.pr_number,
            plan_conclusion=plan.conclusion if plan else None,
            plan_completed_at=plan.completed_at if plan else None,
            apply_conclusion=apply.conclusion if apply else None,
            apply_triggered_at=request.apply_triggered_at,
            applied_at=request.applied_at,
            apply_completed_at=apply.completed_at if apply else None,
            destroy_conclusion=destroy.conclusion if destroy else None,
            destroyed_at=request.destroyed_at,
            drift_detected=bool(request.drift and request.drift.detected),
            last_synced_at=request.last_synced_at,
            slack_team=request.slack.team_id if request.slack else None,
        )


class ListFilter(BaseModel):
    """Filters for listing; every field optional, all given ones must match."""

    model_config = ConfigDict(frozen=True)

    project: str | None = None
    environment: str | None = None
    module: str | None = None
    status: frozenset[str] | None = None
    requester: str | None = None  # Slack user id or email
    since: datetime | None = None  # received_at >= since
    until: datetime | None = None  # received_at < until
    include_archived: bool = False
    # A Slack workspace sees its own requests and those made outside Slack, never another's.
    slack_team: str | None = None

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # Rows are compared in UTC; a naive bound is read as UTC rather than failing to compare.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def matches(self, row: IndexRow) -> bool:
        if self.project is not None and row.project != self.project:
            return False
        if self.environment is not None and row.environment != self.environment:
            return False
        if self.module is not None and row.module != self.module:
            return False
        if self.status is not None and row.status not in self.status:
            return False
        if self.requester is not None:
            who = self.requester.lower()
            if who not in {(row.requester or "").lower(), (row.requester_email or "").lower()}:
                return False
        if self.slack_team is not None and row.slack_team not in (None, self.slack_team):
            return False
        if self.since is not None and row.received_at < self.since:
            return False
        if self.until is not None and row.received_at >= self.until:
            return False
        return self.include_archived or not row.archived


class Page(BaseModel):
    """One page of a listing, newest first; ``cursor`` fetches the next page (None at the end)."""

    model_config = ConfigDict(frozen=True)

    rows: list[IndexRow]
    cursor: str | None = None
