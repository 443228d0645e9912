"""``POST /slack/events``: Slack's Events API, interactivity and slash commands, in HTTP mode.

The body is read with a 1 MiB cap, the envelope's id (``event_id``/``trigger_id``) becomes the
correlation id, and the request goes to the Bolt app through slack_bolt's Starlette adapter
helpers: Bolt verifies the v0 signature and its 5-minute window itself. ``App.dispatch`` is
synchronous: acks that are CPU only run it on the event loop, the rest (modal submissions, and
every ack when OAuth may need the installation store) in the threadpool. Each answer counts in
``tfpilot_slack_acks_total{mode="http"}``.
Absent a Bolt app (Socket Mode serves Slack), the route answers 404.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from bot.app import ack_needs_io
from bot.slack_manifest import EVENTS_PATH
from bot.web.body import MIB, ErrorOut, read_limited
from bot.web.context import web_context
from bot.web.logging import REQUEST_ID_HEADER, correlation, new_correlation_id, slack_envelope_id
from bot.web.metrics import record_slack_ack

router = APIRouter(tags=["slack"])


def envelope_of(body: bytes, content_type: str) -> dict[str, Any]:
    """The parsed envelope (JSON, or a form's ``payload``/fields), {} when unreadable."""
    try:
        text = body.decode("utf-8")
        if "application/json" in content_type:
            doc = json.loads(text)
            return doc if isinstance(doc, dict) else {}
        form = {k: v[0] for k, v in parse_qs(text).items() if v}
        if "payload" in form:
            doc = json.loads(form["payload"])
            return doc if isinstance(doc, dict) else {}
        return form
    except (ValueError, UnicodeDecodeError):
        return {}


@router.post(
    EVENTS_PATH,  # the manifest's request URL for events, interactivity and the command
    summary="Slack Events API, interactivity and slash commands (signed by Slack)",
    responses={
        200: {"description": "acknowledged (Bolt's answer)", "content": {"application/json": {}, "text/plain": {}}},
        401: {"model": ErrorOut, "description": "signature check failed"},
        404: {"model": ErrorOut, "description": "HTTP mode not enabled"},
        413: {"model": ErrorOut},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": True}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}},
            },
        }
    },
)
async def slack_events(request: Request) -> Response:
    ctx = web_context(request)
    handler = ctx.slack_handler
    if handler is None:
        raise HTTPException(status_code=404, detail="Slack events are not served over HTTP here (Socket Mode?)")
    body = await read_limited(request, MIB)
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

    envelope = slack_envelope_id(envelope_of(body, request.headers.get("content-type", "")))
    cid = f"slack-{envelope}" if envelope else new_correlation_id("slack")
    # An ack that is CPU only (parse, verify, ack, hand the work to the pool) runs right here: a
    # threadpool hop costs more than the ack itself under a burst of clicks. A modal submission
    # may read the store before acking, and with OAuth an authorize cache miss reads the
    # installation store: those go to the threadpool so the loop never waits on I/O.
    on_loop = not ack_needs_io(body) and not ctx.deps.settings.slack_oauth_enabled
    with correlation(cid):
        bolt_request = to_bolt_request(request, body)
        if on_loop:
            bolt_response = handler.app.dispatch(bolt_request)
        else:
            bolt_response = await run_in_threadpool(handler.app.dispatch, bolt_request)
    record_slack_ack("http", "ok" if bolt_response.status < 400 else str(bolt_response.status))
    response = to_starlette_response(bolt_response)
    response.headers[REQUEST_ID_HEADER] = cid
    return response
