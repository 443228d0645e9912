"""Module vocabulary is data in the definitions: module ``synonyms`` and per-field
``x-tfpilot-synonyms`` / ``x-tfpilot-unit`` are checked at start-up, a bad entry refused naming
the file and the JSON pointer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from module_registry import catalogue
from module_registry.errors import RegistryError


def _builtin(module_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((catalogue.builtin_modules_dir() / f"{module_id}.json").read_text())
    return doc


def _refusal(tmp_path: Path, mutate: Any) -> RegistryError:
    doc = copy.deepcopy(_builtin("sqs-queue"))
    mutate(doc)
    path = tmp_path / "sqs-queue.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RegistryError) as caught:
        catalogue.load_registry(tmp_path)
    assert caught.value.file == str(path) and str(path) in str(caught.value)
    return caught.value


def _field(doc: dict[str, Any], name: str) -> dict[str, Any]:
    prop: dict[str, Any] = doc["schema"]["properties"][name]
    return prop


@pytest.mark.parametrize(
    ("mutate", "pointer", "words"),
    [
        (
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": "first in first out"}),
            "/schema/properties/fifo/x-tfpilot-synonyms",
            "non-empty list",
        ),
        (
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": []}),
            "/schema/properties/fifo/x-tfpilot-synonyms",
            "non-empty list",
        ),
        (
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": ["ordered", "First In"]}),
            "/schema/properties/fifo/x-tfpilot-synonyms/1",
            "lowercase words",
        ),
        (
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": ["ordered", 7]}),
            "/schema/properties/fifo/x-tfpilot-synonyms/1",
            "lowercase words",
        ),
        (
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": ["ordered", "ordered"]}),
            "/schema/properties/fifo/x-tfpilot-synonyms/1",
            "listed twice",
        ),
        (
            # "dlq" names dead_letter_queue: two fields, one word (reported where it repeats).
            lambda d: _field(d, "fifo").update({"x-tfpilot-synonyms": ["ordered", "dlq"]}),
            "/schema/properties/dead_letter_queue/x-tfpilot-synonyms/0",
            "names two fields",
        ),
        (
            lambda d: _field(d, "tags")["additionalProperties"].update({"x-tfpilot-synonyms": ["labels"]}),
            "/schema/properties/tags/additionalProperties/x-tfpilot-synonyms",
            "top-level field",
        ),
        (
            lambda d: d["schema"].update({"x-tfpilot-synonyms": ["queue settings"]}),
            "/schema/x-tfpilot-synonyms",
            "belongs on a field",
        ),
        (
            lambda d: _field(d, "max_receive_count").update({"x-tfpilot-unit": "fortnights"}),
            "/schema/properties/max_receive_count/x-tfpilot-unit",
            "unknown unit",
        ),
        (lambda d: d["synonyms"].append("Job Queue"), "/synonyms/5", "lowercase words"),
    ],
)
def test_bad_vocabulary_is_refused_naming_file_and_pointer(
    tmp_path: Path, mutate: Any, pointer: str, words: str
) -> None:
    error = _refusal(tmp_path, mutate)
    assert error.pointer == pointer, str(error)
    assert f"at {pointer}" in str(error)
    assert words.lower() in str(error).lower()


def test_good_vocabulary_loads_and_reaches_the_field_model(tmp_path: Path) -> None:
    doc = _builtin("sqs-queue")
    _field(doc, "max_receive_count").update({"x-tfpilot-unit": "Hours", "x-tfpilot-synonyms": ["tries"]})
    (tmp_path / "sqs-queue.json").write_text(json.dumps(doc))
    field = catalogue.load_registry(tmp_path).get("sqs-queue").field("max_receive_count")
    assert field.unit == "hours" and field.synonyms == ("tries",)


def test_every_builtin_schema_with_vocabulary_is_still_valid_json_schema() -> None:
    # The annotations are x- keywords: ignored by validators, kept valid for other tools.
    for path in sorted(catalogue.builtin_modules_dir().glob("*.json")):
        schema = json.loads(path.read_text())["schema"]
        Draft202012Validator.check_schema(schema)
        assert any("x-tfpilot-synonyms" in p for p in schema["properties"].values()), path.name
