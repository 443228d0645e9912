"""Recorded operations: typed step state per operation kind.

Every intent on a request (create, update, approve, merge, apply, replan, destroy) is an
operation in the request document, named by its kind and idempotency key. What each step
produced is kept in ``steps``, a model of its own per kind (``CreateSteps``, ``ApproveSteps``...),
so a resumed operation reads typed fields, never string keys built on the fly. The operation is
a pydantic union discriminated on ``kind``; a kind this code does not know (a newer writer's)
is kept as ``OtherOp`` with its steps untouched.

Wire format: the ``steps`` object keeps its snake_case keys (the names documents have always
had). Workflow dispatches of any kind are ``steps.launches[<run kind>]`` (``Launch``). Documents
written before the steps were typed carry ``<kind>_dispatch`` / ``<kind>_run`` /
``<kind>_previous`` keys, a ``cleanup_run`` dict with ``id``, and bare markers
(``cleanup_merged: null``); ``Steps._upgrade_legacy`` maps them once, at read.

One way to end an operation: ``finish`` (done), ``end`` (closed with an error, never resumed),
``fail`` (error recorded, lease released, resumable) and ``release`` (paused, waiting for a fact).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from core.domain.doc_model import DocModel, RunRef
from core.domain.protection import ApprovalStanding
from core.domain.workflows import RunKind

OperationKind = Literal["create", "update", "approve", "merge", "apply", "replan", "destroy", "prepare_destroy"]
OPERATION_KINDS: tuple[OperationKind, ...] = (
    "create",
    "update",
    "approve",
    "merge",
    "apply",
    "replan",
    "destroy",
    "prepare_destroy",
)
_LAUNCH_KINDS: tuple[RunKind, ...] = ("plan", "apply", "destroy", "cleanup")
MAX_ERROR = 1000


class StepModel(BaseModel):
    """Base of step state: snake_case on the wire (the keys stored documents already have),
    unknown keys kept so a newer writer's steps survive an older reader."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, populate_by_name=True)

    def set(self, **values: Any) -> None:
        """Assign declared fields (validated); an undeclared name is a programming error."""
        for name, value in values.items():
            if name not in type(self).model_fields:
                raise AttributeError(f"{type(self).__name__} has no step {name!r}")
            setattr(self, name, value)


class Lease(StepModel):
    """Who runs the operation now, until when (a dead worker's lease expires)."""

    owner: str
    until: datetime


class Launch(StepModel):
    """One workflow dispatch of the operation. ``at`` is written before the dispatch (so a crash
    after it looks the run up before dispatching again), ``previous`` is the run before it (a run
    found by name must be newer), ``recorded`` says the run was written onto the request. ``by``
    is a random token of the write that set ``at``: the process that wrote it knows it, and until
    it dispatches, dispatches without a lookup (``Operations.fresh``); anyone else looks up."""

    at: datetime | None = None
    previous: int | None = None
    recorded: bool = False
    run_id: int | None = None
    by: str | None = None


class Steps(StepModel):
    """Steps every operation may have: the lease and its workflow dispatches."""

    lease: Lease | None = None
    launches: dict[str, Launch] = Field(default_factory=dict)

    def launch(self, kind: RunKind) -> Launch | None:
        return self.launches.get(kind)

    def launch_for(self, kind: RunKind) -> Launch:
        """The launch of ``kind``, created empty when missing (assign it back via ``launches``)."""
        found = self.launches.get(kind)
        return found.model_copy() if found is not None else Launch()

    def recorded(self, kind: RunKind) -> bool:
        launch = self.launches.get(kind)
        return launch is not None and launch.recorded

    @model_validator(mode="before")
    @classmethod
    def _upgrade_legacy(cls, data: Any) -> Any:
        """Map a document's step keys from before the steps were typed (see module docstring)."""
        # Every document written since carries ``launches`` (and writes ``null`` for a step not
        # taken, which before meant a bare marker): only one without it is upgraded.
        if not isinstance(data, dict) or "launches" in data:
            return data
        names = {f"{kind}_{what}" for kind in _LAUNCH_KINDS for what in ("dispatch", "previous")}
        names |= {f"{kind}_run" for kind in ("plan", "apply", "destroy")}
        legacy_cleanup = isinstance(data.get("cleanup_run"), dict) and "id" in data["cleanup_run"]
        legacy_marker = "cleanup_merged" in data and not isinstance(data["cleanup_merged"], dict)
        if not (names & data.keys()) and not legacy_cleanup and not legacy_marker:
            return data
        doc = dict(data)
        launches: dict[str, Any] = dict(doc.get("launches") or {})
        for kind in _LAUNCH_KINDS:
            launch: dict[str, Any] = dict(launches.get(kind) or {})
            marker = doc.pop(f"{kind}_dispatch", None)
            if isinstance(marker, dict):
                launch.update(at=marker.get("at"), previous=marker.get("previous"))
            previous = doc.pop(f"{kind}_previous", None)
            if previous is not None and launch.get("previous") is None:
                launch["previous"] = previous
            run_key = f"{kind}_run"
            if kind != "cleanup" and run_key in doc:
                launch.update(recorded=True, run_id=doc.pop(run_key))
            if launch:
                launches[kind] = launch
        doc["launches"] = launches
        if legacy_cleanup:
            old = doc["cleanup_run"]
            doc["cleanup_run"] = {
                "runId": old.get("id"),
                "url": old.get("url"),
                "status": old.get("status"),
                "conclusion": old.get("conclusion"),
            }
        if legacy_marker:
            doc["cleanup_merged"] = {"sha": doc["cleanup_merged"]}
        return doc


class BranchStep(StepModel):
    base: str
    head: str


class CreateSteps(Steps):
    source: str | None = None  # where the request came from (for events a resume records)
    branch: BranchStep | None = None
    commit_attempt: str | None = None  # the parent a commit was attempted on
    commit: str | None = None
    pr: int | None = None
    announced: bool = False  # the PR's webhook told the thread first


class UpdateSteps(Steps):
    config: dict[str, Any] = Field(default_factory=dict)
    revision: int = 0
    commit_attempt: str | None = None
    commit: str | None = None


class ReviewStep(StepModel):
    id: int
    login: str


class ApproveSteps(Steps):
    sha: str | None = None
    mode: Literal["review", "comment"] = "comment"
    review_started: datetime | None = None
    review: ReviewStep | None = None
    comment_started: bool = False
    comment: bool = False
    standing: ApprovalStanding | None = None


class MergeSteps(Steps):
    sha: str | None = None
    merged: str | None = None


class CleanupMerged(StepModel):
    sha: str | None = None  # None: merged by an earlier attempt (or by someone)


class CleanupBlocked(StepModel):
    head: str | None = None
    reason: str


class DestroyFailed(DocModel):
    reason: str | None = None
    run_id: int | None = None
    conclusion: str | None = None
    url: str | None = None


class RemovalPr(StepModel):
    number: int
    url: str | None = None
    head: str


class ReviewWanted(StepModel):
    head: str
    required: int | None = None
    via: str | None = None


class DestroySteps(Steps):
    """The destroy: removal PR, its approval, the targeted destroy (``launches.destroy``), the
    merge (``core/services/destroy.py``). The ``cleanup_*`` steps are a legacy destroy's (the
    cleanup workflow, ``core/services/cleanup_destroy.py``), kept for in-flight documents."""

    removal_branch: BranchStep | None = None
    commit_attempt: str | None = None  # the parent the deletion commit was tried on
    removal_commit: str | None = None
    removal_pr: RemovalPr | None = None
    removal_review_started: str | None = None  # the head a review as the linked user was asked for
    removal_review_wanted: ReviewWanted | None = None  # told once that a review is missing
    removal_reviewed: ApprovalStanding | None = None
    removal_merged: str | None = None
    removal_blocked: CleanupBlocked | None = None
    # legacy: the cleanup workflow's destroy
    cleanup_run: RunRef | None = None
    cleanup_merged: CleanupMerged | None = None
    cleanup_skipped: str | None = None
    cleanup_reviewed: str | None = None
    cleanup_blocked: CleanupBlocked | None = None
    failed: DestroyFailed | None = None


class PrepareDestroySteps(Steps):
    """Prepare destroy: the change lifting the request's held destroy guards (``fields``)."""

    fields: dict[str, Any] = Field(default_factory=dict)
    branch: BranchStep | None = None
    commit_attempt: str | None = None
    commit: str | None = None
    config: dict[str, Any] | None = None
    files: dict[str, str] | None = None
    pr: int | None = None


class OperationBase(DocModel):
    """What every operation has; ``steps`` is narrowed per kind by the subclasses."""

    kind: str
    key: str  # idempotency key of the intent (e.g. the Slack action id or "rev-3")
    started_at: datetime
    completed_at: datetime | None = None
    actor: str | None = None
    steps: Steps = Field(default_factory=Steps)
    error: str | None = None

    def lease_held(self, now: datetime, token: str) -> bool:
        """Another worker holds this operation's lease (an expired one is free)."""
        lease = self.steps.lease
        return lease is not None and lease.owner != token and lease.until > now

    def take(self, lease: Lease) -> None:
        self.steps.lease = lease
        self.error = None

    def release(self) -> None:
        """Paused: waiting for a fact, anyone may continue it."""
        self.steps.lease = None
        self.error = None

    def finish(self, now: datetime) -> None:
        self.completed_at, self.error = now, None
        self.steps.lease = None

    def fail(self, error: str) -> None:
        """Failed for now: the error is kept, the lease released so a retry continues at once."""
        self.error = error[:MAX_ERROR]
        self.steps.lease = None

    def end(self, error: str, now: datetime) -> None:
        """Closed without success, never resumed (a new intent starts over)."""
        self.fail(error)
        self.completed_at = now


class CreateOp(OperationBase):
    kind: Literal["create"] = "create"
    steps: CreateSteps = Field(default_factory=CreateSteps)


class UpdateOp(OperationBase):
    kind: Literal["update"] = "update"
    steps: UpdateSteps = Field(default_factory=UpdateSteps)


class ApproveOp(OperationBase):
    kind: Literal["approve"] = "approve"
    steps: ApproveSteps = Field(default_factory=ApproveSteps)


class MergeOp(OperationBase):
    kind: Literal["merge"] = "merge"
    steps: MergeSteps = Field(default_factory=MergeSteps)


class ApplyOp(OperationBase):
    kind: Literal["apply"] = "apply"


class ReplanOp(OperationBase):
    kind: Literal["replan"] = "replan"


class DestroyOp(OperationBase):
    kind: Literal["destroy"] = "destroy"
    steps: DestroySteps = Field(default_factory=DestroySteps)


class PrepareDestroyOp(OperationBase):
    kind: Literal["prepare_destroy"] = "prepare_destroy"
    steps: PrepareDestroySteps = Field(default_factory=PrepareDestroySteps)


class OtherOp(OperationBase):
    """An operation of a kind this code does not know: kept, never run."""

    KNOWN: ClassVar[frozenset[str]] = frozenset(OPERATION_KINDS)


def _kind_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) and kind in OtherOp.KNOWN else "other"


Operation = Annotated[
    Annotated[CreateOp, Tag("create")]
    | Annotated[UpdateOp, Tag("update")]
    | Annotated[ApproveOp, Tag("approve")]
    | Annotated[MergeOp, Tag("merge")]
    | Annotated[ApplyOp, Tag("apply")]
    | Annotated[ReplanOp, Tag("replan")]
    | Annotated[DestroyOp, Tag("destroy")]
    | Annotated[PrepareDestroyOp, Tag("prepare_destroy")]
    | Annotated[OtherOp, Tag("other")],
    Discriminator(_kind_tag),
]

OpT = TypeVar("OpT", bound=OperationBase)

OPERATION_TYPES: dict[str, type[OperationBase]] = dict(
    zip(
        OPERATION_KINDS,
        (CreateOp, UpdateOp, ApproveOp, MergeOp, ApplyOp, ReplanOp, DestroyOp, PrepareDestroyOp),
        strict=True,
    )
)


def new_operation(
    kind: str, *, key: str, started_at: datetime, actor: str | None = None, steps: Steps | None = None
) -> Operation:
    """A new operation of ``kind`` (its own steps type; ``steps`` when given must be of it)."""
    op_type = OPERATION_TYPES.get(kind)
    if op_type is None:
        raise ValueError(f"unknown operation kind {kind!r}")
    op = op_type(key=key, started_at=started_at, actor=actor)
    if steps is not None:
        op.steps = steps
    return cast("Operation", op)
