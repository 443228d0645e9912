"""Units of the numbers a config field holds (seconds, days, GB...): their spellings, their
dimension (time or size) and conversion between units of one dimension.

GB and GiB are read alike (1024-based): people say "GB" for AWS's GiB-sized volumes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Canonical unit -> the words that spell it (lowercase).
UNIT_WORDS: dict[str, tuple[str, ...]] = {
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
# Canonical unit -> (dimension, factor to the dimension's base: seconds for time, bytes for size).
FACTORS: dict[str, tuple[str, float]] = {
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
CANONICAL_UNIT: dict[str, str] = {w: canon for canon, spelled in UNIT_WORDS.items() for w in spelled}
# Every spelling -> (dimension, factor).
UNITS: dict[str, tuple[str, float]] = {w: FACTORS[canon] for w, canon in CANONICAL_UNIT.items()}

# Field-name suffixes that state the unit (``retention_days``, ``allocated_storage_gb``).
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
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
# The declared unit of a field: ``"x-tfpilot-unit": "seconds"`` (``x-unit``/``unit`` are read too).
UNIT_KEYS = ("x-tfpilot-unit", "x-unit", "unit")
_TEXT_UNITS = re.compile(r"\b(seconds|minutes|hours|days|weeks|gib|gb|mib|mb|tib|tb|kib|kb|bytes)\b", re.IGNORECASE)


class UnitMismatch(ValueError):
    """A quantity of one dimension given for a field of another ("3 days" for a size)."""


def dimension_of(unit: str | None) -> str | None:
    """ "time" or "size" for a known canonical unit, else None."""
    return FACTORS[unit][0] if unit in FACTORS else None


def canonical(word: str) -> str | None:
    """The canonical unit a word spells (``"GiB"`` -> ``"GB"``), or None."""
    return CANONICAL_UNIT.get(word.strip().lower())


def unit_of(name: str, schema: Mapping[str, object]) -> str | None:
    """A field's unit: declared in the schema, else stated by the field name's suffix, else
    written in its title or description ("Storage (GiB)", "retention in days")."""
    for key in UNIT_KEYS:
        declared = schema.get(key)
        if isinstance(declared, str) and declared.strip():
            return canonical(declared) or declared.strip()
    low_name = name.lower()
    for suffix, unit in SUFFIX_UNITS:
        if low_name.endswith(suffix):
            return unit
    for text in (str(schema.get("title", "")), str(schema.get("description", ""))):
        low = text.lower()
        for match in _TEXT_UNITS.finditer(low):
            word = match.group(1)
            if f"({word}" in low or f"in {word}" in low:
                return CANONICAL_UNIT.get(word)
    return None


def unit_stem(name: str) -> str | None:
    """The field name without its unit suffix (``retention_in_days`` -> ``retention``)."""
    for suffix, _ in SUFFIX_UNITS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def convert(value: float, unit: str | None, target: str | None) -> float:
    """``value`` in ``unit`` expressed in ``target`` (same dimension; unknown units pass through)."""
    if unit is None or target is None or unit == target:
        return value
    src = FACTORS.get(unit)
    dst = FACTORS.get(target)
    if src is None or dst is None:
        return value
    if src[0] != dst[0]:
        raise UnitMismatch(f"expected a {dst[0]} in {target}, got {unit}")
    return value * src[1] / dst[1]
