"""A module's config fields as the assistant talks about them. The field model and the reading
of typed text as a value are the registry's (``module_registry.fields``,
``module_registry.parsing``); this module adds how a person names a field and how a value is
said back to them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from module_registry.fields import ConfigField, fields_of, norm
from module_registry.parsing import ParseError, parse_bool, parse_field_value
from module_registry.units import CANONICAL_UNIT, FACTORS, UNITS, UnitMismatch, convert, dimension_of, unit_stem

__all__ = [
    "CANONICAL_UNIT",
    "NUMBER_WITH_UNIT",
    "UNITS",
    "CoercionError",
    "ConfigField",
    "UnitMismatch",
    "bare_title",
    "coerce",
    "convert",
    "describe_quantity",
    "describe_value",
    "dimension_of",
    "field_infos",
    "field_map",
    "norm",
    "own_phrases",
    "parse_bool",
    "words",
]

NUMBER_WITH_UNIT = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(" + "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True)) + r")?(?![\w])",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def field_infos(schema: Mapping[str, Any] | None) -> list[ConfigField]:
    """The top-level fields of a module's config schema, in schema order."""
    return fields_of(schema)


def field_map(schema: Mapping[str, Any] | None) -> dict[str, ConfigField]:
    return {f.name: f for f in fields_of(schema)}


def own_phrases(f: ConfigField) -> list[str]:
    """How a user names field ``f`` by its own name and title (normalized), longest first;
    its synonyms (``x-tfpilot-synonyms``) come on top in the extractor."""
    out = {norm(f.name), norm(f.heading), norm(re.sub(r"\(.*?\)", " ", f.heading))}
    # "allocated_storage_gb" is also "allocated storage"; "retention_in_days" is "retention".
    stem = unit_stem(f.name)
    if stem is not None:
        out.add(norm(stem))
    return sorted((p for p in out if p), key=len, reverse=True)


# --- coercion ----------------------------------------------------------------------------
class CoercionError(ValueError):
    """The text cannot be read as a value of the field's type; the message says why (and
    ``suggestion`` is the option a near miss probably meant)."""

    def __init__(self, message: str, suggestion: Any = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


def coerce(info: ConfigField, raw: Any) -> Any:
    """Read ``raw`` (user text) as a value for ``info`` with the registry's parser; a value
    that is not text (a model's typed output) is passed on for the registry to validate."""
    if isinstance(raw, float) and not math.isfinite(raw):
        raise CoercionError("must be a finite number")
    if not isinstance(raw, str):
        return raw
    parsed = parse_field_value(info, raw)
    if isinstance(parsed, ParseError):
        raise CoercionError(parsed.message, parsed.suggestion)
    return parsed.value


def describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(describe_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    if value is None or value == "":
        return "none"
    return str(value)


_TIME_STEPS: tuple[tuple[str, int], ...] = (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60))


def describe_quantity(value: Any, unit: str | None) -> str:
    """A value with its unit, as a person reads it: ``345600`` seconds -> "345600 seconds (4 days)"."""
    text = describe_value(value)
    if unit is None or isinstance(value, bool) or not isinstance(value, int | float):
        return text
    shown = f"{text} {unit[:-1] if value == 1 and unit.endswith('s') else unit}"
    if unit in ("seconds", "minutes") and value:
        seconds = value * FACTORS[unit][1]
        for name, size in _TIME_STEPS:
            if size > FACTORS[unit][1] and seconds % size == 0:
                count = int(seconds // size)
                shown += f" ({count} {name[:-1] if count == 1 else name})"
                break
    return shown


_UNIT_NOTE = re.compile(r"\s*\((?:in\s+)?([A-Za-z]+)\)\s*$")


def bare_title(info: ConfigField) -> str:
    """The title without a trailing unit note: "Visibility timeout (seconds)" -> "Visibility timeout"."""
    match = _UNIT_NOTE.search(info.heading)
    if match and info.unit and CANONICAL_UNIT.get(match.group(1).lower()) == info.unit:
        return info.heading[: match.start()]
    return info.heading
