"""The one status catalogue: labels, emoji, colour, terminal and active flags.

Served to the Slack card, App Home, the CLI and metrics alike, so a status reads the same
everywhere. ``normalize_status`` maps legacy or free-form values onto the canonical set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    REQUEST_CREATED = "request_created"
    PLANNING = "planning"
    PLAN_READY = "plan_ready"
    APPROVED = "approved"
    MERGED = "merged"
    APPLYING = "applying"
    APPLIED = "applied"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusMeta:
    status: Status
    label: str
    emoji: str  # Slack emoji code
    colour: str  # hex, for attachments and terminals
    terminal: bool  # nothing more happens without a person acting (or ever, for destroyed)
    active: bool  # a run is in flight: GitHub or the local runner is working on it


CATALOGUE: dict[Status, StatusMeta] = {
    meta.status: meta
    for meta in (
        StatusMeta(Status.REQUEST_CREATED, "Request created", ":inbox_tray:", "#9e9e9e", False, False),
        StatusMeta(Status.PLANNING, "Planning", ":hourglass_flowing_sand:", "#2196f3", False, True),
        StatusMeta(Status.PLAN_READY, "Plan ready", ":clipboard:", "#3f51b5", False, False),
        StatusMeta(Status.APPROVED, "Approved", ":white_check_mark:", "#009688", False, False),
        StatusMeta(Status.MERGED, "Merged", ":twisted_rightwards_arrows:", "#673ab7", False, False),
        StatusMeta(Status.APPLYING, "Applying", ":gear:", "#ff9800", False, True),
        StatusMeta(Status.APPLIED, "Applied", ":rocket:", "#4caf50", True, False),
        StatusMeta(Status.DESTROYING, "Destroying", ":wastebasket:", "#ff5722", False, True),
        StatusMeta(Status.DESTROYED, "Destroyed", ":headstone:", "#607d8b", True, False),
        StatusMeta(Status.FAILED, "Failed", ":x:", "#f44336", True, False),
    )
}

# Values older writers stored, mapped onto the canonical set.
_LEGACY: dict[str, Status] = {
    "created": Status.REQUEST_CREATED,
    "pending": Status.REQUEST_CREATED,
    "new": Status.REQUEST_CREATED,
    "pr_open": Status.PLANNING,
    "plan_running": Status.PLANNING,
    "plan_queued": Status.PLANNING,
    "plan_in_progress": Status.PLANNING,
    "planned": Status.PLAN_READY,
    "awaiting_approval": Status.PLAN_READY,
    "pending_approval": Status.PLAN_READY,
    "apply_running": Status.APPLYING,
    "apply_in_progress": Status.APPLYING,
    "complete": Status.APPLIED,
    "completed": Status.APPLIED,
    "success": Status.APPLIED,
    "destroy_running": Status.DESTROYING,
    "destroy_in_progress": Status.DESTROYING,
    "error": Status.FAILED,
    "errored": Status.FAILED,
    "plan_failed": Status.FAILED,
    "apply_failed": Status.FAILED,
    "destroy_failed": Status.FAILED,
}


def meta(status: Status | str) -> StatusMeta:
    return CATALOGUE[normalize_status(status)]


def normalize_status(value: str | None, *, is_destroying: bool = False, is_destroyed: bool = False) -> Status:
    """Canonical status for a stored or legacy value; destroy flags win, unknown -> created."""
    if is_destroyed:
        return Status.DESTROYED
    if is_destroying:
        return Status.DESTROYING
    if value is None:
        return Status.REQUEST_CREATED
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Status(key)
    except ValueError:
        return _LEGACY.get(key, Status.REQUEST_CREATED)
