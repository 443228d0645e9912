"""Authentication of the side service's callers: the API bearer token and the drift secret.

``/api/*`` (except health and readiness) and ``/metrics`` need ``Authorization: Bearer
<TFPILOT_API_TOKEN>``; the drift endpoints need ``x-tfpilot-secret: <TFPILOT_WEBHOOK_SECRET>``.
Both compare in constant time (``hmac.compare_digest`` over bytes) and refuse with 401 when the
credential is missing or wrong, and also when the setting itself is absent: an unconfigured
secret never means "open". Both are declared as OpenAPI security schemes so ``/openapi.json``
documents them.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bot.web.context import WebContext, web_context

DRIFT_SECRET_HEADER = "x-tfpilot-secret"  # noqa: S105 (a header name)

bearer_scheme = HTTPBearer(auto_error=False, description="TFPILOT_API_TOKEN", scheme_name="ApiToken")
drift_secret_scheme = APIKeyHeader(
    name=DRIFT_SECRET_HEADER, auto_error=False, description="TFPILOT_WEBHOOK_SECRET", scheme_name="DriftSecret"
)


def constant_equals(given: str | None, expected: str | None) -> bool:
    """True when both are present and equal; the comparison time does not depend on where they differ."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _unauthorized(detail: str, *, bearer: bool) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if bearer else None
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail, headers=headers)


def require_api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    ctx: WebContext = web_context(request)
    expected = ctx.settings.api_token.get_secret_value() if ctx.settings.api_token else None
    if expected is None:
        raise _unauthorized("the API is disabled: TFPILOT_API_TOKEN is not set", bearer=True)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token", bearer=True)
    if not constant_equals(credentials.credentials, expected):
        raise _unauthorized("invalid bearer token", bearer=True)


def require_drift_secret(
    request: Request,
    secret: Annotated[str | None, Depends(drift_secret_scheme)],
) -> None:
    ctx: WebContext = web_context(request)
    expected = ctx.settings.webhook_secret.get_secret_value() if ctx.settings.webhook_secret else None
    if expected is None:
        raise _unauthorized("drift webhooks are disabled: TFPILOT_WEBHOOK_SECRET is not set", bearer=False)
    if not secret:
        raise _unauthorized(f"missing {DRIFT_SECRET_HEADER} header", bearer=False)
    if not constant_equals(secret, expected):
        raise _unauthorized(f"invalid {DRIFT_SECRET_HEADER}", bearer=False)


ApiToken = Depends(require_api_token)
DriftSecret = Depends(require_drift_secret)
