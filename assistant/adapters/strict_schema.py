"""Adapting a module's JSON Schema to OpenAI's strict structured-output subset.

Strict mode (the Responses API's ``text.format: {type: json_schema, strict: true}``, the same subset
as chat completions' ``response_format``) accepts a subset of JSON Schema:
the root is an object; every object lists all its properties in ``required`` and sets
``additionalProperties: false``; an optional value is a union with ``null``; supported
constraints are ``pattern``/``format`` on strings (a fixed list of formats),
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf`` on numbers,
``minItems``/``maxItems`` on arrays, ``enum``/``const``, ``anyOf`` (not at the root), ``$defs`` and
``$ref``. Composition keywords (``allOf``, ``not``, ``if``/``then``/``else``,
``dependentRequired``, ``dependentSchemas``) are not supported, nor are ``default`` or
``examples``. So:

* every property becomes required and nullable: ``null`` means "the user did not say";
* ``default``, ``examples``, ``minLength``/``maxLength``, unsupported formats and regexes with
  look-around or back-references are dropped from the schema and stated in the property's
  ``description`` instead, so the model still sees them (the registry enforces them anyway);
* ``oneOf`` becomes ``anyOf``; ``allOf``/``not``/conditionals are dropped (the registry checks),
  and so is an ``anyOf``/``oneOf`` whose branches only add rules to a typed object ("at least
  one of these two fields"), which would otherwise replace the object's own properties;
* a free-form map (``additionalProperties: {...}``, e.g. tags) cannot be strict, so it becomes
  an array of ``{key, value}`` pairs, turned back into a map by ``from_strict``;
* an object with no declared properties becomes a JSON-encoded string.

``$ref`` into ``$defs`` is inlined (bounded depth) to keep the schema self-contained.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

SUPPORTED_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
_UNSAFE_REGEX = re.compile(r"\(\?[=!<]|\(\?>|\\[1-9]|\\k<|[*+?}]\+")
_SCALAR_KEEP: dict[str, tuple[str, ...]] = {
    "string": ("pattern", "format"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "array": ("minItems", "maxItems"),
}
MAX_DEPTH = 8  # OpenAI allows 10 nesting levels; the wrapper object takes some


class Conversion:
    """Where the strict schema differs in shape from the original (to convert values back)."""

    def __init__(self) -> None:
        self.maps: set[str] = set()  # dotted paths turned into [{key, value}]
        self.json_strings: set[str] = set()  # dotted paths turned into JSON strings


def _types(node: Mapping[str, Any]) -> list[str]:
    raw = node.get("type")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [t for t in raw if isinstance(t, str)]
    if "enum" in node:
        out: list[str] = []
        for value in node["enum"]:
            kind = (
                "null"
                if value is None
                else "boolean"
                if isinstance(value, bool)
                else "integer"
                if isinstance(value, int)
                else "number"
                if isinstance(value, float)
                else "string"
            )
            if kind not in out:
                out.append(kind)
        return out
    if "const" in node:
        return _types({"enum": [node["const"]]})
    if "properties" in node or "additionalProperties" in node:
        return ["object"]
    if "items" in node:
        return ["array"]
    return []


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or depth > MAX_DEPTH:
        return node
    if ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
        if isinstance(target, Mapping):
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, root, depth + 1)
    return {k: v for k, v in node.items() if k != "$ref"}


def _describe(node: Mapping[str, Any], dropped: list[str]) -> str | None:
    parts = []
    for key in ("title", "description"):
        text = node.get(key)
        if isinstance(text, str) and text.strip() and text.strip() not in parts:
            parts.append(text.strip())
    parts += dropped
    text = " ".join(p if p.endswith(".") else p + "." for p in parts)
    return text[:1000] or None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if not any(b.get("type") == "null" for b in branches):
            schema["anyOf"] = [*branches, {"type": "null"}]
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def to_strict(
    node: Mapping[str, Any],
    *,
    root: Mapping[str, Any] | None = None,
    nullable: bool = True,
    path: str = "",
    conversion: Conversion | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """The strict-mode form of ``node`` (a module schema or one of its properties)."""
    root = root if root is not None else node
    conversion = conversion if conversion is not None else Conversion()
    node = _resolve(node, root, depth)
    dropped: list[str] = []
    out: dict[str, Any]

    if depth >= MAX_DEPTH:
        conversion.json_strings.add(path)
        out = {"type": "string", "description": "JSON-encoded value."}
        return _nullable(out) if nullable else out

    for key in ("default", "examples"):
        if key in node:
            label = "Default" if key == "default" else "Examples"
            dropped.append(f"{label}: {json.dumps(node[key], ensure_ascii=False, default=str)[:200]}")
    for key in ("allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas"):
        if key in node:
            dropped.append("Further rules are checked after extraction")
            break

    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list) and branches and _constraints_only(node, branches):
        # "at least one of trusted_services / trusted_role_arns": a rule on a typed object,
        # not alternative shapes; the object keeps its properties and the registry checks it.
        dropped.append("Further rules are checked after extraction")
        branches = None
    if isinstance(branches, list) and branches:
        converted = [
            to_strict(b, root=root, nullable=False, path=path, conversion=conversion, depth=depth + 1)
            for b in branches
            if isinstance(b, Mapping)
        ]
        converted = [b for b in converted if b.get("type") != "null"]
        out = {"anyOf": converted}
        description = _describe(node, dropped)
        if description:
            out["description"] = description
        return _nullable(out) if nullable else out

    types = [t for t in _types(node) if t != "null"]
    kind = types[0] if len(types) == 1 else None
    if "enum" in node or "const" in node:
        values = list(node["enum"]) if "enum" in node else [node["const"]]
        out = {"type": types[0] if len(types) == 1 else types, "enum": [v for v in values if v is not None]}
    elif kind == "object":
        out = _object(node, root, path, conversion, depth, dropped)
    elif kind == "array":
        out = _array(node, root, path, conversion, depth, dropped)
    elif kind in ("string", "number", "integer", "boolean"):
        out = _scalar(node, kind, dropped)
    elif len(types) > 1:
        out = {"type": types}
    else:
        conversion.json_strings.add(path)
        out = {"type": "string"}
        dropped.append("Any JSON value, written as JSON text")

    description = _describe(node, dropped)
    if description:
        out["description"] = description
    return _nullable(out) if nullable else out


def _constraints_only(node: Mapping[str, Any], branches: list[Any]) -> bool:
    """Do ``anyOf``/``oneOf`` branches only add rules to a node that has its own type?"""
    if not node.get("type") and not node.get("properties"):
        return False
    shaping = ("type", "enum", "const", "$ref")
    return all(isinstance(b, Mapping) and not any(k in b for k in shaping) for b in branches)


def _object(
    node: Mapping[str, Any], root: Mapping[str, Any], path: str, conversion: Conversion, depth: int, dropped: list[str]
) -> dict[str, Any]:
    props = node.get("properties")
    extra = node.get("additionalProperties")
    if isinstance(props, Mapping) and props:
        properties = {
            name: to_strict(
                sub,
                root=root,
                nullable=True,
                path=f"{path}.{name}" if path else name,
                conversion=conversion,
                depth=depth + 1,
            )
            for name, sub in props.items()
            if isinstance(sub, Mapping)
        }
        return {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "required": list(properties),
        }
    if isinstance(extra, Mapping):
        conversion.maps.add(path)
        value = to_strict(extra, root=root, nullable=False, path=path + ".*", conversion=conversion, depth=depth + 2)
        dropped.append("A map, written as a list of key/value pairs")
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": value},
                "required": ["key", "value"],
                "additionalProperties": False,
            },
        }
    conversion.json_strings.add(path)
    dropped.append("A JSON object, written as JSON text")
    return {"type": "string"}


def _array(
    node: Mapping[str, Any], root: Mapping[str, Any], path: str, conversion: Conversion, depth: int, dropped: list[str]
) -> dict[str, Any]:
    items = node.get("items")
    item_schema: dict[str, Any] = (
        to_strict(items, root=root, nullable=False, path=path + "[]", conversion=conversion, depth=depth + 1)
        if isinstance(items, Mapping)
        else {"type": "string"}
    )
    out: dict[str, Any] = {"type": "array", "items": item_schema}
    for key in _SCALAR_KEEP["array"]:
        if key in node:
            out[key] = node[key]
    if node.get("uniqueItems"):
        dropped.append("Items must be unique")
    return out


def _scalar(node: Mapping[str, Any], kind: str, dropped: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    for key in _SCALAR_KEEP.get(kind, ()):
        if key not in node:
            continue
        value = node[key]
        if key == "format" and value not in SUPPORTED_FORMATS:
            dropped.append(f"Format: {value}")
            continue
        if key == "pattern" and (not isinstance(value, str) or _UNSAFE_REGEX.search(value)):
            dropped.append(f"Must match the regular expression {value}")
            continue
        out[key] = value
    for key, label in (("minLength", "At least {} characters"), ("maxLength", "At most {} characters")):
        if key in node:
            dropped.append(label.format(node[key]))
    return out


def from_strict(value: Any, conversion: Conversion, path: str = "") -> Any:
    """Undo the shape changes of ``to_strict`` on a value the model returned; drop nulls."""
    if path in conversion.maps and isinstance(value, list):
        return {
            str(item.get("key")): from_strict(item.get("value"), conversion, path + ".*")
            for item in value
            if isinstance(item, Mapping) and item.get("key") is not None
        }
    if path in conversion.json_strings and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, Mapping):
        return {k: from_strict(v, conversion, f"{path}.{k}" if path else k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [from_strict(v, conversion, path + "[]") for v in value]
    return copy.deepcopy(value)
