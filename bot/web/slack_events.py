"""``POST /slack/events``: Slack's Events API, interactivity and slash commands, in HTTP mode.

The body is read with a 1 MiB cap; its v0 signature is checked over the raw bytes before
anything parses it, then it is parsed with bounds, by Bolt's rules (``bot.web.slack_body``): a
malformed or unsigned body is answered 400/401 with a short reason, never handed to Bolt. The
envelope's id (``event_id``/``trigger_id``) becomes the correlation id, and the request goes to
the Bolt app already parsed (``bolt_request``: Bolt does not parse it a second time; it still
checks the signature, over the same text).
Each ack is marked on the app's ``AckGate`` (when it has one), so the work of earlier clicks
waits until a burst is acknowledged (``bot.after_acks``). ``App.dispatch`` is
synchronous: acks that are CPU only run it on the event loop, the rest (modal submissions, and
every ack when OAuth may need the installation store) in the threadpool. Each answer counts in
``tfpilot_slack_acks_total{mode="http"}``.
Absent a Bolt app (Socket Mode serves Slack), the route answers 404.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from bot.app import ack_needs_io
from bot.slack_manifest import EVENTS_PATH
from bot.web.body import MIB, ErrorOut, read_limited
from bot.web.context import WebContext, web_context
from bot.web.logging import REQUEST_ID_HEADER, correlation, new_correlation_id, slack_envelope_id
from bot.web.metrics import record_slack_ack
from bot.web.slack_body import BadSlackBody, SlackBody, parse_slack_body, verify_signature

router = APIRouter(tags=["slack"])


@router.post(
    EVENTS_PATH,  # the manifest's request URL for events, interactivity and the command
    summary="Slack Events API, interactivity and slash commands (signed by Slack)",
    responses={
        200: {"description": "acknowledged (Bolt's answer)", "content": {"application/json": {}, "text/plain": {}}},
        400: {"model": ErrorOut, "description": "malformed body (not JSON/form, too deeply nested)"},
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
    with ctx.ack_gate.acking() if ctx.ack_gate is not None else nullcontext():
        return await _dispatch(request, ctx, handler)


async def _dispatch(request: Request, ctx: WebContext, handler: Any) -> Response:
    body = await read_limited(request, MIB)
    from slack_bolt.adapter.starlette.handler import to_starlette_response

    secret = ctx.deps.settings.slack_signing_secret
    try:
        if secret is not None:
            verify_signature(secret.get_secret_value(), body, request.headers)
        parsed = parse_slack_body(body, request.headers.get("content-type", ""))
    except BadSlackBody as bad:
        record_slack_ack("http", str(bad.status))
        raise HTTPException(status_code=bad.status, detail=bad.reason) from None
    envelope = slack_envelope_id(parsed.envelope)
    bolt_request = bolt_request_of(request, parsed)
    cid = f"slack-{envelope}" if envelope else new_correlation_id("slack")
    # An ack that is CPU only (parse, verify, ack, hand the work to the pool) runs right here: a
    # threadpool hop costs more than the ack itself under a burst of clicks. A modal submission
    # may read the store before acking, and with OAuth an authorize cache miss reads the
    # installation store: those go to the threadpool so the loop never waits on I/O.
    on_loop = not ack_needs_io(body) and not ctx.deps.settings.slack_oauth_enabled
    with correlation(cid):
        if on_loop:
            bolt_response = handler.app.dispatch(bolt_request)
        else:
            bolt_response = await run_in_threadpool(handler.app.dispatch, bolt_request)
    record_slack_ack("http", "ok" if bolt_response.status < 400 else str(bolt_response.status))
    response = to_starlette_response(bolt_response)
    response.headers[REQUEST_ID_HEADER] = cid
    return response


def bolt_request_of(request: Request, parsed: SlackBody) -> Any:
    """The ``BoltRequest`` slack_bolt's Starlette adapter would build (``to_bolt_request``),
    holding the envelope already parsed. Bolt's constructor parses a text body; it is given an
    empty one (nothing to parse) and then the raw text, which its signature check reads, and
    the envelope with the context built from it, as its constructor would have."""
    from slack_bolt.context.context import BoltContext
    from slack_bolt.request import BoltRequest
    from slack_bolt.request.internals import build_context

    bolt_request = BoltRequest(body="", query=request.query_params, headers=request.headers)  # type: ignore[arg-type]
    bolt_request.raw_body = parsed.text
    bolt_request.body = parsed.envelope
    bolt_request.context = build_context(BoltContext({}), parsed.envelope)
    return bolt_request
