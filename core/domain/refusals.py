"""Why an action is refused, as a code and its data: the sentence the person refused reads is
written by the views (``bot.views.refusals``), never in core.

A ``Denial`` is what ``core.domain.policy.check`` answers with (``Decision.reason``), what
``PermissionDenied.reason`` carries, and what a ``<action>_blocked`` audit record keeps (its
``reason``, dumped): enough to render it again later. Audit records written before the code
carry the sentence itself (a string), and still read (``bot.views.refusals.recorded_reason``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Each code's data, beside it. ``status``: the request's status value; ``action``: an
# ``Action`` value; ``role``/``needed``: role labels.
DenialCode = Literal[
    "needs_role",  # action, needed, role: the actor's role is below the action's
    "create_needs_role",  # needed, role: opening a request needs the developer role
    "own_request",  # an approver may not approve their own request
    "requester_or_approver",  # action: only the requester or an approver may re-plan / edit
    "prod_destroy_allowlist",  # destroying in prod needs the prod destroy allowlist
    "prod_allowlist",  # action: acting in prod needs the prod allowlist
    "create_prod_allowlist",  # opening a prod request needs the prod allowlist
    "request_closed",  # status: destroying or destroyed
    "already_approved",
    "approval_needs_plan",  # status
    "no_pr",  # the request has no pull request yet
    "pr_closed",  # number: the PR was closed without merging
    "merge_needs_approval",  # status
    "apply_needs_merge",
    "destroy_failed",  # a destroy failed: retry it instead
    "apply_running",
    "already_applied",
    "drift_replan_first",
    "drift_plan_wait",
    "failed_before_apply",
    "removal_under_way",  # a destroy is under way (its removal PR comes first)
    "prepare_first",  # the prepare-destroy change must be merged and applied first
    "guards_hold",  # guards: [{field, value, safe, blocks, data, message}]: Prepare destroy first
    "nothing_applied",
    "apply_wait",  # the apply is still running
    "prepare_needs_applied",  # status
    "prepare_under_way",
    "no_guard_holds",  # Destroy needs no preparation
    "pr_not_open",
    "plan_running",
    "merged_replan_drift_only",
    "destroy_under_way",
    "not_allowed",  # a refusal that gave no reason (never expected)
]


class Denial(BaseModel):
    """One typed refusal (see ``DenialCode`` for each code's data)."""

    model_config = ConfigDict(frozen=True)

    code: DenialCode
    data: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> str:
        """A stable text of the denial (code and sorted data): what makes two refusals the same."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)

    def __str__(self) -> str:
        # For logs and exception messages only; people read ``bot.views.refusals``.
        return self.code if not self.data else f"{self.code} {json.dumps(self.data, default=str, sort_keys=True)}"


NOT_ALLOWED = Denial(code="not_allowed")


def denial(code: DenialCode, **data: Any) -> Denial:
    return Denial(code=code, data=data)
