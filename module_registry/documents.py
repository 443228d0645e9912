"""Reading operator-written JSON and YAML (module definitions, the projects map) strictly: a key
written twice in one object is refused instead of silently keeping the last value, which would
otherwise drop a whole project, environment or field without a word.

TOML needs nothing here: ``tomllib`` already refuses duplicate keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from module_registry.errors import RegistryError


class DuplicateKey(ValueError):
    """An object/mapping names the same key twice."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def load_json(text: str) -> Any:
    """``json.loads`` that refuses duplicate keys (``DuplicateKey``) and NaN/Infinity."""

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constants)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader whose mappings refuse a key given twice (merge keys ``<<`` still work)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base loader reports it
                continue
            if duplicate:
                line = key_node.start_mark.line + 1
                raise DuplicateKey(f"the key {key!r} appears twice in one mapping (again on line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (``DuplicateKey``)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_text(path: Path, *, limit: int, what: str) -> str:
    """The file's text, refused (``RegistryError`` naming the file) when unreadable, larger than
    ``limit`` bytes or not UTF-8; ``what`` names it in the message ("file", "the projects file")."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        subject = "" if what == "file" else f" {what}"
        raise RegistryError(f"cannot read{subject}: {exc.strerror or exc}", file=name) from exc
    if len(raw) > limit:
        raise RegistryError(f"{what} is over {limit} bytes", file=name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{what} is not UTF-8", file=name) from exc
