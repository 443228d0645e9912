"""The read API (bearer token): list, one request, its audit export, the ops insights.

Listing reads index rows only (``QueryService.list``); filters map onto ``ListFilter``
(``status`` takes a comma-separated list). ``/api/metrics/insights`` is cached for 60 s per
process: it folds every index row. ``POST /github/link/unlink`` lives in ``linking``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from bot.web.auth import ApiToken
from bot.web.body import ERROR_RESPONSES, ErrorOut
from bot.web.context import web_context
from bot.web.drift import NAME_PATTERN, RequestId
from core.domain.errors import RequestNotFound
from core.domain.index import IndexRow, ListFilter
from core.domain.metrics import OpsMetrics
from core.domain.request import Request
from core.domain.status import Status
from core.services.queries import MAX_PAGE, AuditExport

router = APIRouter(tags=["requests"], dependencies=[ApiToken], responses=ERROR_RESPONSES)

_STATUSES = ", ".join(s.value for s in Status)
_KNOWN = frozenset(s.value for s in Status)


class RequestPage(BaseModel):
    rows: list[IndexRow]
    cursor: str | None = None


def _not_found(request_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"request {request_id} not found")


def _statuses(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    wanted: set[str] = set()
    for part in raw.split(","):
        word = part.strip().lower()
        if not word:
            continue
        if word not in _KNOWN:
            raise HTTPException(status_code=400, detail=f"unknown status {word[:40]!r}: use {_STATUSES}")
        wanted.add(word)
    return frozenset(wanted) or None


@router.get("/api/requests", response_model=RequestPage, summary="List requests (newest first)")
def list_requests(
    request: HttpRequest,
    project: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    environment: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    module: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    status: Annotated[str | None, Query(max_length=300, description=f"comma-separated: {_STATUSES}")] = None,
    requester: Annotated[str | None, Query(max_length=254, description="Slack user id or email")] = None,
    since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="received before (ISO 8601)")] = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RequestPage:
    ctx = web_context(request)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status_code=400, detail=f"{name} needs a timezone (e.g. 2026-01-01T00:00:00Z)")
    filters = ListFilter(
        project=project,
        environment=environment,
        module=module,
        status=_statuses(status),
        requester=requester or None,
        since=since,
        until=until,
        include_archived=include_archived,
    )
    try:
        page = ctx.deps.queries.list(filters, limit, cursor)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc) or "invalid cursor") from None
    return RequestPage(rows=page.rows, cursor=page.cursor)


@router.get(
    "/api/requests/{request_id}",
    response_model=Request,
    summary="One request document",
    responses={404: {"model": ErrorOut}},
)
def get_request(request: HttpRequest, request_id: RequestId) -> Request:
    ctx = web_context(request)
    try:
        return ctx.deps.queries.get(request_id)
    except RequestNotFound:
        raise _not_found(request_id) from None


@router.get(
    "/api/requests/{request_id}/audit",
    response_model=AuditExport,
    summary="Audit export: the request, its lifecycle events, chat turns, PR and run links",
    responses={404: {"model": ErrorOut}},
)
def get_audit(request: HttpRequest, request_id: RequestId) -> AuditExport:
    ctx = web_context(request)
    try:
        return ctx.deps.queries.audit_export(request_id)
    except RequestNotFound:
        raise _not_found(request_id) from None


@router.get("/api/metrics/insights", response_model=OpsMetrics, summary="Ops KPIs (cached 60 s)")
async def insights(request: HttpRequest) -> OpsMetrics:
    ctx = web_context(request)
    value: OpsMetrics = await run_in_threadpool(ctx.insights_cache.get, ctx.deps.queries.insights)
    return value
