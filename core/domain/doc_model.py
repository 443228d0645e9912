"""``DocModel`` (the base of every stored sub-document) and ``RunRef`` (a workflow run as the
lifecycle records it): shared by the request document and the operations inside it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.domain.run_report import Diagnostic


class DocModel(BaseModel):
    """Base for every stored sub-document: camelCase on the wire, unknown keys kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        validate_assignment=True,
        ser_json_timedelta="float",
    )

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class RunRef(DocModel):
    """A GitHub Actions (or local runner) run as far as the lifecycle cares."""

    run_id: int | None = None
    url: str | None = None
    status: str | None = None  # queued | in_progress | completed | requested | waiting | pending
    conclusion: str | None = None  # success | failure | cancelled | timed_out | ...
    head_sha: str | None = None
    workflow: str | None = None
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # Terraform's first diagnostics when the run failed (redacted, bounded): why it failed.
    diagnostics: list[Diagnostic] = Field(default_factory=list)
