"""Slack's OAuth install flow (multi-workspace), when ``SLACK_CLIENT_ID``/``SECRET`` are set.

``GET /slack/install`` and ``GET /slack/oauth_redirect`` are Bolt's own ``OAuthFlow`` (state
store, ``oauth.v2.access``, installation store: ``bot.slack_oauth``), reached through
slack_bolt's Starlette adapter helpers and run in the threadpool (they call Slack and S3).
Without an OAuth-enabled Bolt app both answer 404.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from bot.slack_manifest import OAUTH_INSTALL_PATH as INSTALL_PATH
from bot.slack_manifest import OAUTH_REDIRECT_PATH as REDIRECT_PATH
from bot.web.body import ErrorOut
from bot.web.context import web_context

router = APIRouter(tags=["slack"])

_HTML: dict[str, object] = {"content": {"text/html": {}}}


def _flow(request: Request) -> object:
    handler = web_context(request).slack_handler
    flow = getattr(getattr(handler, "app", None), "oauth_flow", None)
    if flow is None:
        raise HTTPException(status_code=404, detail="Slack OAuth is not configured (SLACK_CLIENT_ID/SECRET)")
    return flow


@router.get(
    INSTALL_PATH,
    response_class=HTMLResponse,
    summary="Install TfPilot in a Slack workspace",
    responses={200: _HTML, 302: {"description": "to Slack's authorize page"}, 404: {"model": ErrorOut}},
)
async def slack_install(request: Request) -> Response:
    flow = _flow(request)
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

    bolt_response = await run_in_threadpool(flow.handle_installation, to_bolt_request(request, b""))  # type: ignore[attr-defined]
    return to_starlette_response(bolt_response)


@router.get(
    REDIRECT_PATH,
    response_class=HTMLResponse,
    summary="Slack's redirect back after installing",
    responses={200: _HTML, 400: _HTML, 404: {"model": ErrorOut}},
)
async def slack_oauth_redirect(request: Request) -> Response:
    flow = _flow(request)
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

    bolt_response = await run_in_threadpool(flow.handle_callback, to_bolt_request(request, b""))  # type: ignore[attr-defined]
    return to_starlette_response(bolt_response)
