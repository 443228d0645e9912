"""``LegacyCleanupSteps``: a destroy begun the old way, through the infra repo's cleanup workflow
(its PR removes the file; once merged, the destroy runs), finishes the old way here, on the same
typed ``DestroySteps``: dispatch the cleanup workflow, wait for its PR, review and merge it (or
say once why GitHub refuses), then dispatch the destroy; a failure ends the attempt. New
destroys run ``DestroyFlow`` (``core/services/destroy.py``); the commands are
``core/services/cleanup_destroy.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain.cleanup_wait import CleanupStage, cleanup_stage
from core.domain.commands import transition
from core.domain.events import NewEvent, Reason
from core.domain.ids import cleanup_branch
from core.domain.lifecycle import derive_status
from core.domain.operation import (
    CleanupBlocked,
    CleanupMerged,
    DestroyFailed,
    DestroyOp,
)
from core.domain.policy import Actor
from core.domain.request import CleanupPr, Request, RunRef
from core.domain.runs import merge_run
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from core.ports.code_host import CodeHostError, MergeBlocked, RepoRef
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.command_base import destroy_dispatched, repo_ref, set_fields
from core.services.destroy_run import destroy_blocked
from core.services.dispatching import Dispatching
from core.services.operations import Paused, operation_of


class LegacyCleanupSteps(Dispatching):
    def _run_destroy(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, repo_ref(request)
        base = request.target_base or "main"
        before = derive_status(request)
        steps = operation_of(request, DestroyOp, key).steps
        if steps.cleanup_run is None and steps.cleanup_merged is None and steps.cleanup_skipped is None:
            cleanup = request.cleanup_pr
            if cleanup is not None and cleanup.merged:
                # An earlier destroy merged the cleanup PR (its destroy run failed): the file is
                # gone from the base branch already, so this attempt goes straight to destroy.
                request = self._ops.record(rid, DestroyOp, key, _cleanup_merged(None))
            else:
                if cleanup is not None and not cleanup.open:
                    # A cleanup PR closed without merging is an earlier attempt's: forget it.
                    request = self._ops.record(rid, DestroyOp, key, change=lambda r: set_fields(r, cleanup_pr=None))
                request = self._dispatch_cleanup(request, key, base, actor, source, before)
        while True:
            op = operation_of(request, DestroyOp, key)
            if op.completed_at is not None:  # a failed cleanup run ended it meanwhile
                return request
            stage = cleanup_stage(request, op)
            if stage is CleanupStage.DONE:
                break
            if stage is CleanupStage.WAITING:
                request, paused = self._ops.pause(
                    rid,
                    DestroyOp,
                    key,
                    lambda r: cleanup_stage(r, operation_of(r, DestroyOp, key)) is not CleanupStage.WAITING,
                )
                if paused is not Paused.READY:
                    return request  # the cleanup PR's fact (or the reconciler) continues from here
            elif stage is CleanupStage.OPEN:
                try:
                    request = self._merge_cleanup(request, key, actor, source)
                except MergeBlocked as blocked:
                    return self._cleanup_blocked(request, key, before, actor, blocked)
            elif stage is CleanupStage.MERGED:
                request = self._ops.record(rid, DestroyOp, key, _cleanup_merged(None))
            elif stage is CleanupStage.FINISHED:
                request = self._find_cleanup_pr(request, key, repo, actor, source)
            else:  # CLOSED
                return self._end_destroy(
                    request, key, before, actor, f"cleanup PR #{_cleanup_number(request)} was closed without merging"
                )

        seen: dict[str, Status] = {}
        return self._dispatch(
            request,
            DestroyOp,
            key,
            "destroy",
            ref=base,
            actor=actor.id,
            observed=seen,
            finish=True,
            # Committed with the write recording the run, so the audit trail is never behind it.
            tell=lambda _w, r: [
                destroy_dispatched(r, actor.id, source, self._workflows.destroy),
                transition(r, "destroying", seen.get("before", before), actor.id, run=r.destroy_run, moved_only=True),
            ],
        )

    def _dispatch_cleanup(
        self, request: Request, key: str, base: str, actor: Actor, source: str, before: Status
    ) -> Request:
        """Dispatch the cleanup workflow on the base branch, once (after a crash: found first)."""
        rid = request.id
        previous = _last_cleanup_run(request)
        request, info = self._launch(request, DestroyOp, key, "cleanup", ref=base, previous=previous)
        run = RunRef(
            run_id=info.run_id if info else None,
            url=info.url if info else None,
            status=info.status if info else "requested",
            conclusion=info.conclusion if info else None,
        )

        def step(op: DestroyOp) -> None:
            known = op.steps.cleanup_run
            if info is not None and known is not None and known.run_id == info.run_id:
                # The run's webhook outran this write: keep what it said.
                op.steps.cleanup_run = merge_run(known, info) or known
            else:
                op.steps.cleanup_run = run

        files = list(request.target_files) or [f"tfpilot_{rid}.tf"]
        requested = NewEvent(
            name="destroy_requested",
            actor=actor.id,
            source=source,
            data={"workflow": self._workflows.cleanup, "runId": run.run_id, "url": run.url},
        )
        return self._ops.record(
            rid,
            DestroyOp,
            key,
            step,
            timeline=TimelineCode.DESTROY_REQUESTED,
            actor=actor.id,
            events=[requested],
            tell=lambda _w, r: [
                Transition(
                    event="destroy_requested",
                    previous_status=before.value,
                    status=derive_status(r).value,
                    actor=actor.id,
                    reasons=(
                        Reason(code="cleanup_destroy_requested", data={"files": files, "branch": cleanup_branch(rid)}),
                    ),
                    run_url=run.url,
                )
            ],
        )

    def _merge_cleanup(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        """Merge the cleanup PR at the head its fact reported (a moved head is refused)."""
        rid, repo = request.id, repo_ref(request)
        pr = request.cleanup_pr
        assert pr is not None and pr.number is not None and pr.head_sha  # cleanup_stage said OPEN
        number, head = pr.number, pr.head_sha
        title = pr_text.cleanup_title(request)
        try:
            result = self._code_host.merge_pull_request(repo, number, sha=head, title=title)
        except MergeBlocked as blocked:
            reviewed = (
                self._review_cleanup(request, key, repo, number, head, actor) if blocked.reason == "reviews" else None
            )
            if reviewed is None:
                raise
            request = reviewed
            result = self._code_host.merge_pull_request(repo, number, sha=head, title=title)
        if not result.merged:
            raise CodeHostError(f"GitHub did not merge cleanup PR #{number}: {result.message or 'no reason'}")

        def merged(r: Request) -> None:
            if r.cleanup_pr is not None and r.cleanup_pr.number == number:
                r.cleanup_pr = r.cleanup_pr.model_copy(update={"merged": True, "open": False, "status": "merged"})

        return self._ops.record(
            rid,
            DestroyOp,
            key,
            _cleanup_merged(result.sha),
            change=merged,
            timeline=TimelineCode.CLEANUP_PR_MERGED,
            actor=actor.id,
            events=[
                NewEvent(
                    name="cleanup_pr_merged", actor=actor.id, source=source, data={"number": number, "sha": result.sha}
                )
            ],
        )

    def _review_cleanup(
        self, request: Request, key: str, repo: RepoRef, number: int, head: str, actor: Actor
    ) -> Request | None:
        """GitHub refused the cleanup PR for want of reviews: the app approves it (the workflow
        opened it, so the review is not the author's and GitHub counts it) once per head, since
        the destroy was authorised by TfPilot's policy and the PR only removes the request's
        file. None when already done for this head or the review is refused (the app authored
        the PR, or may not review): the refusal then stands."""
        if operation_of(request, DestroyOp, key).steps.cleanup_reviewed == head:
            return None
        request = self._ops.record(request.id, DestroyOp, key, lambda op: op.steps.set(cleanup_reviewed=head))
        try:
            self._code_host.submit_review(
                repo, number, commit_sha=head, body=pr_text.cleanup_review_body(request, who=actor.name or actor.id)
            )
        except CodeHostError as exc:
            refused = NewEvent(
                name="cleanup_review_refused", actor=actor.id, source="tfpilot", data={"error": str(exc)[:300]}
            )
            self._bus.record(request.id, refused, version=request.version, key=head)
            return None
        return request

    def _cleanup_blocked(
        self, request: Request, key: str, before: Status, actor: Actor, blocked: MergeBlocked
    ) -> Request:
        """GitHub refuses to merge the cleanup PR for a lasting reason (its protection wants a
        review, a check failed...): say so in the thread once per PR head and reason, and leave
        the destroy pending (lease released) for a Destroy click or the reconciler once fixed."""
        rid, pr = request.id, request.cleanup_pr
        head = pr.head_sha if pr else None
        said = CleanupBlocked(head=head, reason=blocked.reason)
        told = operation_of(request, DestroyOp, key).steps.cleanup_blocked
        if told != said:
            refused, tell = destroy_blocked(
                blocked, actor, pr.number if pr else None, pr.url if pr else None, before=before
            )
            request = self._ops.record(
                rid,
                DestroyOp,
                key,
                lambda op: op.steps.set(cleanup_blocked=said),
                timeline=TimelineCode.CLEANUP_PR_BLOCKED,
                events=[refused],
                tell=tell,
            )
        self._ops.fail(rid, "destroy", key, f"MergeBlocked: {blocked}")
        return request

    def _find_cleanup_pr(self, request: Request, key: str, repo: RepoRef, actor: Actor, source: str) -> Request:
        """The cleanup run succeeded but no PR of it reached us: ask the host once. None open
        (or merged) means the workflow found nothing to remove (the file is not on the base
        branch), and the destroy goes on (it reads the file from history)."""
        rid = request.id
        info = self._code_host.find_pull_request(repo, cleanup_branch(rid))
        if info is not None and (info.state == "open" or info.merged):
            found = CleanupPr(
                number=info.number,
                url=info.url,
                open=info.state == "open" and not info.merged,
                merged=info.merged,
                status="merged" if info.merged else "open",
                head_sha=info.head_sha,
                branch=info.head_ref,
            )
            opened = NewEvent(
                name="cleanup_pr_opened", actor=actor.id, source=source, data={"number": info.number, "url": info.url}
            )
            return self._ops.record(
                rid,
                DestroyOp,
                key,
                change=lambda r: set_fields(r, cleanup_pr=found),
                timeline=TimelineCode.CLEANUP_PR_OPENED,
                events=[opened],
            )
        reason = f"the cleanup workflow found no {', '.join(request.target_files) or 'file'} to remove"
        skipped = NewEvent(name="cleanup_not_needed", actor=actor.id, source=source, data={"reason": reason})
        return self._ops.record(rid, DestroyOp, key, lambda op: op.steps.set(cleanup_skipped=reason), events=[skipped])

    def _end_destroy(self, request: Request, key: str, before: Status, actor: Actor, error: str) -> Request:
        return self._ops.end(
            request.id,
            DestroyOp,
            key,
            error,
            lambda op: op.steps.set(failed=DestroyFailed(reason=error)),
            timeline=TimelineCode.DESTROY_FAILED,
            events=[NewEvent(name="destroy_failed", actor=actor.id, source="tfpilot", data={"error": error})],
            tell=lambda _w, r: [
                Transition(
                    event="destroy_failed",
                    previous_status=before.value,
                    status=derive_status(r).value,
                    actor=actor.id,
                    reasons=(Reason(code="destroy_stopped", data={"error": error}),),
                    run_url=r.cleanup_pr.url if r.cleanup_pr else None,
                )
            ],
        )


def _cleanup_merged(sha: str | None) -> Callable[[DestroyOp], None]:
    def step(op: DestroyOp) -> None:
        op.steps.cleanup_merged = CleanupMerged(sha=sha)

    return step


def _last_cleanup_run(request: Request) -> int | None:
    known = [
        op.steps.cleanup_run.run_id
        for op in request.operations
        if isinstance(op, DestroyOp) and op.steps.cleanup_run is not None and op.steps.cleanup_run.run_id is not None
    ]
    return max(known) if known else None


def _cleanup_number(request: Request) -> str:
    return str(request.cleanup_pr.number) if request.cleanup_pr and request.cleanup_pr.number else "?"
