"""The variables.tf importer: every type construct, defaults, descriptions, sensitive, nullable,
validation blocks mapped to JSON Schema, and everything it cannot map reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from module_registry import catalogue, importer, render
from module_registry.errors import RegistryError
from tests.registry.conftest import REQUEST_ID, module_body

EVERY_CONSTRUCT = r"""
variable "name" {
  description = "Name of the thing (use \"lowercase\"; $${not_interpolated})"
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.name)) && length(var.name) <= 40 && length(var.name) >= 3
    error_message = "Name must be lowercase, 3 to 40 characters."
  }
}

variable "size" {
  description = "How big."
  type        = number
  default     = 10
  validation {
    condition     = var.size >= 1 && var.size <= 100 && floor(var.size) == var.size
    error_message = "Size is a whole number from 1 to 100."
  }
}

variable "ratio" {
  type    = number
  default = 0.5
  validation {
    condition     = var.ratio > 0 && 1 > var.ratio
    error_message = "Ratio is strictly between 0 and 1."
  }
}

variable "enabled" {
  type    = bool
  default = true
}

variable "mode" {
  type    = string
  default = "fast"
  validation {
    condition     = contains(["fast", "safe"], var.mode)
    error_message = "Mode is fast or safe."
  }
}

variable "zones" {
  type    = list(string)
  default = ["a"]
  validation {
    condition     = length(var.zones) > 0 && alltrue([for z in var.zones : contains(["a", "b", "c"], z)])
    error_message = "Zones are a, b or c."
  }
}

variable "ports" {
  type    = set(number)
  default = []
}

variable "labels" {
  type    = map(string)
  default = {}
  validation {
    condition     = length(var.labels) <= 5 && alltrue([for k, v in var.labels : can(regex("^[a-z]+$", v))])
    error_message = "At most 5 lowercase labels."
  }
}

variable "pair" {
  type    = tuple([string, number, bool])
  default = ["x", 1, false]
}

variable "settings" {
  type = object({
    retries = optional(number, 3)
    backoff = optional(string)
    nested  = optional(object({ deep = optional(bool, false) }), {})
    extra   = optional(map(string), {})
    port    = number
  })
  default = { port = 8080 }
  validation {
    condition     = var.settings.port >= 1024
    error_message = "Use an unprivileged port."
  }
}

variable "anything" {
  type    = any
  default = null
}

variable "untyped" {
  default = "whatever"
}

variable "legacy" {
  type    = "string"
  default = "old"
}

variable "password" {
  description = <<-EOT
    The admin password.
    Keep it secret.
  EOT
  type        = string
  sensitive   = true
  default     = null
  nullable    = true
}

variable "prefix" {
  type    = string
  default = "app-"
  validation {
    condition     = startswith(var.prefix, "app") && endswith(var.prefix, "-") && var.prefix != ""
    error_message = "Prefix starts with app and ends with a dash."
  }
}

variable "optional_url" {
  type    = string
  default = null
  validation {
    condition     = var.optional_url == null || can(regex("^https://", var.optional_url))
    error_message = "Use https."
  }
}

variable "forbidden" {
  type    = string
  default = "ok"
  validation {
    condition     = !contains(["root", "admin"], var.forbidden)
    error_message = "Reserved."
  }
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
  validation {
    condition     = can(cidrhost(var.cidr, 0)) && length(var.cidr) >= 9
    error_message = "Must be a CIDR."
  }
}

variable "depends" {
  type    = number
  default = 1
  validation {
    condition     = var.depends <= var.size ? true : false
    error_message = "Compared with another variable."
  }
}

variable "token" {
  type      = string
  ephemeral = true
  default   = "x"
}

variable "BadName" {
  type    = string
  default = "x"
}

variable "computed_default" {
  type    = string
  default = "${upper("x")}"
}

variable "features" {
  type    = list(string)
  default = ["logging"]
  validation {
    condition     = contains(var.features, "logging")
    error_message = "Logging cannot be turned off."
  }
}

variable "hostname" {
  type    = string
  default = "web-1"
  validation {
    condition     = length(regexall("^[a-z0-9-]+$", var.hostname)) > 0 && length(regexall("--", var.hostname)) == 0
    error_message = "Lowercase letters, digits and single hyphens."
  }
}

variable "cidrs" {
  type    = list(string)
  default = ["10.0.0.0/8"]
  validation {
    condition     = anytrue([for c in var.cidrs : startswith(c, "10.")])
    error_message = "At least one 10/8 range."
  }
}

variable "regex_count" {
  type    = string
  default = "a"
  validation {
    condition     = length(regexall("a", var.regex_count)) == 2
    error_message = "Exactly two."
  }
}

variable "tags" {
  description = "Tags for everything."
  type        = map(string)
  default     = {}
}
"""

OUTPUTS = """
output "id" {
  description = "The id"
  value       = "x"
}
"""


@pytest.fixture
def imported(tmp_path: Path) -> importer.ImportResult:
    module = tmp_path / "terraform-aws-thing"
    module.mkdir()
    (module / "variables.tf").write_text(EVERY_CONSTRUCT)
    (module / "outputs.tf").write_text(OUTPUTS)
    return importer.import_module(module, source="./modules/thing")


def prop(result: importer.ImportResult, name: str) -> dict[str, Any]:
    value: dict[str, Any] = result.definition["schema"]["properties"][name]
    return value


def test_identity_and_terraform(imported: importer.ImportResult) -> None:
    definition = imported.definition
    assert definition["id"] == "thing" and definition["title"] == "Thing" and definition["category"] == "imported"
    assert definition["terraform"] == {
        "kind": "module",
        "source": "./modules/thing",
        "passthrough": True,
        "tags_input": "tags",
    }
    assert definition["outputs"] == [{"name": "id", "description": "The id", "value": "id"}]
    assert definition["schema"]["required"] == ["name"]
    assert "BadName" in imported.variables and "BadName" not in definition["schema"]["properties"]


def test_primitive_types_defaults_and_descriptions(imported: importer.ImportResult) -> None:
    name = prop(imported, "name")
    assert name["type"] == "string"
    assert name["description"] == 'Name of the thing (use "lowercase"; ${not_interpolated})'
    assert prop(imported, "size")["type"] == "number" and prop(imported, "size")["default"] == 10
    assert prop(imported, "enabled") == {
        "title": "Enabled",
        "description": "The enabled input of the module.",
        "type": "boolean",
        "default": True,
    }
    assert prop(imported, "legacy")["type"] == "string"
    assert "type" not in prop(imported, "anything") and "type" not in prop(imported, "untyped")
    assert prop(imported, "untyped")["default"] == "whatever"
    assert prop(imported, "password")["description"] == "The admin password.\nKeep it secret."


def test_collection_types(imported: importer.ImportResult) -> None:
    assert prop(imported, "zones")["items"] == {"type": "string"}
    ports = prop(imported, "ports")
    assert ports["type"] == "array" and ports["uniqueItems"] is True and ports["items"] == {"type": "number"}
    labels = prop(imported, "labels")
    assert labels["type"] == "object" and labels["additionalProperties"]["type"] == "string"
    pair = prop(imported, "pair")
    assert pair["prefixItems"] == [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
    assert pair["items"] is False and pair["minItems"] == pair["maxItems"] == 3


def test_objects_with_optional_attributes_and_defaults(imported: importer.ImportResult) -> None:
    settings = prop(imported, "settings")
    assert settings["type"] == "object" and settings["additionalProperties"] is False
    assert settings["required"] == ["port"]
    props = settings["properties"]
    assert props["retries"] == {"type": "number", "default": 3}
    assert props["backoff"] == {"type": ["string", "null"]}
    assert props["nested"]["default"] == {} and props["nested"]["properties"]["deep"] == {
        "type": "boolean",
        "default": False,
    }
    assert props["extra"] == {"type": "object", "additionalProperties": {"type": "string"}, "default": {}}
    assert settings["default"] == {"port": 8080}
    assert props["port"]["minimum"] == 1024  # validation on an attribute lands on that attribute


def test_sensitive_and_nullable(imported: importer.ImportResult) -> None:
    password = prop(imported, "password")
    assert password["writeOnly"] is True and password["x-sensitive"] is True
    assert password["type"] == ["string", "null"] and "default" not in password
    assert any(f.variable == "password" and f.construct == "sensitive" for f in imported.notes)
    assert prop(imported, "name")["type"] == "string"  # nullable = false: null is refused
    assert prop(imported, "anything").get("default") is None


def test_validation_blocks_become_json_schema(imported: importer.ImportResult) -> None:
    name = prop(imported, "name")
    assert (name["pattern"], name["minLength"], name["maxLength"]) == ("^[a-z][a-z0-9-]*$", 3, 40)
    assert name["x-messages"]["pattern"] == "Name must be lowercase, 3 to 40 characters."
    size = prop(imported, "size")
    assert (size["minimum"], size["maximum"], size["multipleOf"]) == (1, 100, 1)
    ratio = prop(imported, "ratio")
    assert (ratio["exclusiveMinimum"], ratio["exclusiveMaximum"]) == (0, 1)
    assert prop(imported, "mode")["enum"] == ["fast", "safe"]
    zones = prop(imported, "zones")
    assert zones["minItems"] == 1 and zones["allOf"][0]["items"] == {"enum": ["a", "b", "c"]}
    labels = prop(imported, "labels")
    assert labels["maxProperties"] == 5 and labels["allOf"][0]["additionalProperties"] == {"pattern": "^[a-z]+$"}
    prefix = prop(imported, "prefix")
    assert prefix["pattern"] == "^app" and prefix["allOf"][0]["pattern"] == "\\-$" and prefix["minLength"] == 1
    assert prop(imported, "optional_url")["anyOf"] == [{"type": "null"}, {"pattern": "^https://"}]
    assert prop(imported, "forbidden")["not"] == {"enum": ["root", "admin"]}
    assert prop(imported, "cidr")["minLength"] == 9  # the mappable half of the condition


def test_contains_regexall_and_anytrue_become_json_schema(imported: importer.ImportResult, tmp_path: Path) -> None:
    features = prop(imported, "features")
    assert features["contains"] == {"const": "logging"}
    assert features["x-messages"]["contains"] == "Logging cannot be turned off."
    hostname = prop(imported, "hostname")
    assert hostname["pattern"] == "^[a-z0-9-]+$" and hostname["not"] == {"pattern": "--"}
    assert prop(imported, "cidrs")["contains"] == {"pattern": "^10\\."}
    # A count other than "some" or "none" has no JSON Schema equivalent: reported.
    assert "pattern" not in prop(imported, "regex_count")
    assert any(f.variable == "regex_count" and "regexall" in f.detail for f in imported.unmapped)
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "thing.json").write_text(json.dumps(imported.definition))
    registry = catalogue.load_registry(modules)
    bad = {"name": "web", "features": ["metrics"], "hostname": "web--1", "cidrs": ["192.168.0.0/16"]}
    found = {e.field: e.message for e in registry.validate("thing", bad, "dev", prod=False).errors}
    assert found["features"] == "Logging cannot be turned off."
    assert found["hostname"] == "Lowercase letters, digits and single hyphens."
    assert found["cidrs"] == "At least one 10/8 range."
    good = {
        "name": "web",
        "features": ["metrics", "logging"],
        "hostname": "web-2",
        "cidrs": ["172.16.0.0/12", "10.1.0.0/16"],
    }
    assert registry.validate("thing", good, "dev", prod=False).ok


def test_what_cannot_be_mapped_is_reported(imported: importer.ImportResult) -> None:
    reported = {(f.variable, f.construct) for f in imported.unmapped}
    assert ("cidr", "validation") in reported
    assert ("depends", "validation") in reported
    assert ("token", "ephemeral") in reported
    assert ("BadName", "name") in reported
    assert ("computed_default", "default") in reported
    texts = " ".join(f.text() for f in imported.unmapped)
    assert "cidrhost" in texts and "var.depends <= var.size" in texts


def test_imported_definition_validates_like_terraform(imported: importer.ImportResult, tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "thing.json").write_text(json.dumps(imported.definition))
    registry = catalogue.load_registry(modules)
    ok = registry.validate("thing", {"name": "web-01"}, "dev", prod=False)
    assert ok.ok, ok.errors
    assert ok.config["settings"] == {"port": 8080, "retries": 3, "nested": {"deep": False}, "extra": {}}
    bad = registry.validate(
        "thing", {"name": "Web", "size": 2.5, "zones": ["d"], "settings": {"port": 80}}, "dev", prod=False
    )
    messages = {e.field: e.message for e in bad.errors}
    assert messages["name"] == "Name must be lowercase, 3 to 40 characters."
    assert messages["size"] == "Size is a whole number from 1 to 100."
    assert messages["zones[0]"] == "is not one of the allowed values"
    assert messages["settings.port"] == "Use an unprivileged port."
    assert not registry.validate("thing", {"name": None}, "dev", prod=False).ok
    assert registry.validate("thing", {"name": "web", "password": None, "optional_url": None}, "dev", prod=False).ok


def test_imported_definition_renders_passthrough(
    imported: importer.ImportResult, tmp_path: Path, fmt_check: Callable[[Path], None]
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "thing.json").write_text(json.dumps(imported.definition))
    registry = catalogue.load_registry(modules)
    config = {"name": "web", "size": 20, "labels": {"tier": "front"}, "pair": ["y", 2, True], "tags": {"team": "web"}}
    text = render.render_block(
        render.RenderInput(REQUEST_ID, "core", "dev", "thing", config, "envs/dev", "U1"), registry
    )
    body = module_body(text)
    assert body["source"] == "./modules/thing" and "version" not in body
    assert body["name"] == "web" and body["size"] == 20 and body["pair"] == ["y", 2, True]
    assert "enabled" not in body and "mode" not in body  # defaults are left to the module
    assert body["tags"]["team"] == "web" and body["tags"]["managed-by"] == "tfpilot"
    out = tmp_path / "tf"
    out.mkdir()
    (out / "thing.tf").write_text(text)
    fmt_check(out)


def test_variables_spread_over_files_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text('variable "one" {\n  type = string\n}\n')
    (tmp_path / "variables.tf").write_text(
        'variable "two" {\n  type = number\n  default = 2\n}\nvariable "one" {\n  type = bool\n}\n'
    )
    result = importer.import_module(tmp_path, module_id="spread", source="./modules/spread")
    assert list(result.definition["schema"]["properties"]) == ["two", "one"]
    assert result.definition["schema"]["properties"]["one"]["type"] == "boolean"  # variables.tf is read first
    assert any(f.variable == "one" and "declared twice" in f.detail for f in result.unmapped)
    assert result.definition["terraform"]["tags_input"] is None


def test_registry_sources_need_an_exact_version(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text('variable "x" {\n  type = string\n}\n')
    with pytest.raises(RegistryError, match="needs --version"):
        importer.import_module(tmp_path, source="acme/thing/aws")
    with pytest.raises(RegistryError, match="exact version"):
        importer.import_module(tmp_path, source="acme/thing/aws", version="~> 1.0")
    result = importer.import_module(tmp_path, source="acme/thing/aws", version="1.2.3", module_id="thing")
    assert result.definition["terraform"]["version"] == "1.2.3"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no .tf files"),
        ({"main.tf": 'resource "x" "y" {}\n'}, "no usable variable"),
        ({"variables.tf": 'variable "x" {\n  type = \n'}, "not valid HCL"),
    ],
)
def test_unusable_modules_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RegistryError, match=message):
        importer.import_module(tmp_path, source="./x")
    with pytest.raises(RegistryError, match="not a directory"):
        importer.import_module(tmp_path / "missing")


def test_type_expressions_outside_the_grammar_are_reported(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text('variable "odd" {\n  type = list(string, number)\n  default = []\n}\n')
    result = importer.import_module(tmp_path, module_id="odd", source="./odd")
    assert result.definition["schema"]["properties"]["odd"].get("type") is None
    assert any(f.construct == "type" for f in result.unmapped)


def test_tag_rules_replaced_by_the_tag_policy_and_duplicate_outputs_are_reported(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "tags" {\n  type    = map(string)\n  default = { Owner = "ops" }\n'
        '  validation {\n    condition     = length(var.tags) <= 10\n    error_message = "Ten at most."\n  }\n}\n'
        'variable "size" {\n  type = number\n}\n'
    )
    (tmp_path / "a.tf").write_text('output "id" {\n  value = "a"\n}\n')
    (tmp_path / "b.tf").write_text('output "id" {\n  value = "b"\n}\n')
    result = importer.import_module(tmp_path, module_id="tagged", source="./tagged")
    tags_schema = result.definition["schema"]["properties"]["tags"]
    assert tags_schema["maxProperties"] == 45 and tags_schema["default"] == {}
    lost = [f for f in result.unmapped if f.variable == "tags" and f.construct == "tags"]
    assert len(lost) == 1 and "default" in lost[0].detail and "maxProperties" in lost[0].detail
    assert [o["name"] for o in result.definition["outputs"]] == ["id"]
    assert any(f.variable == "id" and f.construct == "output" and "b.tf" in f.detail for f in result.unmapped)


def test_any_with_nullable_false_refuses_only_null(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text('variable "settings" {\n  type     = any\n  nullable = false\n}\n')
    result = importer.import_module(tmp_path, module_id="anything", source="./anything")
    settings = result.definition["schema"]["properties"]["settings"]
    assert settings["not"] == {"type": "null"} and "type" not in settings
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "anything.json").write_text(json.dumps(result.definition))
    registry = catalogue.load_registry(modules)
    for value in ({"a": 1}, [1], "x", 0, False):
        assert registry.validate("anything", {"settings": value}, "dev", prod=False).ok, value
    assert not registry.validate("anything", {"settings": None}, "dev", prod=False).ok
