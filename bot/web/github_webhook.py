"""``POST /github/webhook``: GitHub deliveries in, one request synced per delivery.

Order of checks: the raw body is read with a 1 MiB cap (413), ``X-Hub-Signature-256`` is
verified over exactly those bytes with ``GITHUB_WEBHOOK_SECRET`` in constant time (401; no
secret configured is also 401), the event and delivery headers are checked (400), the body must
be a JSON object (400). ``ping`` answers 200. ``parse_delivery`` then says whether the delivery
concerns a request: not ours is 204 (parsing is pure, so unrelated traffic costs no storage
write). For a fact, a worker slot is reserved first (none free: 503 and nothing recorded, so
GitHub's redelivery is processed), then the delivery id is marked with ``Once`` under
``dedupe/github/``: a replay, from GitHub or to another replica, answers 200 ``{"duplicate":
true}`` and does nothing. The sync of the one request is handed to the bounded executor and the
route answers 202 at once. ``SyncService.apply_fact`` notifies the ``Notifier`` (the Slack card)
when the status moves. A sync that fails removes the dedupe marker, so a manual redelivery from
GitHub's UI is processed; the reconciler covers it otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.views.fact_text import outcome_text
from bot.web.body import ERROR_RESPONSES, MIB, ErrorOut, read_limited
from bot.web.context import WebContext, web_context
from bot.web.logging import REQUEST_ID_HEADER, correlation
from core.adapters.github.payloads import PullRequestDelivery, PullRequestReviewDelivery, WorkflowRunDelivery
from core.adapters.github.webhooks import TRACKED_EVENTS, parse_delivery
from core.domain.facts import Fact, NotOurs
from core.services.once import Once

log = logging.getLogger(__name__)
router = APIRouter(tags=["github"])

MAX_BODY = MIB
DEDUPE_PREFIX = "dedupe/github"
_DELIVERY_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_EVENT_RE = re.compile(r"^[a-z_]{1,64}$")
_KNOWN_EVENTS = frozenset({*TRACKED_EVENTS, "ping"})
# The deliveries parse_delivery reads, published in /openapi.json as the webhook body's shapes.
DELIVERY_MODELS: tuple[type[BaseModel], ...] = (WorkflowRunDelivery, PullRequestDelivery, PullRequestReviewDelivery)


class WebhookAnswer(BaseModel):
    status: Literal["accepted", "duplicate", "pong"]
    duplicate: bool = False
    event: str
    delivery_id: str
    request_id: str | None = None


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().encode("utf-8", "replace"))


def _event_label(event: str | None) -> str:
    return event if event in _KNOWN_EVENTS else "other"


def _answer(status_code: int, answer: WebhookAnswer) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=answer.model_dump(mode="json"))


@router.post(
    "/github/webhook",
    status_code=202,
    response_model=WebhookAnswer,
    summary="GitHub webhook deliveries (workflow_run, pull_request, pull_request_review, ping)",
    responses={
        200: {"model": WebhookAnswer, "description": "ping answered, or a replayed delivery ignored"},
        204: {"description": "not about a TfPilot request: ignored"},
        **ERROR_RESPONSES,
        413: {"model": ErrorOut, "description": "body over 1 MiB"},
        503: {"model": ErrorOut, "description": "workers busy: GitHub should redeliver"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                "The delivery, exactly as GitHub sent it (the signature covers these bytes). X-GitHub-Event says "
                "which shape it has: workflow_run, pull_request and pull_request_review deliveries are read through "
                "the schemas below (only the fields TfPilot reads are described; GitHub sends many more); ping and "
                "any other event are a JSON object, answered 200 or 204."
            ),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "anyOf": [
                            *({"$ref": f"#/components/schemas/{m.__name__}"} for m in DELIVERY_MODELS),
                            {"type": "object", "title": "OtherDelivery", "additionalProperties": True},
                        ],
                    }
                }
            },
        }
    },
)
async def github_webhook(
    request: Request,
    x_github_event: str | None = Header(default=None, alias="X-GitHub-Event"),
    x_github_delivery: str | None = Header(default=None, alias="X-GitHub-Delivery"),
    x_hub_signature_256: str | None = Header(default=None, alias="X-Hub-Signature-256"),
) -> Response:
    received = time.perf_counter()
    ctx = web_context(request)
    try:
        body = await read_limited(request, MAX_BODY)
    except HTTPException:
        ctx.metrics.deliveries.labels(_event_label(x_github_event), "too_large").inc()
        raise
    try:
        return await run_in_threadpool(
            handle_delivery, ctx, body, x_github_event, x_github_delivery, x_hub_signature_256, received
        )
    finally:
        ctx.metrics.webhook_ack.observe(time.perf_counter() - received)


def handle_delivery(
    ctx: WebContext,
    body: bytes,
    event: str | None,
    delivery: str | None,
    signature: str | None,
    received: float,
) -> Response:
    label = _event_label(event)
    secret = ctx.settings.github_webhook_secret
    if secret is None:
        ctx.metrics.deliveries.labels(label, "unconfigured").inc()
        raise HTTPException(status_code=401, detail="GitHub webhooks are disabled: GITHUB_WEBHOOK_SECRET is not set")
    if not signature_ok(secret.get_secret_value(), body, signature):
        ctx.metrics.deliveries.labels(label, "bad_signature").inc()
        log.warning("GitHub delivery refused: %s X-Hub-Signature-256", "missing" if not signature else "wrong")
        raise HTTPException(status_code=401, detail="missing or invalid X-Hub-Signature-256")
    if not event or not _EVENT_RE.match(event):
        raise HTTPException(status_code=400, detail="missing or malformed X-GitHub-Event header")
    if not delivery or not _DELIVERY_RE.match(delivery):
        raise HTTPException(status_code=400, detail="missing or malformed X-GitHub-Delivery header")
    with correlation(f"gh-{delivery}") as cid:
        try:
            response = _handle_verified(ctx, body, event, delivery, received)
        except HTTPException as exc:
            exc.headers = {**(exc.headers or {}), REQUEST_ID_HEADER: cid}
            raise
        response.headers[REQUEST_ID_HEADER] = cid
        return response


def _handle_verified(ctx: WebContext, body: bytes, event: str, delivery: str, received: float) -> Response:
    label = _event_label(event)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting deeper than any delivery
        ctx.metrics.deliveries.labels(label, "malformed").inc()
        raise HTTPException(status_code=400, detail="the body is not valid JSON") from None
    if not isinstance(payload, dict):
        ctx.metrics.deliveries.labels(label, "malformed").inc()
        raise HTTPException(status_code=400, detail="the body is not a JSON object")
    if event == "ping":
        ctx.metrics.deliveries.labels(label, "ping").inc()
        log.info("GitHub ping for hook %s", payload.get("hook_id"))
        return _answer(200, WebhookAnswer(status="pong", event=event, delivery_id=delivery))
    result = parse_delivery(event, payload, workflows=ctx.settings.workflows(), delivery_id=delivery)
    if isinstance(result, NotOurs):
        ctx.metrics.deliveries.labels(label, "not_ours").inc()
        log.info("GitHub %s delivery ignored: %s", event, result.reason)
        return Response(status_code=204)
    if not ctx.executor.reserve():
        ctx.metrics.deliveries.labels(label, "busy").inc()
        log.warning("GitHub %s delivery for %s refused: workers busy", event, result.request_id)
        raise HTTPException(status_code=503, detail="busy: redeliver later", headers={"Retry-After": "5"})
    try:
        first = Once(ctx.deps.objects, DEDUPE_PREFIX).first(delivery, at=ctx.deps.clock.now())
    except Exception:
        ctx.executor.release()
        log.exception("recording GitHub delivery %s failed", delivery)
        raise HTTPException(status_code=503, detail="storage unavailable: redeliver later") from None
    if not first:
        ctx.executor.release()
        ctx.metrics.deliveries.labels(label, "duplicate").inc()
        log.info("GitHub delivery %s is a replay: ignored", delivery)
        answer = WebhookAnswer(
            status="duplicate", duplicate=True, event=event, delivery_id=delivery, request_id=result.request_id
        )
        return _answer(200, answer)
    ctx.executor.submit_reserved(_sync, ctx, result, label, delivery, received)
    ctx.metrics.deliveries.labels(label, "accepted").inc()
    answer = WebhookAnswer(status="accepted", event=event, delivery_id=delivery, request_id=result.request_id)
    return _answer(202, answer)


def _sync(ctx: WebContext, fact: Fact, label: str, delivery: str, received: float) -> None:
    try:
        outcome = ctx.deps.sync.apply_fact(fact)
        log.info(
            "GitHub delivery %s synced %s: %s",
            delivery,
            fact.request_id,
            outcome_text(outcome),
            extra={"request_id": fact.request_id, "changed": outcome.changed, "notified": outcome.notified},
        )
    except Exception:
        log.exception("syncing %s for GitHub delivery %s failed", fact.request_id, delivery)
        ctx.metrics.deliveries.labels(label, "sync_failed").inc()
        try:
            # Let a manual redelivery through; the reconciler catches up otherwise.
            ctx.deps.objects.delete(f"{DEDUPE_PREFIX}/{delivery}")
        except Exception:
            log.warning("could not clear the dedupe marker of delivery %s", delivery, exc_info=True)
    finally:
        ctx.metrics.webhook_latency.labels(label).observe(time.perf_counter() - received)


def publish_delivery_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Add ``DELIVERY_MODELS`` (and the parts they use) to an OpenAPI document's components: the
    route's body refers to them, but FastAPI only publishes models a route parses itself."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in DELIVERY_MODELS:
        doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, part in doc.pop("$defs", {}).items():
            components.setdefault(name, part)
        components.setdefault(model.__name__, doc)
    return schema
