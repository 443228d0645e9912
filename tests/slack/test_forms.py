"""Schema-driven forms: the right element per JSON Schema type, and submissions parsed back into
typed values with readable errors keyed by block id."""

from __future__ import annotations

from typing import Any

from bot.views import forms
from module_registry.catalogue import load_registry
from module_registry.fields import ConfigField

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "size"],
    "properties": {
        "name": {
            "type": "string",
            "title": "Name",
            "description": "Short name",
            "examples": ["assets"],
            "maxLength": 50,
        },
        "size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "ratio": {"type": "number", "exclusiveMinimum": 0},
        "versioning": {"type": "boolean", "default": True},
        "tier": {"enum": ["standard", "premium", 3]},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "anything": {"type": ["object", "array"]},
    },
}


def _state(**values: dict[str, Any]) -> dict[str, Any]:
    return {forms.block_id_for(name): {"value": entry} for name, entry in values.items()}


def test_elements_follow_the_schema() -> None:
    fields = forms.schema_fields(SCHEMA)
    view = forms.form_modal(fields, title="New", callback_id="cb", private_metadata="{}", values={"tags": {"a": "1"}})
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    name = blocks["f:name"]
    assert name["element"]["type"] == "plain_text_input" and name["element"]["placeholder"]["text"] == "assets"
    assert name["hint"]["text"].startswith("Short name") and name["optional"] is False
    size = blocks["f:size"]["element"]
    assert size["type"] == "number_input" and size["is_decimal_allowed"] is False
    assert (size["min_value"], size["max_value"], size["initial_value"]) == ("1", "100", "10")
    assert blocks["f:ratio"]["element"]["is_decimal_allowed"] is True
    assert blocks["f:versioning"]["element"]["type"] == "checkboxes" and blocks["f:versioning"]["optional"] is True
    assert blocks["f:versioning"]["element"]["initial_options"]
    tier = blocks["f:tier"]["element"]
    assert tier["type"] == "static_select" and [o["value"] for o in tier["options"]] == ["standard", "premium", "3"]
    assert blocks["f:tags"]["element"]["multiline"] and blocks["f:tags"]["element"]["initial_value"] == "a=1"
    assert blocks["f:ports"]["element"]["multiline"]


def test_submission_is_parsed_into_typed_values() -> None:
    fields = forms.schema_fields(SCHEMA)
    state = _state(
        name={"value": "assets"},
        size={"value": "12"},
        ratio={"value": "0.5"},
        versioning={"selected_options": []},
        tier={"selected_option": {"value": "3"}},
        tags={"value": "team=data\nowner = me"},
        ports={"value": "80\n443"},
        anything={"value": '{"k": [1]}'},
    )
    values, errors = forms.parse_submission(fields, state)
    assert errors == {}
    assert values == {
        "name": "assets",
        "size": 12,
        "ratio": 0.5,
        "versioning": False,
        "tier": 3,
        "tags": {"team": "data", "owner": "me"},
        "ports": [80, 443],
        "anything": {"k": [1]},
    }


def test_unreadable_values_become_errors_by_block() -> None:
    fields = forms.schema_fields(SCHEMA)
    state = _state(
        size={"value": "1.5"}, tags={"value": "no equals sign"}, ports={"value": "eighty"}, anything={"value": "{"}
    )
    values, errors = forms.parse_submission(fields, state)
    assert set(errors) == {"f:size", "f:tags", "f:ports", "f:anything"}
    assert "whole number" in errors["f:size"] and "key=value" in errors["f:tags"] and "JSON" in errors["f:anything"]
    assert "size" not in values


def test_service_errors_map_to_blocks() -> None:
    fields = forms.schema_fields(SCHEMA)
    mapped = forms.errors_by_block(fields, {"name": "too long", "tags.env": "required", "/ports/0": "bad", "": "whole"})
    assert mapped["f:tags"] == "required" and mapped["f:ports"] == "bad"
    assert mapped["f:name"] == "too long; whole"  # a config-wide error is shown on the first field
    assert len(mapped) == 3


def test_values_too_long_to_prefill_are_kept_when_left_empty() -> None:
    fields = forms.schema_fields(SCHEMA)
    big = {f"k{i}": "v" * 100 for i in range(100)}
    view = forms.form_modal(fields, title="Edit", callback_id="cb", private_metadata="{}", values={"tags": big})
    tags = next(b for b in view["blocks"] if b.get("block_id") == "f:tags")
    assert "initial_value" not in tags["element"] and "too long to show" in tags["hint"]["text"]
    values, errors = forms.parse_submission(fields, _state(tags={"value": ""}), keep={"tags": big})
    assert errors == {} and values["tags"] == big


def test_long_field_names_get_stable_block_ids() -> None:
    name = "x" * 300
    assert forms.block_id_for(name) == forms.block_id_for(name) and len(forms.block_id_for(name)) < 255
    assert forms.block_id_for("weird name!").startswith("f#")


def test_every_builtin_module_renders_a_form() -> None:
    registry = load_registry()
    for module in registry.modules():
        fields = forms.schema_fields(module.schema)
        assert fields, module.id
        view = forms.form_modal(fields, title=module.title, callback_id="cb", private_metadata="{}")
        assert len([b for b in view["blocks"] if b["type"] == "input"]) == len(fields)


def test_the_submit_reply_names_the_request_once() -> None:
    import json

    from assistant.domain.reply import Reply
    from bot.views.intake import intake_message

    reply = Reply(
        text="Request `req_once12345678` is created, with pull request https://github.example/pr/1.",
        request_id="req_once12345678",
        link="https://github.example/pr/1",
        submitted=True,
        done=True,
    )
    message = intake_message(reply, thread_ts="1700000000.000100")
    assert json.dumps(message["blocks"]).count("req_once12345678") == 1


def test_text_inputs_are_read_by_the_registrys_parser() -> None:
    fields = forms.schema_fields(SCHEMA)
    state = _state(
        name={"value": ' "assets" '},
        tags={"value": "team=data, owner=Data Team"},
        ports={"value": "80, 443"},
        anything={"value": "[1, 2]"},
    )
    values, errors = forms.parse_submission(fields, state)
    assert errors == {}
    assert values == {
        "name": "assets",
        "tags": {"team": "data", "owner": "Data Team"},
        "ports": [80, 443],
        "anything": [1, 2],
    }
    # A form field is the registry's field model: the same object the assistant reads.
    assert all(isinstance(f, ConfigField) for f in fields)
