"""Start-up meta-validation of module definitions: a broken registry is refused, naming the file
and the JSON pointer of the first bad value.

Checks, in order: the document parses; it fits the ``ModuleDefinition`` model; its ``schema`` is
valid draft 2020-12 (against the metaschema) and follows our conventions (an object with
``additionalProperties: false``, every property titled and described, patterns that compile,
defaults and examples valid against their own property); the vocabulary (``x-tfpilot-synonyms``
lowercase phrases naming one field each, on top-level fields; ``x-tfpilot-unit`` a known unit);
presets, constraints, relations, naming and Terraform ``inputs`` only refer to fields that exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from module_registry import documents, naming, units
from module_registry.definition import CONTEXT_KEYS, WORD_RE, ModuleDefinition
from module_registry.errors import RegistryError
from module_registry.fields import SYNONYMS_KEY
from module_registry.validation import apply_defaults, compile_validator, format_checker, relation_errors

MAX_DEFINITION_BYTES = 1024 * 1024
UNIT_KEY = "x-tfpilot-unit"
_OPERATORS = ("$ref", "$if", "$case", "$concat", "$literal", "$omit", "$call")


def pointer(parts: list[Any] | tuple[Any, ...]) -> str:
    """RFC 6901 JSON pointer for ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_MODEL_WORDS = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
    "too_short": "must have at least one entry",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "literal_error": "is not one of the allowed values",
}


def model_error_words(error: Any) -> str:
    """A pydantic error in plain words (its own message when we have no better one)."""
    words = _MODEL_WORDS.get(str(error.get("type")))
    message = str(error.get("msg", "is not valid"))
    if words is None:
        return message.removeprefix("Value error, ")
    if error.get("type") == "literal_error":
        return f"{words} ({message.removeprefix('Input should be ')})"
    return words


def read_document(path: Path) -> dict[str, Any]:
    """Parse a JSON or YAML definition file into a dict (``RegistryError`` naming the file)."""
    return parse_document(read_definition_text(path), path)


def read_definition_text(path: Path) -> str:
    """A definition file's text (``RegistryError`` naming the file: unreadable, too big, not UTF-8)."""
    return documents.read_text(path, limit=MAX_DEFINITION_BYTES, what="file")


def parse_document(text: str, path: Path) -> dict[str, Any]:
    """``text`` (read from ``path``, whose suffix says JSON or YAML) as a definition's dict."""
    name = str(path)
    try:
        doc = documents.load_json(text) if path.suffix == ".json" else documents.load_yaml(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", file=name) from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"not valid YAML: {exc}", file=name) from exc
    except ValueError as exc:  # a duplicate key, NaN or Infinity
        raise RegistryError(str(exc), file=name) from exc
    if not isinstance(doc, dict):
        raise RegistryError("a module definition must be an object", file=name, pointer="")
    return doc


def check_document(
    doc: dict[str, Any], file: str, *, expected_id: str | None = None, meta_checked: bool = False
) -> ModuleDefinition:
    """The definition in ``doc`` after every check, or ``RegistryError`` (file + pointer).

    ``meta_checked``: ``doc`` was parsed from bytes known to pass every check with this code
    (``module_registry.checked``: the built-in definitions, checked by the test suite), so the
    checks that depend on the document alone (the metaschema, the conventions) are not run
    again; the model is still built and the id still compared with the file name."""
    schema = doc.get("schema")
    if isinstance(schema, dict) and not meta_checked:
        _check_schema(schema, file)
    try:
        definition = ModuleDefinition.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        raise RegistryError(model_error_words(first), file=file, pointer=pointer(loc)) from exc
    if expected_id is not None and definition.id != expected_id:
        raise RegistryError(
            f"id {definition.id!r} does not match the file name {expected_id!r}", file=file, pointer="/id"
        )
    if not meta_checked:
        _check_conventions(definition, file)
    return definition


def _check_schema(schema: dict[str, Any], file: str) -> None:
    from jsonschema import Draft202012Validator  # at the first check, not at import (module_registry.validation)
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema, format_checker=format_checker())
    except SchemaError as exc:
        where = pointer(["schema", *exc.absolute_path])
        raise RegistryError(
            f"not a valid JSON Schema (draft 2020-12): {exc.message}", file=file, pointer=where
        ) from exc
    declared = schema.get("$schema")
    if declared is not None and declared != "https://json-schema.org/draft/2020-12/schema":
        raise RegistryError("schemas must be draft 2020-12", file=file, pointer="/schema/$schema")


def _walk_schemas(schema: Any, parts: list[Any]) -> list[tuple[list[Any], dict[str, Any]]]:
    """Every subschema with its path (for pattern, default and example checks)."""
    found: list[tuple[list[Any], dict[str, Any]]] = []
    stack: list[tuple[Any, list[Any]]] = [(schema, parts)]
    while stack:
        node, where = stack.pop()
        if not isinstance(node, dict):
            continue
        found.append((where, node))
        for key in ("properties", "$defs", "patternProperties"):
            if isinstance(node.get(key), dict):
                stack.extend((sub, [*where, key, name]) for name, sub in node[key].items())
        for key in ("items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else"):
            if isinstance(node.get(key), dict):
                stack.append((node[key], [*where, key]))
        for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
            if isinstance(node.get(key), list):
                stack.extend((sub, [*where, key, i]) for i, sub in enumerate(node[key]))
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _check_conventions(definition: ModuleDefinition, file: str) -> None:
    schema = definition.schema_
    if schema.get("type") != "object":
        raise RegistryError("the config schema must have type 'object'", file=file, pointer="/schema/type")
    if schema.get("additionalProperties") is not False:
        raise RegistryError(
            "the config schema must set additionalProperties to false (unknown fields are refused)",
            file=file,
            pointer="/schema/additionalProperties",
        )
    props = definition.properties()
    if not props:
        raise RegistryError("the config schema has no properties", file=file, pointer="/schema/properties")
    for name, prop in props.items():
        where = ["schema", "properties", name]
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise RegistryError("field names must be lowercase snake_case", file=file, pointer=pointer(where))
        if not isinstance(prop, dict):
            raise RegistryError("a field schema must be an object", file=file, pointer=pointer(where))
        for key in ("title", "description"):
            if not isinstance(prop.get(key), str) or not prop[key].strip():
                raise RegistryError(f"every field needs a {key}", file=file, pointer=pointer([*where, key]))
    _check_vocabulary(definition, file)
    for name in definition.required_fields():
        if name not in props:
            raise RegistryError(f"required field {name!r} is not a property", file=file, pointer="/schema/required")
    for where, node in _walk_schemas(schema, ["schema"]):
        if isinstance(node.get("pattern"), str):
            try:
                re.compile(node["pattern"])
            except re.error as exc:
                raise RegistryError(
                    f"pattern does not compile: {exc}", file=file, pointer=pointer([*where, "pattern"])
                ) from exc
        checker = compile_validator(node)
        if "default" in node and not checker.is_valid(node["default"]):
            raise RegistryError(
                "default is not valid for its own schema", file=file, pointer=pointer([*where, "default"])
            )
        for index, example in enumerate(node.get("examples", []) if isinstance(node.get("examples"), list) else []):
            if not checker.is_valid(example):
                raise RegistryError(
                    "example is not valid for its own schema", file=file, pointer=pointer([*where, "examples", index])
                )
    _check_presets(definition, file)
    _check_example(definition, file)
    _check_naming(definition, file)
    _check_constraints(definition, file)
    _check_destroy_guards(definition, file)
    _check_relations(definition, file)
    _check_inputs(definition, file)
    _check_outputs(definition, file)


def _check_vocabulary(definition: ModuleDefinition, file: str) -> None:
    """``x-tfpilot-synonyms`` (how people name a field) and ``x-tfpilot-unit`` on top-level
    fields: lowercase phrases, each naming one field of the module only; a known unit."""
    props = definition.properties()
    owner: dict[str, str] = {}
    for name, prop in props.items():
        if not isinstance(prop, dict):
            continue
        where = ["schema", "properties", name]
        if UNIT_KEY in prop and units.canonical(str(prop[UNIT_KEY])) is None:
            known = ", ".join(units.UNIT_WORDS)
            raise RegistryError(
                f"unknown unit {prop[UNIT_KEY]!r}; known: {known}", file=file, pointer=pointer([*where, UNIT_KEY])
            )
        if SYNONYMS_KEY not in prop:
            continue
        words = prop[SYNONYMS_KEY]
        if not isinstance(words, list) or not words:
            raise RegistryError(
                "synonyms are a non-empty list of phrases", file=file, pointer=pointer([*where, SYNONYMS_KEY])
            )
        for index, word in enumerate(words):
            at = pointer([*where, SYNONYMS_KEY, index])
            if not isinstance(word, str) or not WORD_RE.match(word):
                raise RegistryError(
                    f"{word!r} must be lowercase words (letters, digits, spaces, . + / -)", file=file, pointer=at
                )
            other = owner.setdefault(word, name)
            if other != name:
                raise RegistryError(
                    f"synonym {word!r} names two fields ({other!r} and {name!r}): "
                    "the assistant could not tell them apart",
                    file=file,
                    pointer=at,
                )
            if words.index(word) != index:
                raise RegistryError(f"synonym {word!r} is listed twice", file=file, pointer=at)
    for where, node in _walk_schemas(definition.schema_, ["schema"]):
        nested = len(where) != 3 or where[1] != "properties"
        for key in (SYNONYMS_KEY, UNIT_KEY):
            if nested and key in node and where != ["schema"]:
                raise RegistryError(
                    f"{key} belongs on a top-level field, not a nested schema",
                    file=file,
                    pointer=pointer([*where, key]),
                )
            if where == ["schema"] and key in node:
                raise RegistryError(
                    f"{key} belongs on a field (schema/properties/<field>)", file=file, pointer=pointer([*where, key])
                )


def _check_presets(definition: ModuleDefinition, file: str) -> None:
    partial = {k: v for k, v in definition.schema_.items() if k != "required"}
    checker = compile_validator(partial)
    for name, preset in definition.presets.items():
        # A preset is a partial config: checked as the schema's defaults would complete it.
        for error in checker.iter_errors(apply_defaults(definition.schema_, preset)):
            raise RegistryError(
                f"preset is not valid for the schema: {error.message}",
                file=file,
                pointer=pointer(["presets", name, *error.absolute_path]),
            )
        for problem in relation_errors(definition, apply_defaults(definition.schema_, preset), set()):
            raise RegistryError(
                f"preset breaks a relation: {problem.describe()}",
                file=file,
                pointer=pointer(["presets", name, problem.field]),
            )
    for name in definition.preset_descriptions:
        if name not in definition.presets:
            raise RegistryError(
                "describes a preset that does not exist", file=file, pointer=pointer(["preset_descriptions", name])
            )


def _check_example(definition: ModuleDefinition, file: str) -> None:
    if definition.example is None:
        return
    checker = compile_validator(definition.schema_)
    for error in checker.iter_errors(apply_defaults(definition.schema_, definition.example)):
        raise RegistryError(
            f"example is not valid for the schema: {error.message}",
            file=file,
            pointer=pointer(["example", *error.absolute_path]),
        )
    for problem in relation_errors(definition, apply_defaults(definition.schema_, definition.example), set()):
        raise RegistryError(
            f"example breaks a relation: {problem.describe()}", file=file, pointer=pointer(["example", problem.field])
        )


def _check_naming(definition: ModuleDefinition, file: str) -> None:
    spec = definition.naming
    if spec is None:
        return
    props = definition.properties()
    if spec.rule not in naming.RULES:
        raise RegistryError(
            f"unknown naming rule; known: {', '.join(sorted(naming.RULES))}", file=file, pointer="/naming/rule"
        )
    if spec.field not in props or props[spec.field].get("type") != "string":
        raise RegistryError("naming.field must be a string field of the schema", file=file, pointer="/naming/field")
    if spec.field not in definition.required_fields():
        raise RegistryError("the name field must be required", file=file, pointer="/naming/field")
    if spec.suffix_when is not None and props.get(spec.suffix_when, {}).get("type") != "boolean":
        raise RegistryError("naming.suffix_when must be a boolean field", file=file, pointer="/naming/suffix_when")


def _check_constraints(definition: ModuleDefinition, file: str) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    for index, constraint in enumerate(definition.constraints):
        if constraint.field not in definition.properties():
            raise RegistryError(
                "constraint on an unknown field", file=file, pointer=pointer(["constraints", index, "field"])
            )
        try:
            Draft202012Validator.check_schema(constraint.schema_)
        except SchemaError as exc:
            raise RegistryError(
                f"constraint schema is invalid: {exc.message}",
                file=file,
                pointer=pointer(["constraints", index, "schema", *exc.absolute_path]),
            ) from exc


def _check_destroy_guards(definition: ModuleDefinition, file: str) -> None:
    from jsonschema import Draft202012Validator

    props = definition.properties()
    for index, guard in enumerate(definition.destroy_guards):
        where = ["destroy_guards", index]
        field = props.get(guard.field)
        if field is None:
            raise RegistryError("destroy guard on an unknown field", file=file, pointer=pointer([*where, "field"]))
        if not Draft202012Validator(field).is_valid(guard.safe):
            raise RegistryError(
                "destroy guard's safe value is not valid for its field", file=file, pointer=pointer([*where, "safe"])
            )
        if (guard.when == "holds_data") != bool(guard.data):
            raise RegistryError(
                'a destroy guard names the data it waits on exactly when it is "holds_data"',
                file=file,
                pointer=pointer([*where, "data"]),
            )


def _check_relations(definition: ModuleDefinition, file: str) -> None:
    props = definition.properties()
    for index, relation in enumerate(definition.relations):
        for key in ("field", "other"):
            name = getattr(relation, key)
            if name not in props:
                raise RegistryError(
                    f"relation on an unknown field {name!r}", file=file, pointer=pointer(["relations", index, key])
                )
            if relation.op not in ("==", "!=") and props[name].get("type") not in ("integer", "number"):
                raise RegistryError(
                    f"{relation.op!r} compares numbers; {name!r} is not a number field",
                    file=file,
                    pointer=pointer(["relations", index, key]),
                )
        if relation.field == relation.other:
            raise RegistryError(
                "a relation compares two different fields", file=file, pointer=pointer(["relations", index])
            )


def _check_outputs(definition: ModuleDefinition, file: str) -> None:
    seen: set[str] = set()
    for index, output in enumerate(definition.outputs):
        if output.name in seen:
            raise RegistryError("duplicate output name", file=file, pointer=pointer(["outputs", index, "name"]))
        seen.add(output.name)


def _check_inputs(definition: ModuleDefinition, file: str) -> None:
    props = definition.properties()
    spec = definition.terraform
    if spec.tags_input is not None and "tags" in props and spec.tags_input in spec.inputs:
        raise RegistryError(
            "tags are injected through tags_input; do not map them in inputs too",
            file=file,
            pointer=pointer(["terraform", "inputs", spec.tags_input]),
        )
    for name, expr in spec.inputs.items():
        _check_expr(expr, ["terraform", "inputs", name], props, definition, file)


def _check_expr(expr: Any, where: list[Any], props: dict[str, Any], definition: ModuleDefinition, file: str) -> None:
    if isinstance(expr, list):
        for index, item in enumerate(expr):
            _check_expr(item, [*where, index], props, definition, file)
        return
    if not isinstance(expr, dict):
        return
    ops = [key for key in expr if key.startswith("$")]
    if not ops:
        for key, value in expr.items():
            _check_expr(value, [*where, key], props, definition, file)
        return
    op = ops[0]
    if len(ops) > 1 or op not in _OPERATORS:
        raise RegistryError(
            f"unknown or mixed operators {ops}; use one of {', '.join(_OPERATORS)}", file=file, pointer=pointer(where)
        )
    if op in ("$literal", "$omit"):
        return
    if op == "$call":
        from module_registry.hcl import ALLOWED_FUNCTIONS

        if expr["$call"] not in ALLOWED_FUNCTIONS or not isinstance(expr.get("args"), list):
            raise RegistryError(
                f"$call takes one of {sorted(ALLOWED_FUNCTIONS)} and an 'args' list", file=file, pointer=pointer(where)
            )
        _check_expr(expr["args"], [*where, "args"], props, definition, file)
        return
    if op == "$concat":
        if not isinstance(expr["$concat"], list):
            raise RegistryError("$concat takes a list", file=file, pointer=pointer([*where, "$concat"]))
        _check_expr(expr["$concat"], [*where, "$concat"], props, definition, file)
        return
    _check_ref(expr[op], [*where, op], props, definition, file)
    if op == "$if":
        for key in ("then", "else"):
            if key in expr:
                _check_expr(expr[key], [*where, key], props, definition, file)
    if op == "$case":
        if not isinstance(expr.get("cases"), dict):
            raise RegistryError("$case needs a 'cases' object", file=file, pointer=pointer(where))
        for key, value in expr["cases"].items():
            _check_expr(value, [*where, "cases", key], props, definition, file)
        if "default" in expr:
            _check_expr(expr["default"], [*where, "default"], props, definition, file)


def _check_ref(ref: Any, where: list[Any], props: dict[str, Any], definition: ModuleDefinition, file: str) -> None:
    if not isinstance(ref, str):
        raise RegistryError("a reference must be a string", file=file, pointer=pointer(where))
    if ref in ("name", "name_stem"):
        if definition.naming is None:
            raise RegistryError("'name' is used but the module has no naming rule", file=file, pointer=pointer(where))
        return
    if ref == "tags":
        return
    head, _, rest = ref.partition(".")
    if head == "config" and rest.split(".")[0] in props:
        return
    if head == "context" and rest in CONTEXT_KEYS:
        return
    raise RegistryError(
        f"unknown reference {ref!r} (use name, name_stem, tags, config.<field> or context.<{'|'.join(CONTEXT_KEYS)}>)",
        file=file,
        pointer=pointer(where),
    )
