"""``QueryService``: read-only views of requests: one, a page, the KPIs, drift candidates, audit.

Listing, metrics and drift eligibility read the store's index rows, never N documents. The audit
export gathers one request's whole trail (document, lifecycle events, chat turns of the
conversation that produced it, links to its PR and runs) into one validated model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.domain.index import ListFilter, Page
from core.domain.lifecycle import derive_status
from core.domain.metrics import OpsMetrics, build_ops_metrics
from core.domain.request import Request
from core.domain.status import Status
from core.domain.workflows import REQUEST_RUN_KINDS
from core.ports.audit import AuditLog, LifecycleEvent
from core.ports.chat_log import ChatEntry, ChatLog
from core.ports.clock import Clock
from core.ports.request_store import RequestStore

MAX_PAGE = 200


class AuditLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str  # pull_request | cleanup_pr | plan_run | apply_run | destroy_run | slack_thread
    url: str
    label: str | None = None


class AuditExport(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    exported_at: datetime
    status: str
    request: dict[str, Any]
    events: list[LifecycleEvent] = Field(default_factory=list)
    chat_session_id: str | None = None
    chat: list[ChatEntry] = Field(default_factory=list)
    links: list[AuditLink] = Field(default_factory=list)


def links_of(request: Request) -> list[AuditLink]:
    links: list[AuditLink] = []
    if request.pr_url:
        number = request.pr_number
        links.append(AuditLink(kind="pull_request", url=request.pr_url, label=f"#{number}" if number else None))
    if request.cleanup_pr is not None and request.cleanup_pr.url:
        links.append(AuditLink(kind="cleanup_pr", url=request.cleanup_pr.url, label=f"#{request.cleanup_pr.number}"))
    for kind in REQUEST_RUN_KINDS:
        run = request.run(kind)
        if run is not None and run.url:
            links.append(AuditLink(kind=f"{kind}_run", url=run.url, label=run.conclusion or run.status))
    return links


class QueryService:
    def __init__(self, store: RequestStore, audit: AuditLog, chat_log: ChatLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._chat_log = chat_log
        self._clock = clock

    def get(self, request_id: str) -> Request:
        return self._store.get(request_id)

    def list(self, filters: ListFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return self._store.list(filters, max(1, min(limit, MAX_PAGE)), cursor)

    def insights(self, slack_team: str | None = None) -> OpsMetrics:
        """Ops metrics over every request, or over one Slack workspace's (and those not from
        Slack) when ``slack_team`` is given: App Home and ``/tfpilot insights`` show a workspace
        its own numbers only."""
        # Archived rows included: destroyed requests live in history/ and count as destroys.
        rows = self._store.rows(ListFilter(include_archived=True, slack_team=slack_team))
        return build_ops_metrics(rows, self._clock.now())

    def drift_eligible(self, limit: int = 100, cursor: str | None = None) -> Page:
        """Applied requests that still exist (not destroyed, not archived), newest first."""
        filters = ListFilter(status=frozenset({Status.APPLIED.value}))
        return self._store.list(filters, max(1, min(limit, MAX_PAGE)), cursor)

    def audit_export(self, request_id: str) -> AuditExport:
        request = self._store.get(request_id)
        session = request.chat_session_id
        chat = self._chat_log.read(session) if session else []
        if session is None and request.idempotency_key:
            # Without a chat session id, the idempotency key is tried as one (the assistant
            # names a create after its conversation).
            chat = self._chat_log.read(request.idempotency_key)
            session = request.idempotency_key if chat else None
        return AuditExport(
            request_id=request.id,
            exported_at=self._clock.now(),
            status=derive_status(request).value,
            request=request.to_doc(),
            events=self._audit.events(request_id),
            chat_session_id=session,
            chat=chat,
            links=links_of(request),
        )
