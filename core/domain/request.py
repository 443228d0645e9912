"""The one request type: a pydantic model of the stored request document.

Documents are camelCase JSON (the shape the earlier TfPilot stored); Python code uses snake_case
attributes. Unknown keys are kept (``extra="allow"``) so a newer writer never loses data through
an older reader; wrong types are rejected by pydantic naming the field.

Older documents are upgraded once, when they are read (``Request._upgrade_legacy``): the PR's
mirrors (``prNumber``, ``prUrl``, ``activePrNumber``, ``pullRequest``) fill ``pr`` when it is
missing, the four spellings of the chat session id land in ``chatSessionId``, and fields nothing
reads (``templateId``, ``environmentName``, ``moduleRef``, ``registryRef``, ``previousPrs``) are
dropped. A document written afterwards carries only the current fields. Operations' steps from
before they were typed are upgraded the same way, by their own models (``core.domain.operation``).

The request is also the aggregate's unit of consistency: a change and the domain events it made
(``outbox``, ``core.domain.events``) are one document, written by one compare-and-swap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError, model_validator

from core.domain.doc_model import DocModel, RunRef
from core.domain.errors import InvalidDocument
from core.domain.events import DomainEvent
from core.domain.operation import Operation, OpT
from core.domain.workflows import RequestRunKind
from module_registry.definition import DestroyGuard

# The request's parts are imported from here (some are defined beside it).
__all__ = [
    "Approval",
    "CardCopy",
    "CleanupPr",
    "Cost",
    "DocModel",
    "Drift",
    "DriftCounts",
    "Operation",
    "PlanOutput",
    "PlanSummary",
    "PreparedDestroy",
    "PullRequestRef",
    "Request",
    "Requester",
    "RunRef",
    "SlackThread",
    "TimelineStep",
]

# Keys of older documents, in both spellings: mirrors of ``pr``, other spellings of the chat
# session id, and fields no code reads. ``Request._upgrade_legacy`` maps or drops them.
_LEGACY_PR_KEYS = (
    "prNumber", "pr_number", "prUrl", "pr_url", "activePrNumber", "active_pr_number", "pullRequest", "pull_request",
)  # fmt: skip
_LEGACY_SESSION_KEYS = ("sessionId", "session_id")
_DEAD_KEYS = (
    "templateId", "template_id", "environmentName", "environment_name", "moduleRef", "module_ref",
    "registryRef", "registry_ref", "previousPrs", "previous_prs",
)  # fmt: skip
_LEGACY_KEYS = frozenset((*_LEGACY_PR_KEYS, *_LEGACY_SESSION_KEYS, *_DEAD_KEYS))


def _first_present(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


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
    preview_reason: str | None = None  # why it is a preview (no terraform, no provider, ...)


class CleanupPr(DocModel):
    number: int | None = None
    url: str | None = None
    merged: bool = False
    open: bool = False
    status: str | None = None
    head_sha: str | None = None
    branch: str | None = None


class PreparedDestroy(DocModel):
    """The reviewed change that lifted the request's destroy guards ("Prepare destroy"): the
    fields it set (to their safe values), what they were, who asked, its PR."""

    fields: dict[str, Any] = Field(default_factory=dict)
    previous: dict[str, Any] = Field(default_factory=dict)
    by: str | None = None
    at: datetime | None = None
    pr_number: int | None = None
    pr_url: str | None = None


class TimelineStep(DocModel):
    """One line of the request's timeline: ``code`` and ``data`` (``core.domain.timeline``),
    worded by the views; ``step`` holds the words of lines written before the codes."""

    step: str | None = None
    code: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
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


class Requester(DocModel):
    """Who asked: a Slack user (or the console user) with what we know of them."""

    id: str
    name: str | None = None
    email: str | None = None
    team_id: str | None = None
    github_login: str | None = None


class CardClaim(DocModel):
    """Who is posting the request's card now, until when: taken through the engine (CAS) before
    ``chat.postMessage`` so two processes never both post it; cleared when the card's ts is
    recorded, and void once ``until`` passed (its owner died: another may post)."""

    owner: str
    until: datetime


class SlackThread(DocModel):
    """Where the request's card lives: the parent message of its thread."""

    team_id: str | None = None
    channel: str
    ts: str | None = None  # the card message ts (thread parent); None until posted
    claim: CardClaim | None = None  # a card being posted (see ``CardClaim``); documents before it have none


class CardCopy(DocModel):
    """Another message showing the request's card, where its approvers are: the project's
    approvals channel (``kind="channel"``) or an approver's DM with the app (``kind="dm"``,
    ``user`` the approver). Kept current on every transition like the card itself; documents
    written before copies existed have none (``cardCopies`` defaults to empty)."""

    kind: str  # channel | dm
    channel: str
    ts: str
    user: str | None = None
    posted_at: datetime | None = None


class Listed(DocModel):
    """Which entries of the list index show this document (written by the request store).

    The index lists a request under its row as of its last listed change: ``version`` and
    ``at`` (``updatedAt`` then) name those entries, so the next listed change deletes them
    without listing the index. ``previous`` is the row listed before (its entries are deleted
    again by the next listed change, in case a crash cut the delete that should have)."""

    version: int
    at: datetime
    previous: dict[str, Any] | None = None


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
    # Copies of the card posted where approvers can act on it (see ``CardCopy``).
    card_copies: list[CardCopy] = Field(default_factory=list)
    # config
    config: dict[str, Any] = Field(default_factory=dict)
    # From the projects map at creation, kept in the document so permission checks never
    # need the map.
    prod: bool = False
    render: dict[str, Any] | None = None
    # git / PR
    target_owner: str | None = None
    target_repo: str | None = None
    target_base: str | None = None
    target_env_path: str | None = None
    target_files: list[str] = Field(default_factory=list)
    branch_name: str | None = None
    pr: PullRequestRef | None = None  # the one source of the PR's number and url
    commit_sha: str | None = None
    merged_sha: str | None = None
    # runs
    plan_run: RunRef | None = None
    apply_run: RunRef | None = None
    destroy_run: RunRef | None = None
    apply_triggered_at: datetime | None = None
    applied_at: datetime | None = None
    # The module's non-sensitive outputs after the last successful apply (name -> value).
    outputs: dict[str, Any] = Field(default_factory=dict)
    destroy_triggered_at: datetime | None = None
    destroyed_at: datetime | None = None
    # approval and plan
    approval: Approval | None = None
    plan: PlanOutput | None = None
    # cleanup, timeline, cost, drift
    cleanup_pr: CleanupPr | None = None
    prepared_destroy: PreparedDestroy | None = None
    # The module's destroy guards, kept at create (as the target facts are) so the card and the
    # policy can say, without the registry, what AWS would refuse a destroy for.
    destroy_guards: list[DestroyGuard] = Field(default_factory=list)
    timeline: list[TimelineStep] = Field(default_factory=list)
    cost: Cost | None = None
    drift: Drift | None = None
    # progress of multi-step operations (idempotency and crash resume)
    operations: list[Operation] = Field(default_factory=list)
    # events committed with the write that made them, until handled (``core.domain.events``)
    outbox: list[DomainEvent] = Field(default_factory=list)
    archived_at: datetime | None = None
    # When a sync last learnt something (an idle refresh writes nothing, see SyncService.sync).
    last_synced_at: datetime | None = None
    # The list index entries that show this document (``Listed``; None: written before it).
    listed: Listed | None = None
    # The code host's last answers to the reads a sync makes, with their validators (GitHub:
    # ``{"<key>": {"etag": ..., "value": <the answer as mapped>}}``): kept on the document so an
    # unchanged answer costs a 304 (no rate limit) in any process, not only while an in-memory
    # cache still holds it. Written only along with a sync that learnt something.
    code_host_reads: dict[str, Any] = Field(default_factory=dict)
    # The intake conversation that produced the request (its chat log, for the audit export).
    chat_session_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade_legacy(cls, data: Any) -> Any:
        """Map an older document's keys onto the current fields (see the module docstring)."""
        if not isinstance(data, dict) or not any(key in data for key in _LEGACY_KEYS):
            return data
        doc = {key: value for key, value in data.items() if key not in _LEGACY_KEYS}
        if doc.get("pr") is None:
            legacy_pr = _first_present(data, ("pullRequest", "pull_request"))
            number = _first_present(data, ("prNumber", "pr_number", "activePrNumber", "active_pr_number"))
            url = _first_present(data, ("prUrl", "pr_url"))
            if legacy_pr is not None:
                doc["pr"] = legacy_pr
            elif number is not None or url is not None:
                # Open/merged are unknown here: the next sync reads them from the code host.
                doc["pr"] = {"number": number, "url": url}
        if doc.get("chatSessionId") is None and doc.get("chat_session_id") is None:
            session = _first_present(data, _LEGACY_SESSION_KEYS)
            if session is not None:
                doc["chatSessionId"] = session
        return doc

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
    def pr_number(self) -> int | None:
        return self.pr.number if self.pr is not None else None

    @property
    def pr_url(self) -> str | None:
        return self.pr.url if self.pr is not None else None

    @property
    def is_prod(self) -> bool:
        return self.prod or self.environment == "prod"

    def operation(self, kind: str, key: str) -> Operation | None:
        for op in self.operations:
            if op.kind == kind and op.key == key:
                return op
        return None

    def find(self, op_type: type[OpT], key: str) -> OpT | None:
        """The operation of ``op_type`` with ``key``, typed (its steps are the kind's own)."""
        for op in self.operations:
            if isinstance(op, op_type) and op.key == key:
                return op
        return None

    def pending(self, kind: str | None = None) -> list[Operation]:
        """Unfinished operations (of ``kind``), oldest first."""
        return [op for op in self.operations if op.completed_at is None and (kind is None or op.kind == kind)]

    def run(self, kind: RequestRunKind) -> RunRef | None:
        """The request's recorded run of ``kind``."""
        match kind:
            case "plan":
                return self.plan_run
            case "apply":
                return self.apply_run
            case "destroy":
                return self.destroy_run

    def set_run(self, kind: RequestRunKind, run: RunRef | None) -> None:
        match kind:
            case "plan":
                self.plan_run = run
            case "apply":
                self.apply_run = run
            case "destroy":
                self.destroy_run = run
