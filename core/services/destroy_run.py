"""The destroy operation's run and after: dispatch the targeted destroy on the base branch, end a
failed attempt (the removal PR stays open), merge the removal PR once the destroy succeeded (or
say once why GitHub refuses it), archive. The steps before (guards, the removal PR, its review
and plan) are ``core.services.destroy.DestroyFlow``'s, which continues here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.commands import record_removal_merged, transition
from core.domain.destroy import Stage, removal_stage
from core.domain.events import NewEvent
from core.domain.lifecycle import derive_status
from core.domain.operation import CleanupBlocked, DestroyFailed, DestroyOp, RemovalPr
from core.domain.request import Request
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from core.ports.code_host import CodeHostError, MergeBlocked
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.command_base import destroy_dispatched, repo_ref
from core.services.operations import Tell, operation_of

if TYPE_CHECKING:
    from core.domain.policy import Actor
    from core.services.dispatching import Dispatching as RequestService


class DestroyRun:
    """The destroy's steps from the run on, for ``RequestService`` (which owns the ports)."""

    def __init__(self, svc: RequestService) -> None:
        self._svc = svc

    def run_destroy(self, request: Request, key: str, actor: Actor, source: str, before: Status) -> Request:
        """Dispatch the destroy workflow on the base branch (the request's file is still there)."""
        svc = self._svc
        seen: dict[str, Status] = {}
        return svc._dispatch(
            request,
            DestroyOp,
            key,
            "destroy",
            ref=request.target_base or "main",
            actor=actor.id,
            observed=seen,
            # The operation then waits for the run: the same write releases the lease, unless the
            # run's end was folded first (``Ops.pause``'s check, in the same compare-and-swap).
            pause=lambda r: removal_stage(r, operation_of(r, DestroyOp, key)) is Stage.RUNNING,
            # Committed with the write recording the run, so the audit trail is never behind it.
            tell=lambda _w, r: [
                destroy_dispatched(r, actor.id, source, svc._workflows.destroy),
                transition(r, "destroying", seen.get("before", before), actor.id, run=r.destroy_run, moved_only=True),
            ],
        )

    def end_failed(self, request: Request, key: str, actor: Actor) -> Request:
        """The destroy run failed (its reply is the sync's): end the attempt, keep the removal PR open."""
        run = request.destroy_run
        # Recorded as data: the run, its conclusion and its first diagnostic (the runner's or
        # Terraform's words); whoever shows the failure words it.
        first = run.diagnostics[0].summary[:500] if run is not None and run.diagnostics else None
        conclusion = (run.conclusion if run else None) or "failure"
        run_id = run.run_id if run else None
        removal = operation_of(request, DestroyOp, key).steps.removal_pr
        number = removal.number if removal is not None else None
        failed = NewEvent(
            name="destroy_failed",
            actor=actor.id,
            source="tfpilot",
            data={
                "runId": run_id,
                "conclusion": conclusion,
                "error": first or conclusion,
                "removalPr": number,
                "removalPrLeft": "open",
            },
        )
        record = DestroyFailed(run_id=run_id, conclusion=conclusion, url=run.url if run else None, reason=first)
        return self._svc._ops.end(
            request.id,
            DestroyOp,
            key,
            first or conclusion,
            lambda op: op.steps.set(failed=record),
            events=[failed],
        )

    def merge_removal(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        """The destroy succeeded: merge the removal PR at the head that was approved."""
        svc, rid, repo = self._svc, request.id, repo_ref(request)
        pr = removal_pr(request, key)
        number, head = pr.number, pr.head
        result = svc._code_host.merge_pull_request(repo, number, sha=head, title=pr_text.cleanup_title(request))
        if not result.merged:
            raise CodeHostError(f"GitHub did not merge removal PR #{number}: {result.message or 'no reason'}")

        merged_sha = result.sha or head
        return svc._command(
            rid,
            DestroyOp,
            key,
            lambda r: record_removal_merged(r, number=number, sha=result.sha, actor=actor.id, source=source),
            lambda op: op.steps.set(removal_merged=merged_sha),
            finish=True,
            timeline=TimelineCode.REMOVAL_PR_MERGED,
            actor=actor.id,
        )

    def merge_blocked(self, request: Request, key: str, actor: Actor, blocked: MergeBlocked) -> Request:
        """GitHub refuses the removal PR's merge for a lasting reason: told once per head and
        reason; the operation stays pending (the reconciler, or a fix and its webhook, retries)."""
        svc, rid = self._svc, request.id
        pr = removal_pr(request, key)
        said = CleanupBlocked(head=pr.head, reason=blocked.reason)
        if operation_of(request, DestroyOp, key).steps.removal_blocked != said:
            refused, tell = destroy_blocked(blocked, actor, pr.number, pr.url, before=None)
            request = svc._ops.record(
                rid,
                DestroyOp,
                key,
                lambda op: op.steps.set(removal_blocked=said),
                timeline=TimelineCode.REMOVAL_PR_BLOCKED,
                events=[refused],
                tell=tell,
            )
        svc._ops.fail(rid, "destroy", key, f"MergeBlocked: {blocked}")
        return request

    def archive(self, request: Request, source: str) -> Request:
        """Destroyed and its removal merged: the document moves to ``history/``."""
        if derive_status(request) is not Status.DESTROYED or request.archived_at is not None:
            return request
        return self._svc._bus.archive(self._svc._store, request, source=source)


def destroy_blocked(
    blocked: MergeBlocked, actor: Actor, number: int | None, url: str | None, *, before: Status | None
) -> tuple[NewEvent, Tell]:
    """The ``destroy_blocked`` record and notice of a removal (or legacy cleanup) PR GitHub will
    not merge for a lasting reason; ``before`` None: the status is unchanged by the write."""
    refused = NewEvent(
        name="destroy_blocked",
        actor=actor.id,
        source="tfpilot",
        data={"number": number, "reason": blocked.reason, "message": str(blocked)[:500]},
    )

    def tell(_written: Status, request: Request) -> list[Transition]:
        now = derive_status(request).value
        return [
            Transition(
                event="destroy_blocked",
                previous_status=before.value if before is not None else now,
                status=now,
                actor=actor.id,
                message=str(blocked)[:500],
                run_url=url,
                blocked=blocked.reason,
                required_approvals=blocked.required_approvals,
            )
        ]

    return refused, tell


def removal_pr(request: Request, key: str) -> RemovalPr:
    pr = operation_of(request, DestroyOp, key).steps.removal_pr
    if pr is None:  # pragma: no cover - removal_stage said it is recorded
        raise LookupError(f"{request.id}: destroy {key!r} has no removal PR recorded")
    return pr
