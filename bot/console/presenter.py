"""Block Kit as terminal text: what the console and the demo show instead of Slack.

``render(payload)`` takes whatever the bot would send to Slack (a message with ``blocks`` and/or
``text`` and legacy ``attachments``, a modal or App Home view, or a bare list of blocks) and
returns readable text plus the interactive elements as numbered ``Choice``s (``[1] Approve``),
so a person at a terminal can "click" by typing a number or a name. mrkdwn becomes plain text
(``*bold*`` bold on a colour terminal, ``<url|label>`` as ``label (url)``, ``<@U…>`` as
``@name``, a few emoji codes as symbols). ANSI colour is used only when asked for, and
``colour_for(stream)`` asks for it only on a TTY without ``NO_COLOR``.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

WIDTH = 72

EMOJI: dict[str, str] = {
    "inbox_tray": "📥",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "clipboard": "📋",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔",
    "twisted_rightwards_arrows": "🔀",
    "gear": "⚙",
    "rocket": "🚀",
    "wastebasket": "🗑",
    "headstone": "🪦",
    "x": "❌",
    "warning": "⚠",
    "no_entry": "⛔",
    "lock": "🔒",
    "memo": "📝",
    "mag": "🔍",
    "bulb": "💡",
    "tada": "🎉",
    "wave": "👋",
    "robot_face": "🤖",
    "bust_in_silhouette": "👤",
    "link": "🔗",
    "moneybag": "💰",
    "chart_with_upwards_trend": "📈",
    "arrows_counterclockwise": "🔄",
    "pencil2": "✏",
    "question": "❓",
    "information_source": "\u2139",
    "package": "📦",
    "earth_americas": "🌎",
    "hammer_and_wrench": "🛠",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "large_blue_circle": "🔵",
}

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_ITALIC = "\x1b[3m"
_STYLE_COLOUR = {"primary": "\x1b[32m", "danger": "\x1b[31m"}


def colour_for(stream: TextIO) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@dataclass(frozen=True)
class Choice:
    """One thing the reader can pick: a button, a select option or a modal's submit/close."""

    number: int
    label: str
    action_id: str | None = None
    value: str | None = None
    block_id: str | None = None
    url: str | None = None
    style: str | None = None
    kind: str = "button"  # button | option | submit | close
    confirm: str | None = None  # the button's confirmation dialog (title and text), asked before a click

    def matches(self, typed: str) -> bool:
        """Does what the reader typed pick this choice (its number, label, value or action)?"""
        word = _norm(typed)
        if not word:
            return False
        if word.isdigit():
            # A number is the printed [n]; never an index hidden in a value or an action id
            # (intake buttons are ``intake:choice:0``, ``intake:choice:1``...).
            return word == str(self.number)
        candidates = {_norm(self.label), _norm(self.value or "")}
        if self.action_id:
            candidates.add(_norm(self.action_id))
            candidates.add(_norm(self.action_id.rsplit(":", 1)[-1]))
        candidates = {c for c in candidates if c and not c.isdigit()}
        return word in candidates


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@dataclass
class Rendered:
    text: str
    choices: list[Choice] = field(default_factory=list)

    def pick(self, typed: str) -> Choice | None:
        """The choice the reader meant, or None when nothing (or more than one label) matches."""
        exact = [c for c in self.choices if c.matches(typed)]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            # A number is unique; otherwise prefer buttons over options with the same label.
            buttons = [c for c in exact if c.kind == "button"]
            return buttons[0] if len(buttons) == 1 else None
        return None


class Presenter:
    """Renders Block Kit; one instance per output (it knows whether to colour and users' names)."""

    def __init__(
        self, *, colour: bool = False, width: int = WIDTH, users: Mapping[str, str] | None = None, unicode: bool = True
    ) -> None:
        self.colour = colour
        self.width = width
        self.users = dict(users or {})
        self.unicode = unicode

    # --- styling -----------------------------------------------------------------------

    def _sgr(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.colour and text else text

    def bold(self, text: str) -> str:
        return self._sgr(_BOLD, text)

    def dim(self, text: str) -> str:
        return self._sgr(_DIM, text)

    def hex_colour(self, hex_value: str | None, text: str) -> str:
        match = re.fullmatch(r"#?([0-9a-fA-F]{6})", hex_value or "")
        if not self.colour or not match:
            return text
        r, g, b = (int(match.group(1)[i : i + 2], 16) for i in (0, 2, 4))
        return f"\x1b[38;2;{r};{g};{b}m{text}{_RESET}"

    def rule(self, char: str = "─") -> str:
        return self.dim((char if self.unicode else "-") * self.width)

    # --- text objects ------------------------------------------------------------------

    def mrkdwn(self, text: str) -> str:
        """Slack mrkdwn as plain terminal text; a ```fenced``` block is kept verbatim, unfenced."""
        parts = text.split("```")
        if len(parts) >= 3:
            out_parts: list[str] = []
            for i, part in enumerate(parts):
                if i % 2 == 1 and i < len(parts) - 1:
                    out_parts.append(
                        self.dim(html.unescape(part.strip("\n"))) if self.colour else html.unescape(part.strip("\n"))
                    )
                else:
                    out_parts.append(self._inline(part.strip("\n")))
            return "\n".join(p for p in out_parts if p)
        return self._inline(text)

    def _inline(self, text: str) -> str:
        out = re.sub(r"<([^<>]+)>", lambda m: self._angle(m.group(1)), text)
        out = re.sub(r":([a-z0-9_+\-]+):", self._emoji, out)
        out = re.sub(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])", lambda m: self.bold(m.group(1)), out)
        out = re.sub(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])", lambda m: self._sgr(_ITALIC, m.group(1)), out)
        out = re.sub(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])", r"\1", out)
        return html.unescape(out)

    def _angle(self, inner: str) -> str:
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (label or self.users.get(uid, uid))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return "@" + (label or target.split("^", 1)[1])
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + target[1:]
        if label and label != target:
            return f"{label} ({target})"
        return target

    def _emoji(self, match: re.Match[str]) -> str:
        symbol = EMOJI.get(match.group(1))
        return symbol if symbol and self.unicode else match.group(0)

    def text_of(self, obj: Any) -> str:
        """A Block Kit text object (plain_text or mrkdwn) or a bare string, as plain text."""
        if obj is None:
            return ""
        if isinstance(obj, str):
            return self.mrkdwn(obj)
        if isinstance(obj, Mapping):
            raw = str(obj.get("text", ""))
            if obj.get("type") == "plain_text":
                return re.sub(r":([a-z0-9_+\-]+):", self._emoji, raw) if obj.get("emoji", True) else raw
            return self.mrkdwn(raw)
        return str(obj)

    # --- payloads ----------------------------------------------------------------------

    def render(self, payload: Any, *, number_from: int = 1) -> Rendered:
        """Render a message, a view (modal/home) or a list of blocks."""
        state = _State(number_from)
        lines: list[str] = []
        if isinstance(payload, Sequence) and not isinstance(payload, str | bytes):
            lines += self._blocks(payload, state)
        elif isinstance(payload, Mapping):
            kind = payload.get("type")
            if kind in ("modal", "home"):
                lines += self._view(payload, state)
            else:
                lines += self._message(payload, state)
        else:
            lines.append(self.mrkdwn(str(payload)))
        return Rendered("\n".join(lines).rstrip("\n"), state.choices)

    def _message(self, msg: Mapping[str, Any], state: _State) -> list[str]:
        lines: list[str] = []
        blocks = msg.get("blocks") or []
        if blocks:
            lines += self._blocks(blocks, state)
        elif msg.get("text"):
            lines.append(self.mrkdwn(str(msg["text"])))
        for att in msg.get("attachments") or []:
            if not isinstance(att, Mapping):
                continue
            inner: list[str] = []
            if att.get("blocks"):
                inner += self._blocks(att["blocks"], state)
            else:
                for key in ("pretext", "title", "text", "footer"):
                    if att.get(key):
                        inner.append(self.mrkdwn(str(att[key])))
                for f in att.get("fields") or []:
                    inner.append(f"{self.bold(str(f.get('title', '')))}: {self.mrkdwn(str(f.get('value', '')))}")
            bar = self.hex_colour(att.get("color"), "▌" if self.unicode else "|")
            lines += [f"{bar} {line}" if line else bar for line in inner]
        return lines

    def _view(self, view: Mapping[str, Any], state: _State) -> list[str]:
        lines: list[str] = []
        if view.get("type") == "modal":
            title = self.text_of(view.get("title")) or "Dialog"
            lines += [self.rule("═"), self.bold(f"▣ {title}" if self.unicode else f"# {title}"), self.rule("═")]
        else:
            lines += [self.bold("App Home"), self.rule()]
        lines += self._blocks(view.get("blocks") or [], state)
        if view.get("type") == "modal":
            buttons: list[str] = []
            if view.get("submit"):
                label = self.text_of(view["submit"])
                buttons.append(self._choice_label(state.add(label, kind="submit", action_id="submit"), "primary"))
            close_label = self.text_of(view.get("close")) if view.get("close") else "Cancel"
            buttons.append(self._choice_label(state.add(close_label, kind="close", action_id="close"), None))
            lines += [self.rule(), "  ".join(buttons)]
        return lines

    def _blocks(self, blocks: Sequence[Any], state: _State) -> list[str]:
        lines: list[str] = []
        for block in blocks:
            if isinstance(block, Mapping):
                lines += self._block(block, state)
        return lines

    def _block(self, block: Mapping[str, Any], state: _State) -> list[str]:
        kind = block.get("type")
        block_id = block.get("block_id")
        if kind == "header":
            title = self.text_of(block.get("text"))
            return [self.bold(title), self.dim(("━" if self.unicode else "=") * min(self.width, max(len(title), 3)))]
        if kind == "divider":
            return [self.rule()]
        if kind == "section":
            lines: list[str] = []
            if block.get("text"):
                lines += self.text_of(block["text"]).splitlines()
            fields = [_field_line(self.text_of(f)) for f in block.get("fields") or []]
            lines += self._fields(fields)
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping):
                extra = self._element(accessory, state, block_id)
                if extra:
                    lines.append("  " + extra)
            return lines
        if kind == "context":
            parts = []
            for el in block.get("elements") or []:
                if isinstance(el, Mapping) and el.get("type") == "image":
                    parts.append(f"[{el.get('alt_text', 'image')}]")
                else:
                    parts.append(self.text_of(el))
            return [self.dim("  " + "  ·  ".join(p for p in parts if p))] if parts else []
        if kind == "actions":
            rendered = [self._element(el, state, block_id) for el in block.get("elements") or []]
            return ["  " + "  ".join(r for r in rendered if r)] if any(rendered) else []
        if kind == "input":
            label = self.text_of(block.get("label"))
            optional = " (optional)" if block.get("optional") else ""
            element = block.get("element") or {}
            line = f"  ▸ {self.bold(label)}{optional}" if self.unicode else f"  > {self.bold(label)}{optional}"
            detail = self._input_detail(element, state, block_id)
            lines = [line + (f": {detail}" if detail else "")]
            if block.get("hint"):
                lines.append(self.dim("    " + self.text_of(block["hint"])))
            return lines
        if kind == "image":
            return [f"[image: {block.get('alt_text', '')}]"]
        if kind == "rich_text":
            return [self._rich_text(block)]
        if kind == "file":
            return [f"[file: {block.get('external_id', '')}]"]
        if block.get("text"):
            return [self.text_of(block["text"])]
        return []

    def _fields(self, fields: list[str]) -> list[str]:
        if not fields:
            return []
        col = max(min(max(len(_strip_ansi(f.splitlines()[0] if f else "")) for f in fields), 34), 10) + 2
        lines: list[str] = []
        for i in range(0, len(fields), 2):
            left = fields[i].replace("\n", " ")
            right = fields[i + 1].replace("\n", " ") if i + 1 < len(fields) else ""
            pad = " " * max(col - len(_strip_ansi(left)), 2)
            lines.append(f"  {left}{pad}{right}".rstrip())
        return lines

    def _choice_label(self, choice: Choice, style: str | None) -> str:
        text = f"[{choice.number}] {choice.label}"
        if style in _STYLE_COLOUR:
            return self._sgr(_STYLE_COLOUR[style] + _BOLD, text)
        return self.bold(text) if self.colour else text

    def _element(self, el: Mapping[str, Any], state: _State, block_id: str | None) -> str:
        kind = el.get("type")
        if kind == "button":
            label = self.text_of(el.get("text"))
            choice = state.add(
                label,
                action_id=el.get("action_id"),
                value=el.get("value"),
                block_id=block_id,
                url=el.get("url"),
                style=el.get("style"),
                confirm=self._confirm_text(el.get("confirm")),
            )
            out = self._choice_label(choice, el.get("style"))
            if el.get("url"):
                out += self.dim(f" ({el['url']})")
            return out
        if kind in ("static_select", "overflow", "radio_buttons", "checkboxes", "multi_static_select"):
            options = list(el.get("options") or [])
            for group in el.get("option_groups") or []:
                options += list(group.get("options") or [])
            placeholder = self.text_of(el.get("placeholder")) if el.get("placeholder") else ""
            picks = []
            for opt in options:
                label = self.text_of(opt.get("text"))
                choice = state.add(
                    label, action_id=el.get("action_id"), value=opt.get("value"), block_id=block_id, kind="option"
                )
                picks.append(self._choice_label(choice, None))
            head = f"{placeholder}: " if placeholder else ""
            return head + "  ".join(picks)
        if kind in ("users_select", "conversations_select", "channels_select", "external_select"):
            return f"<{self.text_of(el.get('placeholder')) or kind}>"
        if kind == "image":
            return f"[{el.get('alt_text', 'image')}]"
        return ""

    def _confirm_text(self, dialog: Any) -> str | None:
        if not isinstance(dialog, Mapping):
            return None
        parts = [strip_ansi(self.text_of(dialog.get("title"))), strip_ansi(self.text_of(dialog.get("text")))]
        return " ".join(p.strip() for p in parts if p and p.strip()) or None

    def _input_detail(self, el: Mapping[str, Any], state: _State, block_id: str | None) -> str:
        kind = el.get("type")
        if kind in ("static_select", "radio_buttons", "checkboxes", "multi_static_select"):
            return self._element(el, state, block_id)
        initial = el.get("initial_value")
        if initial is None and isinstance(el.get("initial_option"), Mapping):
            initial = self.text_of(el["initial_option"].get("text"))
        placeholder = self.text_of(el.get("placeholder")) if el.get("placeholder") else ""
        shown = (
            f"[{initial}]" if initial not in (None, "") else (self.dim(f"<{placeholder}>") if placeholder else "[ ]")
        )
        bounds = []
        if el.get("min_value") is not None:
            bounds.append(f"min {el['min_value']}")
        if el.get("max_value") is not None:
            bounds.append(f"max {el['max_value']}")
        return shown + (self.dim(f" ({', '.join(bounds)})") if bounds else "")

    def _rich_text(self, block: Mapping[str, Any]) -> str:
        def walk(node: Any) -> str:
            if isinstance(node, Mapping):
                if node.get("type") == "text":
                    return str(node.get("text", ""))
                if node.get("type") == "link":
                    return f"{node.get('text') or node.get('url')} ({node.get('url')})"
                if node.get("type") == "user":
                    uid = str(node.get("user_id", ""))
                    return "@" + self.users.get(uid, uid)
                if node.get("type") == "emoji":
                    return EMOJI.get(str(node.get("name")), f":{node.get('name')}:")
                return "".join(walk(n) for n in node.get("elements") or [])
            return ""

        return walk(block)


class _State:
    def __init__(self, first: int) -> None:
        self.next = first
        self.choices: list[Choice] = []

    def add(
        self,
        label: str,
        *,
        action_id: str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        url: str | None = None,
        style: str | None = None,
        kind: str = "button",
        confirm: str | None = None,
    ) -> Choice:
        choice = Choice(self.next, label, action_id, value, block_id, url, style, kind, confirm)
        self.next += 1
        self.choices.append(choice)
        return choice


def _field_line(text: str) -> str:
    """``*Label*\nvalue`` (Slack's usual field layout) as ``Label: value`` on one line."""
    head, sep, rest = text.partition("\n")
    if not sep:
        return text
    joiner = " " if _strip_ansi(head).rstrip().endswith(":") else ": "
    return head.rstrip() + joiner + " ".join(rest.split("\n")).strip()


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text)


def strip_ansi(text: str) -> str:
    return _strip_ansi(text)
