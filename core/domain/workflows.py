"""Which workflow file does what: plan, apply, destroy, cleanup, drift."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

RunKind = Literal["plan", "apply", "destroy", "cleanup", "drift"]


class WorkflowNames(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: str = "plan.yml"
    apply: str = "apply.yml"
    destroy: str = "destroy.yml"
    cleanup: str = "cleanup.yml"
    drift: str = "drift.yml"

    def kind_of(self, workflow_path_or_name: str | None) -> RunKind | None:
        """The kind of a run from its workflow path (``.github/workflows/plan.yml``) or file."""
        if not workflow_path_or_name:
            return None
        base = workflow_path_or_name.rsplit("/", 1)[-1]
        kinds: tuple[RunKind, ...] = ("plan", "apply", "destroy", "cleanup", "drift")
        for kind in kinds:
            if getattr(self, kind) == base:
                return kind
        return None
