"""Importer: a Terraform module's ``variable`` blocks become a module definition.

Types map to JSON Schema (string/number/bool, list/set/map/tuple/object, ``optional()`` with
defaults, ``any``); defaults, descriptions, ``sensitive`` and ``nullable`` are carried over;
validation conditions that have a JSON Schema equivalent (regex, ``regexall`` counts, length,
numeric ranges, ``contains`` either way round, ``startswith``/``endswith``, ``alltrue``/``anytrue``
over ``[for ...]``) become keywords whose message
is the block's ``error_message``. Whatever cannot be mapped is listed in ``unmapped``, never
dropped silently. python-hcl2 is used only to parse; expressions are read by ``hclexpr``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions
from jsonschema import Draft202012Validator

from module_registry import hclexpr, meta
from module_registry.definition import EXACT_VERSION_RE, REGISTRY_SOURCE_RE
from module_registry.errors import RegistryError
from module_registry.hclexpr import ExprError, Node

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_KNOWN_ATTRIBUTES = frozenset({"type", "default", "description", "sensitive", "nullable", "validation"})
_OPTIONS = SerializationOptions(
    with_comments=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
    preserve_scientific_notation=False,
)
_LENGTH_KEYWORDS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}
TAGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Tags",
    "description": "Extra tags. TfPilot always adds managed-by, tfpilot-request-id, project, environment and "
    "requester; those keys cannot be set here.",
    "propertyNames": {"format": "aws-tag-key", "minLength": 1, "maxLength": 128},
    "additionalProperties": {"type": "string", "format": "aws-tag-value", "maxLength": 256},
    "maxProperties": 45,
    "default": {},
}


@dataclass(frozen=True)
class Finding:
    """Something about one variable: ``construct`` names the HCL construct, ``detail`` says what."""

    variable: str
    construct: str
    detail: str

    def text(self) -> str:
        return f"{self.variable}: {self.construct}: {self.detail}"


@dataclass
class ImportResult:
    definition: dict[str, Any]
    unmapped: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "variables": list(self.variables),
            "unmapped": [f.__dict__ for f in self.unmapped],
            "notes": [f.__dict__ for f in self.notes],
        }


# --- small helpers -----------------------------------------------------------------------------


def _unescape(value: Any) -> Any:
    """python-hcl2 keeps template escapes: turn ``$${``/``%%{`` back into their literal text."""
    if isinstance(value, str):
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {_unescape(k): _unescape(v) for k, v in value.items()}
    return value


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return bool(re.search(r"(?<!\$)\$\{|(?<!%)%\{", value))
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    if isinstance(value, dict):
        return any(_has_expression(k) or _has_expression(v) for k, v in value.items())
    return False


def _label(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


def _title(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").strip()
    return (words[:1].upper() + words[1:]) or name


def _allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def unparse(node: Node) -> str:
    """Source-like text of an AST node (for reports)."""
    kind = node[0]
    if kind == "lit":
        return json.dumps(node[1])
    if kind == "ref":
        return ".".join(node[1])
    if kind == "index":
        return f"{unparse(node[1])}[{unparse(node[2])}]"
    if kind == "call":
        return f"{node[1]}({', '.join(unparse(a) for a in node[2])})"
    if kind == "list":
        return "[" + ", ".join(unparse(i) for i in node[1]) + "]"
    if kind == "object":
        return "{" + ", ".join(f"{k} = {unparse(v)}" for k, v in node[1]) + "}"
    if kind == "binop":
        return f"{unparse(node[2])} {node[1]} {unparse(node[3])}"
    if kind == "unary":
        return f"{node[1]}{unparse(node[2])}"
    if kind == "cond":
        return f"{unparse(node[1])} ? {unparse(node[2])} : {unparse(node[3])}"
    if kind == "for":
        head = f"{node[1]}, {node[2]}" if node[1] else node[2]
        return f"[for {head} in {unparse(node[3])} : {unparse(node[4])}]"
    return "?"


# --- types ----------------------------------------------------------------------------------


class _Types:
    """Type constraint -> JSON Schema, recording what it cannot express."""

    def __init__(self, variable: str, findings: list[Finding]) -> None:
        self.variable = variable
        self.findings = findings

    def schema(self, node: Node, where: str) -> dict[str, Any]:
        kind = node[0]
        if kind == "ref" and len(node[1]) == 1:
            name = node[1][0]
            simple = {"string": {"type": "string"}, "number": {"type": "number"}, "bool": {"type": "boolean"}}
            if name in simple:
                return dict(simple[name])
            if name == "any":
                return {}
            if name in ("list", "set", "map"):  # legacy bare collection: of any element
                return self._collection(name, {})
        if kind == "lit" and isinstance(node[1], str):  # legacy quoted type ("string", "list", "map")
            return self.schema(("ref", (node[1],)), where)
        if kind == "call" and node[1] in ("list", "set", "map") and len(node[2]) == 1:
            return self._collection(node[1], self.schema(node[2][0], f"{where}[]"))
        if kind == "call" and node[1] == "tuple" and len(node[2]) == 1 and node[2][0][0] == "list":
            items = [self.schema(item, f"{where}[{i}]") for i, item in enumerate(node[2][0][1])]
            return {
                "type": "array",
                "prefixItems": items,
                "items": False,
                "minItems": len(items),
                "maxItems": len(items),
            }
        if kind == "call" and node[1] == "object" and len(node[2]) == 1 and node[2][0][0] == "object":
            return self._object(node[2][0][1], where)
        self.findings.append(
            Finding(
                self.variable,
                "type",
                f"{unparse(node)} at {where or 'the top'} is not understood; any value is accepted",
            )
        )
        return {}

    @staticmethod
    def _collection(kind: str, items: dict[str, Any]) -> dict[str, Any]:
        if kind == "map":
            return {"type": "object", "additionalProperties": items}
        schema: dict[str, Any] = {"type": "array", "items": items}
        if kind == "set":
            schema["uniqueItems"] = True
        return schema

    def _object(self, pairs: list[tuple[str, Node]], where: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for key, value in pairs:
            path = f"{where}.{key}" if where else key
            if value[0] == "call" and value[1] == "optional":
                args = value[2]
                if not 1 <= len(args) <= 2:
                    self.findings.append(Finding(self.variable, "optional()", f"{path}: takes a type and a default"))
                    properties[key] = {}
                    continue
                sub = self.schema(args[0], path)
                if len(args) == 2:
                    try:
                        default = _unescape(hclexpr.literal(args[1]))
                    except ExprError:
                        self.findings.append(
                            Finding(
                                self.variable, "optional() default", f"{path}: {unparse(args[1])} is not a constant"
                            )
                        )
                    else:
                        if default is None:
                            _allow_null(sub)
                        else:
                            sub["default"] = default
                else:
                    _allow_null(sub)
                properties[key] = sub
            else:
                properties[key] = self.schema(value, path)
                required.append(key)
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        return schema


# --- validation conditions ------------------------------------------------------------------


class _Conditions:
    """Validation condition -> JSON Schema keywords merged into the variable's schema."""

    def __init__(self, variable: str, schema: dict[str, Any], findings: list[Finding]) -> None:
        self.variable = variable
        self.root = schema
        self.findings = findings

    def apply(self, condition: str, message: str | None) -> None:
        try:
            node = hclexpr.parse(condition)
        except ExprError as exc:
            self.findings.append(Finding(self.variable, "validation", f"condition {condition!r} not parsed: {exc}"))
            return
        for conjunct in self._conjuncts(node):
            mapped = self._map(conjunct, None)
            if mapped is None:
                self.findings.append(
                    Finding(
                        self.variable, "validation", f"condition {unparse(conjunct)!r} has no JSON Schema equivalent"
                    )
                )
                continue
            target, fragment = mapped
            self._merge(target, fragment, message)

    def _conjuncts(self, node: Node) -> list[Node]:
        if node[0] == "binop" and node[1] == "&&":
            return self._conjuncts(node[2]) + self._conjuncts(node[3])
        return [node]

    # A target is the schema a reference points at: var.<name>[.<attr>...] or a for-loop variable.
    def _target(self, node: Node, loop: tuple[str, dict[str, Any]] | None) -> dict[str, Any] | None:
        if node[0] != "ref":
            return None
        parts = node[1]
        if loop is not None and parts[0] == loop[0]:
            schema: Any = loop[1]
            rest = parts[1:]
        elif len(parts) >= 2 and parts[0] == "var" and parts[1] == self.variable:
            schema = self.root
            rest = parts[2:]
        else:
            return None
        for attr in rest:
            props = schema.get("properties") if isinstance(schema, dict) else None
            if not isinstance(props, dict) or attr not in props:
                return None
            schema = props[attr]
        return schema if isinstance(schema, dict) else None

    @staticmethod
    def _type_of(schema: dict[str, Any]) -> str | None:
        kind = schema.get("type")
        kinds = [kind] if isinstance(kind, str) else [k for k in kind if k != "null"] if isinstance(kind, list) else []
        return kinds[0] if len(kinds) == 1 else None

    def _map(self, node: Node, loop: tuple[str, dict[str, Any]] | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
        kind = node[0]
        if kind == "binop" and node[1] == "&&":
            left = self._map(node[2], loop)
            right = self._map(node[3], loop)
            if left is None or right is None or left[0] is not right[0]:
                return None
            return left[0], {"allOf": [left[1], right[1]]}
        if kind == "binop" and node[1] == "||":
            return self._map_or(node, loop)
        if kind == "call" and node[1] == "can" and len(node[2]) == 1:
            return self._map_can(node[2][0], loop)
        if kind == "call" and node[1] == "contains" and len(node[2]) == 2 and node[2][0][0] == "list":
            target = self._target(node[2][1], loop)
            try:
                values = hclexpr.literal(node[2][0])
            except ExprError:
                return None
            return (target, {"enum": _unescape(values)}) if target is not None else None
        if kind == "call" and node[1] == "contains" and len(node[2]) == 2:
            # contains(var.list, "x"): the list must hold that value.
            target = self._target(node[2][0], loop)
            if target is None or self._type_of(target) != "array":
                return None
            try:
                value = hclexpr.literal(node[2][1])
            except ExprError:
                return None
            return target, {"contains": {"const": _unescape(value)}}
        if kind == "call" and node[1] == "anytrue" and len(node[2]) == 1 and node[2][0][0] == "for":
            return self._map_any(node[2][0], loop)
        if kind == "unary" and node[1] == "!":
            inner = self._map(node[2], loop)
            return (inner[0], {"not": inner[1]}) if inner is not None else None
        if kind == "call" and node[1] in ("startswith", "endswith") and len(node[2]) == 2:
            target = self._target(node[2][0], loop)
            if target is None or node[2][1][0] != "lit" or not isinstance(node[2][1][1], str):
                return None
            text = re.escape(_unescape(node[2][1][1]))
            return target, {"pattern": f"^{text}" if node[1] == "startswith" else f"{text}$"}
        if kind == "call" and node[1] == "alltrue" and len(node[2]) == 1 and node[2][0][0] == "for":
            return self._map_for(node[2][0], loop)
        if kind == "binop" and node[1] in ("==", "!=", "<", "<=", ">", ">="):
            return self._map_compare(node, loop)
        return None

    def _map_or(
        self, node: Node, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for null_side, other in ((node[2], node[3]), (node[3], node[2])):
            if null_side[0] == "binop" and null_side[1] == "==":
                a, b = null_side[2], null_side[3]
                ref = a if b == ("lit", None) else b if a == ("lit", None) else None
                if ref is not None and self._target(ref, loop) is not None:
                    mapped = self._map(other, loop)
                    if mapped is None:
                        return None
                    return mapped[0], {"anyOf": [{"type": "null"}, mapped[1]]}
        left = self._map(node[2], loop)
        right = self._map(node[3], loop)
        if left is None or right is None or left[0] is not right[0]:
            return None
        return left[0], {"anyOf": [left[1], right[1]]}

    def _map_can(
        self, inner: Node, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if inner[0] == "call" and inner[1] == "regex" and len(inner[2]) == 2:
            pattern, subject = inner[2]
            target = self._target(subject, loop)
            if target is None or pattern[0] != "lit" or not isinstance(pattern[1], str):
                return None
            try:
                re.compile(pattern[1])
            except re.error:
                return None
            return target, {"pattern": pattern[1]}
        return None

    def _map_for(
        self, node: Node, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        _, key_var, value_var, collection, body = node
        target = self._target(collection, loop)
        if target is None:
            return None
        kind = self._type_of(target)
        keyword = {"array": "items", "object": "additionalProperties"}.get(kind or "")
        if keyword is None:
            return None
        found = target.get(keyword)
        element: dict[str, Any] = found if isinstance(found, dict) else {}
        if key_var is not None and key_var in json.dumps(body):
            return None  # conditions on map keys have no simple equivalent
        mapped = self._map(body, (value_var, element))
        if mapped is None or mapped[0] is not element:
            return None
        return target, {keyword: mapped[1]}

    def _map_any(
        self, node: Node, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """anytrue([for v in var.list : cond]): at least one item meets the condition."""
        _, key_var, value_var, collection, body = node
        target = self._target(collection, loop)
        if target is None or self._type_of(target) != "array" or key_var is not None:
            return None
        found = target.get("items")
        element: dict[str, Any] = found if isinstance(found, dict) else {}
        mapped = self._map(body, (value_var, element))
        if mapped is None or mapped[0] is not element:
            return None
        return target, {"contains": mapped[1]}

    def _map_regexall(
        self, call: Node, op: str, count: Any, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """length(regexall(P, var.x)) compared with a count: P matches (> 0) or never does (== 0)."""
        if len(call[2]) != 2 or not isinstance(count, int) or isinstance(count, bool):
            return None
        pattern, subject = call[2]
        target = self._target(subject, loop)
        if target is None or pattern[0] != "lit" or not isinstance(pattern[1], str):
            return None
        try:
            re.compile(pattern[1])
        except re.error:
            return None
        matches = (op, count) in ((">", 0), (">=", 1), ("!=", 0))
        never = (op, count) in (("==", 0), ("<", 1), ("<=", 0))
        if matches:
            return target, {"pattern": pattern[1]}
        if never:
            return target, {"not": {"pattern": pattern[1]}}
        return None

    def _map_compare(
        self, node: Node, loop: tuple[str, dict[str, Any]] | None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        op, left, right = node[1], node[2], node[3]
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
        if right[0] != "lit" and left[0] == "lit":
            left, right, op = right, left, flipped[op]
        if right[0] != "lit":
            # floor(var.x) == var.x: a whole number
            if op == "==" and left[0] == "call" and left[1] == "floor" and len(left[2]) == 1 and left[2][0] == right:
                target = self._target(right, loop)
                return (target, {"multipleOf": 1}) if target is not None else None
            return None
        value = right[1]
        if left[0] == "call" and left[1] == "length" and len(left[2]) == 1 and left[2][0][:2] == ("call", "regexall"):
            return self._map_regexall(left[2][0], op, value, loop)
        if left[0] == "call" and left[1] == "length" and len(left[2]) == 1:
            target = self._target(left[2][0], loop)
            if target is None or not isinstance(value, int) or isinstance(value, bool):
                return None
            words = _LENGTH_KEYWORDS.get(self._type_of(target) or "")
            if words is None:
                return None
            low, high = words
            bounds = {
                ">": {low: value + 1},
                ">=": {low: value},
                "<": {high: value - 1},
                "<=": {high: value},
                "==": {low: value, high: value},
            }
            if op == "!=" and value == 0:
                return target, {low: 1}
            fragment = bounds.get(op)
            return (target, fragment) if fragment is not None else None
        target = self._target(left, loop)
        if target is None:
            return None
        if op == "==":
            return target, {"const": _unescape(value)}
        if op == "!=":
            if value == "" and self._type_of(target) == "string":
                return target, {"minLength": 1}
            return target, {"not": {"const": _unescape(value)}}
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        keyword = {">": "exclusiveMinimum", ">=": "minimum", "<": "exclusiveMaximum", "<=": "maximum"}[op]
        return target, {keyword: value}

    def _merge(self, target: dict[str, Any], fragment: dict[str, Any], message: str | None) -> None:
        for key, value in fragment.items():
            entry = {key: value}
            if key not in target:
                target[key] = value
                holder = target
            else:
                target.setdefault("allOf", []).append(entry)
                holder = entry
            if message:
                holder.setdefault("x-messages", {})[key] = message


# --- the importer ----------------------------------------------------------------------------


def _parse_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read: {exc}", file=str(path)) from exc
    try:
        parsed: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    except Exception as exc:  # python-hcl2 raises lark errors of several types
        raise RegistryError(f"not valid HCL: {str(exc).splitlines()[0]}", file=str(path)) from exc
    return parsed


def _blocks(parsed: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for entry in parsed.get(kind, []) or []:
        if isinstance(entry, dict):
            for raw, body in entry.items():
                if isinstance(body, dict):
                    found.append((_label(str(raw)), body))
    return found


def _variable(
    name: str, body: dict[str, Any], unmapped: list[Finding], notes: list[Finding]
) -> tuple[dict[str, Any], bool]:
    """(property schema, required) for one variable block."""
    for key in body:
        if not key.startswith("__") and key not in _KNOWN_ATTRIBUTES:
            unmapped.append(Finding(name, key, f"the {key!r} argument has no JSON Schema equivalent and is ignored"))
    raw_type = body.get("type")
    schema: dict[str, Any]
    if raw_type is None:
        schema = {}
    else:
        try:
            schema = _Types(name, unmapped).schema(hclexpr.parse(str(raw_type)), "")
        except ExprError as exc:
            unmapped.append(Finding(name, "type", f"{raw_type!r} not parsed ({exc}); any value is accepted"))
            schema = {}
    description = body.get("description")
    schema = {"title": _title(name), "description": "", **schema}
    if isinstance(description, str) and description.strip():
        schema["description"] = _unescape(description).strip()
    else:
        schema["description"] = f"The {name} input of the module."
        notes.append(Finding(name, "description", "no description; a placeholder was written"))
    nullable = body.get("nullable")
    required = "default" not in body
    if "default" in body:
        default = body["default"]
        if _has_expression(default):
            unmapped.append(Finding(name, "default", f"{default!r} is an expression; no default was set"))
        elif default is None:
            _allow_null(schema)
        else:
            schema["default"] = _unescape(default)
    if nullable is True:
        _allow_null(schema)
    elif nullable is False and "type" not in schema:
        schema["not"] = {"type": "null"}  # `any` with nullable = false: every value but null
    if body.get("sensitive") is True:
        schema["writeOnly"] = True
        schema["x-sensitive"] = True
        notes.append(
            Finding(
                name,
                "sensitive",
                "marked sensitive: a value set through TfPilot is committed to the repository in plain text; "
                "prefer passing secrets from a secret store",
            )
        )
    for block in body.get("validation", []) or []:
        if not isinstance(block, dict) or "condition" not in block:
            unmapped.append(Finding(name, "validation", "a validation block without a condition"))
            continue
        message = block.get("error_message")
        text = _unescape(message) if isinstance(message, str) else None
        _Conditions(name, schema, unmapped).apply(str(block["condition"]), text)
    if "default" in schema and not Draft202012Validator(schema).is_valid(schema["default"]):
        unmapped.append(
            Finding(name, "default", f"{schema.pop('default')!r} does not pass the variable's own rules; dropped")
        )
    return schema, required


def _tags_property(name: str, schema: dict[str, Any], unmapped: list[Finding]) -> dict[str, Any]:
    """The tag schema for the module's ``tags`` input: server tags go through it and the user's
    own tags are checked by our tag policy; rules of the module's own that this drops are reported."""
    lost = sorted(
        key
        for key, value in schema.items()
        if key not in ("title", "description", "type", "additionalProperties")
        and not (key == "default" and value in ({}, None))
    )
    if lost:
        unmapped.append(
            Finding(name, "tags", f"TfPilot's tag policy replaces this variable's schema; not kept: {', '.join(lost)}")
        )
    return {**TAGS_SCHEMA, "description": schema.get("description") or TAGS_SCHEMA["description"]}


def _output(name: str, body: dict[str, Any], file: str, outputs: list[dict[str, str]], unmapped: list[Finding]) -> None:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", name):
        unmapped.append(Finding(name, "output", "not an identifier; the output was left out"))
    elif any(output["name"] == name for output in outputs):
        unmapped.append(Finding(name, "output", f"declared twice (again in {file}); the first one is kept"))
    else:
        description = body.get("description")
        outputs.append(
            {"name": name, "description": _unescape(description) if isinstance(description, str) else "", "value": name}
        )


def default_module_id(module_dir: Path) -> str:
    name = module_dir.resolve().name.lower()
    name = re.sub(r"^terraform-(aws|google|azurerm)-", "", name)
    name = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
    if not name or not name[0].isalpha():
        name = f"module-{name}" if name else "imported-module"
    return name[:63].rstrip("-")


def import_module(
    module_dir: Path,
    *,
    module_id: str | None = None,
    source: str | None = None,
    version: str | None = None,
    title: str | None = None,
) -> ImportResult:
    """Build a definition from every ``variable`` (and ``output``) block in ``module_dir``'s .tf files."""
    directory = Path(module_dir)
    if not directory.is_dir():
        raise RegistryError("not a directory", file=str(directory))
    files = sorted(directory.glob("*.tf"), key=lambda p: (p.name != "variables.tf", p.name))
    if not files:
        raise RegistryError("no .tf files found", file=str(directory))
    ident = module_id or default_module_id(directory)
    # A folder of an infra repo's modules/ is referenced as such (rendered relative to each
    # environment), never by the path it had on the importer's machine.
    in_repo = directory.resolve().parent.name == "modules"
    source_text = source or (f"modules/{directory.resolve().name}" if in_repo else str(module_dir))
    if version is None and REGISTRY_SOURCE_RE.match(source_text):
        raise RegistryError(f"a registry source such as {source_text!r} needs --version (an exact version)")
    if version is not None and not EXACT_VERSION_RE.match(version):
        raise RegistryError(f"version {version!r} must be an exact version such as 1.2.3")

    unmapped: list[Finding] = []
    notes: list[Finding] = []
    properties: dict[str, Any] = {}
    required: list[str] = []
    outputs: list[dict[str, str]] = []
    names: list[str] = []
    tags_input: str | None = None
    for path in files:
        parsed = _parse_file(path)
        for name, body in _blocks(parsed, "variable"):
            names.append(name)
            if not FIELD_NAME_RE.match(name):
                unmapped.append(Finding(name, "name", "not a lowercase snake_case name; the variable was left out"))
                continue
            if name in properties:
                unmapped.append(
                    Finding(name, "variable", f"declared twice (again in {path.name}); the first one is kept")
                )
                continue
            schema, is_required = _variable(name, body, unmapped, notes)
            if name == "tags" and schema.get("type") in ("object", ["object", "null"]):
                schema = _tags_property(name, schema, unmapped)
                tags_input, is_required = "tags", False
            properties[name] = schema
            if is_required:
                required.append(name)
        for name, body in _blocks(parsed, "output"):
            _output(name, body, path.name, outputs, unmapped)
    if not properties:
        raise RegistryError("no usable variable blocks found", file=str(directory))

    schema_doc: dict[str, Any] = {
        "$schema": SCHEMA_URI,
        "title": title or _title(ident),
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema_doc["required"] = required
    terraform: dict[str, Any] = {"kind": "module", "source": source_text, "passthrough": True, "tags_input": tags_input}
    if version is not None:
        terraform["version"] = version
    definition: dict[str, Any] = {
        "id": ident,
        "title": title or _title(ident),
        "description": f"Imported from the Terraform module in {directory.name} ({len(properties)} inputs).",
        "category": "imported",
        "keywords": sorted({w for w in ident.split("-") if w}),
        "synonyms": [],
        "schema": schema_doc,
        "terraform": terraform,
        "outputs": outputs,
    }
    meta.check_document(definition, f"{ident} (imported from {directory})")
    return ImportResult(definition=definition, unmapped=unmapped, notes=notes, variables=names)
