"""Slack's Block Kit limits as constants, the text helpers builders use to stay inside them, and
``check_blocks(payload, surface)``, which lists every violation of a built payload.

Builders clip with ``clip`` so an oversized value is shortened visibly (with an ellipsis) rather
than rejected by Slack with ``invalid_blocks``; tests run ``check_blocks`` over every builder
with the longest inputs the schemas allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT = 3000
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
ACTION_ID = 255
BLOCK_ID = 255
CALLBACK_ID = 255
VIEW_TITLE = 24
VIEW_SUBMIT = 24
VIEW_CLOSE = 24
PRIVATE_METADATA = 3000
INPUT_LABEL = 2000
INPUT_HINT = 2000
PLACEHOLDER = 150
INITIAL_VALUE = 3000  # plain_text_input max_length tops out here
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTION_DESCRIPTION = 75
SELECT_OPTIONS = 100
CHECKBOX_OPTIONS = 10
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
MESSAGE_TEXT = 4000  # Slack truncates message text beyond 40 000; 4 000 is its recommendation
FILE_THRESHOLD = 2800  # a plan longer than this goes to a file instead of a code block

ELLIPSIS = "…"


def clip(text: str | None, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, ending with an ellipsis when cut."""
    value = text or ""
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + ELLIPSIS


def escape(text: str | None) -> str:
    """Escape mrkdwn control characters so user text can never ping ``<!channel>`` or link."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": emoji}


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def join_lines(lines: Iterable[str], limit: int, *, more: str = "…and {n} more") -> str:
    """Join lines until ``limit`` characters; the rest is summarised as ``more``."""
    items = list(lines)
    out: list[str] = []
    used = 0
    for index, line in enumerate(items):
        remaining = len(items) - index
        tail = more.format(n=remaining)
        cost = len(line) + (1 if out else 0)
        # Keep room for the "and N more" line unless this is the last item.
        reserve = 0 if remaining == 1 else len(tail) + 1
        if used + cost + reserve > limit:
            out.append(tail)
            return clip("\n".join(out), limit)
        out.append(line)
        used += cost
    return clip("\n".join(out), limit)


# --- checking ---------------------------------------------------------------------------------


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def limit(self, where: str, value: str | None, maximum: int) -> None:
        if value is not None and len(value) > maximum:
            self.problems.append(f"{where}: {len(value)} characters > {maximum}")

    def count(self, where: str, items: list[Any] | None, maximum: int) -> None:
        if items is not None and len(items) > maximum:
            self.problems.append(f"{where}: {len(items)} items > {maximum}")

    def confirm(self, where: str, confirm: dict[str, Any]) -> None:
        self.limit(f"{where}.confirm.title", _text_of(confirm.get("title")), CONFIRM_TITLE)
        self.limit(f"{where}.confirm.text", _text_of(confirm.get("text")), CONFIRM_TEXT)
        self.limit(f"{where}.confirm.confirm", _text_of(confirm.get("confirm")), CONFIRM_BUTTON)
        self.limit(f"{where}.confirm.deny", _text_of(confirm.get("deny")), CONFIRM_BUTTON)

    def option(self, where: str, option: dict[str, Any]) -> None:
        self.limit(f"{where}.text", _text_of(option.get("text")), OPTION_TEXT)
        self.limit(f"{where}.value", option.get("value"), OPTION_VALUE)
        if "description" in option:
            self.limit(f"{where}.description", _text_of(option.get("description")), OPTION_DESCRIPTION)

    def element(self, where: str, element: dict[str, Any], action_ids: set[str]) -> None:
        action_id = element.get("action_id")
        if action_id is not None:
            self.limit(f"{where}.action_id", action_id, ACTION_ID)
            if action_id in action_ids:
                self.problems.append(f"{where}.action_id: duplicate {action_id!r} in the block")
            action_ids.add(action_id)
        kind = element.get("type")
        if kind == "button":
            self.limit(f"{where}.text", _text_of(element.get("text")), BUTTON_TEXT)
            self.limit(f"{where}.value", element.get("value"), BUTTON_VALUE)
            self.limit(f"{where}.url", element.get("url"), BUTTON_URL)
        if "placeholder" in element:
            self.limit(f"{where}.placeholder", _text_of(element["placeholder"]), PLACEHOLDER)
        if kind in ("static_select", "multi_static_select"):
            options = element.get("options") or []
            self.count(f"{where}.options", options, SELECT_OPTIONS)
            for i, option in enumerate(options):
                self.option(f"{where}.options[{i}]", option)
        if kind in ("checkboxes", "radio_buttons"):
            options = element.get("options") or []
            self.count(f"{where}.options", options, CHECKBOX_OPTIONS)
            for i, option in enumerate(options):
                self.option(f"{where}.options[{i}]", option)
        if kind == "plain_text_input":
            self.limit(f"{where}.initial_value", element.get("initial_value"), INITIAL_VALUE)
        if isinstance(element.get("confirm"), dict):
            self.confirm(where, element["confirm"])

    def block(self, where: str, block: dict[str, Any], block_ids: set[str]) -> None:
        block_id = block.get("block_id")
        if block_id is not None:
            self.limit(f"{where}.block_id", block_id, BLOCK_ID)
            if block_id in block_ids:
                self.problems.append(f"{where}.block_id: duplicate {block_id!r}")
            block_ids.add(block_id)
        kind = block.get("type")
        action_ids: set[str] = set()
        if kind == "section":
            if "text" in block:
                self.limit(f"{where}.text", _text_of(block["text"]), SECTION_TEXT)
            fields = block.get("fields")
            if fields is not None:
                self.count(f"{where}.fields", fields, SECTION_FIELDS)
                for i, item in enumerate(fields):
                    self.limit(f"{where}.fields[{i}]", _text_of(item), SECTION_FIELD_TEXT)
            if "text" not in block and not fields:
                self.problems.append(f"{where}: a section needs text or fields")
            if isinstance(block.get("accessory"), dict):
                self.element(f"{where}.accessory", block["accessory"], action_ids)
        elif kind == "header":
            self.limit(f"{where}.text", _text_of(block.get("text")), HEADER_TEXT)
        elif kind == "context":
            elements = block.get("elements") or []
            self.count(f"{where}.elements", elements, CONTEXT_ELEMENTS)
            for i, item in enumerate(elements):
                self.limit(f"{where}.elements[{i}]", _text_of(item), CONTEXT_TEXT)
        elif kind == "actions":
            elements = block.get("elements") or []
            self.count(f"{where}.elements", elements, ACTIONS_ELEMENTS)
            for i, item in enumerate(elements):
                self.element(f"{where}.elements[{i}]", item, action_ids)
        elif kind == "input":
            self.limit(f"{where}.label", _text_of(block.get("label")), INPUT_LABEL)
            if "hint" in block:
                self.limit(f"{where}.hint", _text_of(block["hint"]), INPUT_HINT)
            if isinstance(block.get("element"), dict):
                self.element(f"{where}.element", block["element"], action_ids)


def check_blocks(payload: dict[str, Any] | list[dict[str, Any]], surface: Surface = "message") -> list[str]:
    """Every way ``payload`` breaks Slack's limits for ``surface`` (empty when it fits).

    ``payload`` is a message (``{"text", "blocks"}``), a view (``{"type": "modal"|"home", ...}``)
    or a bare list of blocks."""
    checker = _Checker()
    if isinstance(payload, list):
        blocks: list[dict[str, Any]] = payload
    else:
        blocks = list(payload.get("blocks") or [])
        if surface == "modal":
            checker.limit("title", _text_of(payload.get("title")), VIEW_TITLE)
            if "submit" in payload:
                checker.limit("submit", _text_of(payload.get("submit")), VIEW_SUBMIT)
            if "close" in payload:
                checker.limit("close", _text_of(payload.get("close")), VIEW_CLOSE)
        if surface in ("modal", "home"):
            checker.limit("private_metadata", payload.get("private_metadata"), PRIVATE_METADATA)
            checker.limit("callback_id", payload.get("callback_id"), CALLBACK_ID)
        if surface == "message":
            checker.limit("text", payload.get("text"), MESSAGE_TEXT)
    checker.count("blocks", blocks, MAX_BLOCKS[surface])
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(f"blocks[{i}]", block, block_ids)
    return checker.problems
