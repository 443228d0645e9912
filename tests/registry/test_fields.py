"""The one field model and its parser: fields read from a module's JSON Schema (kind, bounds,
options, unit, synonyms, sensitivity, per-environment facts), ``parse_field_value`` on a table
of phrasings, and round trips: a value rendered as text parses back to itself."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from module_registry.catalogue import Registry
from module_registry.fields import ConfigField, field_of, fields_of
from module_registry.parsing import ParsedValue, ParseError, parse_field_value, render_value

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name", "pattern": "^[a-z]+$", "minLength": 1, "maxLength": 20},
        "versioning": {"type": "boolean", "default": True},
        "retention_seconds": {"type": "integer", "minimum": 60, "maximum": 1209600},
        "storage": {"type": "integer", "title": "Storage (GiB)", "exclusiveMinimum": 0},
        "window": {"type": "integer", "x-tfpilot-unit": "hours"},
        "ratio": {"type": "number"},
        "class": {"type": "string", "enum": ["STANDARD", "STANDARD_IA", "GLACIER"]},
        "encryption": {"enum": ["sse-s3", "sse-kms", None]},
        "subnets": {"type": "array", "items": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "password": {"type": "string", "writeOnly": True, "x-tfpilot-synonyms": ["secret", "pass word"]},
        "either": {"type": ["object", "array"]},
        "maybe_text": {"type": ["string", "integer"]},
    },
}
F = {f.name: f for f in fields_of(SCHEMA)}


def test_fields_read_from_the_schema() -> None:
    assert list(F) == list(SCHEMA["properties"])
    name = F["name"]
    assert (name.kind, name.required, name.pattern, name.min_length, name.max_length) == (
        "text",
        True,
        "^[a-z]+$",
        1,
        20,
    )
    assert F["versioning"].kind == "boolean" and F["versioning"].has_default and F["versioning"].default is True
    assert F["retention_seconds"].unit == "seconds" and F["retention_seconds"].dimension == "time"
    assert F["storage"].unit == "GB" and F["storage"].lower_bound() == 1  # exclusive 0, whole numbers
    assert F["window"].unit == "hours"  # declared
    assert F["class"].kind == "select" and F["class"].enum == ("STANDARD", "STANDARD_IA", "GLACIER")
    assert F["encryption"].kind == "select" and F["encryption"].enum == ("sse-s3", "sse-kms")
    assert F["subnets"].kind == "list" and F["subnets"].item is not None and F["subnets"].item.kind == "text"
    assert F["tags"].kind == "map" and F["tags"].item_types == ("string",)
    assert F["password"].sensitive and F["password"].synonyms == ("secret", "pass word")
    assert F["either"].kind == "json" and F["maybe_text"].kind == "json"
    assert (
        F["name"].label == "Name"
        and F["ratio"].label == "ratio"
        and F["retention_seconds"].heading == ("Retention seconds")
    )


def test_the_registry_builds_fields_once_with_per_environment_facts(registry: Registry) -> None:
    module = registry.get("rds-postgres")
    assert module.fields() == module.fields() and module.field("multi_az") is module.field("multi_az")
    multi_az = module.field("multi_az")
    assert multi_az.synonyms and "high availability" in multi_az.synonyms
    assert [fact.applies_to for fact in multi_az.environments] == ["prod"]
    assert multi_az.facts_for("prod", prod=True) and not multi_az.facts_for("dev", prod=False)
    assert module.field("allocated_storage").unit == "GB"
    assert module.field("engine_version").type == "string"


def test_module_vocabulary_is_data_in_the_definitions(registry: Registry) -> None:
    # Formerly hard-coded in the assistant (MODULE_HINTS / FIELD_HINTS).
    assert "ddb" in registry.get("dynamodb-table").synonyms
    assert "pg database" in registry.get("rds-postgres").synonyms
    assert registry.get("sqs-queue").field("dead_letter_queue").synonyms[0] == "dlq"
    assert "sort key" in registry.get("dynamodb-table").field("range_key").synonyms


def _ok(field: ConfigField, text: str) -> Any:
    parsed = parse_field_value(field, text)
    assert isinstance(parsed, ParsedValue), parsed
    return parsed.value


def _error(field: ConfigField, text: str) -> ParseError:
    parsed = parse_field_value(field, text)
    assert isinstance(parsed, ParseError), parsed
    return parsed


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("versioning", "yes", True),
        ("versioning", "Enabled", True),
        ("versioning", "turn off", False),
        ("versioning", "nope", False),
        ("versioning", '  "false" ', False),
        ("retention_seconds", "30", 30),
        ("retention_seconds", "4 days", 345600),
        ("retention_seconds", "2 minutes", 120),
        ("retention_seconds", "1,000", 1000),
        ("storage", "2 GiB", 2),
        ("storage", "2048 MB", 2),
        ("storage", "1 TB", 1024),
        ("window", "2 days", 48),
        ("ratio", "2,5", 2.5),
        ("ratio", "1e-3", 0.001),
        ("class", "glacier", "GLACIER"),
        ("class", "standard ia", "STANDARD_IA"),
        ("class", "standard-ia", "STANDARD_IA"),
        ("class", "ia", "STANDARD_IA"),  # a word only one option has
        ("encryption", "KMS", "sse-kms"),
        ("subnets", "subnet-a, subnet-b", ["subnet-a", "subnet-b"]),
        ("subnets", "subnet-a subnet-b and subnet-c", ["subnet-a", "subnet-b", "subnet-c"]),
        ("subnets", "Data Team\nOps", ["Data Team", "Ops"]),
        ("subnets", '["a b", "c"]', ["a b", "c"]),
        ("subnets", "", []),
        ("ports", "80\n443", [80, 443]),
        ("ports", "80,443", [80, 443]),
        ("tags", "team=data\nowner = Data Team", {"team": "data", "owner": "Data Team"}),
        ("tags", "team=pay, cost-center=42", {"team": "pay", "cost-center": "42"}),
        ("tags", "team=pay owner=bob", {"team": "pay", "owner": "bob"}),
        ("tags", "team: pay", {"team": "pay"}),
        ("tags", "aws:owner=me", {"aws:owner": "me"}),
        ("tags", '{"a": "b"}', {"a": "b"}),
        ("name", ' "logs" ', "logs"),
        ("name", "'it''s'", "it''s"),
        ("either", '{"k": [1]}', {"k": [1]}),
        ("maybe_text", "plain words", "plain words"),
        ("maybe_text", "7", 7),
    ],
)
def test_text_is_read_as_the_fields_value(name: str, text: str, value: Any) -> None:
    assert _ok(F[name], text) == value


@pytest.mark.parametrize(
    ("name", "text", "code", "words"),
    [
        ("versioning", "maybe", "boolean", "yes or no"),
        ("retention_seconds", "soon", "number", "must be a number (in seconds)"),
        ("retention_seconds", "1.5", "whole", "whole number"),
        ("retention_seconds", "inf", "finite", "finite"),
        ("retention_seconds", "3 GB", "unit", "time"),
        ("class", "ultra", "enum", "not one of the allowed values"),
        ("tags", "no equals sign", "pairs", "key=value"),
        ("tags", "[1]", "shape", "JSON object"),
        ("tags", "{oops", "json", "JSON"),
        ("subnets", "{}", "shape", "JSON list"),
        ("ports", "eighty", "number", "number"),
        ("either", "{", "json", "JSON"),
    ],
)
def test_unreadable_text_is_an_error_saying_why(name: str, text: str, code: str, words: str) -> None:
    error = _error(F[name], text)
    assert error.code == code and words in error.message


@pytest.mark.parametrize(
    ("text", "meant"), [("GLACEIR", "GLACIER"), ("standrd", "STANDARD"), ("standard_ai", "STANDARD_IA")]
)
def test_a_near_miss_is_never_taken_for_the_option_but_suggested(text: str, meant: str) -> None:
    error = _error(F["class"], text)
    assert error.code == "enum" and error.suggestion == meant and f"did you mean {meant}?" in error.message
    assert error.options == ("STANDARD", "STANDARD_IA", "GLACIER")


# --- round trips -------------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORDS = st.text(st.characters(categories=("L", "N"), include_characters=" -_./@"), min_size=1, max_size=20)
KEYS = st.from_regex(r"[A-Za-z0-9_.:/-]{1,20}", fullmatch=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def _round_trip(field: ConfigField, value: Any) -> None:
    text = render_value(field, value)
    parsed = parse_field_value(field, text)
    assert isinstance(parsed, ParsedValue), (text, parsed)
    assert parsed.value == value and type(parsed.value) is type(value), (text, parsed.value)


@given(TEXT)
@settings(max_examples=300)
def test_text_round_trips(value: str) -> None:
    _round_trip(F["name"], value)


@given(st.booleans())
def test_booleans_round_trip(value: bool) -> None:
    _round_trip(F["versioning"], value)


@given(st.integers())
@settings(max_examples=300)
def test_integers_round_trip(value: int) -> None:
    _round_trip(F["retention_seconds"], value)


@given(FINITE)
@settings(max_examples=300)
def test_numbers_round_trip(value: float) -> None:
    text = render_value(F["ratio"], value)
    parsed = parse_field_value(F["ratio"], text)
    assert isinstance(parsed, ParsedValue), (text, parsed)
    assert parsed.value == value and math.isfinite(parsed.value)


@given(st.sampled_from(F["class"].enum))
def test_options_round_trip(value: str) -> None:
    _round_trip(F["class"], value)


@given(st.lists(TEXT, max_size=6))
@settings(max_examples=300)
def test_lists_of_text_round_trip(value: list[str]) -> None:
    _round_trip(F["subnets"], value)


@given(st.lists(WORDS, max_size=6))
@settings(max_examples=200)
def test_lists_of_words_round_trip(value: list[str]) -> None:
    _round_trip(F["subnets"], value)


@given(st.lists(st.integers(), max_size=6))
def test_lists_of_integers_round_trip(value: list[int]) -> None:
    _round_trip(F["ports"], value)


@given(st.dictionaries(KEYS, st.one_of(TEXT, WORDS), max_size=5))
@settings(max_examples=300)
def test_maps_round_trip(value: dict[str, str]) -> None:
    _round_trip(F["tags"], value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | TEXT, lambda c: st.lists(c) | st.dictionaries(TEXT, c)))
def test_json_values_round_trip(value: Any) -> None:
    field = field_of("anything", {"type": ["object", "array", "string", "integer", "boolean", "null"]})
    _round_trip(field, value)
