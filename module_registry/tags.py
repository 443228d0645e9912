"""Tag policy: server-authoritative tags injected after validation, and AWS tag syntax.

The server tags (managed-by, request id, project, environment, requester) are added by the
renderer, never taken from the user's config: a user's ``tags`` may add other keys but a key that
collides with a server tag (in any letter case), or uses a reserved prefix, is refused with a
field error. ``assert_required`` re-checks the merged result before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "tfpilot"
REQUEST_ID_KEY = "tfpilot-request-id"
PROJECT_KEY = "project"
ENVIRONMENT_KEY = "environment"
REQUESTER_KEY = "requester"

SERVER_TAG_KEYS: tuple[str, ...] = (MANAGED_BY_KEY, REQUEST_ID_KEY, PROJECT_KEY, ENVIRONMENT_KEY, REQUESTER_KEY)
RESERVED_PREFIXES: tuple[str, ...] = ("aws:", "tfpilot")
MAX_TAGS = 50
MAX_USER_TAGS = MAX_TAGS - len(SERVER_TAG_KEYS)
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
_TAG_PUNCTUATION = frozenset(" _.:/=+-@")


class TagPolicyError(ValueError):
    """Raised by ``merge``/``assert_required`` when the policy would be broken."""


def _allowed_char(char: str) -> bool:
    # AWS: Unicode letters, digits, spaces and _ . : / = + - @ (the \p{L}\p{Z}\p{N} classes).
    return char.isalpha() or char.isdigit() or char.isnumeric() or char in _TAG_PUNCTUATION


def is_tag_key(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_KEY_LENGTH
        and value == value.strip()
        and all(_allowed_char(c) for c in value)
    )


def is_tag_value(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_VALUE_LENGTH and all(_allowed_char(c) for c in value)


def sanitize_value(value: str) -> str:
    """Make server-supplied text (a requester's display name) a valid tag value."""
    cleaned = "".join(c if _allowed_char(c) else "_" for c in value)
    return cleaned[:MAX_VALUE_LENGTH]


def reserved_key_problem(key: str) -> str | None:
    """Why a user may not set ``key``, or None."""
    lowered = key.lower()
    if lowered in SERVER_TAG_KEYS:
        return f"the tag {key!r} is set by TfPilot and cannot be set or overridden"
    for prefix in RESERVED_PREFIXES:
        if lowered.startswith(prefix):
            return f"tag keys starting with {prefix!r} are reserved"
    return None


def server_tags(request_id: str, project: str, environment: str, requester: str) -> dict[str, str]:
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        REQUEST_ID_KEY: request_id,
        PROJECT_KEY: project,
        ENVIRONMENT_KEY: environment,
        REQUESTER_KEY: sanitize_value(requester) or "unknown",
    }


def merge(user_tags: Mapping[str, str] | None, server: Mapping[str, str]) -> dict[str, str]:
    """User tags plus server tags, sorted by key; a collision is refused, never resolved silently."""
    merged: dict[str, str] = {}
    for key, value in (user_tags or {}).items():
        problem = reserved_key_problem(key)
        if problem is not None:
            raise TagPolicyError(problem)
        merged[key] = value
    merged.update(server)
    if len(merged) > MAX_TAGS:
        raise TagPolicyError(f"{len(merged)} tags in all; AWS allows at most {MAX_TAGS}")
    assert_required(merged)
    return dict(sorted(merged.items()))


def assert_required(tags: Mapping[str, str]) -> None:
    missing = [key for key in SERVER_TAG_KEYS if not tags.get(key)]
    if missing:
        raise TagPolicyError(f"required tag(s) missing: {', '.join(missing)}")
    if tags[MANAGED_BY_KEY] != MANAGED_BY_VALUE:
        raise TagPolicyError(f"the {MANAGED_BY_KEY} tag must be {MANAGED_BY_VALUE!r}")
