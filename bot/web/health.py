"""``GET /api/health`` (the process answers) and ``GET /api/ready`` (its dependencies answer).

Neither needs a token (load balancers and probes call them) and neither reveals request data.
Readiness makes cheap calls only: one GET of an absent key in the requests store (S3 or the
data dir) and, when GitHub is configured, an unauthenticated ``GET {api}/rate_limit`` (any
answer below 500 means reachable; it costs no rate limit). The result is cached for 5 s so a
probe storm does not become a storage or GitHub storm. Not ready answers 503 naming the failing
dependency.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.web.context import WebContext, web_context

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

PROBE_KEY = "health/ready-probe"
GITHUB_TIMEOUT = 3.0


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str | None = None


class ReadyOut(BaseModel):
    ready: bool
    failing: list[str]
    checks: list[CheckOut]


@router.get("/api/health", response_model=HealthOut, summary="Liveness")
def health() -> HealthOut:
    return HealthOut()


def _check_store(ctx: WebContext) -> CheckOut:
    try:
        ctx.deps.objects.get(PROBE_KEY)
    except Exception as exc:
        log.warning("readiness: the requests store is unreachable: %s", type(exc).__name__)
        return CheckOut(name="store", ok=False, detail=f"unreachable ({type(exc).__name__})")
    return CheckOut(name="store", ok=True, detail="s3" if ctx.settings.uses_s3 else "local")


def _check_github(ctx: WebContext) -> CheckOut:
    url = f"{ctx.settings.github_api_url}/rate_limit"
    try:
        response = ctx.http().get(url, timeout=GITHUB_TIMEOUT, headers={"Accept": "application/vnd.github+json"})
    except Exception as exc:
        log.warning("readiness: GitHub is unreachable: %s", type(exc).__name__)
        return CheckOut(name="github", ok=False, detail=f"unreachable ({type(exc).__name__})")
    if response.status_code >= 500:
        return CheckOut(name="github", ok=False, detail=f"answered {response.status_code}")
    return CheckOut(name="github", ok=True, detail=f"answered {response.status_code}")


def readiness(ctx: WebContext) -> ReadyOut:
    checks = [_check_store(ctx)]
    if ctx.settings.uses_github:
        checks.append(_check_github(ctx))
    failing = [c.name for c in checks if not c.ok]
    return ReadyOut(ready=not failing, failing=failing, checks=checks)


@router.get(
    "/api/ready",
    response_model=ReadyOut,
    summary="Readiness: storage and GitHub reachable",
    responses={503: {"model": ReadyOut, "description": "a dependency is unreachable (named in failing)"}},
)
async def ready(request: Request) -> JSONResponse:
    ctx = web_context(request)
    result: ReadyOut = await run_in_threadpool(ctx.ready_cache.get, lambda: readiness(ctx))
    return JSONResponse(status_code=200 if result.ready else 503, content=result.model_dump(mode="json"))
