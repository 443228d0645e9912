"""Intake replies in a conversation thread: the assistant's text, its choices (buttons when
five or fewer, a static select beyond), an "Open form" button when a module form is offered,
the Terraform preview at the confirm step, and per-field errors.

Pure: ``intake_message(reply, thread_ts=...)`` renders the assistant's ``Reply`` (read by duck
typing, so the console and tests can pass any object with the same fields).
"""

from __future__ import annotations

import json
from typing import Any

from bot.views import fmt
from bot.views.ids import CHOICE_ACTION_PREFIX, FORM_ACTION, SELECT_ACTION
from bot.views.limits import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    FILE_THRESHOLD,
    MAX_BLOCKS,
    OPTION_TEXT,
    OPTION_VALUE,
    PLACEHOLDER,
    SECTION_TEXT,
    SELECT_OPTIONS,
    clip,
    escape,
    join_lines,
    mrkdwn,
    plain,
)

MAX_BUTTONS = 5
MAX_TEXT_SECTIONS = 10
FORM_VALUES_CHARS = 1500


def choices_block_id(thread_ts: str) -> str:
    return f"intake:{thread_ts}"


def thread_of_block(block_id: str | None) -> str | None:
    if block_id and block_id.startswith(("intake:", "intake_form:")):
        return block_id.split(":", 1)[1]
    return None


def _text_sections(text: str) -> list[dict[str, Any]]:
    chunks: list[str] = []
    rest = text
    while rest and len(chunks) < MAX_TEXT_SECTIONS:
        if len(rest) <= SECTION_TEXT:
            chunks.append(rest)
            rest = ""
            break
        cut = rest.rfind("\n", 0, SECTION_TEXT)
        if cut < SECTION_TEXT // 2:
            cut = SECTION_TEXT
        chunks.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest and chunks:
        chunks[-1] = clip(chunks[-1] + "…", SECTION_TEXT)
    return [{"type": "section", "text": mrkdwn(chunk)} for chunk in chunks]


def _choice_value(choice: Any) -> str:
    value = str(getattr(choice, "value", "") or getattr(choice, "label", ""))
    # A value too long for a button is sent as its label: what the user would have typed.
    return value if len(value) <= BUTTON_VALUE else clip(str(getattr(choice, "label", value)), BUTTON_VALUE)


def _choices_block(choices: list[Any], thread_ts: str) -> tuple[dict[str, Any], str | None]:
    block_id = choices_block_id(thread_ts)
    if len(choices) <= MAX_BUTTONS:
        buttons = [
            {
                "type": "button",
                "action_id": f"{CHOICE_ACTION_PREFIX}{i}",
                "text": plain(str(getattr(choice, "label", "")), BUTTON_TEXT),
                "value": _choice_value(choice),
            }
            for i, choice in enumerate(choices)
        ]
        return {"type": "actions", "block_id": block_id, "elements": buttons}, None
    options = []
    for choice in choices[:SELECT_OPTIONS]:
        value = str(getattr(choice, "value", ""))
        if len(value) > OPTION_VALUE:
            value = clip(str(getattr(choice, "label", value)), OPTION_VALUE)
        options.append({"text": plain(str(getattr(choice, "label", "")), OPTION_TEXT), "value": value})
    select = {
        "type": "static_select",
        "action_id": SELECT_ACTION,
        "placeholder": plain("Choose…", PLACEHOLDER),
        "options": options,
    }
    note = None
    if len(choices) > SELECT_OPTIONS:
        note = f"Showing {SELECT_OPTIONS} of {len(choices)} options: type the name for any other."
    return {"type": "actions", "block_id": block_id, "elements": [select]}, note


def form_button_value(form: Any, thread_ts: str) -> str:
    """What "Open form" carries: the module, the thread and (when small) the values so far."""
    doc: dict[str, Any] = {"m": str(getattr(form, "module", "")), "t": thread_ts}
    values = {}
    for field in getattr(form, "fields", None) or []:
        value = getattr(field, "value", None)
        if value is not None:
            values[str(getattr(field, "name", ""))] = value
    encoded = json.dumps(values, separators=(",", ":"), default=str)
    if values and len(encoded) <= FORM_VALUES_CHARS:
        doc["x"] = values
    out = json.dumps(doc, separators=(",", ":"), default=str)
    return out if len(out) <= BUTTON_VALUE else json.dumps({"m": doc["m"], "t": thread_ts})


def intake_message(reply: Any, *, thread_ts: str) -> dict[str, Any]:
    """The thread message for one assistant turn: ``{"text", "blocks"}``."""
    text = escape(str(getattr(reply, "text", "") or ""))
    blocks: list[dict[str, Any]] = _text_sections(text) if text else []
    notes: list[str] = []
    field_errors: dict[str, str] = dict(getattr(reply, "field_errors", None) or {})
    if field_errors:
        lines = [f"• `{escape(clip(k, 80))}`: {escape(clip(v, 300))}" for k, v in field_errors.items()]
        blocks.append({"type": "section", "text": mrkdwn(join_lines(["*Please fix:*", *lines], SECTION_TEXT))})
    terraform = getattr(reply, "terraform", None)
    if terraform:
        body = escape(str(terraform).replace("```", "'''"))
        if len(body) > FILE_THRESHOLD:
            body = clip(body, FILE_THRESHOLD)
            notes.append("The Terraform preview is cut short here; the pull request holds the whole file.")
        blocks.append({"type": "section", "text": mrkdwn(f"```{body}```")})
    choices = list(getattr(reply, "choices", None) or [])
    if choices:
        block, note = _choices_block(choices, thread_ts)
        blocks.append(block)
        if note:
            notes.append(note)
    form = getattr(reply, "form", None)
    if form is not None and getattr(form, "module", None):
        blocks.append(
            {
                "type": "actions",
                "block_id": f"intake_form:{thread_ts}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": FORM_ACTION,
                        "text": plain("Open form", BUTTON_TEXT),
                        "style": "primary",
                        "value": form_button_value(form, thread_ts),
                    }
                ],
            }
        )
    # After submit the assistant's text names the request and links its pull request, and the
    # listener adds where its card is: no third line saying the same.
    if notes:
        blocks.append({"type": "context", "elements": [mrkdwn(clip(n, SECTION_TEXT)) for n in notes[:10]]})
    if not blocks:
        blocks.append({"type": "section", "text": mrkdwn("…")})
    fallback = clip(str(getattr(reply, "text", "") or "TfPilot"), 300)
    return {"text": fallback, "blocks": blocks[: MAX_BLOCKS["message"]]}


def answered_message(original_blocks: list[dict[str, Any]], *, user: str, answer: str) -> list[dict[str, Any]]:
    """The intake message after a choice was made: its buttons replaced by who chose what, so
    nobody can answer the same question twice."""
    kept = [b for b in original_blocks if b.get("type") != "actions"]
    kept.append({"type": "context", "elements": [mrkdwn(f"{fmt.mention(user)} chose *{escape(clip(answer, 200))}*")]})
    return kept[: MAX_BLOCKS["message"]]
