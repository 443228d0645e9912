"""Reading a request body with a size cap, and the error body every route documents.

The cap is enforced twice: a declared ``Content-Length`` over it is refused before anything is
read, and the streamed byte count is checked as chunks arrive (a chunked or lying client cannot
make the service buffer more than the cap).
"""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from pydantic import BaseModel

MIB = 1024 * 1024


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


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
}
