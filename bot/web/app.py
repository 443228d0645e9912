"""``create_web_app(deps)``: the one FastAPI app of the side service.

Routers, one concern each: ``github_webhook`` (``POST /github/webhook``), ``drift`` (the drift
workflow's two endpoints), ``api`` (read API), ``linking`` (GitHub account linking),
``slack_oauth`` (Bolt's install flow), ``slack_events`` (``POST /slack/events``), ``health``
and ``metrics`` (``/metrics``). ``CorrelationMiddleware`` gives every HTTP request a correlation
id; ``BodyLimitMiddleware`` caps every request body at 1 MiB (413). The lifespan starts the
reconciler thread (unless ``reconcile_interval`` is None) and, on shutdown, stops it, drains
the webhook executor and closes the HTTP client. Building the app makes no network call and
starts no thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from bot.web import api, drift, github_webhook, health, linking, metrics, slack_events, slack_oauth
from bot.web.body import MIB, BodyLimitMiddleware
from bot.web.context import DirectMessage, WebContext
from bot.web.executor import DEFAULT_QUEUE, DEFAULT_WORKERS, BoundedExecutor
from bot.web.logging import CorrelationMiddleware
from bot.web.metrics import WebMetrics
from bot.web.reconciler import DEFAULT_INTERVAL_SECONDS, HostLock, Reconciler

if TYPE_CHECKING:
    from bot.after_acks import AckGate
    from bot.deps import Deps

TITLE = "TfPilot side service"
VERSION = "1.0.0"
_AUTO: Any = object()


def create_web_app(
    deps: Deps,
    *,
    slack_handler: Any | None = None,
    executor: Executor | BoundedExecutor | None = None,
    max_workers: int = DEFAULT_WORKERS,
    max_queue: int = DEFAULT_QUEUE,
    reconciler: Reconciler | None = _AUTO,
    reconcile_interval: float | None = DEFAULT_INTERVAL_SECONDS,
    dm: DirectMessage | None = _AUTO,
    ack_gate: AckGate | None = None,
    reconciler_lock: str | None = None,
) -> FastAPI:
    """The app over ``deps``.

    ``slack_handler`` is slack_bolt's ``SlackRequestHandler`` for HTTP mode (None: no
    ``/slack/*`` routes answer). ``executor`` runs webhook syncs (a plain ``Executor`` is wrapped
    with the bounded queue; default: a pool of ``max_workers`` with ``max_queue`` waiting).
    ``reconcile_interval=None`` keeps the reconciler thread off (``app.state.tfpilot.reconciler
    .run_once()`` still works). ``dm`` confirms links to users (default: through Slack).
    ``ack_gate`` is the one the Bolt app was built with (``create_app(ack_gate=...)``):
    ``/slack/events`` marks each ack on it. ``reconciler_lock`` (a file path; the workers of
    ``tfpilot serve --workers N``): the reconciler runs its passes only while this process holds
    the file's lock, so one worker per host reconciles."""
    if isinstance(executor, BoundedExecutor):
        bounded = executor
    else:
        bounded = BoundedExecutor(executor, max_workers=max_workers, max_queue=max_queue)
    web_metrics = WebMetrics(deps)
    web_metrics.track_in_flight(lambda: bounded.in_flight)
    if reconciler is _AUTO:
        reconciler = Reconciler(
            deps,
            interval=reconcile_interval or DEFAULT_INTERVAL_SECONDS,
            metrics=web_metrics,
            host_lock=HostLock(reconciler_lock) if reconciler_lock else None,
        )
    ctx = WebContext(
        deps=deps,
        executor=bounded,
        metrics=web_metrics,
        slack_handler=slack_handler,
        reconciler=reconciler,
        dm=linking.default_dm(deps) if dm is _AUTO else dm,
        ack_gate=ack_gate,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if ctx.reconciler is not None and reconcile_interval is not None:
            ctx.reconciler.start()
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=(
            "GitHub and drift webhooks, GitHub account linking, Slack events and install, the read API "
            "(bearer token), health, readiness and Prometheus metrics."
        ),
        lifespan=lifespan,
    )
    app.state.tfpilot = ctx
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = github_webhook.publish_delivery_schemas(base_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimitMiddleware, limit=MIB)
    app.add_middleware(CorrelationMiddleware)
    # drift before api: /api/requests/drift-eligible must not be read as /api/requests/{id}.
    for module in (health, github_webhook, drift, api, linking, slack_events, slack_oauth, metrics):
        app.include_router(module.router)
    return app
