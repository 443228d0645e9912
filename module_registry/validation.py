"""Config validation: limits, defaults, JSON Schema (draft 2020-12), tag and naming policy,
per-environment constraints, comparisons between fields; every problem becomes a ``FieldError`` in plain words.

Defaults are applied in a separate pass before validation (walking ``properties``, array
``items`` and local ``$ref``s), so the validator never mutates what it checks. Messages come from
the failing keyword; a property may override them with ``"x-messages": {"pattern": "..."}`` and
describe a pattern for humans with ``"x-pattern-help"``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from module_registry import limits, naming, tags
from module_registry.errors import InvalidName
from module_registry.identifiers import check_environment, check_project
from module_registry.result import FieldError, ValidationResult

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

    from module_registry.definition import ModuleDefinition

__all__ = ["FieldError", "ValidationResult", "compile_validator", "format_checker", "validate"]

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


# jsonschema (5.5 MB, a tenth of a second to import) is imported where a schema is first checked,
# not when the registry loads: a service that starts validates its first config later.


def format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    checker = FormatChecker()
    checker.checks("aws-tag-key")(tags.is_tag_key)
    checker.checks("aws-tag-value")(tags.is_tag_value)
    return checker


def compile_validator(schema: dict[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=format_checker())


# --- defaults --------------------------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        node: Any = root
        for raw in schema["$ref"][2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return schema
            node = node[part]
        schema = node
        seen += 1
        if seen > 20:  # a $ref cycle: stop resolving, the validator reports it
            break
    return schema


def apply_defaults(schema: dict[str, Any], instance: Any, root: dict[str, Any] | None = None) -> Any:
    """A copy of ``instance`` with every missing property that has a ``default`` filled in."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return copy.deepcopy(instance)
    if isinstance(instance, dict):
        out = dict(instance)
        props = schema.get("properties")
        if isinstance(props, dict):
            for name, raw in props.items():
                sub = _resolve(raw, root)
                if name not in out and isinstance(sub, dict) and "default" in sub:
                    out[name] = copy.deepcopy(sub["default"])
                if name in out:
                    out[name] = apply_defaults(sub, out[name], root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and isinstance(props, dict):
            for name, value in list(out.items()):
                if name not in props:
                    out[name] = apply_defaults(extra, value, root)
        return out
    if isinstance(instance, list):
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        result = []
        for index, item in enumerate(instance):
            if isinstance(prefix, list) and index < len(prefix):
                result.append(apply_defaults(prefix[index], item, root))
            elif isinstance(items, dict):
                result.append(apply_defaults(items, item, root))
            else:
                result.append(copy.deepcopy(item))
        return result
    return copy.deepcopy(instance)


# --- messages --------------------------------------------------------------------------------


def field_path(parts: Iterable[Any]) -> str:
    """``lifecycle_rules[0].days``; keys that are not plain words are shown quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            plain = text.replace("_", "a").replace("-", "a").isalnum() and text.isascii()
            out += (f".{text}" if out else text) if plain else f"[{json.dumps(text, ensure_ascii=False)}]"
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _type_words(expected: Any) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    words = [_TYPE_WORDS.get(str(kind), str(kind)) for kind in kinds]
    return " or ".join(words)


def _got(instance: Any) -> str:
    if instance is None:
        return "null"
    if isinstance(instance, bool):
        return "true/false"
    if isinstance(instance, int | float):
        return "a number"
    if isinstance(instance, str):
        return "text"
    if isinstance(instance, list):
        return "a list"
    return "an object"


def _plural(count: Any, word: str) -> str:
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


_TAG_CHARS = "letters, digits, spaces and _ . : / = + - @"
_FORMAT_WORDS = {
    "aws-tag-value": ("is not a valid AWS tag value", f"{_TAG_CHARS}, at most 256 characters"),
    "aws-tag-key": ("is not a valid AWS tag key", f"{_TAG_CHARS}, 1 to 128 characters"),
}


def _simple(keyword: str, value: Any, instance: Any, schema: dict[str, Any]) -> tuple[str, str | None]:
    """Message and allowed values for a keyword that concerns one value."""
    table: dict[str, tuple[str, str | None]] = {
        "minimum": ("is too small", f"{_show(value)} or more"),
        "maximum": ("is too large", f"{_show(value)} or less"),
        "exclusiveMinimum": ("is too small", f"more than {_show(value)}"),
        "exclusiveMaximum": ("is too large", f"less than {_show(value)}"),
        "multipleOf": ("is not an allowed step", f"a multiple of {_show(value)}"),
        "minItems": ("has too few items", f"at least {_plural(value, 'item')}"),
        "maxItems": ("has too many items", f"at most {_plural(value, 'item')}"),
        "uniqueItems": ("has duplicate items", "each item once"),
        "minProperties": ("has too few entries", f"at least {_plural(value, 'entry')}"),
        "maxProperties": ("has too many entries", f"at most {_plural(value, 'entry')}"),
        "maxLength": ("is too long", f"at most {_plural(value, 'character')}"),
        "contains": ("does not contain a required item", None),
        "false": ("is not allowed here", None),
        "not": ("has a value that is not allowed", None),
    }
    if keyword in table:
        return table[keyword]
    if keyword == "type":
        return f"must be {_type_words(value)}, got {_got(instance)}", _type_words(value)
    if keyword == "enum":
        return "is not one of the allowed values", ", ".join(_show(v) for v in value)
    if keyword == "const":
        return f"must be {_show(value)}", _show(value)
    if keyword == "pattern":
        return "does not have the allowed format", str(schema.get("x-pattern-help") or f"text matching {value}")
    if keyword == "format":
        return _FORMAT_WORDS.get(str(value), (f"is not a valid {value}", None))
    if keyword == "minLength":
        return ("is too short" if value > 1 else "must not be empty"), f"at least {_plural(value, 'character')}"
    if keyword in ("anyOf", "oneOf"):
        return "does not match any of the allowed shapes", _alternatives(value)
    if keyword == "dependentRequired" and isinstance(instance, dict):
        missing = [
            f"{trigger} needs {need}"
            for trigger, needs in value.items()
            if trigger in instance
            for need in needs
            if need not in instance
        ]
        return "is missing a field another field needs: " + "; ".join(missing), None
    return "is not valid", None


def _key_error(error: ValidationError, path: list[Any], keyword: str, value: Any) -> FieldError:
    """An error about an object key (from ``propertyNames``)."""
    key = error.instance
    where = field_path([*path, key]) if isinstance(key, str) else field_path(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed: str | None = None
    if keyword == "format":
        allowed = _FORMAT_WORDS.get(str(value), ("", None))[1]
    elif keyword == "maxLength":
        allowed = f"at most {_plural(value, 'character')}"
    elif keyword == "pattern":
        allowed = str(schema.get("x-pattern-help") or f"keys matching {value}")
    return FieldError(field=where, message=f"the key {key!r} is not allowed", allowed=allowed)


def _describe(error: ValidationError) -> list[FieldError]:
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = str(error.validator)
    value: Any = error.validator_value
    instance: Any = error.instance
    if "propertyNames" in [*error.relative_schema_path, *error.absolute_schema_path]:
        return [_key_error(error, path, keyword, value)]
    if keyword == "required":
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        return [
            FieldError(field=field_path([*path, name]), message="is required", allowed=_title_hint(schema, name))
            for name in missing
        ] or [FieldError(field=field_path(path), message=error.message)]
    if keyword in ("additionalProperties", "unevaluatedProperties") and value is False:
        props = schema.get("properties")
        known = sorted(props) if isinstance(props, dict) else []
        extras = [k for k in instance if k not in known] if isinstance(instance, dict) else []
        hint = f"known fields: {', '.join(known)}" if known else "no other fields"
        return [FieldError(field=field_path([*path, k]), message="is not a known field", allowed=hint) for k in extras]
    message, allowed = _simple(keyword, value, instance, schema)
    overrides = schema.get("x-messages")
    if isinstance(overrides, dict) and isinstance(overrides.get(keyword), str):
        message = overrides[keyword]
    allowed_overrides = schema.get("x-allowed")
    if isinstance(allowed_overrides, dict) and isinstance(allowed_overrides.get(keyword), str):
        allowed = allowed_overrides[keyword]
    return [FieldError(field=field_path(path), message=message, allowed=allowed)]


def _title_hint(schema: dict[str, Any], name: str) -> str | None:
    props = schema.get("properties")
    if isinstance(props, dict) and isinstance(props.get(name), dict):
        prop = props[name]
        if isinstance(prop.get("enum"), list):
            return ", ".join(_show(v) for v in prop["enum"])
        if prop.get("description"):
            return str(prop["description"])
    return None


def _alternatives(options: Any) -> str | None:
    if not isinstance(options, list):
        return None
    titles = [str(o.get("title") or o.get("description") or "") for o in options if isinstance(o, dict)]
    titles = [t for t in titles if t]
    return "; ".join(titles) or None


def _sorted_errors(errors: Iterable[ValidationError]) -> list[ValidationError]:
    return sorted(errors, key=lambda e: ([str(p) for p in e.absolute_path], str(e.validator), str(e.message)))


# --- policy checks ---------------------------------------------------------------------------


def _tag_errors(definition: ModuleDefinition, config: dict[str, Any]) -> list[FieldError]:
    spec = definition.terraform
    if spec.tags_input is None or "tags" not in definition.properties():
        return []
    user_tags = config.get("tags")
    if not isinstance(user_tags, dict):
        return []
    allowed = (
        f"any key except {', '.join(tags.SERVER_TAG_KEYS)} (set by TfPilot) "
        f"and keys starting with {' or '.join(tags.RESERVED_PREFIXES)}"
    )
    errors = []
    for key in sorted(user_tags):
        problem = tags.reserved_key_problem(key)
        if problem is not None:
            errors.append(FieldError(field=field_path(["tags", key]), message=problem, allowed=allowed))
    return errors


def name_suffix(definition: ModuleDefinition, config: dict[str, Any]) -> str:
    spec = definition.naming
    if spec is None:
        return ""
    if spec.suffix_when is None:
        return spec.suffix
    return spec.suffix if config.get(spec.suffix_when) is True else ""


def _name_errors(
    definition: ModuleDefinition, config: dict[str, Any], environment: str, project: str | None
) -> list[FieldError]:
    spec = definition.naming
    if spec is None:
        return []
    short = config.get(spec.field)
    if not isinstance(short, str):
        return []
    rule = naming.rule(spec.rule)
    suffix = name_suffix(definition, config)
    try:
        if project is not None:
            naming.build(project, environment, short, spec.rule, suffix=suffix, reserve=spec.reserve)
        else:
            naming.compose("x", environment, short, suffix=suffix)
            shortest = len(short) + len(environment) + len(suffix) + 3
            if shortest > rule.max_length - spec.reserve:
                raise InvalidName(
                    "name",
                    short,
                    f"with the project and environment the full name is over the {rule.max_length} characters "
                    f"{rule.label} allow",
                )
    except InvalidName as exc:
        return [
            FieldError(
                field=spec.field,
                message=exc.reason,
                allowed=f"{rule.label}: {rule.min_length} to {rule.max_length} characters of {rule.charset}, "
                f"as <project>-<environment>-<name>",
            )
        ]
    return []


def _constraint_errors(
    definition: ModuleDefinition,
    config: dict[str, Any],
    environment: str,
    prod: bool,
    failed: set[str],
    lifting: Collection[str] = (),
) -> list[FieldError]:
    # A change preparing a destroy may set a destroy guard's field to its safe value even where
    # a constraint forbids it (prod): exactly those fields, exactly that value.
    lifted = {g.field for g in definition.destroy_guards if g.field in lifting and config.get(g.field) == g.safe}
    errors = []
    for constraint in definition.constraints:
        if not constraint.applies(environment, prod=prod) or constraint.field in failed:
            continue
        if constraint.field in lifted:
            continue
        value = config.get(constraint.field)
        checker = compile_validator(constraint.schema_)
        if not checker.is_valid(value):
            errors.append(FieldError(field=constraint.field, message=constraint.message, allowed=constraint.allowed))
    return errors


_RELATION_WORDS = {
    "<": "less than",
    "<=": "at most",
    ">": "more than",
    ">=": "at least",
    "==": "the same as",
    "!=": "different from",
}


def relation_errors(definition: ModuleDefinition, config: dict[str, Any], failed: set[str]) -> list[FieldError]:
    """Errors for every relation between two fields that does not hold (fields in ``failed``,
    already reported, are skipped)."""
    errors = []
    for relation in definition.relations:
        if relation.field in failed or relation.other in failed:
            continue
        if relation.field not in config or relation.other not in config:
            continue
        other = config[relation.other]
        if not relation.holds(config[relation.field], other):
            allowed = relation.allowed or f"{_RELATION_WORDS[relation.op]} {relation.other} ({_show(other)})"
            errors.append(FieldError(field=relation.field, message=relation.message, allowed=allowed))
    return errors


# --- entry point -----------------------------------------------------------------------------


def validate(
    definition: ModuleDefinition,
    config: Any,
    environment: str,
    *,
    prod: bool,
    project: str | None = None,
    validator: Draft202012Validator | None = None,
    lifting: Collection[str] = (),
) -> ValidationResult:
    """Validate ``config`` for ``definition`` in ``environment``; defaults applied on success.
    ``lifting``: destroy-guard fields a prepare-destroy change sets to their safe value, which
    the environment's constraints then allow (docs/lifecycle.md)."""
    errors = limits.check_config(config)
    if errors:
        return ValidationResult(ok=False, config={}, errors=errors)
    try:
        check_environment(environment)
        if project is not None:
            check_project(project)
    except InvalidName as exc:
        return ValidationResult(ok=False, config={}, errors=[FieldError(field="", message=str(exc))])
    schema = definition.schema_
    filled = apply_defaults(schema, config)
    checker = validator or compile_validator(schema)
    found: list[FieldError] = []
    for error in _sorted_errors(checker.iter_errors(filled)):
        found.extend(_describe(error))
    failed_fields = {e.field.split(".")[0].split("[")[0] for e in found}
    found.extend(_tag_errors(definition, filled))
    if definition.naming is not None and definition.naming.field not in failed_fields:
        found.extend(_name_errors(definition, filled, environment, project))
    found.extend(relation_errors(definition, filled, failed_fields))
    found.extend(_constraint_errors(definition, filled, environment, prod, failed_fields, lifting))
    unique: list[FieldError] = []
    for problem in found:
        if problem not in unique:
            unique.append(problem)
    return ValidationResult(ok=not unique, config=filled, errors=unique)
