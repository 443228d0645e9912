"""Reading the answer out of a Responses API ``Response``: the JSON text, or why there is none.

A response holds a list of output items: ``reasoning`` items (hidden thinking), then a
``message`` whose content parts are ``output_text`` or ``refusal``. It can stop short:
``status: incomplete`` with ``incomplete_details.reason`` ``max_output_tokens`` (the budget
went on reasoning) or ``content_filter``; or fail (``status: failed`` with ``error``). Each of
these raises ``ModelOutputError`` with a reason fit for a log line and the chat log: counts and
codes, never the text of the message or of the answer.

The SDK's pydantic objects are read by attribute, so this module needs no import of ``openai``.
"""

from __future__ import annotations

from typing import Any


class ModelOutputError(Exception):
    """The model answered, but not with a usable, schema-valid object."""


def _usage(response: Any) -> str:
    usage = getattr(response, "usage", None)
    if usage is None:
        return ""
    details = getattr(usage, "output_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None)
    out = getattr(usage, "output_tokens", None)
    if out is None:
        return ""
    if reasoning is None:
        return f"; {out} output tokens"
    return f"; {out} output tokens, {reasoning} of them reasoning"


def answer_text(response: Any) -> str:
    """The text of the final message, or ``ModelOutputError`` saying why there is none."""
    status = getattr(response, "status", None)
    if status == "failed":
        error = getattr(response, "error", None)
        raise ModelOutputError(f"the response failed ({getattr(error, 'code', None) or 'no error code'})")
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None) or "no reason given"
        hint = " (raise the output budget or lower the reasoning effort)" if reason == "max_output_tokens" else ""
        raise ModelOutputError(f"incomplete response: {reason}{hint}{_usage(response)}")
    if status not in (None, "completed"):
        raise ModelOutputError(f"unexpected response status {status!r}")
    texts: list[str] = []
    for item in getattr(response, "output", None) or []:
        if getattr(item, "type", None) != "message":
            continue  # reasoning items and anything else carry no answer
        for part in getattr(item, "content", None) or []:
            kind = getattr(part, "type", None)
            if kind == "refusal":
                raise ModelOutputError("the model refused")
            if kind == "output_text" and getattr(part, "text", None):
                texts.append(part.text)
    if not texts:
        raise ModelOutputError(f"empty response (no output text){_usage(response)}")
    return "".join(texts)


__all__ = ["ModelOutputError", "answer_text"]
