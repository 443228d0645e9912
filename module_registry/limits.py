"""Size and shape limits on user configs, checked before schema validation so a hostile or
accidental payload (huge, deeply nested, not JSON-shaped) never reaches the validator or the
renderer."""

from __future__ import annotations

import json
import math
from typing import Any

from module_registry.result import FieldError

MAX_CONFIG_BYTES = 64 * 1024
MAX_DEPTH = 10


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when containers nest deeper than ``limit`` (the top-level object is depth 1).

    Iterative, and stops at the first too-deep branch, so a pathological value costs little."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def _shape_problem(value: Any) -> str | None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"object keys must be strings, got {type(key).__name__}"
                stack.append(child)
                stack.append(key)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite (no NaN or Infinity)"
        elif isinstance(item, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in item):
                return "text contains an unpaired surrogate, which cannot be encoded"
        elif item is not None and not isinstance(item, bool | int):
            return f"values must be JSON (text, numbers, true/false, null, lists, objects), not {type(item).__name__}"
    return None


def check_config(config: Any) -> list[FieldError]:
    """Errors for a config that is not a JSON object, too deep, too big or not JSON-shaped."""
    if not isinstance(config, dict):
        return [FieldError(field="", message="the config must be a JSON object", allowed="an object of fields")]
    if depth_exceeds(config):
        return [
            FieldError(
                field="", message=f"the config is nested deeper than {MAX_DEPTH} levels", allowed=f"depth {MAX_DEPTH}"
            )
        ]
    problem = _shape_problem(config)
    if problem is not None:
        return [FieldError(field="", message=problem)]
    size = len(json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_CONFIG_BYTES:
        return [
            FieldError(
                field="",
                message=f"the config is {size} bytes, over the {MAX_CONFIG_BYTES // 1024} KiB limit",
                allowed=f"at most {MAX_CONFIG_BYTES} bytes of JSON",
            )
        ]
    return []


def parse_config_json(text: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """Parse user-supplied JSON text into a config, refusing oversize or deep input early."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_CONFIG_BYTES:
        return None, [
            FieldError(
                field="",
                message=f"the config is over the {MAX_CONFIG_BYTES // 1024} KiB limit",
                allowed=f"at most {MAX_CONFIG_BYTES} bytes of JSON",
            )
        ]

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        return None, [FieldError(field="", message=f"the config is nested deeper than {MAX_DEPTH} levels")]
    except ValueError as exc:
        return None, [FieldError(field="", message=f"the config is not valid JSON: {exc}")]
    errors = check_config(value)
    return (value if not errors else None), errors
