"""The words of a request's timeline lines (``core.domain.timeline``: the core records a code
and its data). One entry per code; ``tests/slack/test_timeline_text.py`` checks every code has
one and renders with or without its data. Lines written before the codes carry their words in
``step`` and are shown as they are."""

from __future__ import annotations

from typing import Any

from core.domain.request import TimelineStep
from core.domain.timeline import TimelineCode

_WORDS: dict[TimelineCode, str] = {
    TimelineCode.REQUEST_CREATED: "Request created",
    TimelineCode.BRANCH_CREATED: "Branch created",
    TimelineCode.TERRAFORM_COMMITTED: "Terraform committed",
    TimelineCode.PR_OPENED: "Pull request opened",
    TimelineCode.CONFIG_UPDATED: "Config updated (revision {revision})",
    TimelineCode.PLAN_DISPATCHED: "Plan dispatched",
    TimelineCode.APPLY_STARTED: "Apply started",
    TimelineCode.DESTROY_STARTED: "Destroy started",
    TimelineCode.RUN_CONCLUDED: "{Kind} {concluded}",
    TimelineCode.APPROVED: "Approved by {by}",
    TimelineCode.APPROVED_ON_GITHUB: "Approved by {by} on GitHub",
    TimelineCode.APPROVAL_DISMISSED: "Approval by {by} dismissed",
    TimelineCode.APPROVAL_VOIDED: "Approval voided by a new commit",
    TimelineCode.NEW_COMMIT: "New commit: plan again before approving",
    TimelineCode.MERGED: "Merged",
    TimelineCode.PR_CLOSED: "Pull request closed without merging",
    TimelineCode.DRIFT_RESOLVED: "Drift resolved",
    TimelineCode.DESTROY_REQUESTED: "Destroy requested",
    TimelineCode.DESTROY_FAILED: "Destroy failed",
    TimelineCode.CLEANUP_PR_OPENED: "Cleanup PR opened",
    TimelineCode.CLEANUP_PR_MERGED: "Cleanup PR merged",
    TimelineCode.CLEANUP_PR_BLOCKED: "Cleanup PR blocked",
    TimelineCode.CLEANUP_OPENED_NO_PR: "Destroy failed: the cleanup workflow did not open its PR",
    TimelineCode.PREPARE_DESTROY_OPENED: "Prepare destroy: change opened",
    TimelineCode.REMOVAL_PR_OPENED: "Destroy requested: removal PR opened",
    TimelineCode.REMOVAL_PR_NEEDS_REVIEW: "Removal PR needs a review",
    TimelineCode.REMOVAL_PR_APPROVED: "Removal PR approved",
    TimelineCode.REMOVAL_PR_PLANNED: "Removal PR planned",
    TimelineCode.REMOVAL_PR_MERGED: "Removal PR merged",
    TimelineCode.REMOVAL_PR_BLOCKED: "Removal PR blocked",
}
# The words of a line whose data is missing (a hand-edited or truncated document).
_BARE = {
    TimelineCode.CONFIG_UPDATED: "Config updated",
    TimelineCode.APPROVED: "Approved",
    TimelineCode.APPROVED_ON_GITHUB: "Approved on GitHub",
    TimelineCode.APPROVAL_DISMISSED: "Approval dismissed",
}
_CONCLUDED = {"success": "succeeded", "failure": "failed"}


def _fields(code: TimelineCode, data: dict[str, Any]) -> dict[str, Any]:
    fields = {key: value for key, value in data.items() if value not in (None, "")}
    if code is TimelineCode.RUN_CONCLUDED:
        conclusion = str(fields.get("conclusion") or "concluded")
        fields["Kind"] = str(fields.get("kind") or "run").capitalize()
        fields["concluded"] = _CONCLUDED.get(conclusion, conclusion.replace("_", " "))
    return fields


def timeline_label(step: TimelineStep) -> str:
    """The words of one timeline line."""
    try:
        code = TimelineCode(step.code) if step.code else None
    except ValueError:
        code = None  # a code this version does not know: its words, else the code itself
    if code is None:
        return step.step or str(step.code or "")
    fields = _fields(code, step.data)
    if code is TimelineCode.REMOVAL_PR_APPROVED and "by" in fields:
        return f"Removal PR approved by {fields['by']}"
    try:
        return _WORDS[code].format(**fields)
    except (KeyError, IndexError):
        return _BARE.get(code, code.value)
