"""Reading a request body with a size cap, and the error body every route documents.

The cap is enforced twice: a declared ``Content-Length`` over it is refused before anything is
read, and the streamed byte count is checked as chunks arrive (a chunked or lying client cannot
make the service buffer more than the cap). Routes that read their raw body (webhooks, Slack)
call ``read_limited``; ``BodyLimitMiddleware`` puts the same cap under every other route, whose
body FastAPI reads itself (the drift report, unlink): an oversized body is a 413 whether or not
the caller is authenticated, and is never buffered whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request, status
from pydantic import BaseModel

MIB = 1024 * 1024

_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[MutableMapping[str, Any], _Receive, _Send], Awaitable[None]]


class ErrorOut(BaseModel):
    """Every refusal: a human-readable reason."""

    detail: str


def too_large(limit: int) -> HTTPException:
    return HTTPException(status_code=status.HTTP_413_CONTENT_TOO_LARGE, detail=f"the body is larger than {limit} bytes")


async def read_limited(request: Request, limit: int = MIB) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise HTTPException(status_code=400, detail="invalid Content-Length header") from None
        if length > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyLimitMiddleware:
    """Pure ASGI middleware: a request body over ``limit`` bytes raises a 413 ``HTTPException``
    from ``receive`` (declared or counted), which the route's exception handling answers."""

    def __init__(self, app: _App, limit: int = MIB) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: MutableMapping[str, Any], receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-length":
                declared = value
                break
        limit = self.limit
        seen = 0

        async def limited_receive() -> _Message:
            nonlocal seen
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
}
