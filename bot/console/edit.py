"""Edit in a terminal: what Slack's Edit modal does, as one typed line of ``field=value`` pairs.

``describe(fields, config)`` lists the request's settings as they are; ``parse_assignments``
reads what the person typed (``versioning=false name="new logs" tags={"team":"data"}``) into
typed values with the registry's ``parse_field_value`` over the module's fields (the same
field model the modal is built from), with every problem named. The registry validates the result like any other edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.views.forms import FormField
from module_registry.parsing import ParseError, parse_field_value

MAX_LINE = 4000
# name=value, the value a quoted string, a JSON list/object, or a bare word up to a space (a
# trailing comma separates pairs; inside a bare word it separates list items: ports=80,443).
_PAIR_RE = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|[^\s]*)\s*,?""")


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


def _value(field: FormField, raw: str) -> Any:
    parsed = parse_field_value(field, raw)
    if not isinstance(parsed, ParseError):
        return parsed.value
    # The console names booleans and options the way ``describe`` lists them.
    if parsed.code == "boolean":
        raise ValueError(f"{parsed.text!r} is not true or false")
    if parsed.code == "enum":
        hint = f" (did you mean {shown(parsed.suggestion)}?)" if parsed.suggestion is not None else ""
        raise ValueError(f"is not one of {', '.join(shown(v) for v in parsed.options)}{hint}")
    if parsed.code == "finite":
        raise ValueError("is not a finite number")
    raise ValueError(parsed.message)


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
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if not values and not problems:
        problems.append("nothing to change")
    return values, problems
