"""The one field model: a module config's top-level JSON-Schema property as everything above
the registry needs it (the assistant's questions and parsing, the Slack modal, the console
editor, ``tfpilot registry show``).

``fields_of(schema)`` reads it from the schema alone; ``ModuleDefinition.fields()`` builds it
once per definition and adds the definition's per-environment constraints. Vocabulary lives in
the schema as annotations (ignored by JSON Schema validation, checked by the meta-validation):
``x-tfpilot-synonyms`` (how people name the field) and ``x-tfpilot-unit`` (the unit of a number
when neither the name suffix nor the title states it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from module_registry import units

JSON = Any
# text = string, select = enum, list = array, map = object of values, json = anything else
# (several types, or none the forms can edit one by one).
FieldKind = Literal["text", "integer", "number", "boolean", "select", "list", "map", "json"]
SYNONYMS_KEY = "x-tfpilot-synonyms"
SENSITIVE_KEYS = ("writeOnly", "x-sensitive", "x-tfpilot-sensitive")


class EnvFact(BaseModel):
    """A per-environment rule on the field (from the definition's ``constraints``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    applies_to: str | tuple[str, ...]
    schema_: dict[str, JSON] = Field(alias="schema")
    message: str
    allowed: str | None = None


class ConfigField(BaseModel):
    """One config field. ``title`` is the declared title ("" when the schema has none; the
    registry's own definitions always have one); ``label`` never is empty."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str
    title: str = ""
    description: str = ""
    kind: FieldKind = "text"
    types: tuple[str, ...] = ()  # JSON types allowed, without "null"
    required: bool = False
    has_default: bool = False
    default: JSON = None
    examples: tuple[JSON, ...] = ()
    enum: tuple[JSON, ...] = ()  # the options (without null)
    item: ConfigField | None = None  # a list's items, a map's values
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_help: str | None = None
    unit: str | None = None  # canonical unit: seconds, minutes, hours, days, weeks, bytes, KB, MB, GB, TB
    synonyms: tuple[str, ...] = ()
    sensitive: bool = False
    read_only: bool = False
    environments: tuple[EnvFact, ...] = ()
    schema_: dict[str, JSON] = Field(alias="schema", default_factory=dict, repr=False)

    @property
    def schema(self) -> dict[str, JSON]:  # type: ignore[override]
        return self.schema_

    @property
    def label(self) -> str:
        """The declared title, else the field name."""
        return self.title or self.name

    @property
    def heading(self) -> str:
        """The declared title, else the name in words ("retention_days" -> "Retention days")."""
        return self.title or self.name.replace("_", " ").capitalize()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def type(self) -> str:
        """The types in words ("string", "integer or null", "choice")."""
        return _type_words(self.schema_)

    @property
    def dimension(self) -> str | None:
        return units.dimension_of(self.unit)

    @property
    def item_types(self) -> tuple[str, ...]:
        return self.item.types if self.item is not None else ()

    @property
    def item_enum(self) -> tuple[JSON, ...]:
        return self.item.enum if self.item is not None else ()

    def lower_bound(self) -> float | None:
        """The smallest allowed number (an exclusive bound moved in by one for integers)."""
        step = 1.0 if self.kind == "integer" else 0.0
        if self.minimum is not None:
            return self.minimum
        return None if self.exclusive_minimum is None else self.exclusive_minimum + step

    def upper_bound(self) -> float | None:
        step = 1.0 if self.kind == "integer" else 0.0
        if self.maximum is not None:
            return self.maximum
        return None if self.exclusive_maximum is None else self.exclusive_maximum - step

    def facts_for(self, environment: str, *, prod: bool) -> list[EnvFact]:
        """The per-environment rules that apply in ``environment``."""
        out = []
        for fact in self.environments:
            scope = fact.applies_to
            if (
                scope == "all"
                or (scope == "prod" and prod)
                or (scope == "nonprod" and not prod)
                or (isinstance(scope, tuple) and environment in scope)
            ):
                out.append(fact)
        return out


ConfigField.model_rebuild()


def types_of(schema: Mapping[str, JSON]) -> tuple[str, ...]:
    """The JSON types ``schema`` allows (``type``, its ``anyOf``/``oneOf`` branches, else the
    types of its ``enum`` values), without "null"."""
    raw = schema.get("type")
    found: list[str] = []
    if isinstance(raw, str):
        found = [raw]
    elif isinstance(raw, list):
        found = [t for t in raw if isinstance(t, str)]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        for sub in branches if isinstance(branches, list) else []:
            if isinstance(sub, Mapping):
                found += [t for t in types_of(sub) if t not in found]
    if not found and isinstance(schema.get("enum"), list):
        for value in schema["enum"]:
            kind = json_type(value)
            if kind not in found:
                found.append(kind)
    return tuple(t for t in found if t != "null")


def json_type(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _options(schema: Mapping[str, JSON]) -> tuple[JSON, ...]:
    raw = schema.get("enum")
    return tuple(v for v in raw if v is not None) if isinstance(raw, list) else ()


def kind_of(schema: Mapping[str, JSON]) -> FieldKind:
    if _options(schema):
        return "select"
    found = types_of(schema)
    if len(found) == 1 and found[0] in ("boolean", "integer", "number"):
        single: FieldKind = found[0]  # type: ignore[assignment]
        return single
    if found == ("array",):
        return "list"
    if found == ("object",):
        return "map"
    if found in (("string",), ()):
        return "text"
    return "json"


def _number(value: JSON) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: JSON) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def synonyms_of(schema: Mapping[str, JSON]) -> tuple[str, ...]:
    value = schema.get(SYNONYMS_KEY)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def field_of(name: str, schema: Mapping[str, JSON], *, required: bool = False) -> ConfigField:
    """The field ``name`` whose JSON Schema is ``schema``."""
    kind = kind_of(schema)
    item_schema: JSON = None
    if kind == "list":
        item_schema = schema.get("items")
    elif kind == "map":
        item_schema = schema.get("additionalProperties")
    item = field_of(name, item_schema) if isinstance(item_schema, Mapping) else None
    pattern = schema.get("pattern")
    help_text = schema.get("x-pattern-help")
    examples = schema.get("examples")
    return ConfigField(
        name=name,
        title=str(schema.get("title") or ""),
        description=str(schema.get("description") or ""),
        kind=kind,
        types=types_of(schema),
        required=required,
        has_default="default" in schema,
        default=schema.get("default"),
        examples=tuple(examples) if isinstance(examples, list) else (),
        enum=_options(schema),
        item=item,
        minimum=_number(schema.get("minimum")),
        maximum=_number(schema.get("maximum")),
        exclusive_minimum=_number(schema.get("exclusiveMinimum")),
        exclusive_maximum=_number(schema.get("exclusiveMaximum")),
        min_length=_count(schema.get("minLength")),
        max_length=_count(schema.get("maxLength")),
        pattern=pattern if isinstance(pattern, str) else None,
        pattern_help=help_text if isinstance(help_text, str) else None,
        unit=units.unit_of(name, schema),
        synonyms=synonyms_of(schema),
        sensitive=any(bool(schema.get(key)) for key in SENSITIVE_KEYS),
        read_only=schema.get("readOnly") is True,
        schema=dict(schema),
    )


def fields_of(schema: Mapping[str, JSON] | None, constraints: Iterable[Any] = ()) -> list[ConfigField]:
    """The top-level fields of a module's config schema, in schema order. ``constraints``:
    the definition's ``EnvConstraint``s (``field``, ``applies_to``, ``schema``, ``message``)."""
    if not schema:
        return []
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return []
    required_raw = schema.get("required")
    required = {r for r in required_raw if isinstance(r, str)} if isinstance(required_raw, list) else set()
    facts: dict[str, list[EnvFact]] = {}
    for constraint in constraints:
        scope = constraint.applies_to
        facts.setdefault(constraint.field, []).append(
            EnvFact(
                applies_to=scope if isinstance(scope, str) else tuple(scope),
                schema_=dict(constraint.schema),
                message=constraint.message,
                allowed=constraint.allowed,
            )
        )
    out: list[ConfigField] = []
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        field = field_of(str(name), sub, required=name in required)
        if name in facts:
            field = field.model_copy(update={"environments": tuple(facts[name])})
        out.append(field)
    return out


def _type_words(prop: Mapping[str, JSON]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    if "enum" in prop:
        return "choice"
    return "any"


_WORDS_RE = re.compile(r"[a-z0-9]+")


def norm(text: str) -> str:
    """Loose comparison form: lowercase words joined by single spaces."""
    return " ".join(_WORDS_RE.findall(text.lower()))
