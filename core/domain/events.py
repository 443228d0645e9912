"""Domain events: what a change to a request did, committed in the same write as the change.

A change to a request (a command's step, a folded fact) appends its events to the document's
``outbox`` (``emit``) inside the store's compare-and-swap, so the document and its events land
together or not at all. After the write, ``core.services.messagebus.MessageBus`` hands each
event to its handlers: the audit log (one record per event, keyed by request id + document
version + index, so a replay writes nothing new), the notifier (``notice``: the ``Transition``
to tell, once per event) and continuations (``resume``: continue the request's operations).

An event's ``version`` is the document version that committed it (the store increments the
version by one per write, so a mutation of version ``n`` commits events of ``n + 1``); ``index``
orders the events of one write. Handled events leave the outbox with a later write (see
``MessageBus.prune``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.domain.fact_reasons import FactReason, JobFailure
from core.domain.protection import ApprovalStanding, MergeBlockReason

if TYPE_CHECKING:
    from core.domain.request import Request


# Why a notice is told, as a code and its data: the sentence people read is written by the views
# (``bot.views.reasons``), never in core.
ReasonCode = Literal[
    "pr_closed",  # number: the request's PR was closed without merging
    "pr_reopened",  # number
    "destroy_stopped",  # error: the destroy attempt ended before destroying anything
    "cleanup_run_failed",  # runId, conclusion: the cleanup workflow failed, the destroy attempt ended
    "cleanup_destroy_requested",  # files, branch: the legacy cleanup workflow was dispatched
    "removal_destroy_requested",  # number, files, base: the removal PR was opened
    "destroy_prepare",  # number, lifted: [[field, value], ...]: the prepare PR was opened
]


class Reason(BaseModel):
    """One typed reason of a notice (see ``ReasonCode`` for each code's data)."""

    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    data: dict[str, Any] = Field(default_factory=dict)


class Transition(BaseModel):
    """What to tell people: the status move and the event that caused it (the Notifier's input).

    ``message`` carries text that came from outside (GitHub's refusal, a drift summary); ``facts``
    (what the folds of facts did) and ``failed`` (where a failed run failed) are typed and said by
    the views in its place; ``reasons`` are TfPilot's own, rendered by the views after them."""

    model_config = ConfigDict(frozen=True)

    event: str  # created | plan_ready | failed | approved | merged | applying | applied |
    # destroying | destroyed | drift_detected | updated | planning | blocked |
    # approval_not_counted | merge_blocked | destroy_blocked
    previous_status: str | None
    status: str
    actor: str | None = None
    message: str | None = None
    facts: tuple[FactReason, ...] = ()
    failed: JobFailure | None = None
    reasons: tuple[Reason, ...] = ()
    run_url: str | None = None
    # approve: whether this approval satisfies the base branch's required reviews.
    approval: ApprovalStanding | None = None
    # merge_blocked / destroy_blocked: the lasting reason GitHub refused the merge.
    blocked: MergeBlockReason | None = None
    required_approvals: int = 0


class NewEvent(BaseModel):
    """An event a change will commit (``emit`` numbers it inside the write)."""

    model_config = ConfigDict(frozen=True)

    name: str  # the audit event's name when ``audit`` is set
    actor: str | None = None
    source: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    audit: bool = True
    notice: Transition | None = None
    resume: bool = False


class DomainEvent(NewEvent):
    """One event of one write, as committed in the outbox (unknown keys kept, like the document)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    version: int
    index: int
    at: datetime

    @property
    def id(self) -> str:
        """Stable across replays: the same event of the same write has the same id."""
        return f"v{self.version:08d}-{self.index:03d}"


def emit(request: Request, new: NewEvent, *, at: datetime, version: int | None = None) -> DomainEvent:
    """Append ``new`` to ``request``'s outbox, committed with the write being prepared (the
    store's next version; ``version=1`` for a document being created), numbered in that write."""
    version = version if version is not None else request.version + 1
    index = sum(1 for event in request.outbox if event.version == version)
    event = DomainEvent(version=version, index=index, at=at, **new.model_dump())
    request.outbox.append(event)
    return event


def notice(transition: Transition) -> NewEvent:
    """An event that tells people (and is no audit record of its own)."""
    return NewEvent(name=transition.event, actor=transition.actor, audit=False, notice=transition)


def emit_all(request: Request, events: Sequence[NewEvent], *, at: datetime, version: int | None = None) -> None:
    for new in events:
        emit(request, new, at=at, version=version)
