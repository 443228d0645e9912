"""Edit at the console: ``field=value`` pairs read into typed values by the module's schema
fields, every problem named, nothing half-applied."""

from __future__ import annotations

import pytest

from bot.console.edit import describe, parse_assignments
from bot.views.forms import schema_fields

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "versioning": {"type": "boolean", "default": True},
        "encryption": {"enum": ["sse-s3", "sse-kms"], "default": "sse-s3"},
        "days": {"type": "integer", "minimum": 1},
        "ratio": {"type": "number"},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
FIELDS = schema_fields(SCHEMA)


def test_typed_values_by_kind() -> None:
    values, problems = parse_assignments(
        FIELDS,
        'name="my logs, v2" versioning=off, encryption=SSE-KMS days=30 ratio=0.5 ports=80,443 tags={"team":"data"}',
    )
    assert problems == []
    assert values == {
        "name": "my logs, v2",
        "versioning": False,
        "encryption": "sse-kms",
        "days": 30,
        "ratio": 0.5,
        "ports": [80, 443],
        "tags": {"team": "data"},
    }
    assert parse_assignments(FIELDS, "ports=[1, 2]")[0] == {"ports": [1, 2]}


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("colour=red", "colour: no such setting"),
        ("versioning=maybe", "versioning: 'maybe' is not true or false"),
        ("encryption=aes", "encryption: is not one of sse-s3, sse-kms"),
        ("days=1.5", "days: must be a whole number"),
        ("days=inf", "days: is not a finite number"),
        ("tags={oops}", "tags: is not valid JSON"),
        ("tags=[1]", "tags: expected a JSON object"),
        ("name=", "name: no value given"),
        ("just words", "could not read 'just words'"),
        ("", "nothing to change"),
        ("x" * 5000, "longer than"),
    ],
)
def test_problems_are_named_and_nothing_is_kept(typed: str, problem: str) -> None:
    values, problems = parse_assignments(FIELDS, f"days=3 {typed}" if typed.startswith(("colour", "tags")) else typed)
    assert any(problem in p for p in problems), problems
    if typed.startswith(("colour", "tags")):
        assert values.get("days") == 3  # what was read is reported, but the caller saves nothing


def test_describe_shows_current_values_defaults_and_what_is_accepted() -> None:
    lines = describe(FIELDS, {"name": "logs", "tags": {"a": "b"}})
    assert lines[0] == "name = logs    [text]"
    assert "versioning = true (default)    [true / false]" in lines
    assert "encryption = sse-s3 (default)    [sse-s3 / sse-kms]" in lines
    assert "days = (not set)    [a whole number]" in lines
    assert 'tags = {"a":"b"}    [a JSON object or {"key":"value"}]' in lines


def test_the_console_reads_values_with_the_registrys_parser() -> None:
    # The same reading as the assistant and the modal: natural booleans, units, loose options.
    values, problems = parse_assignments(FIELDS, "versioning=enabled encryption=kms days=2 tags=team=data")
    assert problems == []
    assert values == {"versioning": True, "encryption": "sse-kms", "days": 2, "tags": {"team": "data"}}


def test_a_misspelt_option_is_refused_with_a_suggestion() -> None:
    values, problems = parse_assignments(FIELDS, "encryption=sse-kmz")
    assert values == {}
    assert problems == ["encryption: is not one of sse-s3, sse-kms (did you mean sse-kms?)"]
