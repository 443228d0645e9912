"""Modals generated from a module's JSON Schema, and the parsing of their submissions.

``schema_fields(schema)`` reads the schema's top-level properties into the registry's field model
(``FormField`` is ``module_registry.fields.ConfigField``);
``form_modal(...)`` renders them: a static select for an enum, a number input with the bounds
for integers and numbers, a checkbox for a boolean, a text input (hint from the description,
placeholder from the examples) for a string, and a multiline input for lists and maps (JSON, or
one item / ``key=value`` per line). ``parse_submission`` turns ``view.state.values`` back into
typed values with the registry's ``parse_field_value`` and reports what cannot be read, keyed by block id, ready for
``response_action: errors``. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from bot.views.limits import (
    INITIAL_VALUE,
    INPUT_HINT,
    INPUT_LABEL,
    MAX_BLOCKS,
    OPTION_TEXT,
    OPTION_VALUE,
    PLACEHOLDER,
    PRIVATE_METADATA,
    SELECT_OPTIONS,
    VIEW_CLOSE,
    VIEW_SUBMIT,
    VIEW_TITLE,
    clip,
    mrkdwn,
    plain,
)
from module_registry.fields import ConfigField, fields_of
from module_registry.parsing import ParseError, parse_field_value
from module_registry.parsing import render_value as render_text

INPUT_ACTION = "value"
ERROR_TEXT = 500
# One block of the modal introduces it and one may say that fields were left out.
MAX_FIELDS = MAX_BLOCKS["modal"] - 2

# A modal input is the registry's field model itself (kind, bounds, options, default...).
FormField = ConfigField


def block_id_for(name: str) -> str:
    if len(name) <= 200 and re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        return f"f:{name}"
    return "f#" + hashlib.sha256(name.encode()).hexdigest()[:32]


def _block(field: FormField) -> str:
    return block_id_for(field.name)


def _placeholder(field: FormField) -> str | None:
    if field.examples:
        first = field.examples[0]
        return first if isinstance(first, str) else json.dumps(first, separators=(",", ":"))
    return None


def schema_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """The schema's top-level properties as form fields, in schema order (read-only ones left out)."""
    return [f for f in fields_of(schema) if not f.read_only]


# --- rendering -------------------------------------------------------------------------------


def _option_value(field: FormField, index: int) -> str:
    value = field.enum[index]
    encoded = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    # Long or colliding values travel as their index: the schema maps them back.
    return encoded if len(encoded) <= OPTION_VALUE and not encoded.startswith("#") else f"#{index}"


def _option(field: FormField, index: int) -> dict[str, Any]:
    value = field.enum[index]
    label = value if isinstance(value, str) else json.dumps(value)
    return {"text": plain(label, OPTION_TEXT), "value": _option_value(field, index)}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_value(field: FormField, value: Any) -> str:
    """How a current value is shown in a text input (text the parser reads back to it; lists,
    maps and JSON that need it as indented JSON)."""
    if field.kind in ("list", "map"):
        text = render_text(field, value)
        return text if not text.startswith(("[", "{")) else json.dumps(value, indent=2, sort_keys=True)
    if field.kind == "json":
        return json.dumps(value, indent=2, sort_keys=True)
    return value if isinstance(value, str) else json.dumps(value)


def oversized(field: FormField, value: Any) -> bool:
    """True when ``value`` cannot be prefilled (too long for a text input)."""
    if value is None or field.kind in ("select", "boolean", "integer", "number"):
        return False
    return len(render_value(field, value)) > INITIAL_VALUE


def _hint(field: FormField, value: Any) -> str | None:
    parts: list[str] = []
    if field.description:
        parts.append(field.description)
    if field.kind == "list":
        parts.append("A JSON list, or one item per line.")
    elif field.kind == "map":
        parts.append("A JSON object, or one key=value per line.")
    elif field.kind == "json":
        parts.append("A JSON value.")
    if oversized(field, value):
        parts.append(
            f"The current value is too long to show ({len(render_value(field, value))} characters): "
            "leave this empty to keep it."
        )
    if field.has_default and field.kind not in ("boolean",):
        parts.append(f"Default: {render_value(field, field.default)}")
    return clip(" ".join(parts), INPUT_HINT) if parts else None


def _element(field: FormField, value: Any) -> dict[str, Any]:
    if field.kind == "select":
        options = [_option(field, i) for i in range(min(len(field.enum), SELECT_OPTIONS))]
        element: dict[str, Any] = {"type": "static_select", "action_id": INPUT_ACTION, "options": options}
        if value is not None and value in field.enum[:SELECT_OPTIONS]:
            element["initial_option"] = options[field.enum.index(value)]
        return element
    if field.kind == "boolean":
        option = {"text": plain("Yes", OPTION_TEXT), "value": "true"}
        element = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": [option]}
        if value is True:
            element["initial_options"] = [option]
        return element
    if field.kind in ("integer", "number"):
        element = {"type": "number_input", "action_id": INPUT_ACTION, "is_decimal_allowed": field.kind == "number"}
        lowest, highest = field.lower_bound(), field.upper_bound()
        if lowest is not None and math.isfinite(lowest):
            element["min_value"] = _number_text(lowest)
        if highest is not None and math.isfinite(highest):
            element["max_value"] = _number_text(highest)
        if isinstance(value, int | float) and not isinstance(value, bool):
            element["initial_value"] = _number_text(value)
        if _placeholder(field):
            element["placeholder"] = plain(_placeholder(field) or "", PLACEHOLDER)
        return element
    element = {"type": "plain_text_input", "action_id": INPUT_ACTION}
    if field.kind in ("list", "map", "json") or (field.max_length or 0) > 300:
        element["multiline"] = True
    if field.max_length is not None and 0 < field.max_length <= INITIAL_VALUE:
        element["max_length"] = field.max_length
    if value is not None and not oversized(field, value):
        rendered = render_value(field, value)
        if rendered:
            element["initial_value"] = rendered
    if _placeholder(field):
        element["placeholder"] = plain(_placeholder(field) or "", PLACEHOLDER)
    return element


def field_block(field: FormField, value: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": _block(field),
        "label": plain(field.label, INPUT_LABEL),
        "element": _element(field, value),
        # A boolean is a single checkbox: unticked means false, so it is never "required".
        "optional": field.kind == "boolean" or not field.required,
    }
    hint = _hint(field, value)
    if hint:
        block["hint"] = plain(hint, INPUT_HINT)
    return block


def shown_fields(fields: list[FormField]) -> list[FormField]:
    """At most ``MAX_FIELDS`` fields: the required ones first when there are too many."""
    if len(fields) <= MAX_FIELDS:
        return fields
    required = [f for f in fields if f.required]
    optional = [f for f in fields if not f.required]
    keep = {f.name for f in (required + optional)[:MAX_FIELDS]}
    return [f for f in fields if f.name in keep]


def form_modal(
    fields: list[FormField],
    *,
    title: str,
    callback_id: str,
    private_metadata: str,
    values: Mapping[str, Any] | None = None,
    intro: str | None = None,
    submit: str = "Submit",
) -> dict[str, Any]:
    """A modal view with one input block per field, prefilled from ``values`` (else defaults)."""
    if len(private_metadata) > PRIVATE_METADATA:
        raise ValueError(f"private_metadata is {len(private_metadata)} characters (> {PRIVATE_METADATA})")
    current = dict(values or {})
    shown = shown_fields(fields)
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append({"type": "section", "text": mrkdwn(intro)})
    for field in shown:
        value = current.get(field.name, field.default if field.has_default else None)
        blocks.append(field_block(field, value))
    left_out = len(fields) - len(shown)
    if left_out:
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"{left_out} optional field(s) are not shown here; their defaults apply.")],
            }
        )
    if not shown:
        blocks.append({"type": "section", "text": mrkdwn("This module has no settings to fill in.")})
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, VIEW_TITLE),
        "submit": plain(submit, VIEW_SUBMIT),
        "close": plain("Cancel", VIEW_CLOSE),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


# --- parsing ---------------------------------------------------------------------------------


def _state_entry(state: Mapping[str, Any], field: FormField) -> Mapping[str, Any] | None:
    block = state.get(_block(field))
    if not isinstance(block, Mapping):
        return None
    entry = block.get(INPUT_ACTION)
    return entry if isinstance(entry, Mapping) else None


def _parse_text(field: FormField, raw: str) -> Any:
    parsed = parse_field_value(field, raw)
    if isinstance(parsed, ParseError):
        raise ValueError(parsed.message)
    return parsed.value


def _parse_select(field: FormField, raw: str) -> Any:
    for index in range(len(field.enum)):
        if _option_value(field, index) == raw:
            return field.enum[index]
    raise ValueError("is not one of the allowed values")


def parse_submission(
    fields: list[FormField],
    state_values: Mapping[str, Any],
    *,
    keep: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values, errors)``: typed values of the fields filled in, and what could not be read
    keyed by block id. An empty field is left out (its default applies), except a field whose
    current value (in ``keep``) was too long to prefill: left empty, it keeps that value."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    current = dict(keep or {})
    for field in shown_fields(fields):
        entry = _state_entry(state_values, field)
        if entry is None:
            continue
        try:
            if field.kind == "boolean":
                selected = entry.get("selected_options") or []
                values[field.name] = any(isinstance(o, Mapping) and o.get("value") == "true" for o in selected)
                continue
            if field.kind == "select":
                option = entry.get("selected_option")
                if isinstance(option, Mapping) and isinstance(option.get("value"), str):
                    values[field.name] = _parse_select(field, option["value"])
                continue
            raw = entry.get("value")
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if field.name in current and oversized(field, current[field.name]):
                    values[field.name] = current[field.name]
                continue
            if not isinstance(raw, str):
                raise ValueError("unexpected input")
            values[field.name] = _parse_text(field, raw)
        except ValueError as exc:
            errors[_block(field)] = clip(f"{field.label}: {exc}", ERROR_TEXT)
    return values, errors


def errors_by_block(fields: list[FormField], field_errors: Mapping[str, str]) -> dict[str, str]:
    """Map errors keyed by field path (``tags.env``, ``/tags/env``, ``tags[0]``) to block ids;
    an error for a field not on the form goes to the first input, so it is never lost."""
    shown = shown_fields(fields)
    by_name = {f.name: _block(f) for f in shown}
    out: dict[str, str] = {}
    for path, message in field_errors.items():
        top = re.split(r"[./\[]", path.lstrip("/"), maxsplit=1)[0] if path else ""
        block = by_name.get(path) or by_name.get(top)
        text = message if block or not path else f"{path}: {message}"
        if block is None:
            if not shown:
                continue
            block = _block(shown[0])
        out[block] = clip(f"{out[block]}; {text}" if block in out else text, ERROR_TEXT)
    return out
