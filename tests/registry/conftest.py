"""Registry test fixtures: the built-in registry and projects map, python-hcl2 read-back, and
``terraform fmt -check`` over a directory (skipped with a reason when terraform is absent)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from module_registry import catalogue, projects
from module_registry.catalogue import Registry
from module_registry.projects import ProjectsMap

READ_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)
REQUEST_ID = "req_golden0001"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return catalogue.load_registry()


@pytest.fixture(scope="session")
def projects_map() -> ProjectsMap:
    return projects.load_projects()


# python-hcl2 lexes an escaped "$${...}" (or "%%{...}") up to the next "}" as one raw token and
# leaves it undecoded, escapes included; Terraform reads it as "${" followed by ordinary text.
_RAW_ESCAPED = re.compile(r"(\$\$|%%)\{[^}]*\}")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _decode_escapes(raw: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if raw.startswith(("$${", "%%{"), index):  # Terraform unescapes a second escape in the same token
            out.append(char + "{")
            index += 3
            continue
        if char == "\\" and index + 1 < len(raw):
            marker = raw[index + 1]
            if marker in _SIMPLE:
                out.append(_SIMPLE[marker])
                index += 2
                continue
            width = {"u": 4, "U": 8}.get(marker)
            if width is not None:
                out.append(chr(int(raw[index + 2 : index + 2 + width], 16)))
                index += 2 + width
                continue
        out.append(char)
        index += 1
    return "".join(out)


def unescape_templates(value: Any) -> Any:
    """Terraform's reading of what python-hcl2 returns for template escapes (see _RAW_ESCAPED)."""
    if isinstance(value, str):
        return _RAW_ESCAPED.sub(lambda m: m.group(1)[0] + "{" + _decode_escapes(m.group(0)[3:]), value)
    if isinstance(value, list):
        return [unescape_templates(v) for v in value]
    if isinstance(value, dict):
        return {unescape_templates(k): unescape_templates(v) for k, v in value.items()}
    return value


def read_hcl(text: str) -> dict[str, Any]:
    """Parse with python-hcl2 (parsing only) and return Terraform's view of the literals."""
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=READ_OPTIONS)
    return unescape_templates(parsed)


def module_body(text: str) -> dict[str, Any]:
    """The single module (or resource) block body of a rendered file."""
    parsed = read_hcl(text)
    if "module" in parsed:
        (block,) = parsed["module"]
    else:
        (typed,) = parsed["resource"]
        (block,) = typed.values()
    (body,) = block.values()
    return body


def terraform_binary() -> str | None:
    return shutil.which("terraform")


@pytest.fixture
def fmt_check() -> Callable[[Path], None]:
    """Run ``terraform fmt -check -diff -recursive`` once over a directory."""
    binary = terraform_binary()
    if binary is None:
        pytest.skip("terraform is not installed: the terraform fmt -check half of this test needs it")

    def check(directory: Path) -> None:
        result = subprocess.run(
            [binary, "fmt", "-check", "-diff", "-recursive", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"terraform fmt -check failed:\n{result.stdout}\n{result.stderr}"

    return check
