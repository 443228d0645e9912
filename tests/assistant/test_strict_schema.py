"""The JSON Schema -> OpenAI strict-mode adaptation, on a schema using every construct."""

from __future__ import annotations

from typing import Any

import jsonschema

from assistant.adapters.strict_schema import Conversion, from_strict, to_strict

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "$defs": {"cidr": {"type": "string", "pattern": "^[0-9./]+$", "description": "A CIDR block"}},
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 3, "maxLength": 40, "pattern": "^[a-z][a-z0-9-]*$"},
        "email": {"type": "string", "format": "email"},
        "arn": {"type": "string", "format": "arn"},
        "tricky": {"type": "string", "pattern": "^(?!admin)[a-z]+$"},
        "size": {"type": "integer", "minimum": 8, "maximum": 500, "default": 20, "examples": [20]},
        "ratio": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "mode": {"enum": ["a", "b"]},
        "fixed": {"const": "x"},
        "cidrs": {"type": "array", "items": {"$ref": "#/$defs/cidr"}, "minItems": 1, "uniqueItems": True},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "policy": {"type": "object"},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"days": {"type": "integer"}, "prefix": {"type": "string"}},
                "required": ["days"],
                "allOf": [{"if": {"properties": {"days": {"const": 0}}}, "then": {"required": ["prefix"]}}],
            },
        },
    },
}


def test_every_object_is_closed_and_fully_required_and_every_field_nullable() -> None:
    strict = to_strict(SCHEMA, nullable=False)
    assert strict["type"] == "object" and strict["additionalProperties"] is False
    assert strict["required"] == list(SCHEMA["properties"])
    for name, prop in strict["properties"].items():
        assert (
            None in (prop.get("type") or [])
            or "null" in (prop.get("type") or [])
            or any(b.get("type") == "null" for b in prop.get("anyOf", []))
        ), name
    rule = strict["properties"]["rules"]["items"]
    assert rule["additionalProperties"] is False and rule["required"] == ["days", "prefix"]
    assert rule["properties"]["prefix"]["type"] == ["string", "null"]


def test_keywords_are_kept_or_moved_to_the_description() -> None:
    p = to_strict(SCHEMA, nullable=False)["properties"]
    assert p["name"]["pattern"] == "^[a-z][a-z0-9-]*$" and "minLength" not in p["name"]
    assert "At least 3 characters" in p["name"]["description"] and "At most 40 characters" in p["name"]["description"]
    assert p["email"]["format"] == "email"
    assert "format" not in p["arn"] and "Format: arn" in p["arn"]["description"]
    assert "pattern" not in p["tricky"] and "(?!admin)" in p["tricky"]["description"]
    assert p["size"]["minimum"] == 8 and p["size"]["maximum"] == 500
    assert "default" not in p["size"] and "examples" not in p["size"] and "Default: 20" in p["size"]["description"]
    assert p["ratio"]["type"] == ["number", "null"] and p["ratio"]["exclusiveMinimum"] == 0
    assert p["mode"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert p["fixed"]["enum"] == ["x", None]
    assert p["cidrs"]["items"]["pattern"] == "^[0-9./]+$" and p["cidrs"]["minItems"] == 1
    assert "A CIDR block" in p["cidrs"]["items"]["description"] and "$ref" not in p["cidrs"]["items"]
    assert "anyOf" in p["either"] and "oneOf" not in p["either"]
    assert p["policy"]["type"] == ["string", "null"]
    assert "allOf" not in p["rules"]["items"]


def test_strict_schema_is_valid_json_schema_and_values_convert_back() -> None:
    conversion = Conversion()
    strict = to_strict(SCHEMA, nullable=False, conversion=conversion)
    jsonschema.Draft202012Validator.check_schema(strict)
    answer = dict.fromkeys(SCHEMA["properties"])
    answer.update(
        {
            "name": "team-logs",
            "tags": [{"key": "team", "value": "pay"}, {"key": "env", "value": "dev"}],
            "policy": '{"Version": "2012-10-17"}',
            "rules": [{"days": 3, "prefix": None}],
            "either": 4,
        }
    )
    jsonschema.validate(answer, strict)
    back = from_strict(answer, conversion)
    assert back == {
        "name": "team-logs",
        "tags": {"team": "pay", "env": "dev"},
        "policy": {"Version": "2012-10-17"},
        "rules": [{"days": 3}],
        "either": 4,
    }
    jsonschema.validate(back, {k: v for k, v in SCHEMA.items() if k != "$schema"})


def test_an_any_of_that_only_adds_rules_keeps_the_objects_properties() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}, "default": []},
            "principals": {"type": "array", "items": {"type": "string"}, "default": []},
        },
        # at least one of the two lists is non-empty (a rule, not two shapes)
        "anyOf": [
            {"required": ["services"], "properties": {"services": {"minItems": 1}}},
            {"required": ["principals"], "properties": {"principals": {"minItems": 1}}},
        ],
    }
    strict = to_strict(schema, nullable=False)
    assert "anyOf" not in strict and strict["type"] == "object"
    assert strict["required"] == ["name", "services", "principals"]
    assert "Further rules are checked after extraction" in strict["description"]
    jsonschema.Draft202012Validator.check_schema(strict)
