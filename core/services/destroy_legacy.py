"""Destroys begun before the removal-PR flow: the infra repo's cleanup workflow first.

A destroy operation recorded by an earlier TfPilot holds cleanup steps (``cleanup_dispatch``,
``cleanup_run``, ...): the cleanup workflow opened a PR removing the request's file, TfPilot
merged it, then dispatched the destroy workflow. That order is what let a failed destroy leave
state without code (docs/lifecycle.md), so no new destroy starts this way; an in-flight one
finishes (or fails clearly) the way it began. ``RequestService`` delegates here for those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.domain.ids import cleanup_branch
from core.domain.lifecycle import derive_status
from core.domain.request import CleanupPr, Operation, Request
from core.domain.status import Status
from core.ports.code_host import CodeHostError, MergeBlocked, RepoRef, RunInfo
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.fold import cleanup_run_step
from core.services.operations import CleanupStage, Paused, cleanup_stage

if TYPE_CHECKING:
    from core.domain.policy import Actor
    from core.services.requests import RequestService


class LegacyDestroy:
    """The cleanup-workflow destroy's steps, run for ``RequestService`` (which owns the ports)."""

    def __init__(self, svc: RequestService) -> None:
        self._svc = svc

    def run(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, _repo(request)
        base = request.target_base or "main"
        before = derive_status(request)
        steps = _op(request, "destroy", key).steps
        if "cleanup_run" not in steps and not any(s in steps for s in ("cleanup_merged", "cleanup_skipped")):
            cleanup = request.cleanup_pr
            if cleanup is not None and cleanup.merged:
                # An earlier destroy merged the cleanup PR (its destroy run failed): the file is
                # gone from the base branch already, so this attempt goes straight to destroy.
                request = self._svc._ops.record(rid, "destroy", key, {"cleanup_merged": None})
            else:
                if cleanup is not None and not cleanup.open:
                    # A cleanup PR closed without merging is an earlier attempt's: forget it.
                    request = self._svc._ops.record(rid, "destroy", key, {}, change=lambda r: _set(r, cleanup_pr=None))
                request = self._dispatch_cleanup(request, key, base, actor, source, before)
        while True:
            op = _op(request, "destroy", key)
            if op.completed_at is not None:  # a failed cleanup run ended it meanwhile
                return request
            stage = cleanup_stage(request, op)
            if stage is CleanupStage.DONE:
                break
            if stage is CleanupStage.WAITING:
                request, paused = self._svc._ops.pause(
                    rid, "destroy", key, lambda r: cleanup_stage(r, _op(r, "destroy", key)) is not CleanupStage.WAITING
                )
                if paused is not Paused.READY:
                    return request  # the cleanup PR's fact (or the reconciler) continues from here
            elif stage is CleanupStage.OPEN:
                try:
                    request = self._merge_cleanup(request, key, actor, source)
                except MergeBlocked as blocked:
                    return self._cleanup_blocked(request, key, before, actor, blocked)
            elif stage is CleanupStage.MERGED:
                request = self._svc._ops.record(rid, "destroy", key, {"cleanup_merged": None})
            elif stage is CleanupStage.FINISHED:
                request = self._find_cleanup_pr(request, key, repo, actor, source)
            else:  # CLOSED
                return self._end_destroy(
                    request, key, before, actor, f"cleanup PR #{_cleanup_number(request)} was closed without merging"
                )

        def dispatched(info: RunInfo | None) -> None:
            # Logged before the run is recorded, so the audit trail is never behind a status of
            # destroying (after a crash right here, a resume logs it again: at least once).
            data = {"runId": info.run_id if info else None, "url": info.url if info else None}
            self._svc._audit.record(
                rid,
                "destroy_dispatched",
                actor=actor.id,
                source=source,
                data={**data, "workflow": self._svc._workflows.destroy},
            )

        seen: dict[str, Status] = {}
        request = self._svc._dispatch(
            request, "destroy", key, "destroy", ref=base, actor=actor.id, on_run=dispatched, observed=seen
        )
        request = self._svc._ops.record(rid, "destroy", key, {}, finish=True)
        self._svc._notify(
            request, "destroying", seen.get("before", before), actor.id, run=request.destroy_run, moved_only=True
        )
        return request

    def _dispatch_cleanup(
        self, request: Request, key: str, base: str, actor: Actor, source: str, before: Status
    ) -> Request:
        """Dispatch the cleanup workflow on the base branch, once (after a crash: found first)."""
        rid = request.id
        previous = _last_cleanup_run(request)
        request, info = self._svc._launch(request, "destroy", key, "cleanup", ref=base, previous=previous)
        run = {
            "id": info.run_id if info else None,
            "url": info.url if info else None,
            "status": info.status if info else "requested",
            "conclusion": info.conclusion if info else None,
        }

        def change(r: Request) -> None:
            op = _op(r, "destroy", key)
            known = op.steps.get("cleanup_run")
            if info is not None and isinstance(known, dict) and known.get("id") == info.run_id:
                # The run's webhook outran this write: keep what it said.
                op.steps["cleanup_run"] = cleanup_run_step(known, info) or known
            else:
                op.steps["cleanup_run"] = run

        request = self._svc._ops.record(
            rid, "destroy", key, {}, change=change, timeline="Destroy requested", actor=actor.id
        )
        files = ", ".join(request.target_files) or f"tfpilot_{rid}.tf"
        self._svc._audit.record(
            rid,
            "destroy_requested",
            actor=actor.id,
            source=source,
            data={"workflow": self._svc._workflows.cleanup, "runId": run["id"], "url": run["url"]},
        )
        self._svc._notifier.request_changed(
            request,
            Transition(
                event="destroy_requested",
                previous_status=before.value,
                status=derive_status(request).value,
                actor=actor.id,
                message=(
                    f"The cleanup workflow removes {files} on {cleanup_branch(rid)} and opens a pull request; "
                    "TfPilot merges it, then runs destroy."
                ),
                run_url=run["url"],
            ),
        )
        return request

    def _merge_cleanup(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        """Merge the cleanup PR at the head its fact reported (a moved head is refused)."""
        rid, repo = request.id, _repo(request)
        pr = request.cleanup_pr
        assert pr is not None and pr.number is not None and pr.head_sha  # cleanup_stage said OPEN
        number, head = pr.number, pr.head_sha
        title = pr_text.cleanup_title(request)
        try:
            result = self._svc._code_host.merge_pull_request(repo, number, sha=head, title=title)
        except MergeBlocked as blocked:
            reviewed = (
                self._review_cleanup(request, key, repo, number, head, actor) if blocked.reason == "reviews" else None
            )
            if reviewed is None:
                raise
            request = reviewed
            result = self._svc._code_host.merge_pull_request(repo, number, sha=head, title=title)
        if not result.merged:
            raise CodeHostError(f"GitHub did not merge cleanup PR #{number}: {result.message or 'no reason'}")

        def merged(r: Request) -> None:
            if r.cleanup_pr is not None and r.cleanup_pr.number == number:
                r.cleanup_pr = r.cleanup_pr.model_copy(update={"merged": True, "open": False, "status": "merged"})

        request = self._svc._ops.record(
            rid,
            "destroy",
            key,
            {"cleanup_merged": result.sha},
            change=merged,
            timeline="Cleanup PR merged",
            actor=actor.id,
        )
        self._svc._audit.record(
            rid, "cleanup_pr_merged", actor=actor.id, source=source, data={"number": number, "sha": result.sha}
        )
        return request

    def _review_cleanup(
        self, request: Request, key: str, repo: RepoRef, number: int, head: str, actor: Actor
    ) -> Request | None:
        """GitHub refused the cleanup PR for want of reviews: the app approves it (the workflow
        opened it, so the review is not the author's and GitHub counts it) once per head, since
        the destroy was authorised by TfPilot's policy and the PR only removes the request's
        file. None when already done for this head or the review is refused (the app authored
        the PR, or may not review): the refusal then stands."""
        if _op(request, "destroy", key).steps.get("cleanup_reviewed") == head:
            return None
        request = self._svc._ops.record(request.id, "destroy", key, {"cleanup_reviewed": head})
        try:
            self._svc._code_host.submit_review(
                repo, number, commit_sha=head, body=pr_text.cleanup_review_body(request, who=actor.name or actor.id)
            )
        except CodeHostError as exc:
            self._svc._audit.record(
                request.id, "cleanup_review_refused", actor=actor.id, source="tfpilot", data={"error": str(exc)[:300]}
            )
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
        said = {"head": head, "reason": blocked.reason}
        told = _op(request, "destroy", key).steps.get("cleanup_blocked")
        if told != said:
            request = self._svc._ops.record(
                rid, "destroy", key, {"cleanup_blocked": said}, timeline="Cleanup PR blocked"
            )
            self._svc._audit.record(
                rid,
                "destroy_blocked",
                actor=actor.id,
                source="tfpilot",
                data={"number": pr.number if pr else None, "reason": blocked.reason, "message": str(blocked)[:500]},
            )
            self._svc._notifier.request_changed(
                request,
                Transition(
                    event="destroy_blocked",
                    previous_status=before.value,
                    status=derive_status(request).value,
                    actor=actor.id,
                    message=str(blocked)[:500],
                    run_url=pr.url if pr else None,
                    blocked=blocked.reason,
                    required_approvals=blocked.required_approvals,
                ),
            )
        self._svc._ops.fail(rid, "destroy", key, f"MergeBlocked: {blocked}")
        return request

    def _find_cleanup_pr(self, request: Request, key: str, repo: RepoRef, actor: Actor, source: str) -> Request:
        """The cleanup run succeeded but no PR of it reached us: ask the host once. None open
        (or merged) means the workflow found nothing to remove (the file is not on the base
        branch), and the destroy goes on (it reads the file from history)."""
        rid = request.id
        info = self._svc._code_host.find_pull_request(repo, cleanup_branch(rid))
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
            self._svc._audit.record(
                rid, "cleanup_pr_opened", actor=actor.id, source=source, data={"number": info.number, "url": info.url}
            )
            return self._svc._ops.record(
                rid, "destroy", key, {}, change=lambda r: _set(r, cleanup_pr=found), timeline="Cleanup PR opened"
            )
        reason = f"the cleanup workflow found no {', '.join(request.target_files) or 'file'} to remove"
        self._svc._audit.record(rid, "cleanup_not_needed", actor=actor.id, source=source, data={"reason": reason})
        return self._svc._ops.record(rid, "destroy", key, {"cleanup_skipped": reason})

    def _end_destroy(self, request: Request, key: str, before: Status, actor: Actor, error: str) -> Request:
        request = self._svc._ops.end(
            request.id, "destroy", key, error, {"failed": {"reason": error}}, timeline="Destroy failed"
        )
        self._svc._audit.record(request.id, "destroy_failed", actor=actor.id, source="tfpilot", data={"error": error})
        self._svc._notifier.request_changed(
            request,
            Transition(
                event="destroy_failed",
                previous_status=before.value,
                status=derive_status(request).value,
                actor=actor.id,
                message=f"Destroy stopped: {error}. Nothing was destroyed; Destroy again to retry.",
                run_url=request.cleanup_pr.url if request.cleanup_pr else None,
            ),
        )
        return request


def _op(request: Request, kind: str, key: str) -> Any:
    op = request.operation(kind, key)
    if op is None:  # pragma: no cover - begin() created it
        raise LookupError(f"{request.id} has no {kind} operation {key!r}")
    return op


def _set(request: Request, **values: Any) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def _repo(request: Request) -> RepoRef:
    if not request.target_owner or not request.target_repo:
        raise CodeHostError(f"{request.id} has no target repository recorded")
    return RepoRef(owner=request.target_owner, name=request.target_repo)


def awaiting_cleanup(request: Request, op: Operation) -> bool:
    """A destroy whose cleanup run is recorded and whose PR is not known yet: only a fact moves it."""
    return (
        op.kind == "destroy"
        and op.completed_at is None
        and "cleanup_run" in op.steps
        and cleanup_stage(request, op) is CleanupStage.WAITING
    )


def _last_cleanup_run(request: Request) -> int | None:
    ids = [
        op.steps["cleanup_run"].get("id")
        for op in request.operations
        if op.kind == "destroy" and isinstance(op.steps.get("cleanup_run"), dict)
    ]
    known = [i for i in ids if isinstance(i, int)]
    return max(known) if known else None


def _cleanup_number(request: Request) -> str:
    return str(request.cleanup_pr.number) if request.cleanup_pr and request.cleanup_pr.number else "?"
