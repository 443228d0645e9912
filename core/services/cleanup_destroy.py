"""``CleanupDestroy``: the destroy commands (``destroy``, ``prepare_destroy``). A new destroy
runs ``DestroyFlow`` (``core/services/destroy.py``: removal PR, its approval, the targeted
destroy with the file still on the base branch, then the merge). A destroy begun the old way,
through the infra repo's cleanup workflow (its PR removes the file; once merged the destroy
runs), finishes the old way here (``_run_destroy``), on the same typed ``DestroySteps``.
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain.commands import transition
from core.domain.destroy import guard_denial, is_legacy, waits_on_run
from core.domain.events import NewEvent, Reason
from core.domain.ids import cleanup_branch
from core.domain.lifecycle import derive_status, run_failed
from core.domain.operation import (
    CleanupBlocked,
    CleanupMerged,
    DestroyFailed,
    DestroyOp,
    OperationBase,
    PrepareDestroySteps,
)
from core.domain.policy import Action, Actor
from core.domain.request import CleanupPr, Request, RunRef
from core.domain.status import Status
from core.ports.code_host import CodeHostError, MergeBlocked, RepoRef
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.command_base import destroy_dispatched, repo_ref, set_fields
from core.services.destroy import DestroyFlow
from core.services.destroy_run import destroy_blocked
from core.services.dispatching import Dispatching
from core.services.operations import CleanupStage, Paused, cleanup_stage, operation_of, pending
from core.services.runs import merge_run


class CleanupDestroy(Dispatching):
    @property
    def _destroy_flow(self) -> DestroyFlow:
        return DestroyFlow(self)

    def destroy(
        self,
        request_id: str,
        actor: Actor,
        *,
        key: str | None = None,
        source: str = "slack",
        user_token: str | None = None,
    ) -> Request:
        """Destroy the request's resources, keeping code and state in agreement (``DestroyFlow``:
        removal PR, its approval, the targeted destroy with the file still on the base branch,
        then the merge). ``user_token`` (a linked admin's) makes the removal PR's approval a real
        GitHub review. A destroy begun the old way (the cleanup workflow) finishes the old way."""
        request = self._store.get(request_id)
        waiting = pending(request, "destroy")
        legacy = [op for op in waiting if is_legacy(op)]
        if legacy and any(awaiting_cleanup(request, op) for op in legacy):
            if request.operation("destroy", key or _destroy_key(request)) is None:
                self._gate.require(Action.DESTROY, request, actor, source)  # a new click is still checked
            return request  # a repeated click while the cleanup workflow works: nothing new to do
        cleanup = request.cleanup_pr
        # An old-style attempt that merged its cleanup PR (its destroy run failed) has the file gone
        # from the base branch already, so this attempt goes straight to destroy, the old way.
        old_cleanup_merged = (
            not waiting and cleanup is not None and cleanup.merged and (cleanup.branch or "").startswith("cleanup/")
        )
        if legacy or old_cleanup_merged:
            key = key or (legacy[0].key if legacy else _destroy_key(request))
            return self._operate(
                request_id,
                Action.DESTROY,
                key,
                actor,
                source,
                lambda b: self._run_destroy(b.request, b.key, actor, source),
            )
        if waiting and waits_on_run(request, waiting[0]) and request.operation("destroy", key or waiting[0].key):
            return request  # a repeated click while the destroy runs: nothing new to do
        if waiting:
            # A new click continues the unfinished destroy (after a crash, or once the admin linked
            # GitHub to review the removal PR); who clicks is still checked, the destroy under way aside.
            others = [op for op in request.operations if op.kind != "destroy" or op.completed_at is not None]
            self._gate.require(Action.DESTROY, request.model_copy(update={"operations": others}), actor, source)
            key = waiting[0].key
        else:
            key = key or _destroy_key(request)
            if request.operation("destroy", key) is None:
                refusal = guard_denial(self._destroy_flow.guards(request))
                if refusal is not None:
                    self._gate.refuse(request_id, "destroy", actor, refusal, source, version=request.version)
        return self._operate(
            request_id,
            Action.DESTROY,
            key,
            actor,
            source,
            lambda b: self._destroy_flow.run(b.request, b.key, actor, source, user_token),
        )

    def prepare_destroy(
        self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack"
    ) -> Request:
        """Open the reviewed change that lifts exactly the request's held destroy guards
        (``DestroyFlow.prepare``); allowed to whoever may destroy the request now."""
        request = self._store.get(request_id)
        unfinished = pending(request, "prepare_destroy")
        if not request.destroy_guards and not unfinished:
            # A document from before the guards were kept with the request: read them now.
            def kept(r: Request) -> Request:
                r.destroy_guards = self._destroy_flow.definition_guards(r.module)
                return r

            request = self._ops.update(request_id, kept)
        key = unfinished[0].key if unfinished else key or f"prepare_destroy:{request.revision}"

        def init(current: Request) -> PrepareDestroySteps:
            return PrepareDestroySteps(fields={g.field: g.safe for g in self._destroy_flow.guards(current)})

        return self._operate(
            request_id,
            Action.PREPARE_DESTROY,
            key,
            actor,
            source,
            lambda b: self._destroy_flow.prepare(b.request, b.key, actor, source),
            init=init,
        )

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
            timeline="Destroy requested",
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
            timeline="Cleanup PR merged",
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
                timeline="Cleanup PR blocked",
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
                timeline="Cleanup PR opened",
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
            timeline="Destroy failed",
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


def _destroy_key(request: Request) -> str:
    """``destroy`` for the first attempt; a new key after each attempt that failed, so a new
    click after a failure starts over while a repeated click joins the same attempt."""
    failed = 0
    for op in request.operations:
        if not isinstance(op, DestroyOp) or op.completed_at is None:
            continue
        launch = op.steps.launch("destroy")
        run_id = launch.run_id if launch is not None and launch.recorded else None
        destroy_failed = (
            run_id is not None
            and request.destroy_run is not None
            and request.destroy_run.run_id == run_id
            and run_failed(request.destroy_run)
        )
        if op.error or op.steps.failed is not None or destroy_failed:
            failed += 1
    return "destroy" if failed == 0 else f"destroy:retry-{failed}"


def awaiting_cleanup(request: Request, op: OperationBase) -> bool:
    """A destroy whose cleanup run is recorded and whose PR is not known yet: only a fact moves it."""
    return (
        isinstance(op, DestroyOp)
        and op.completed_at is None
        and op.steps.cleanup_run is not None
        and cleanup_stage(request, op) is CleanupStage.WAITING
    )


def _last_cleanup_run(request: Request) -> int | None:
    known = [
        op.steps.cleanup_run.run_id
        for op in request.operations
        if isinstance(op, DestroyOp) and op.steps.cleanup_run is not None and op.steps.cleanup_run.run_id is not None
    ]
    return max(known) if known else None


def _cleanup_number(request: Request) -> str:
    return str(request.cleanup_pr.number) if request.cleanup_pr and request.cleanup_pr.number else "?"
