"""Intake replies in a conversation thread: the assistant's text, its choices (buttons when
five or fewer, a static select beyond), an "Open form" button when a module form is offered,
the Terraform at the confirm step (a reference to the file it was shared as, or quoted when there
is no file), what an edit changed in it, and per-field errors.

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
# When Slack refuses the Terraform file: the start of the files, quoted.
FALLBACK_LINES = 25
FALLBACK_CHARS = 1200
CHANGES_CHARS = 1500  # an edit's diff; longer ones are cut (`show terraform` shows the files)
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


def _code_block(text: str, limit: int) -> str:
    return f"```{clip(escape(text.replace('```', chr(39) * 3)), limit)}```"


def _terraform_block(terraform: str, shared: Any, notes: list[str]) -> dict[str, Any]:
    """The Terraform at the confirm step: a reference to the file it was shared as
    (``bot.terraform_file``), or its start when Slack refused the file, or (no file: the
    console) the files quoted, cut at the size of a message section."""
    if shared is None:
        if len(escape(terraform)) > FILE_THRESHOLD:
            notes.append("The Terraform preview is cut short here; the pull request holds the whole file.")
        return {"type": "section", "text": mrkdwn(_code_block(terraform, FILE_THRESHOLD))}
    filename = str(getattr(shared, "filename", "tfpilot.tf"))
    error = getattr(shared, "error", None)
    if error:
        start = "\n".join(terraform.splitlines()[:FALLBACK_LINES])
        notes.append(
            f"I could not attach the Terraform as a file (Slack said `{escape(clip(str(error), 80))}`): "
            "this is its start. Say `show terraform` to try again; the pull request will hold the whole file."
        )
        return {"type": "section", "text": mrkdwn(_code_block(start, FALLBACK_CHARS))}
    name = fmt.link(getattr(shared, "permalink", None), filename) or f"`{escape(filename)}`"
    lines = int(getattr(shared, "lines", 0) or 0)
    where = "attached above" if getattr(shared, "uploaded_now", False) else "already in this conversation"
    text = f":page_facing_up: The Terraform, {name} ({lines} lines), is {where}: expand it to read it all."
    return {"type": "section", "text": mrkdwn(text)}


def intake_message(reply: Any, *, thread_ts: str, terraform_file: Any = None) -> dict[str, Any]:
    """The thread message for one assistant turn: ``{"text", "blocks"}``. ``terraform_file``:
    the confirm step's Terraform as shared in Slack (``bot.terraform_file.TerraformFile``), which
    the message then refers to instead of quoting it."""
    text = escape(str(getattr(reply, "text", "") or ""))
    blocks: list[dict[str, Any]] = _text_sections(text) if text else []
    notes: list[str] = []
    field_errors: dict[str, str] = dict(getattr(reply, "field_errors", None) or {})
    if field_errors:
        lines = [f"• `{escape(clip(k, 80))}`: {escape(clip(v, 300))}" for k, v in field_errors.items()]
        blocks.append({"type": "section", "text": mrkdwn(join_lines(["*Please fix:*", *lines], SECTION_TEXT))})
    terraform = getattr(reply, "terraform", None)
    if terraform:
        blocks.append(_terraform_block(str(terraform), terraform_file, notes))
    changes = getattr(reply, "terraform_changes", None)
    if changes:
        body = clip(escape(str(changes).replace("```", "'''")), CHANGES_CHARS)
        blocks.append({"type": "section", "text": mrkdwn(f"*What changed in the Terraform:*\n```{body}```")})
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
