"""Built-in definitions, lookups by word, and start-up refusal of broken registries (file + pointer)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from module_registry import catalogue
from module_registry.catalogue import Registry
from module_registry.errors import RegistryError, UnknownModule

REQUIRED_MODULES = {
    "s3-bucket",
    "sqs-queue",
    "sns-topic",
    "dynamodb-table",
    "ecr-repository",
    "iam-role",
    "rds-postgres",
    "ec2-instance",
}


def test_builtin_registry_has_the_required_modules(registry: Registry) -> None:
    assert set(registry.ids()) >= REQUIRED_MODULES
    assert len(registry) >= 8
    assert [m.id for m in registry.modules()] == sorted(registry.ids())


@pytest.mark.parametrize("module_id", sorted(REQUIRED_MODULES))
def test_every_module_is_complete(registry: Registry, module_id: str) -> None:
    module = registry.get(module_id)
    assert module.keywords and module.synonyms and module.presets and module.outputs
    assert module.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    spec = module.terraform
    assert spec.kind == "module" and spec.source and spec.source.startswith("terraform-aws-modules/")
    assert spec.version and spec.version.count(".") == 2 and spec.version.replace(".", "").isdigit()
    for field in module.fields():
        assert field.title and field.description, field.name
    assert module.naming is not None and module.naming.field in module.required_fields()
    assert "tags" in module.properties()
    # At least one field carries each kind of documentation the assistant relies on.
    props = module.properties().values()
    assert any("examples" in p for p in props)
    assert any("default" in p for p in props)
    assert any("enum" in p or "pattern" in p or "minimum" in p for p in props)


def test_production_policy_is_declared(registry: Registry) -> None:
    prod_rules = {(m.id, c.field) for m in registry.modules() for c in m.constraints if c.applies_to in ("prod", "all")}
    assert ("s3-bucket", "force_destroy") in prod_rules
    assert ("rds-postgres", "deletion_protection") in prod_rules
    assert ("rds-postgres", "backup_retention_days") in prod_rules
    assert ("dynamodb-table", "deletion_protection") in prod_rules
    assert ("ecr-repository", "force_delete") in prod_rules


@pytest.mark.parametrize(
    ("word", "module_id"),
    [
        ("bucket", "s3-bucket"),
        ("Buckets", "s3-bucket"),
        ("s3", "s3-bucket"),
        ("queue", "sqs-queue"),
        ("a FIFO queue for orders", "sqs-queue"),
        ("topic", "sns-topic"),
        ("table", "dynamodb-table"),
        ("registry", "ecr-repository"),
        ("container registry", "ecr-repository"),
        ("docker images", "ecr-repository"),
        ("role", "iam-role"),
        ("database", "rds-postgres"),
        ("postgres", "rds-postgres"),
        ("PostgreSQL", "rds-postgres"),
        ("vm", "ec2-instance"),
        ("server", "ec2-instance"),
        ("instance", "ec2-instance"),
        ("ec2-instance", "ec2-instance"),
        ("I need a new S3 bucket please", "s3-bucket"),
    ],
)
def test_match_finds_modules_by_the_words_people_use(registry: Registry, word: str, module_id: str) -> None:
    found = registry.match(word)
    assert found is not None and found.id == module_id


@pytest.mark.parametrize("word", ["", "   ", "banana", "a role for the bucket"])
def test_match_returns_none_when_nothing_or_two_things_match(registry: Registry, word: str) -> None:
    assert registry.match(word) is None


def test_unknown_module_lists_the_known_ones(registry: Registry) -> None:
    with pytest.raises(UnknownModule) as caught:
        registry.get("s4-bucket")
    assert "s4-bucket" in str(caught.value) and "s3-bucket" in str(caught.value)
    with pytest.raises(UnknownModule):
        registry.validate("nope", {}, "dev", prod=False)


def test_example_configs_and_presets_are_valid(registry: Registry) -> None:
    for module in registry.modules():
        assert registry.validate(module.id, module.example_config(), "dev", prod=False, project="core").ok, module.id
        for preset in module.presets:
            config = module.with_preset(preset, module.example_config())
            result = registry.validate(module.id, config, "dev", prod=False, project="core")
            assert result.ok, (module.id, preset, result.errors)


def test_presets_that_break_an_environment_rule_are_not_offered_there(registry: Registry) -> None:
    assert registry.presets_for("s3-bucket", "dev", prod=False) == ["private-encrypted", "log-archive", "scratch"]
    assert registry.presets_for("s3-bucket", "prod", prod=True) == ["private-encrypted"]
    assert registry.presets_for("ecr-repository", "prod", prod=True) == ["service-images"]
    for module in registry.modules():
        for name in registry.presets_for(module.id, "prod", prod=True):
            # What is offered in production, laid over a production-ready config, passes.
            config = {**module.example_config(), **PROD_READY.get(module.id, {}), **module.preset(name)}
            result = registry.validate(module.id, config, "prod", prod=True, project="core")
            assert result.ok, (module.id, name, result.errors)


PROD_READY: dict[str, dict[str, Any]] = {
    "dynamodb-table": {"deletion_protection": True},
    "rds-postgres": {"multi_az": True, "deletion_protection": True, "backup_retention_days": 14},
    "ec2-instance": {"termination_protection": True},
}


# --- broken registries -----------------------------------------------------------------------


def _builtin(module_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((catalogue.builtin_modules_dir() / f"{module_id}.json").read_text())
    return doc


def _write(directory: Path, doc: dict[str, Any], name: str | None = None) -> Path:
    path = directory / f"{name or doc['id']}.json"
    path.write_text(json.dumps(doc))
    return path


def _refusal(tmp_path: Path, mutate: Any, name: str | None = None) -> RegistryError:
    doc = copy.deepcopy(_builtin("s3-bucket"))
    mutate(doc)
    path = _write(tmp_path, doc, name or "s3-bucket")
    with pytest.raises(RegistryError) as caught:
        catalogue.load_registry(tmp_path)
    assert caught.value.file == str(path)
    assert str(path) in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("mutate", "pointer", "words"),
    [
        (
            lambda d: d["schema"]["properties"]["versioning"].update(type="flag"),
            "/schema/properties/versioning/type",
            "JSON Schema",
        ),
        (
            lambda d: d["schema"]["properties"]["name"].update(minLength=-1),
            "/schema/properties/name/minLength",
            "JSON Schema",
        ),
        (
            lambda d: d["schema"]["properties"]["name"].update(pattern="(unclosed"),
            "/schema/properties/name/pattern",
            "JSON Schema",
        ),
        (
            lambda d: d["schema"].update(additionalProperties=True),
            "/schema/additionalProperties",
            "additionalProperties",
        ),
        (
            lambda d: d["schema"]["properties"]["versioning"].pop("description"),
            "/schema/properties/versioning/description",
            "description",
        ),
        (
            lambda d: d["schema"]["properties"]["versioning"].update(default="yes"),
            "/schema/properties/versioning/default",
            "default",
        ),
        (
            lambda d: d["presets"]["private-encrypted"].update(encryption="rot13"),
            "/presets/private-encrypted/encryption",
            "preset",
        ),
        (
            lambda d: d["terraform"]["inputs"].update(bucket={"$ref": "config.nope"}),
            "/terraform/inputs/bucket/$ref",
            "unknown reference",
        ),
        (lambda d: d["terraform"]["inputs"].update(bucket={"$eval": "x"}), "/terraform/inputs/bucket", "operators"),
        (lambda d: d["terraform"].update(version="~> 4.0"), "/terraform", "exact"),
        (lambda d: d["constraints"][0].update(field="ghost"), "/constraints/0/field", "unknown field"),
        (lambda d: d["naming"].update(rule="s5"), "/naming/rule", "naming rule"),
        (lambda d: d.update(id="S3 Bucket"), "/id", "module ids"),
        (lambda d: d.update(unexpected=1), "/unexpected", "is not a known key"),
        (lambda d: d["example"].update(name="UPPER"), "/example/name", "example"),
        (
            lambda d: d.update(relations=[{"field": "ghost", "op": ">", "other": "expiration_days", "message": "m"}]),
            "/relations/0/field",
            "unknown field",
        ),
        (
            lambda d: d.update(
                relations=[{"field": "expiration_days", "op": "<", "other": "versioning", "message": "m"}]
            ),
            "/relations/0/other",
            "compares numbers",
        ),
        (
            lambda d: d.update(
                relations=[{"field": "expiration_days", "op": "like", "other": "versioning", "message": "m"}]
            ),
            "/relations/0/op",
            "not one of the allowed values",
        ),
        (
            lambda d: (
                d["example"].update(noncurrent_expiration_days=365),
                d.update(
                    relations=[
                        {"field": "noncurrent_expiration_days", "op": "!=", "other": "expiration_days", "message": "m"}
                    ]
                ),
            ),
            "/example/noncurrent_expiration_days",
            "breaks a relation",
        ),
        (
            lambda d: (
                d["presets"]["scratch"].update(expiration_days=90),
                d.update(
                    relations=[
                        {"field": "expiration_days", "op": "!=", "other": "noncurrent_expiration_days", "message": "m"}
                    ]
                ),
            ),
            "/presets/scratch/expiration_days",
            "preset breaks a relation",
        ),
    ],
)
def test_broken_definition_is_refused_naming_file_and_pointer(
    tmp_path: Path, mutate: Any, pointer: str, words: str
) -> None:
    error = _refusal(tmp_path, mutate)
    assert error.pointer == pointer, str(error)
    assert f"at {pointer}" in str(error)
    assert words.lower() in str(error).lower()


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    error = _refusal(tmp_path, lambda d: None, name="other-name")
    assert error.pointer == "/id"


def test_invalid_json_is_refused_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"id": "bad",\n  oops}')
    with pytest.raises(RegistryError) as caught:
        catalogue.load_registry(tmp_path)
    assert caught.value.file == str(path) and "line 2" in str(caught.value)


def test_a_key_given_twice_in_a_definition_is_refused(tmp_path: Path) -> None:
    text = json.dumps(_builtin("s3-bucket"), indent=2)
    # A second "force_destroy" field schema would silently replace the first one.
    doubled = text.replace('"properties": {', '"properties": {\n"force_destroy": {"type": "string"},', 1)
    path = tmp_path / "s3-bucket.json"
    path.write_text(doubled)
    with pytest.raises(RegistryError) as caught:
        catalogue.load_registry(tmp_path)
    assert caught.value.file == str(path) and "'force_destroy' appears twice" in str(caught.value)
    yaml_path = tmp_path / "s3-bucket.json"
    yaml_path.unlink()
    (tmp_path / "dup.yaml").write_text("id: dup\ntitle: A\ntitle: B\n")
    with pytest.raises(RegistryError, match=r"'title' appears twice.*line 3"):
        catalogue.load_registry(tmp_path)


def test_yaml_definitions_load_and_empty_or_missing_dirs_are_refused(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "sqs-queue.yaml").write_text(yaml.safe_dump(_builtin("sqs-queue")))
    assert catalogue.load_registry(tmp_path).ids() == ["sqs-queue"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RegistryError, match="no module definitions"):
        catalogue.load_registry(empty)
    with pytest.raises(RegistryError, match="does not exist"):
        catalogue.load_registry(tmp_path / "missing")


def test_the_same_id_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sqs-queue.json").write_text(json.dumps(_builtin("sqs-queue")))
    (tmp_path / "sqs-queue.yaml").write_text(json.dumps(_builtin("sqs-queue")))
    with pytest.raises(RegistryError, match="also defined"):
        catalogue.load_registry(tmp_path)
