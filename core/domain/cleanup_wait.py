"""A legacy destroy waiting on the cleanup workflow: which destroy waits (``cleanup_waiter``)
and where it stands with the cleanup PR (``cleanup_stage``), read from the recorded facts.

A destroy dispatches the infra repo's cleanup workflow, which opens the cleanup PR on its own
time; the operation then waits, lease released, until that PR (or the run's end) is known.
Pure: the fold of facts (``core.domain.folding``) and the destroy's commands both read it.
"""

from __future__ import annotations

from enum import StrEnum

from core.domain.operation import DestroyOp
from core.domain.request import Request


class CleanupStage(StrEnum):
    WAITING = "waiting"  # the cleanup workflow has not opened its PR (or we have not heard)
    OPEN = "open"  # the cleanup PR is open at a known head: merge it
    MERGED = "merged"  # the cleanup PR is merged already (by us earlier, or by someone)
    CLOSED = "closed"  # the cleanup PR was closed without merging: the destroy cannot go on
    FINISHED = "finished"  # the cleanup run succeeded and no PR of it is known: look it up
    DONE = "done"  # past the cleanup PR


def _past_cleanup(op: DestroyOp) -> bool:
    return op.steps.cleanup_merged is not None or op.steps.cleanup_skipped is not None


def cleanup_waiter(request: Request) -> DestroyOp | None:
    """The unfinished destroy that dispatched the cleanup workflow and is not past its PR."""
    for op in request.pending("destroy"):
        if not isinstance(op, DestroyOp):
            continue
        started = op.steps.launch("cleanup") is not None or op.steps.cleanup_run is not None
        if started and not _past_cleanup(op):
            return op
    return None


def cleanup_stage(request: Request, op: DestroyOp) -> CleanupStage:
    """Where the destroy ``op`` stands with its cleanup PR (pure: from the recorded facts)."""
    if _past_cleanup(op):
        return CleanupStage.DONE
    pr = request.cleanup_pr
    if pr is not None and pr.number is not None:
        if pr.merged:
            return CleanupStage.MERGED
        if pr.open and pr.head_sha:
            return CleanupStage.OPEN
        if not pr.open:
            return CleanupStage.CLOSED
    run = op.steps.cleanup_run
    if run is not None and run.conclusion == "success":
        return CleanupStage.FINISHED
    return CleanupStage.WAITING
