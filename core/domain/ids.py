"""Request ids and the names derived from them (branch, file, markers)."""

from __future__ import annotations

import re
import secrets

REQUEST_ID_RE = re.compile(r"^req_[a-z0-9]{6,32}$")
# Finds an id inside free text such as a workflow run-name ("plan req_ab12cd34 dev").
REQUEST_ID_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9_])(req_[a-z0-9]{6,32})(?![A-Za-z0-9_])")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_request_id() -> str:
    return "req_" + "".join(secrets.choice(_ALPHABET) for _ in range(12))


def is_request_id(value: str) -> bool:
    return bool(REQUEST_ID_RE.match(value))


def request_branch(request_id: str) -> str:
    return f"request/{request_id}"


def cleanup_branch(request_id: str) -> str:
    return f"cleanup/{request_id}"


def request_id_from_branch(branch: str | None) -> str | None:
    for prefix in ("request/", "cleanup/", "destroy/", "prepare/"):
        if branch and branch.startswith(prefix) and is_request_id(branch[len(prefix) :]):
            return branch[len(prefix) :]
    return None


def request_id_in_text(text: str | None) -> str | None:
    match = REQUEST_ID_IN_TEXT_RE.search(text or "")
    return match.group(1) if match else None
