"""``ModuleDefinition``: one module as data (what the assistant offers, what the validator checks,
what the renderer writes).

A definition carries the config's JSON Schema (draft 2020-12), presets (named partial configs),
per-environment constraints, the naming rule, and the Terraform it produces: a pinned module
source and version (or a single resource type) plus ``inputs``, a small expression language that
maps the validated config onto module arguments (see ``docs/registry.md``)::

    {"$ref": "config.<field>"}  {"$ref": "name"}  {"$ref": "tags"}  {"$ref": "context.<key>"}
    {"$if": "config.<field>", "then": X, "else": Y}   {"$case": "config.<field>", "cases": {...}, "default": X}
    {"$concat": [X, Y, ...]}   {"$literal": X}   {"$omit": true}   {"$call": "jsonencode", "args": [X]}

User values are substituted only after evaluation and are never evaluated themselves.
"""

from __future__ import annotations

import copy
import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from module_registry.fields import ConfigField, fields_of
from module_registry.identifiers import HCL_IDENTIFIER_RE, MODULE_ID_RE

JSON = Any
CONTEXT_KEYS = ("project", "environment", "request_id", "prod", "module")
EXACT_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?$")
# <namespace>/<name>/<provider>[//<subdir>] (public or private registry host optional).
REGISTRY_SOURCE_RE = re.compile(
    r"^(?:[a-z0-9.-]+\.[a-z]{2,}/)?[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*/[a-z0-9]+(?://[A-Za-z0-9_./-]+)?$"
)
# A folder of the infra repository itself (``modules/<name>``), as the reference's infra repos
# have: rendered relative to the environment's directory (``../../modules/<name>``), no version.
REPO_MODULE_RE = re.compile(r"^modules/[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*$")
_PRINTABLE_RE = re.compile(r"^[\x20-\x7e]+$")
WORD_RE = re.compile(r"^[a-z0-9][a-z0-9 .+/-]*$")


def _word(word: str) -> str:
    if not WORD_RE.match(word):
        raise ValueError(f"{word!r} must be lowercase words (letters, digits, spaces, . + / -)")
    return word


Word = Annotated[str, AfterValidator(_word)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OutputSpec(_Strict):
    """A module output surfaced as an ``output`` block (named ``<label>_<name>``)."""

    name: str = Field(pattern=HCL_IDENTIFIER_RE.pattern)
    description: str = ""
    value: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


class NamingSpec(_Strict):
    """Which config field holds the short name and which naming rule the full name obeys.

    ``suffix`` is appended when ``suffix_when`` (a boolean config field) is true, e.g. ``.fifo``."""

    field: str = "name"
    rule: str
    suffix: str = ""
    suffix_when: str | None = None
    reserve: int = Field(0, ge=0, le=32)  # characters the module appends to derived names


class EnvConstraint(_Strict):
    """A rule a field must meet in some environments (reported as a field error).

    ``applies_to``: ``"prod"`` (prod environments), ``"nonprod"``, ``"all"`` or a list of names."""

    field: str
    applies_to: Literal["prod", "nonprod", "all"] | list[str] = "prod"
    schema_: dict[str, JSON] = Field(alias="schema")
    message: str
    allowed: str | None = None

    @property
    def schema(self) -> dict[str, JSON]:  # type: ignore[override]
        return self.schema_

    def applies(self, environment: str, *, prod: bool) -> bool:
        if self.applies_to == "all":
            return True
        if self.applies_to == "prod":
            return prod
        if self.applies_to == "nonprod":
            return not prod
        return environment in self.applies_to


class DestroyGuard(_Strict):
    """A config field that makes AWS refuse to delete the resource (see docs/lifecycle.md).

    ``safe`` is the value that lets the delete go through. ``when``: ``"always"`` (the guard
    holds whenever the field is not ``safe``: deletion or termination protection) or
    ``"holds_data"`` (AWS refuses only while the resource holds ``data``: a bucket's objects,
    a repository's images; only the destroy run's preflight can see that). A prod constraint on
    the field is lifted only for the change that prepares a destroy."""

    field: str
    safe: JSON
    when: Literal["always", "holds_data"] = "always"
    data: str | None = Field(None, max_length=40)  # what the resource holds ("objects", "images")
    message: str = Field(min_length=1, max_length=300)


class FieldRelation(_Strict):
    """A comparison between two config fields, which JSON Schema cannot express: ``field op other``
    (``max_allocated_storage > allocated_storage``). Checked when both fields have a value."""

    field: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    other: str
    message: str
    allowed: str | None = None

    def holds(self, value: JSON, other: JSON) -> bool:
        if self.op == "==":
            return bool(value == other)
        if self.op == "!=":
            return bool(value != other)
        if not _is_number(value) or not _is_number(other):
            return True  # a type error is the schema's to report
        checks = {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}
        return bool(checks[self.op])


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class TerraformSpec(_Strict):
    """What the module renders. ``kind=module``: ``module "<label>" { source, version, inputs }``;
    ``kind=resource``: ``resource "<resource_type>" "<label>" { inputs }``.

    ``passthrough``: config fields not used by ``inputs`` (nor as name or tags) are passed as
    arguments of the same name, in schema order (imported definitions use this)."""

    kind: Literal["module", "resource"] = "module"
    source: str | None = None
    version: str | None = None
    resource_type: str | None = None
    inputs: dict[str, JSON] = Field(default_factory=dict)
    passthrough: bool = False
    tags_input: str | None = "tags"

    @property
    def repo_path(self) -> str | None:
        """``modules/<name>`` when the module is a folder of the infra repo, else None."""
        return self.source if self.source is not None and REPO_MODULE_RE.match(self.source) else None

    @model_validator(mode="after")
    def _kind_fields(self) -> TerraformSpec:
        if self.kind == "module":
            if not self.source:
                raise ValueError("a module needs 'source'")
            if not _PRINTABLE_RE.match(self.source):
                raise ValueError("'source' must be printable ASCII")
            if REGISTRY_SOURCE_RE.match(self.source) and not (self.version and EXACT_VERSION_RE.match(self.version)):
                raise ValueError("a registry module source needs an exact 'version' pin such as 4.6.0")
            if self.version is not None and not EXACT_VERSION_RE.match(self.version):
                raise ValueError("'version' must be an exact version such as 4.6.0, not a range")
            if REPO_MODULE_RE.match(self.source) and self.version is not None:
                raise ValueError("a module in the infra repo (modules/<name>) has no 'version'")
            if self.resource_type is not None:
                raise ValueError("'resource_type' is only for kind=resource")
        else:
            if not self.resource_type or not HCL_IDENTIFIER_RE.match(self.resource_type):
                raise ValueError("a resource needs 'resource_type' (an identifier such as aws_sqs_queue)")
            if self.source is not None or self.version is not None:
                raise ValueError("'source' and 'version' are only for kind=module")
        for name in self.inputs:
            if not HCL_IDENTIFIER_RE.match(name):
                raise ValueError(f"input name {name!r} is not an identifier")
        if self.tags_input is not None and not HCL_IDENTIFIER_RE.match(self.tags_input):
            raise ValueError(f"tags_input {self.tags_input!r} is not an identifier")
        return self


class ModuleDefinition(_Strict):
    id: str
    title: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=2000)
    category: str = Field(min_length=1, max_length=40)
    # How people name the module (the assistant's vocabulary; see docs/registry.md).
    keywords: list[Word] = Field(default_factory=list)
    synonyms: list[Word] = Field(default_factory=list)
    schema_: dict[str, JSON] = Field(alias="schema")
    presets: dict[str, dict[str, JSON]] = Field(default_factory=dict)
    preset_descriptions: dict[str, str] = Field(default_factory=dict)
    outputs: list[OutputSpec] = Field(default_factory=list)
    terraform: TerraformSpec
    naming: NamingSpec | None = None
    constraints: list[EnvConstraint] = Field(default_factory=list)
    destroy_guards: list[DestroyGuard] = Field(default_factory=list)
    relations: list[FieldRelation] = Field(default_factory=list)
    docs_url: str | None = None
    example: dict[str, JSON] | None = None  # a complete, valid config (non-prod) for docs and checks

    @property
    def schema(self) -> dict[str, JSON]:  # type: ignore[override]
        return self.schema_

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not MODULE_ID_RE.match(value):
            raise ValueError("module ids are lowercase letters, digits and single hyphens, starting with a letter")
        return value

    @field_validator("presets")
    @classmethod
    def _preset_names(cls, presets: dict[str, dict[str, JSON]]) -> dict[str, dict[str, JSON]]:
        for name in presets:
            if not MODULE_ID_RE.match(name):
                raise ValueError(f"preset name {name!r} must be lowercase words joined by hyphens")
        return presets

    # --- reading the schema ------------------------------------------------------------------
    def properties(self) -> dict[str, dict[str, JSON]]:
        props = self.schema_.get("properties", {})
        return props if isinstance(props, dict) else {}

    def required_fields(self) -> list[str]:
        required = self.schema_.get("required", [])
        return [str(name) for name in required] if isinstance(required, list) else []

    def field_names(self) -> list[str]:
        return list(self.properties())

    @cached_property
    def field_index(self) -> dict[str, ConfigField]:
        """The config fields by name, built once from the schema and the constraints."""
        return {f.name: f for f in fields_of(self.schema_, self.constraints)}

    def field(self, name: str) -> ConfigField:
        """The field ``name`` (``KeyError`` when the module has no such field)."""
        return self.field_index[name]

    def fields(self) -> list[ConfigField]:
        return list(self.field_index.values())

    def preset(self, name: str) -> dict[str, JSON]:
        """A copy of the preset ``name`` (``KeyError`` when unknown)."""
        return copy.deepcopy(self.presets[name])

    def with_preset(self, name: str, config: dict[str, JSON] | None = None) -> dict[str, JSON]:
        """The preset overlaid with ``config`` (the user's values win)."""
        merged = self.preset(name)
        merged.update(config or {})
        return merged

    def example_config(self) -> dict[str, JSON]:
        """The definition's ``example``, else the first example of every required field."""
        if self.example is not None:
            return copy.deepcopy(self.example)
        config: dict[str, JSON] = {}
        for name in self.required_fields():
            prop = self.properties().get(name, {})
            examples = prop.get("examples")
            if isinstance(examples, list) and examples:
                config[name] = copy.deepcopy(examples[0])
            elif "default" in prop:
                config[name] = copy.deepcopy(prop["default"])
        return config

    def summary(self) -> dict[str, JSON]:
        """A compact description for listings and the assistant."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "keywords": list(self.keywords),
            "synonyms": list(self.synonyms),
            "presets": sorted(self.presets),
            "required": self.required_fields(),
        }
