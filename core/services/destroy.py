"""Destroy: removal PR first, the targeted destroy with the code still present, then the merge.

The order is what keeps code and state in agreement at every step (docs/lifecycle.md):

1. **Guards.** A destroy is refused (``destroy_blocked``, with what must change first) while a
   module's destroy guard that always blocks holds for the request's config (deletion or
   termination protection): AWS would refuse the delete half-way.
2. **Removal PR** (``open_removal``): branch ``destroy/<id>`` from the base head, one commit
   deleting the request's file(s), a PR into the base branch. Nothing is destroyed yet.
3. **Approval** (``review_removal``): a review as the clicking admin when their GitHub account
   is linked; then the base branch's protection decides (``approval_check.standing_of``). When
   GitHub would refuse the merge, the thread says so once and the destroy waits for a review of
   the removal PR (its webhook continues it) or a Destroy click by a linked admin.
4. **Destroy** (``run_destroy``): the destroy workflow on the base branch, where the file still
   is, so it targets exactly the request's blocks. Its preflight refuses before deleting
   anything when AWS would refuse; a destroy failing part-way re-applies the request's targets.
5. **Merge** (``merge_removal``), only after the destroy run succeeded: the code no longer
   declares what the state no longer holds. Then the request is archived.

A failed destroy run ends the attempt (``failed`` step); the removal PR stays open and the next
Destroy click reuses it (same branch, same PR) and runs the destroy again. Each step's result
is recorded before the next starts (``Operations``), so a crash resumes, never repeats.

Steps 1-3 (and the loop that walks them) are here; 4, 5 and the end of a failed attempt are
``core.services.destroy_run.DestroyRun``'s, which ``DestroyFlow`` extends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.commands import begin_destroy
from core.domain.destroy import (
    REMOVAL_PREFIX,
    HeldGuard,
    Stage,
    held_guards,
    removal_branch,
    removal_outdated,
    removal_stage,
)
from core.domain.events import NewEvent
from core.domain.lifecycle import derive_status
from core.domain.operation import (
    BranchStep,
    DestroyOp,
    RemovalPr,
    ReviewWanted,
)
from core.domain.request import CleanupPr, Request
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from core.ports.code_host import CodeHostError, MergeBlocked
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.approval_check import standing_of
from core.services.command_base import repo_ref
from core.services.destroy_prepare import prepare_destroy
from core.services.destroy_run import DestroyRun, removal_pr
from core.services.operations import Mark, Paused, operation_of
from module_registry.definition import DestroyGuard

if TYPE_CHECKING:
    from core.domain.policy import Actor


class DestroyFlow(DestroyRun):
    """The destroy operation's steps, run for ``RequestService`` (which owns the ports)."""

    # -- guards ---------------------------------------------------------------------------

    def definition_guards(self, module: str) -> list[DestroyGuard]:
        """The module definition's destroy guards (none when the registry has no definitions)."""
        get = getattr(self._svc._registry, "get", None)
        if get is None:  # a registry stand-in without definitions
            return []
        try:
            definition = get(module)
        except Exception:  # an unknown module (removed from the registry): no guards known
            return []
        return list(getattr(definition, "destroy_guards", []) or [])

    def guards(self, request: Request) -> list[HeldGuard]:
        """The destroy guards that hold for the request's applied config (its validated config
        holds every default; a document from before the guards were kept reads the registry)."""
        guards = request.destroy_guards or self.definition_guards(request.module)
        return held_guards(guards, request.config, {})

    # -- prepare: the reviewed change lifting the guards (``core.services.destroy_prepare``) --

    def prepare(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        """Open and plan the change lifting the request's held destroy guards."""
        return prepare_destroy(self._svc, request, key, actor, source)

    # -- the flow -------------------------------------------------------------------------

    def run(self, request: Request, key: str, actor: Actor, source: str, user_token: str | None) -> Request:
        """Continue the destroy ``key`` from wherever its recorded steps say it stands."""
        svc, rid = self._svc, request.id
        before = derive_status(request)
        request = self._adopt_open_removal(request, key)
        while True:
            stage = removal_stage(request, operation_of(request, DestroyOp, key))
            if stage is Stage.OPEN:
                request = self.open_removal(request, key, actor, source, before)
            elif stage is Stage.REVIEW:
                request, approved = self.review_removal(request, key, actor, user_token, before)
                if not approved:
                    return request
            elif stage is Stage.DESTROY:
                request = self.run_destroy(request, key, actor, source, before)
            elif stage is Stage.RUNNING:
                if operation_of(request, DestroyOp, key).steps.lease is None:
                    return request  # released by the write that recorded the run (``run_destroy``)
                request, paused = svc._ops.pause(
                    rid,
                    DestroyOp,
                    key,
                    lambda r: removal_stage(r, operation_of(r, DestroyOp, key)) is not Stage.RUNNING,
                )
                if paused is not Paused.READY:
                    return request  # the destroy run's fact (or the reconciler) continues from here
            elif stage is Stage.FAILED:
                return self.end_failed(request, key, actor)
            elif stage is Stage.MERGE:
                try:
                    request = self.merge_removal(request, key, actor, source)
                except MergeBlocked as blocked:
                    return self.merge_blocked(request, key, actor, blocked)
            else:  # DONE
                return self.archive(request, source)

    def _adopt_open_removal(self, request: Request, key: str) -> Request:
        """A new attempt after a failed one finds the earlier removal PR open: it is reused."""
        pr = request.cleanup_pr
        if operation_of(request, DestroyOp, key).steps.removal_pr is not None:
            return request
        if pr is None or not pr.open or pr.number is None:
            return request
        if not (pr.branch or "").startswith(REMOVAL_PREFIX) or not pr.head_sha:
            return request
        if removal_outdated(request, pr.number):
            return request  # opened before a Prepare destroy changed the file: rebuilt (open_removal)
        data = RemovalPr(number=pr.number, url=pr.url, head=pr.head_sha)
        return self._svc._ops.record(request.id, DestroyOp, key, lambda op: op.steps.set(removal_pr=data))

    def open_removal(self, request: Request, key: str, actor: Actor, source: str, before: Status) -> Request:
        """Branch ``destroy/<id>`` at the base head, delete the request's file(s) there, open the PR."""
        svc, rid, repo = self._svc, request.id, repo_ref(request)
        base = request.target_base or "main"
        branch = removal_branch(rid)
        files = list(request.target_files)
        if not files:
            raise CodeHostError(f"{rid} records no file to remove (target_files is empty)")
        steps = operation_of(request, DestroyOp, key).steps
        started = steps.removal_branch
        if started is None:
            head = svc._code_host.branch_head(repo, base)
            if head is None:
                raise CodeHostError(f"the base branch {base} of {repo.full_name} does not exist")
            at_base = started = BranchStep(base=base, head=head)
            # Recorded with the commit attempt (the next write): lost in a crash before it, the
            # retry reads the base head again and resets a branch left on an older one (below).
            svc._ops.defer(rid, DestroyOp, key, lambda op: op.steps.set(removal_branch=at_base))
        start = started.head
        # The deletion commit is recorded with the PR (no write of its own): a crash between the
        # two finds ``commit_attempt`` recorded and the branch moved past it, and adopts it.
        committed: str | None = None
        if steps.removal_commit is None:
            at = svc._code_host.create_branch(repo, branch, start)
            if at != start and steps.commit_attempt is None:
                # The branch is this request's alone and holds an earlier attempt's deletion, made
                # on an older base (since changed, e.g. by Prepare destroy: its PR would conflict,
                # modify/delete): the deletion is made again on the base head.
                svc._code_host.reset_branch(repo, branch, start)
            message = f"tfpilot: remove {rid} from {request.project}/{request.environment} (destroy)"
            request, sha = svc._commit_step(
                request,
                DestroyOp,
                key,
                branch=branch,
                files=dict.fromkeys(files),
                parent=start,
                message=message,
            )
            committed = sha
        info = svc._code_host.open_pull_request(
            repo,
            head=branch,
            base=base,
            title=pr_text.cleanup_title(request),
            body=pr_text.removal_body(request, who=actor.name or actor.id),
            labels=pr_text.labels(request, "destroy"),
        )
        head = info.head_sha or committed or operation_of(request, DestroyOp, key).steps.removal_commit or ""
        found = CleanupPr(
            number=info.number, url=info.url, open=True, status="open", head_sha=head, branch=info.head_ref or branch
        )

        removal = RemovalPr(number=info.number, url=info.url, head=head)

        def recorded(op: DestroyOp) -> None:
            if committed is not None:
                op.steps.set(removal_commit=committed)
            op.steps.set(removal_pr=removal)

        return svc._command(
            rid,
            DestroyOp,
            key,
            lambda r: begin_destroy(
                r, found, files=files, branch=branch, base=base, before=before, actor=actor.id, source=source
            ),
            recorded,
            timeline=TimelineCode.REMOVAL_PR_OPENED,
            actor=actor.id,
            launch=Mark("plan", own_run=True),  # the removal PR's plan is dispatched next
        )

    def review_removal(
        self, request: Request, key: str, actor: Actor, user_token: str | None, before: Status
    ) -> tuple[Request, bool]:
        """Approve the removal PR as the protection asks; (request, False) while it waits for a review."""
        request = self.plan_removal(request, key, actor)
        svc, rid, repo = self._svc, request.id, repo_ref(request)
        base = request.target_base or "main"
        pr = removal_pr(request, key)
        number, head = pr.number, pr.head
        via_review = False
        if user_token is not None:
            if operation_of(request, DestroyOp, key).steps.removal_review_started != head:
                request = svc._ops.record(rid, DestroyOp, key, lambda op: op.steps.set(removal_review_started=head))
                svc._code_host.submit_review(
                    repo,
                    number,
                    commit_sha=head,
                    body=pr_text.removal_review_body(request, who=actor.name or actor.id),
                    user_token=user_token,
                )
            via_review = True
        standing = standing_of(svc._code_host, repo, base, number, head, via_review=via_review)
        if standing.satisfies is False:
            said = ReviewWanted(head=head, required=standing.required_approvals, via=standing.via)
            if operation_of(request, DestroyOp, key).steps.removal_review_wanted != said:
                waiting = NewEvent(
                    name="destroy_waiting_review",
                    actor=actor.id,
                    source="tfpilot",
                    data={"removalPr": number, "required": standing.required_approvals, "via": standing.via},
                )
                request = svc._ops.record(
                    rid,
                    DestroyOp,
                    key,
                    lambda op: op.steps.set(removal_review_wanted=said),
                    timeline=TimelineCode.REMOVAL_PR_NEEDS_REVIEW,
                    events=[waiting],
                    tell=lambda _w, r: [
                        Transition(
                            event="destroy_review_needed",
                            previous_status=before.value,
                            status=derive_status(r).value,
                            actor=actor.id,
                            run_url=pr.url,
                            approval=standing,
                        )
                    ],
                )
            request, _paused = svc._ops.pause(rid, DestroyOp, key, lambda r: False)
            return request, False
        request = svc._ops.record(
            rid,
            DestroyOp,
            key,
            lambda op: op.steps.set(removal_reviewed=standing),
            timeline=TimelineCode.REMOVAL_PR_APPROVED,
            launch=Mark("destroy"),  # the destroy run is dispatched next
        )
        return request, True

    def plan_removal(self, request: Request, key: str, actor: Actor) -> Request:
        """Plan the removal PR's head once per attempt: the plan workflow on ``destroy/<id>`` shows
        the reviewer what the destroy will delete, and its check on the head is what a base branch
        with required status checks needs before the PR may merge. Its run is the operation's
        (``launches.plan``), never the request's ``planRun`` (the applied request keeps its own)."""
        if operation_of(request, DestroyOp, key).steps.recorded("plan"):
            return request
        svc, rid = self._svc, request.id
        request, info = svc._launch(request, DestroyOp, key, "plan", ref=removal_branch(rid), previous=None)
        run_id = info.run_id if info is not None else None

        def recorded(op: DestroyOp) -> None:
            done = op.steps.launch_for("plan")
            done.set(recorded=True, run_id=run_id)
            op.steps.launches = {**op.steps.launches, "plan": done}

        # Recorded with the review's next write (no write of its own): lost in a crash before
        # it, the run is found again through its marker (``Dispatching._launch`` looks it up).
        svc._ops.defer(
            rid,
            DestroyOp,
            key,
            recorded,
            timeline=TimelineCode.REMOVAL_PR_PLANNED,
            actor=actor.id,
            events=[
                NewEvent(
                    name="removal_plan_dispatched",
                    actor=actor.id,
                    source="tfpilot",
                    data={"runId": run_id, "url": info.url if info is not None else None},
                )
            ],
        )
        return request
