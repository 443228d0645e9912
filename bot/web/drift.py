"""Drift webhooks, called by the infra repo's scheduled drift workflow with ``x-tfpilot-secret``.

``GET /api/requests/drift-eligible`` pages through applied requests that still exist (not
destroyed, not archived), newest first, optionally for one project/environment (the workflow
asks per environment). ``POST /api/requests/{id}/drift-result`` validates the body as a
``DriftReport`` and hands it to ``DriftService.record``: stored on the request, logged as a
lifecycle event, and when drift is newly found the ``Notifier`` gets a ``drift_detected``
transition (the card is updated and a thread reply says what drifted; the Slack side renders it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from bot.web.auth import DriftSecret
from bot.web.body import ERROR_RESPONSES, ErrorOut
from bot.web.context import web_context
from core.domain.errors import RequestArchived, RequestNotFound
from core.domain.index import IndexRow, ListFilter, Page
from core.domain.lifecycle import derive_status
from core.domain.request import Drift
from core.domain.status import Status
from core.services.drift import DriftReport
from core.services.queries import MAX_PAGE

router = APIRouter(tags=["drift"], dependencies=[DriftSecret], responses=ERROR_RESPONSES)

REQUEST_ID_PATTERN = r"^req_[a-z0-9]{1,64}$"
RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, max_length=68, description="A TfPilot request id")]
NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"


class DriftEligiblePage(BaseModel):
    rows: list[IndexRow]
    cursor: str | None = None


class DriftResultOut(BaseModel):
    request_id: str
    status: str
    drift: Drift | None


def _bad_cursor(exc: ValueError) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc) or "invalid cursor")


@router.get("/api/requests/drift-eligible", response_model=DriftEligiblePage, summary="Requests to check for drift")
def drift_eligible(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    project: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    environment: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> DriftEligiblePage:
    ctx = web_context(request)
    try:
        page: Page
        if project is None and environment is None:
            page = ctx.deps.queries.drift_eligible(limit=limit, cursor=cursor)
        else:
            filters = ListFilter(status=frozenset({Status.APPLIED.value}), project=project, environment=environment)
            page = ctx.deps.queries.list(filters, limit, cursor)
    except ValueError as exc:
        raise _bad_cursor(exc) from None
    return DriftEligiblePage(rows=page.rows, cursor=page.cursor)


@router.post(
    "/api/requests/{request_id}/drift-result",
    response_model=DriftResultOut,
    summary="Record a drift check's result",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
async def drift_result(request: Request, request_id: RequestId, report: DriftReport) -> DriftResultOut:
    ctx = web_context(request)
    try:
        stored = await run_in_threadpool(ctx.deps.drift.record, request_id, report)
    except RequestNotFound:
        raise HTTPException(status_code=404, detail=f"request {request_id} not found") from None
    except RequestArchived:
        raise HTTPException(status_code=409, detail=f"request {request_id} is archived (destroyed)") from None
    return DriftResultOut(request_id=stored.id, status=derive_status(stored).value, drift=stored.drift)
