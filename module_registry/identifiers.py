"""Identifier checks: project, environment, module id, request id, env path, short names.

Every identifier that ends up in a file path, a branch, a Terraform label or a resource name is
checked here *before* anything is built from it. The reason given is the most specific one
(path traversal, a slash, NUL, a newline, a shell metacharacter) so a refusal explains itself.
"""

from __future__ import annotations

import re

from module_registry.errors import InvalidName

# Same shape as core.domain.ids.REQUEST_ID_RE (this layer cannot import core).
REQUEST_ID_RE = re.compile(r"^req_[a-z0-9]{6,32}$")
PROJECT_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$")
ENVIRONMENT_RE = PROJECT_RE
MODULE_ID_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,62}$")
# Short names are one part of a resource name; the resource's own rule limits the whole.
SHORT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,254}$")
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")
# HCL identifiers (block labels, attribute names, object keys written bare): ASCII only here.
HCL_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

SHELL_METACHARACTERS = frozenset(";|&$`'\"<>(){}[]*?!~#\\^ \t")
MAX_ENV_PATH = 200

_LOWER_RULE = {
    "project": "lowercase letters, digits and single hyphens, starting with a letter, at most 30 characters",
    "environment": "lowercase letters, digits and single hyphens, starting with a letter, at most 30 characters",
    "module": "lowercase letters, digits and single hyphens, starting with a letter, 2 to 63 characters",
    "name": "lowercase letters, digits and single hyphens, not starting or ending with a hyphen",
    "request id": "req_ followed by 6 to 32 lowercase letters or digits",
}
_PATTERNS = {
    "project": PROJECT_RE,
    "environment": ENVIRONMENT_RE,
    "module": MODULE_ID_RE,
    "name": SHORT_NAME_RE,
    "request id": REQUEST_ID_RE,
}


def danger(value: str, *, allow_slash: bool = False) -> str | None:
    """The first dangerous construct in ``value`` in plain words, or None."""
    if "\x00" in value:
        return "contains a NUL byte"
    if "\n" in value or "\r" in value:
        return "contains a line break"
    if ".." in value:
        return "contains '..' (path traversal)"
    if not allow_slash and "/" in value:
        return "contains '/' (a path separator)"
    if allow_slash and value.startswith("/"):
        return "is an absolute path"
    for char in value:
        if char in SHELL_METACHARACTERS:
            shown = {" ": "a space", "\t": "a tab"}.get(char, repr(char))
            return f"contains the shell metacharacter {shown}"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "contains a control character"
        if ord(char) > 0x7E:
            return f"contains the non-ASCII character {char!r}"
    return None


def check(kind: str, value: object) -> str:
    """Return ``value`` when it is a valid ``kind`` identifier, else raise ``InvalidName``.

    ``kind`` is one of ``project``, ``environment``, ``module``, ``name``, ``request id``."""
    if not isinstance(value, str):
        raise InvalidName(kind, str(value), "must be a string")
    if not value:
        raise InvalidName(kind, value, "must not be empty")
    reason = danger(value)
    if reason is not None:
        raise InvalidName(kind, value, reason)
    if not _PATTERNS[kind].match(value):
        raise InvalidName(kind, value, f"must be {_LOWER_RULE[kind]}")
    return value


def check_project(value: object) -> str:
    return check("project", value)


def check_environment(value: object) -> str:
    return check("environment", value)


def check_module_id(value: object) -> str:
    return check("module", value)


def check_request_id(value: object) -> str:
    return check("request id", value)


def check_env_path(value: object) -> str:
    """A relative POSIX path inside the infra repo (``envs/dev``): segments of letters, digits,
    ``.``, ``_`` and ``-``; no ``..``, no absolute path, no empty or ``.`` segment."""
    kind = "env path"
    if not isinstance(value, str):
        raise InvalidName(kind, str(value), "must be a string")
    if not value:
        raise InvalidName(kind, value, "must not be empty")
    if len(value) > MAX_ENV_PATH:
        raise InvalidName(kind, value, f"must be at most {MAX_ENV_PATH} characters")
    reason = danger(value, allow_slash=True)
    if reason is not None:
        raise InvalidName(kind, value, reason)
    for segment in value.split("/"):
        if not segment:
            raise InvalidName(kind, value, "has an empty path segment (a doubled or trailing '/')")
        if not PATH_SEGMENT_RE.match(segment):
            raise InvalidName(
                kind, value, f"segment {segment!r} must be letters, digits, '.', '_' or '-', not starting with '.'"
            )
    return value


def is_hcl_identifier(value: str) -> bool:
    return bool(HCL_IDENTIFIER_RE.match(value))
