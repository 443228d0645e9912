"""The built-in definitions known to pass every meta-check: their SHA-256 digests.

Meta-validating the built-in definitions (the JSON Schema metaschema, then the conventions) took
about a fifth of ``tfpilot serve``'s start-up, to re-check files that ship with the code and
never change without it. ``data/checked-definitions.json`` lists the digest of each built-in
definition file; the test suite checks every built-in file in full and that this list is the
files' current digests (``tests/registry/test_checked.py``), so a definition whose bytes match
one of them is known to pass with this code. ``load_registry`` then skips those checks for it
and still builds its model (and compares its id with the file name). Any other definition (an
operator's ``TFPILOT_MODULES_DIR``, an edited built-in file) gets every check, as before; so
does ``tfpilot registry validate``. After editing a built-in definition, refresh the list:
``python -m module_registry.checked``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path

MANIFEST = "checked-definitions.json"


def manifest_path() -> Path:
    return Path(str(resources.files("module_registry") / "data" / MANIFEST))


def digest(text: str) -> str:
    """The SHA-256 of a definition file's bytes (its text as read, UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def checked_digests() -> frozenset[str]:
    """The digests of the built-in definitions as last checked (none when the list is unreadable:
    every definition is then checked in full, never trusted by mistake)."""
    try:
        listed = json.loads(manifest_path().read_text(encoding="utf-8")).get("definitions", {})
    except (OSError, ValueError, AttributeError):
        return frozenset()
    return frozenset(v for v in listed.values() if isinstance(v, str)) if isinstance(listed, dict) else frozenset()


def is_checked(text: str) -> bool:
    return digest(text) in checked_digests()


def current_manifest(directory: Path) -> dict[str, object]:
    """The list as it should read for the definition files in ``directory`` (the built-in ones)."""
    from module_registry.catalogue import definition_files

    files = definition_files(directory)
    return {
        "about": "SHA-256 of each built-in definition that passes every meta-check; see module_registry/checked.py",
        "definitions": {p.name: digest(p.read_text(encoding="utf-8")) for p in files},
    }


def write_manifest() -> Path:
    """Check every built-in definition in full, then write their digests (refusing on a failure)."""
    from module_registry.catalogue import builtin_modules_dir, definition_files, load_definition

    directory = builtin_modules_dir()
    for path in definition_files(directory):
        load_definition(path, trust_checked=False)
    target = manifest_path()
    target.write_text(json.dumps(current_manifest(directory), indent=2) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    print(f"wrote {write_manifest()}")
