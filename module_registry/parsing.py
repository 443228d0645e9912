"""``parse_field_value(field, text)``: the one reading of typed text as a value of a config
field, shared by the assistant (a chat answer), the Slack modal (a submitted input) and the
console editor (``field=value``). Pure: no I/O.

- booleans in natural phrasings ("yes", "on", "enabled", "turn off", "nope");
- numbers with units ("30 days" for a field in seconds, "2 GiB", "1,000", "2,5");
- enums case-insensitively and by separators ("pay per request" is ``PAY_PER_REQUEST``), or by
  a word only one option has ("kms" for ``aws:kms``); a near miss ("GLACEIR") is never taken
  for the option: it is an error carrying the suggestion;
- lists from a JSON list, lines, commas/semicolons, "a and b", or words;
- maps from a JSON object, or ``k=v`` (``k: v``) pairs on lines, after commas or spaces;
- ``json`` fields from JSON text.

The result is a candidate only: the registry validates it against the schema.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from module_registry.fields import ConfigField, norm
from module_registry.units import CANONICAL_UNIT, UNITS, UnitMismatch, convert

TRUE_WORDS = frozenset(
    {"yes", "y", "true", "on", "enable", "enabled", "yep", "yeah", "sure", "1", "please"}
    | {"turn on", "switch on", "yes please"}
)
FALSE_WORDS = frozenset(
    {"no", "n", "false", "off", "disable", "disabled", "nope", "0", "none", "never"}
    | {"turn off", "switch off", "no thanks"}
)
_QUANTITY = re.compile(r"(-?\d{1,3}(?:,\d{3})+|-?\d+(?:[.,]\d+)?(?:e[+-]?\d+)?)\s*([a-z]+)?")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+")
_MAP_KEY = r"[\w.:/-]+"
_NEXT_PAIR = re.compile(r"\s+(?=" + _MAP_KEY + r"\s*=)")
_QUOTES = "\"'`"


class ParsedValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Any


ErrorCode = Literal["boolean", "enum", "number", "whole", "finite", "unit", "json", "shape", "pairs"]


class ParseError(BaseModel):
    """Why the text is not a value of the field, in plain words (``message``). ``code`` says
    which rule refused it, ``text`` is the part refused, ``options`` the allowed options of an
    enum and ``suggestion`` the option a near miss probably meant (offered, never taken), so a
    channel may word it its own way."""

    model_config = ConfigDict(frozen=True)

    message: str
    code: ErrorCode
    text: str = ""
    options: tuple[Any, ...] = ()
    suggestion: Any = None


class _Refused(ValueError):
    def __init__(
        self, message: str, code: ErrorCode, text: str = "", options: tuple[Any, ...] = (), suggestion: Any = None
    ) -> None:
        super().__init__(message)
        self.error = ParseError(message=message, code=code, text=text, options=options, suggestion=suggestion)


def parse_field_value(field: ConfigField, text: str) -> ParsedValue | ParseError:
    """``text`` read as a value of ``field``."""
    try:
        return ParsedValue(value=_parse(field, text))
    except _Refused as exc:
        return exc.error


# --- pieces (also used by the assistant's extractor) ----------------------------------------
def parse_bool(text: str) -> bool | None:
    low = norm(text)
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    return None


def parse_quantity(text: str) -> tuple[int | float, str | None] | None:
    """``"14 days"`` -> (14, "days"); ``"100GB"`` -> (100, "GB"); ``"2.5"`` -> (2.5, None).
    Whole numbers stay exact ints (no float rounding of large values)."""
    cleaned = text.strip().lower().replace("_", "")
    match = _QUANTITY.fullmatch(cleaned)
    if not match:
        return None
    raw = match.group(1)
    raw = raw.replace(",", "") if _THOUSANDS.fullmatch(raw) else raw.replace(",", ".")
    unit_word = match.group(2)
    if unit_word and unit_word not in UNITS:
        return None
    number: int | float = int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
    return number, (CANONICAL_UNIT[unit_word] if unit_word else None)


def match_enum(field: ConfigField, text: str) -> Any | None:
    """The option ``text`` names exactly (case and separators aside), or by a word only that
    option has; None otherwise (see ``suggest_enum`` for near misses)."""
    options = field.enum or field.item_enum
    target = norm(text)
    if not options or not target:
        return None
    by_norm = _by_norm(options)
    for key in (target, target.replace(" ", "")):
        if key in by_norm:
            return by_norm[key]
    # "kms" for aws:kms: the words said belong to one option only.
    said = set(target.split())
    owners = [option for option in options if said <= set(norm(str(option)).split())]
    return owners[0] if len(owners) == 1 else None


def suggest_enum(field: ConfigField, text: str, *, cutoff: float = 0.75) -> Any | None:
    """The option ``text`` is probably a misspelling of, if one is close."""
    options = field.enum or field.item_enum
    target = norm(text)
    if not options or not target:
        return None
    by_norm = _by_norm(options)
    close = difflib.get_close_matches(target, list(by_norm), n=1, cutoff=cutoff)
    return by_norm[close[0]] if close else None


def _by_norm(options: tuple[Any, ...]) -> dict[str, Any]:
    """Each option by its loose spellings: "STANDARD_IA" is "standard ia" and "standardia"."""
    by_norm: dict[str, Any] = {}
    for option in options:
        by_norm.setdefault(norm(str(option)), option)
        by_norm.setdefault(norm(str(option)).replace(" ", ""), option)
    return by_norm


def render_value(field: ConfigField, value: Any) -> str:
    """``value`` as text that ``parse_field_value(field, ...)`` reads back to it: one list item
    or ``key=value`` per line where that is unambiguous, JSON otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    item = field.item or ConfigField(name=field.name)
    if field.kind == "list" and isinstance(value, list) and _plain_list(item, value):
        return "\n".join(render_value(item, v) for v in value)
    if field.kind == "map" and isinstance(value, dict) and value and all(_plain_pair(k, v) for k, v in value.items()):
        return "\n".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, str) and field.kind in ("text", "select") and _plain_text(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _plain_text(value: str) -> bool:
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in _QUOTES
    return value == value.strip() and not quoted


def _plain_list(item: ConfigField, values: list[Any]) -> bool:
    if not values or item.kind not in ("text", "select", "integer", "number", "boolean"):
        return False
    for v in values:
        if isinstance(v, str):
            spaced = len(values) == 1 and re.search(r"\s", v)
            if not v or not _plain_text(v) or spaced or re.search(r"[\n,;=]", v) or v[0] in "[{":
                return False
            if v.lower() == "and" or re.search(r"\s(?:and\s|$)", v):
                return False
        elif not isinstance(v, bool | int | float) or not math.isfinite(v):
            return False
    return True


def _plain_pair(key: Any, value: Any) -> bool:
    return (
        isinstance(key, str)
        and re.fullmatch(_MAP_KEY, key) is not None
        and ":" not in key
        and isinstance(value, str)
        and bool(value)
        and _plain_text(value)
        and re.search(r"[\n,;=]|\sand\s|^and\s|\sand$|^and$", value) is None
        and value[0] not in "[{"
    )


# --- the parser --------------------------------------------------------------------------------
def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        if text[0] == '"':
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None
            if isinstance(decoded, str):
                return decoded  # a JSON string: its escapes decoded
        return text[1:-1]
    return text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse(field: ConfigField, raw: str) -> Any:
    stripped = raw.strip()
    text = _unquote(stripped)
    if field.kind == "select":
        return _enum(field, text)
    if field.kind == "boolean":
        parsed = parse_bool(text)
        if parsed is None:
            raise _Refused(f"is yes or no, not {_short(text)!r}", "boolean", text)
        return parsed
    if field.kind in ("integer", "number"):
        return _quantity(field, text)
    if field.kind == "list":
        return _list(field, stripped)
    if field.kind == "map":
        return _map(field, stripped)
    if field.kind == "json":
        try:
            return json.loads(stripped)
        except ValueError:
            if "string" in field.types:
                return text
            raise _Refused("is not valid JSON", "json", text) from None
    return text


def _enum(field: ConfigField, text: str) -> Any:
    found = match_enum(field, text)
    if found is not None:
        return found
    options = field.enum or field.item_enum
    allowed = ", ".join(str(v) for v in options)
    suggestion = suggest_enum(field, text)
    if suggestion is not None:
        raise _Refused(
            f"{_short(text)!r} is not one of the allowed values; did you mean {suggestion}? (allowed: {allowed})",
            "enum",
            text,
            options,
            suggestion,
        )
    raise _Refused(f"{_short(text)!r} is not one of the allowed values: {allowed}", "enum", text, options)


def _quantity(field: ConfigField, text: str) -> int | float:
    quantity = parse_quantity(text)
    if quantity is None:
        if text.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
            raise _Refused("must be a finite number", "finite", text)
        raise _Refused(f"must be a number{(' (in ' + field.unit + ')') if field.unit else ''}", "number", text)
    number, unit = quantity
    try:
        value = number if unit is None or unit == field.unit else convert(number, unit, field.unit)
    except UnitMismatch as exc:
        raise _Refused(str(exc), "unit", text) from None
    if not math.isfinite(value):
        raise _Refused("must be a finite number", "finite", text)
    if field.kind == "integer" or ("integer" in field.types and "number" not in field.types):
        if not float(value).is_integer():
            raise _Refused("must be a whole number", "whole", text)
        return int(value)
    return int(value) if "integer" in field.types and float(value).is_integer() else value


def _json(text: str, expected: type, what: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        raise _Refused("is not valid JSON", "json", text) from None
    if not isinstance(value, expected):
        raise _Refused(f"expected a JSON {what}", "shape", text)
    return value


def _item(field: ConfigField, text: str) -> Any:
    item = field.item or ConfigField(name=field.name)
    return _parse(item, text)


def _list(field: ConfigField, text: str) -> list[Any]:
    if text.startswith(("[", "{")):
        return list(_json(text, list, "list"))
    if "\n" in text:
        parts = text.split("\n")
    elif re.search(r"[,;]", text):
        # "a, b and c"; an item may hold spaces ("Data Team, Ops") when commas separate.
        parts = [p for chunk in re.split(r"[,;]", text) for p in re.split(r"\s+and\s+|^and\s+", chunk.strip())]
    else:
        # "subnet-a subnet-b", "a and b": words are items.
        parts = re.split(r"\s+", text)
    items = [p.strip() for p in parts]
    return [_item(field, p) for p in items if p and p.lower() != "and"]


def _map(field: ConfigField, text: str) -> dict[str, Any]:
    if text.startswith(("{", "[")):
        return dict(_json(text, dict, "object"))
    out: dict[str, Any] = {}
    lines = [line for line in text.split("\n") if line.strip()]
    chunks: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        pieces = [line] if len(lines) > 1 else re.split(r"\s*[,;]\s*|\s+and\s+", line)
        for piece in pieces:
            # "team=data owner=bob" is two pairs; "team=Data Team" one (a value may hold spaces).
            chunks += [(number, c) for c in _NEXT_PAIR.split(piece.strip()) if c.strip()]
    if not chunks:
        raise _Refused("takes key=value pairs, e.g. team=payments", "pairs", text)
    for number, chunk in chunks:
        sep = "=" if "=" in chunk else ":"
        key, found, val = chunk.strip().partition(sep)
        if not found or re.fullmatch(_MAP_KEY, key.strip()) is None:
            where = f"line {number}" if len(lines) > 1 else repr(_short(chunk.strip()))
            raise _Refused(f"{where} is not key=value (e.g. team=payments)", "pairs", chunk.strip())
        out[key.strip()] = _item(field, val.strip())
    return out
