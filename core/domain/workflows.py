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
            if self.file(kind) == base:
                return kind
        return None

    def file(self, kind: RunKind) -> str:
        """The workflow file that runs ``kind``."""
        match kind:
            case "plan":
                return self.plan
            case "apply":
                return self.apply
            case "destroy":
                return self.destroy
            case "cleanup":
                return self.cleanup
            case "drift":
                return self.drift


# The runs a request document holds itself (``planRun``, ``applyRun``, ``destroyRun``); cleanup
# runs live in the destroy operation that dispatched them, drift runs in no request.
RequestRunKind = Literal["plan", "apply", "destroy"]
REQUEST_RUN_KINDS: tuple[RequestRunKind, ...] = ("plan", "apply", "destroy")


def request_run_kind(kind: str) -> RequestRunKind | None:
    """``kind`` when it names a run the request document holds, else None."""
    match kind:
        case "plan" | "apply" | "destroy":
            return kind
    return None
