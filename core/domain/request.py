"""The one request type: a pydantic model of the stored request document.

Documents are camelCase JSON (the shape the earlier TfPilot stored); Python code uses snake_case
attributes. Unknown keys are kept (``extra="allow"``) so a newer writer never loses data through
an older reader; wrong types are rejected by pydantic naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from core.domain.errors import InvalidDocument


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


class PullRequestRef(DocModel):
    number: int | None = None
    url: str | None = None
    merged: bool = False
    open: bool = False
    head_sha: str | None = None
    merged_sha: str | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None


class Approval(DocModel):
    approved: bool = False
    approvers: list[str] = Field(default_factory=list)
    # The PR head commit the approval was given for: a later commit voids it.
    approved_sha: str | None = None
    approved_at: datetime | None = None
    # "github" (a review by the approver's linked account) or "tfpilot" (recorded by the app).
    source: str | None = None
    # Whether the approval satisfies the base branch's required reviews (None: not known). A
    # recorded approval that does not lets an approver approve again once linked to GitHub.
    satisfies: bool | None = None


class PlanSummary(DocModel):
    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    no_op: int = 0
    addresses: dict[str, list[str]] = Field(default_factory=dict)  # action -> addresses
    has_deletions: bool = False
    has_replacements: bool = False
    text: str = ""  # size-bounded human summary, sensitive values never included
    truncated: bool = False


class PlanOutput(DocModel):
    summary: PlanSummary | None = None
    output: str | None = None  # full plan text (bounded), sensitive values masked
    run_id: int | None = None
    head_sha: str | None = None
    artifact_name: str | None = None
    preview: bool = False  # True when produced by the local runner, not a cloud plan


class CleanupPr(DocModel):
    number: int | None = None
    url: str | None = None
    merged: bool = False
    open: bool = False
    status: str | None = None
    head_sha: str | None = None
    branch: str | None = None


class TimelineStep(DocModel):
    step: str
    status: str | None = None
    message: str | None = None
    at: datetime
    actor: str | None = None


class Cost(DocModel):
    monthly_cost: float | None = None
    monthly_delta: float | None = None
    currency: str = "USD"
    source: str | None = None


class DriftCounts(DocModel):
    add: int = 0
    change: int = 0
    destroy: int = 0


class Drift(DocModel):
    detected: bool = False
    summary: str | None = None
    counts: DriftCounts | None = None
    run_url: str | None = None
    checked_at: datetime | None = None


class PreviousPr(DocModel):
    number: int | None = None
    url: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None


class Requester(DocModel):
    """Who asked: a Slack user (or the console user) with what we know of them."""

    id: str
    name: str | None = None
    email: str | None = None
    team_id: str | None = None
    github_login: str | None = None


class SlackThread(DocModel):
    """Where the request's card lives: the parent message of its thread."""

    team_id: str | None = None
    channel: str
    ts: str | None = None  # the card message ts (thread parent); None until posted


class Operation(DocModel):
    """Progress of a multi-step operation, recorded so a crash half-way is resumed, not repeated.

    ``steps`` maps a step name to what it produced (a sha, a PR number, a run id, ``True``).
    """

    kind: str  # create | update | approve | merge | apply | destroy | replan
    key: str  # idempotency key of the intent (e.g. the Slack action id or "rev-3")
    started_at: datetime
    completed_at: datetime | None = None
    actor: str | None = None
    steps: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Request(DocModel):
    # identity and meta
    id: str
    project: str
    environment: str
    module: str
    received_at: datetime
    updated_at: datetime
    version: int = 1
    revision: int = 1
    status: str = "request_created"
    status_derived_at: datetime | None = None
    requester: Requester | None = None
    idempotency_key: str | None = None
    slack: SlackThread | None = None
    # config
    config: dict[str, Any] = Field(default_factory=dict)
    template_id: str | None = None
    environment_name: str | None = None
    # From the projects map at creation, kept in the document so permission checks never
    # need the map.
    prod: bool = False
    module_ref: str | None = None
    registry_ref: str | None = None
    render: dict[str, Any] | None = None
    # git / PR
    target_owner: str | None = None
    target_repo: str | None = None
    target_base: str | None = None
    target_env_path: str | None = None
    target_files: list[str] = Field(default_factory=list)
    branch_name: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    pr: PullRequestRef | None = None
    pull_request: PullRequestRef | None = None  # legacy alias of ``pr``, kept when present
    commit_sha: str | None = None
    merged_sha: str | None = None
    active_pr_number: int | None = None
    previous_prs: list[PreviousPr] = Field(default_factory=list)
    # runs
    plan_run: RunRef | None = None
    apply_run: RunRef | None = None
    destroy_run: RunRef | None = None
    apply_triggered_at: datetime | None = None
    applied_at: datetime | None = None
    destroy_triggered_at: datetime | None = None
    destroyed_at: datetime | None = None
    # approval and plan
    approval: Approval | None = None
    plan: PlanOutput | None = None
    # cleanup, timeline, cost, drift
    cleanup_pr: CleanupPr | None = None
    timeline: list[TimelineStep] = Field(default_factory=list)
    cost: Cost | None = None
    drift: Drift | None = None
    # progress of multi-step operations (idempotency and crash resume)
    operations: list[Operation] = Field(default_factory=list)
    archived_at: datetime | None = None
    last_synced_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: Any, *, key: str | None = None) -> Request:
        """Parse a stored document; a wrong document raises ``InvalidDocument`` naming fields."""
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            raise InvalidDocument.from_validation(exc, key=key) from exc

    @classmethod
    def from_json(cls, raw: bytes | str, *, key: str | None = None) -> Request:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise InvalidDocument.from_validation(exc, key=key) from exc

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @property
    def is_prod(self) -> bool:
        return self.prod or self.environment == "prod"

    def operation(self, kind: str, key: str) -> Operation | None:
        for op in self.operations:
            if op.kind == kind and op.key == key:
                return op
        return None
