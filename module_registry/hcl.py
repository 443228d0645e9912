"""Our own small HCL writer: values become literals, never expressions, in ``terraform fmt`` layout.

Why not python-hcl2's ``dumps``: it treats strings as expressions, so a user's ``${...}`` would be
interpolated. Here every string is a quoted literal with ``\\``, ``"``, control and invisible
format characters escaped and ``${``/``%{`` doubled into their template escapes; identifiers
(attribute names, block types and labels, references) are validated, never interpolated.

Layout matches ``terraform fmt`` (hclwrite's formatter): two-space indentation; within a body,
each run of consecutive single-line ``key = value`` lines has its ``=`` aligned one space after
the longest key, a run ending at a blank line, a comment or a multi-line value. hclwrite measures
keys in grapheme clusters; rather than guess Go's segmentation, a key with non-ASCII text is set
apart by blank lines so its own run has one line and needs no alignment.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from module_registry.identifiers import is_hcl_identifier

INDENT = "  "
# Inline lists longer than this are written one item per line (both forms are canonical).
MAX_INLINE_LIST = 80
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "endif", "else", "endfor"})
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control, format (bidi overrides, zero-width joiners), line/paragraph separators: escaped so
# a reviewer sees exactly what is in the file (no "Trojan Source" text in a PR).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class HclError(ValueError):
    """A value or identifier the writer refuses (a bug in the caller, never user-facing text)."""


@dataclass(frozen=True)
class Reference:
    """A traversal such as ``module.x.y``: each part a validated identifier."""

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise HclError("empty reference")
        for part in self.parts:
            if not is_hcl_identifier(part):
                raise HclError(f"invalid identifier in reference: {part!r}")

    def text(self) -> str:
        return ".".join(self.parts)


# Functions a definition may call: pure encoders of literal arguments, nothing that reads state.
ALLOWED_FUNCTIONS = frozenset({"jsonencode"})


@dataclass(frozen=True)
class Call:
    """A call of an allowed function on literal arguments, e.g. ``jsonencode({...})``."""

    name: str
    args: tuple[Value, ...]

    def __post_init__(self) -> None:
        if self.name not in ALLOWED_FUNCTIONS:
            raise HclError(f"function {self.name!r} is not allowed")


Value: TypeAlias = (
    bool | int | float | str | Reference | Call | list["Value"] | tuple["Value", ...] | dict[str, "Value"] | None
)


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Value


@dataclass(frozen=True)
class Blank:
    """An empty line (ends an alignment run)."""


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...] = ()
    body: list[BodyItem] = field(default_factory=list)


BodyItem: TypeAlias = Attribute | Blank | Comment | Block


# --- scalars ---------------------------------------------------------------------------------


def quote(text: str) -> str:
    """``text`` as an HCL quoted string literal whose value is exactly ``text``."""
    out: list[str] = []
    for char in text:
        simple = _SIMPLE_ESCAPES.get(char)
        if simple is not None:
            out.append(simple)
            continue
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise HclError("unpaired surrogate in text")
        if unicodedata.category(char) in _ESCAPED_CATEGORIES:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
            continue
        out.append(char)
    body = "".join(out)
    # Template escapes last: "$${" reads back as "${", "%%{" as "%{" (a "$$${" as "$${").
    body = body.replace("${", "$${").replace("%{", "%%{")
    return f'"{body}"'


def number(value: int | float) -> str:
    if isinstance(value, bool):
        raise HclError("bool is not a number")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise HclError("numbers must be finite")
    text = format(Decimal(repr(value)), "f")
    return text


def scalar(value: Value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Reference):
        return value.text()
    raise HclError(f"not a scalar: {type(value).__name__}")


def _is_scalar(value: Value) -> bool:
    return value is None or isinstance(value, bool | int | float | str | Reference)


def key_text(key: str) -> str:
    """An object key: bare when a plain identifier, else a quoted (escaped) string."""
    if not isinstance(key, str):
        raise HclError(f"object keys must be strings, got {type(key).__name__}")
    if key.isascii() and key.replace("_", "a").isalnum() and not key[0].isdigit() and key not in _KEYWORDS:
        return key
    return quote(key)


def _needs_isolation(key: str) -> bool:
    return not key.isascii()


# --- values ----------------------------------------------------------------------------------


def _inline(value: Value) -> str | None:
    """The one-line form of ``value`` when it has one, else None."""
    if isinstance(value, Call):
        parts = [_inline(arg) for arg in value.args]
        if all(part is not None for part in parts):
            return f"{value.name}({', '.join(p for p in parts if p is not None)})"
        return None
    if _is_scalar(value):
        return scalar(value)
    if isinstance(value, dict):
        return "{}" if not value else None
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(_is_scalar(item) for item in value):
            text = "[" + ", ".join(scalar(item) for item in value) + "]"
            return text if len(text) <= MAX_INLINE_LIST else None
        return None
    raise HclError(f"unsupported value type {type(value).__name__}")


def value_text(value: Value, depth: int = 0) -> str:
    """``value`` as HCL; lines after the first are indented for nesting ``depth``."""
    one_line = _inline(value)
    if one_line is not None:
        return one_line
    pad = INDENT * (depth + 1)
    closing = INDENT * depth
    if isinstance(value, Call):
        # terraform fmt indents the lines after "f({" by one level, so a single multi-line
        # argument lays out exactly like a bare object; more arguments are not needed here.
        if len(value.args) != 1:
            raise HclError("a multi-line call takes exactly one argument")
        return f"{value.name}({value_text(value.args[0], depth)})"
    if isinstance(value, dict):
        lines = _entries([(k, v) for k, v in value.items()], depth + 1)
        return "{\n" + "".join(lines) + closing + "}"
    assert isinstance(value, list | tuple)
    items = [f"{pad}{value_text(item, depth + 1)},\n" for item in value]
    return "[\n" + "".join(items) + closing + "]"


def _entries(pairs: list[tuple[str, Value]], depth: int, *, attributes: bool = False) -> list[str]:
    """Lines of an object body (or, with ``attributes``, a block's arguments, whose names are
    bare identifiers), aligned as ``terraform fmt`` does."""
    pad = INDENT * depth
    rendered: list[tuple[str | None, str, bool]] = []  # (key text or None for blank, value, single-line)
    previous_isolated = False
    for index, (key, value) in enumerate(pairs):
        isolated = _needs_isolation(key)
        if isolated and index > 0 and not previous_isolated and rendered and rendered[-1][0] is not None:
            rendered.append((None, "", False))
        text = value_text(value, depth)
        rendered.append((key if attributes else key_text(key), text, "\n" not in text))
        if isolated and index < len(pairs) - 1:
            rendered.append((None, "", False))
        previous_isolated = isolated
    return _align(rendered, pad)


def _align(rendered: list[tuple[str | None, str, bool]], pad: str) -> list[str]:
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if not run:
            return
        width = max(len(k) for k, _ in run)
        lines.extend(f"{pad}{k}{' ' * (width - len(k))} = {v}\n" for k, v in run)
        run.clear()

    for key, text, single in rendered:
        if key is None:
            flush()
            lines.append("\n")
        elif single:
            run.append((key, text))
        else:
            flush()
            lines.append(f"{pad}{key} = {text}\n")
    flush()
    return lines


# --- blocks and files ------------------------------------------------------------------------


def _check_identifier(kind: str, name: str) -> None:
    if not isinstance(name, str) or not is_hcl_identifier(name):
        raise HclError(f"invalid {kind}: {name!r}")


def _comment_line(text: str, pad: str) -> str:
    if any(unicodedata.category(c) in _ESCAPED_CATEGORIES for c in text):
        raise HclError("comments must be one line of printable text")
    return f"{pad}# {text}".rstrip() + "\n"


def block_lines(block: Block, depth: int = 0) -> list[str]:
    _check_identifier("block type", block.type)
    for label in block.labels:
        _check_identifier("block label", label)
    pad = INDENT * depth
    header = " ".join([block.type, *(f'"{label}"' for label in block.labels)])
    if not block.body:
        return [f"{pad}{header} {{}}\n"]
    lines = [f"{pad}{header} {{\n"]
    lines.extend(body_lines(block.body, depth + 1))
    lines.append(f"{pad}}}\n")
    return lines


def body_lines(items: list[BodyItem], depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    pending: list[tuple[str, Value]] = []

    def flush() -> None:
        if pending:
            lines.extend(_entries(list(pending), depth, attributes=True))
            pending.clear()

    for item in items:
        if isinstance(item, Attribute):
            _check_identifier("attribute name", item.name)
            pending.append((item.name, item.value))
        elif isinstance(item, Blank):
            flush()
            lines.append("\n")
        elif isinstance(item, Comment):
            flush()
            lines.append(_comment_line(item.text, pad))
        elif isinstance(item, Block):
            flush()
            lines.extend(block_lines(item, depth))
        else:
            raise HclError(f"unsupported body item {type(item).__name__}")
    flush()
    return lines


def render_body(items: list[BodyItem]) -> str:
    """A whole file (or a fragment of one) from top-level items; ends with one newline."""
    text = "".join(body_lines(items, 0))
    return text if text.endswith("\n") or not text else text + "\n"
