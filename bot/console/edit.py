"""Edit in a terminal: what Slack's Edit modal does, as one typed line of ``field=value`` pairs.

``describe(fields, config)`` lists the request's settings as they are; ``parse_assignments``
reads what the person typed (``versioning=false name="new logs" tags={"team":"data"}``) into
typed values by the module's JSON Schema fields (the same ``FormField``s the modal is built
from), with every problem named. The registry validates the result like any other edit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.views.forms import FormField

MAX_LINE = 4000
# name=value, the value a quoted string, a JSON list/object, or a bare word up to a space (a
# trailing comma separates pairs; inside a bare word it separates list items: ports=80,443).
_PAIR_RE = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|[^\s]*)\s*,?""")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def describe(fields: Sequence[FormField], config: Mapping[str, Any]) -> list[str]:
    """One line per field: its name, its value now (or its default), what it accepts."""
    lines: list[str] = []
    for field in fields:
        if field.name in config:
            now = shown(config[field.name])
        elif field.has_default:
            now = f"{shown(field.default)} (default)"
        else:
            now = "(not set)"
        accepts = {
            "select": " / ".join(shown(v) for v in field.enum),
            "boolean": "true / false",
            "integer": "a whole number",
            "number": "a number",
            "list": "a JSON list or a,b,c",
            "map": 'a JSON object or {"key":"value"}',
            "json": "JSON",
            "text": "text",
        }[field.kind]
        lines.append(f"{field.name} = {now}    [{accepts}]")
    return lines


def _scalar(text: str, item_type: str | None) -> Any:
    if item_type == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{text!r} is not true or false")
    if item_type in ("integer", "number"):
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("is not a finite number")
        if item_type == "integer":
            if not number.is_integer():
                raise ValueError("must be a whole number")
            return int(number)
        return number
    return text


def _value(field: FormField, raw: str) -> Any:
    text = raw
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = json.loads(text)  # a quoted string: its escapes decoded
        if field.kind == "text":
            return text
    if field.kind == "select":
        for option in field.enum:
            if shown(option) == text or (isinstance(option, str) and option.lower() == text.lower()):
                return option
        raise ValueError(f"is not one of {', '.join(shown(v) for v in field.enum)}")
    if field.kind in ("boolean", "integer", "number"):
        return _scalar(text, field.kind)
    if field.kind == "list":
        if text.startswith("["):
            value = json.loads(text)
            if not isinstance(value, list):
                raise ValueError("expected a JSON list")
            return value
        return [_scalar(part.strip(), field.item_type) for part in text.split(",") if part.strip()]
    if field.kind in ("map", "json"):
        value = json.loads(text)
        if field.kind == "map" and not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value
    return text


def parse_assignments(fields: Sequence[FormField], text: str) -> tuple[dict[str, Any], list[str]]:
    """``(values, problems)`` from ``name=value`` pairs; any problem means nothing is saved."""
    by_name = {f.name: f for f in fields}
    values: dict[str, Any] = {}
    problems: list[str] = []
    line = text.strip()
    if len(line) > MAX_LINE:
        return {}, [f"the line is longer than {MAX_LINE} characters"]
    pos = 0
    while pos < len(line):
        match = _PAIR_RE.match(line, pos)
        if match is None or match.end() == pos:
            problems.append(f"could not read {line[pos : pos + 40]!r}: write field=value pairs")
            break
        name, raw = match.group(1), match.group(2)
        if raw.endswith(",") and not raw.startswith(('"', "[", "{")):
            raw = raw[:-1]
        pos = match.end()
        field = by_name.get(name)
        if field is None:
            problems.append(f"{name}: no such setting (settings: {', '.join(by_name)})")
            continue
        if raw == "":
            problems.append(f"{name}: no value given")
            continue
        try:
            values[name] = _value(field, raw)
        except (ValueError, TypeError) as exc:
            reason = "is not valid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            problems.append(f"{name}: {reason}")
    if not values and not problems:
        problems.append("nothing to change")
    return values, problems
