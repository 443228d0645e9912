"""The OpenAI Responses API as the tests see it: a ``respx`` router on ``/v1/responses`` behind
the real ``openai`` SDK, and response bodies shaped like the API's.

The SDK talks through ``httpx2`` (openai 3.x), which respx does not patch; ``RespxTransport``
hands each ``httpx2`` request to a respx router as an ``httpx`` request (method, URL, headers,
body and extensions such as the timeout) and turns the answer back, so routes, side effects and
recorded calls are respx's own. A timeout or connection error raised by a side effect becomes
the ``httpx2`` exception of the same name, as the SDK expects.

Bodies follow the SDK's ``openai.types.responses.Response`` (every test body is validated
against it) and the API reference: an ``object: response`` with ``status``,
``incomplete_details``, ``output`` items (a ``reasoning`` item, then a ``message`` whose
content parts are ``output_text`` or ``refusal``) and ``usage`` with
``output_tokens_details.reasoning_tokens``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import httpx2
import openai
import respx
from openai.types.responses import Response

BASE_URL = "https://api.openai.com/v1"
_ids = itertools.count(1)


class RespxTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport answering from a respx router."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        bridged = httpx.Request(
            request.method,
            str(request.url),
            headers=list(request.headers.raw),
            content=request.read(),
            extensions=dict(request.extensions),
        )
        try:
            answer = self.router.handler(bridged)
        except httpx.TransportError as exc:
            raise getattr(httpx2, type(exc).__name__)(str(exc), request=request) from exc
        return httpx2.Response(
            answer.status_code, headers=list(answer.headers.raw), content=answer.read(), request=request
        )


def router() -> respx.MockRouter:
    """A router that refuses any call it has no route for (so only ``/v1/responses`` works)."""
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True)


def client(mock: respx.MockRouter, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test", http_client=httpx2.Client(transport=RespxTransport(mock)), max_retries=0, **kwargs
    )


def http_client(mock: respx.MockRouter) -> httpx2.Client:
    return httpx2.Client(transport=RespxTransport(mock))


def sent(route: respx.Route) -> list[dict[str, Any]]:
    """The JSON bodies of the calls ``route`` answered, in order."""
    return [json.loads(call.request.content) for call in route.calls]


def response_body(
    text: str | None = None,
    *,
    refusal: str | None = None,
    status: str = "completed",
    incomplete_reason: str | None = None,
    reasoning_tokens: int = 192,
    answer_tokens: int = 96,
    model: str = "gpt-6-luna-2026-09-22",
    max_output_tokens: int | None = 5296,
    effort: str | None = "low",
) -> dict[str, Any]:
    """A Responses API body: a reasoning item, then (unless there is neither text nor refusal)
    the assistant message."""
    n = next(_ids)
    output: list[dict[str, Any]] = [{"id": f"rs_{n:040x}", "type": "reasoning", "summary": []}]
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal is not None:
        content.append({"type": "refusal", "refusal": refusal})
    if content:
        output.append(
            {
                "id": f"msg_{n:040x}",
                "type": "message",
                "status": "incomplete" if status == "incomplete" else "completed",
                "role": "assistant",
                "content": content,
            }
        )
    out_tokens = reasoning_tokens + (answer_tokens if content else 0)
    body: dict[str, Any] = {
        "id": f"resp_{n:048x}",
        "object": "response",
        "created_at": 1796000000 + n,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": max_output_tokens,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": effort, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "json_schema", "name": "tfpilot_intake", "strict": True, "schema": {}}},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 1480,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": 1480 + out_tokens,
        },
        "user": None,
        "metadata": {},
    }
    Response.model_validate(body)  # the SDK's own type accepts it
    return body


def ok(text: str | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=response_body(text, **kwargs))
