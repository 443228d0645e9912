"""A module's config fields as the assistant sees them, read from the module's JSON Schema,
and the coercion of user-typed text into a field's type (units, booleans, enums by fuzzy match,
lists, key=value maps). Coercion only proposes a value: the registry validates it."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- units -------------------------------------------------------------------------------
# Each unit: (dimension, factor to the dimension's base): seconds for time, bytes for size.
# GB and GiB are read alike (1024-based): people say "GB" for AWS's GiB-sized volumes.
UNITS: dict[str, tuple[str, float]] = {}
_UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "seconds": ("s", "sec", "secs", "second", "seconds"),
    "minutes": ("min", "mins", "minute", "minutes"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("wk", "wks", "week", "weeks"),
    "bytes": ("byte", "bytes"),
    "KB": ("kb", "kib", "kilobyte", "kilobytes"),
    "MB": ("mb", "mib", "megabyte", "megabytes", "meg", "megs"),
    "GB": ("gb", "gib", "gig", "gigs", "gigabyte", "gigabytes", "g"),
    "TB": ("tb", "tib", "terabyte", "terabytes"),
}
_FACTORS: dict[str, tuple[str, float]] = {
    "seconds": ("time", 1),
    "minutes": ("time", 60),
    "hours": ("time", 3600),
    "days": ("time", 86400),
    "weeks": ("time", 604800),
    "bytes": ("size", 1),
    "KB": ("size", 1024),
    "MB": ("size", 1024**2),
    "GB": ("size", 1024**3),
    "TB": ("size", 1024**4),
}
for _canon, _words in _UNIT_WORDS.items():
    for _w in _words:
        UNITS[_w] = _FACTORS[_canon]
CANONICAL_UNIT: dict[str, str] = {w: canon for canon, words in _UNIT_WORDS.items() for w in words}

# Field-name suffixes that state the unit (``retention_days``, ``allocated_storage_gb``).
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_in_seconds", "seconds"),
    ("_seconds", "seconds"),
    ("_secs", "seconds"),
    ("_sec", "seconds"),
    ("_minutes", "minutes"),
    ("_mins", "minutes"),
    ("_hours", "hours"),
    ("_in_days", "days"),
    ("_days", "days"),
    ("_weeks", "weeks"),
    ("_gib", "GB"),
    ("_gb", "GB"),
    ("_mib", "MB"),
    ("_mb", "MB"),
    ("_tb", "TB"),
    ("_kb", "KB"),
    ("_bytes", "bytes"),
)
_TEXT_UNITS = re.compile(r"\b(seconds|minutes|hours|days|weeks|gib|gb|mib|mb|tib|tb|kib|kb|bytes)\b", re.IGNORECASE)

TRUE_WORDS = frozenset({"yes", "y", "true", "on", "enable", "enabled", "yep", "yeah", "sure", "1", "please"})
FALSE_WORDS = frozenset({"no", "n", "false", "off", "disable", "disabled", "nope", "0", "none", "never"})
NUMBER_WITH_UNIT = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(" + "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True)) + r")?(?![\w])",
    re.IGNORECASE,
)


def dimension_of(unit: str | None) -> str | None:
    """ "time" or "size" for a known unit, else None."""
    return _FACTORS[unit][0] if unit in _FACTORS else None


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def norm(text: str) -> str:
    """Loose comparison form: lowercase words joined by single spaces."""
    return " ".join(words(text))


@dataclass(frozen=True)
class FieldInfo:
    name: str
    title: str
    types: tuple[str, ...]  # JSON types allowed (without "null")
    description: str = ""
    enum: tuple[Any, ...] = ()
    default: Any = None
    has_default: bool = False
    required: bool = False
    unit: str | None = None  # canonical unit (seconds, days, GB, ...)
    minimum: float | None = None
    maximum: float | None = None
    item_types: tuple[str, ...] = ()
    item_enum: tuple[Any, ...] = ()
    synonyms: tuple[str, ...] = ()
    examples: tuple[Any, ...] = ()
    schema: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kind(self) -> str:
        if self.enum:
            return "select"
        if "boolean" in self.types:
            return "boolean"
        if "integer" in self.types:
            return "integer"
        if "number" in self.types:
            return "number"
        if "array" in self.types:
            return "list"
        if "object" in self.types:
            return "map"
        if "string" in self.types or not self.types:
            return "text"
        return "json"

    @property
    def dimension(self) -> str | None:
        if self.unit and self.unit in _FACTORS:
            return _FACTORS[self.unit][0]
        return None

    def phrases(self) -> list[str]:
        """How a user may name this field (normalized), longest first."""
        out = {norm(self.name), norm(self.title), norm(re.sub(r"\(.*?\)", " ", self.title))}
        out |= {norm(s) for s in self.synonyms}
        # "allocated_storage_gb" is also "allocated storage"; "retention_in_days" is "retention".
        base = self.name
        for suffix, _ in _SUFFIX_UNITS:
            if base.endswith(suffix):
                out.add(norm(base[: -len(suffix)]))
                break
        return sorted((p for p in out if p), key=len, reverse=True)


def _types_of(schema: Mapping[str, Any]) -> tuple[str, ...]:
    raw = schema.get("type")
    types: list[str] = []
    if isinstance(raw, str):
        types = [raw]
    elif isinstance(raw, list):
        types = [t for t in raw if isinstance(t, str)]
    for sub in list(schema.get("anyOf") or []) + list(schema.get("oneOf") or []):
        if isinstance(sub, Mapping):
            types += [t for t in _types_of(sub) if t not in types]
    if not types and "enum" in schema:
        for value in schema["enum"]:
            kind = _json_type(value)
            if kind not in types:
                types.append(kind)
    return tuple(t for t in types if t != "null")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _unit_of(name: str, schema: Mapping[str, Any]) -> str | None:
    for key in ("x-unit", "unit", "x-tfpilot-unit"):
        declared = schema.get(key)
        if isinstance(declared, str) and declared.strip():
            low = declared.strip().lower()
            return CANONICAL_UNIT.get(low, declared.strip())
    low_name = name.lower()
    for suffix, unit in _SUFFIX_UNITS:
        if low_name.endswith(suffix):
            return unit
    for text in (str(schema.get("title", "")), str(schema.get("description", ""))):
        low = text.lower()
        for match in _TEXT_UNITS.finditer(low):
            unit = match.group(1)
            # "Storage (GiB)", "Visibility timeout (seconds)", "retention in days"
            if f"({unit}" in low or f"in {unit}" in low:
                return CANONICAL_UNIT.get(unit)
    return None


def _synonyms_of(schema: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for key in ("x-synonyms", "x-aliases", "synonyms", "aliases", "x-tfpilot-synonyms"):
        value = schema.get(key)
        if isinstance(value, list):
            out += [str(v) for v in value if isinstance(v, str)]
    return tuple(out)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def field_infos(schema: Mapping[str, Any] | None) -> list[FieldInfo]:
    """The top-level fields of a module's config schema, in schema order."""
    if not schema:
        return []
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out: list[FieldInfo] = []
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        items = sub.get("items") if isinstance(sub.get("items"), Mapping) else {}
        enum = tuple(v for v in (sub.get("enum") or []) if v is not None)
        out.append(
            FieldInfo(
                name=name,
                title=str(sub.get("title") or name.replace("_", " ").capitalize()),
                types=_types_of(sub),
                description=str(sub.get("description") or ""),
                enum=enum,
                default=sub.get("default"),
                has_default="default" in sub,
                required=name in required,
                unit=_unit_of(name, sub),
                minimum=_number(sub.get("minimum")),
                maximum=_number(sub.get("maximum")),
                item_types=_types_of(items) if items else (),
                item_enum=tuple(items.get("enum") or []) if items else (),
                synonyms=_synonyms_of(sub),
                examples=tuple(sub.get("examples") or []),
                schema=sub,
            )
        )
    return out


def field_map(schema: Mapping[str, Any] | None) -> dict[str, FieldInfo]:
    return {f.name: f for f in field_infos(schema)}


# --- coercion ----------------------------------------------------------------------------
class CoercionError(ValueError):
    """The text cannot be read as a value of the field's type; the message says why."""


def parse_bool(text: str) -> bool | None:
    low = norm(text)
    if low in TRUE_WORDS or low in {"turn on", "switch on", "yes please"}:
        return True
    if low in FALSE_WORDS or low in {"turn off", "switch off", "no thanks"}:
        return False
    return None


def parse_quantity(text: str) -> tuple[float, str | None] | None:
    """``"14 days"`` -> (14.0, "days"); ``"100GB"`` -> (100.0, "GB"); ``"3"`` -> (3.0, None)."""
    cleaned = text.strip().lower().replace("_", "")
    match = re.fullmatch(
        r"(-?\d+(?:[.,]\d+)?|-?\d{1,3}(?:,\d{3})+)\s*([a-z]+)?",
        cleaned,
    )
    if not match:
        return None
    raw_number = match.group(1)
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+", raw_number):
        raw_number = raw_number.replace(",", "")
    else:
        raw_number = raw_number.replace(",", ".")
    unit_word = match.group(2)
    if unit_word and unit_word not in UNITS:
        return None
    return float(raw_number), (CANONICAL_UNIT[unit_word] if unit_word else None)


def convert(value: float, unit: str | None, target: str | None) -> float:
    """Convert ``value`` in ``unit`` to the field's ``target`` unit (same dimension)."""
    if unit is None or target is None or unit == target:
        return value
    src = _FACTORS.get(unit)
    dst = _FACTORS.get(target)
    if src is None or dst is None:
        return value
    if src[0] != dst[0]:
        raise CoercionError(f"expected a {dst[0]} in {target}, got {unit}")
    return value * src[1] / dst[1]


def _as_number(info: FieldInfo, value: float) -> int | float:
    if "integer" in info.types and float(value).is_integer():
        return int(value)
    if "integer" in info.types and "number" not in info.types:
        raise CoercionError("must be a whole number")
    return value


def match_enum(info: FieldInfo, text: str, *, cutoff: float = 0.75) -> Any | None:
    options = info.enum or info.item_enum
    if not options:
        return None
    target = norm(text)
    compact = target.replace(" ", "")
    by_norm: dict[str, Any] = {}
    for option in options:
        by_norm.setdefault(norm(str(option)), option)
        by_norm.setdefault(norm(str(option)).replace(" ", ""), option)
    if target in by_norm:
        return by_norm[target]
    if compact in by_norm:
        return by_norm[compact]
    close = difflib.get_close_matches(target, list(by_norm), n=1, cutoff=cutoff)
    if close:
        return by_norm[close[0]]
    # "kms" for sse-kms: the words said belong to one option only.
    said = set(words(text))
    owners = [option for option in options if said and said <= set(words(str(option)))]
    return owners[0] if len(owners) == 1 else None


def coerce(info: FieldInfo, raw: Any) -> Any:
    """Read ``raw`` (usually user text) as a value for ``info``; raise ``CoercionError``."""
    if isinstance(raw, float) and not math.isfinite(raw):
        raise CoercionError("must be a finite number")
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1]
    if info.enum:
        found = match_enum(info, text)
        if found is None:
            allowed = ", ".join(str(v) for v in info.enum)
            raise CoercionError(f"{_short(text)!r} is not one of the allowed values: {allowed}")
        return found
    kind = info.kind
    if kind == "boolean":
        parsed = parse_bool(text)
        if parsed is None:
            raise CoercionError(f"is yes or no, not {_short(text)!r}")
        return parsed
    if kind in ("integer", "number"):
        quantity = parse_quantity(text)
        if quantity is None:
            raise CoercionError(f"must be a number{(' (in ' + info.unit + ')') if info.unit else ''}")
        return _as_number(info, convert(quantity[0], quantity[1], info.unit))
    if kind == "list":
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            if isinstance(loaded, list):
                return loaded
        parts = [p.strip().strip("\"'") for p in re.split(r",|\band\b|\s+", text.strip("[]")) if p.strip()]
        item = FieldInfo(name=info.name, title=info.title, types=info.item_types or ("string",), enum=info.item_enum)
        return [coerce(item, p) for p in parts]
    if kind == "map":
        if text.startswith("{"):
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                return loaded
        pairs = re.findall(r"([\w.:/-]+)\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^,\s]+)", text)
        if not pairs:
            raise CoercionError("takes key=value pairs, e.g. team=payments")
        return {k: v.strip("\"'") for k, v in pairs}
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


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
        seconds = value * _FACTORS[unit][1]
        for name, size in _TIME_STEPS:
            if size > _FACTORS[unit][1] and seconds % size == 0:
                count = int(seconds // size)
                shown += f" ({count} {name[:-1] if count == 1 else name})"
                break
    return shown


_UNIT_NOTE = re.compile(r"\s*\((?:in\s+)?([A-Za-z]+)\)\s*$")


def bare_title(info: FieldInfo) -> str:
    """The title without a trailing unit note: "Visibility timeout (seconds)" -> "Visibility timeout"."""
    match = _UNIT_NOTE.search(info.title)
    if match and info.unit and CANONICAL_UNIT.get(match.group(1).lower()) == info.unit:
        return info.title[: match.start()]
    return info.title


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
