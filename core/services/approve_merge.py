"""``ApproveMergeCommands``: approve the PR's head (as the user's review or recorded by the app) and
squash-merge it at the approved commit."""

from __future__ import annotations

from typing import Any

from core.domain.commands import record_approval, record_merge, transition
from core.domain.events import NewEvent
from core.domain.operation import ApproveOp, ApproveSteps, MergeOp, MergeSteps, ReviewStep, Steps
from core.domain.policy import Action, Actor
from core.domain.request import Request
from core.domain.timeline import Line, TimelineCode
from core.ports.code_host import CodeHostError, MergeBlocked, RepoRef
from core.services import pr_text
from core.services.approval_check import standing_of
from core.services.command_base import CommandBase, repo_ref
from core.services.operations import operation_of


class ApproveMergeCommands(CommandBase):
    def approve(
        self,
        request_id: str,
        actor: Actor,
        *,
        key: str | None = None,
        user_token: str | None = None,
        source: str = "slack",
    ) -> Request:
        """Approve the PR's current head: as the user's review when linked, else recorded + comment."""
        request = self._store.get(request_id)
        head = request.pr.head_sha if request.pr else None
        # A linked approval after a recorded one (which the protection did not count) is new.
        key = key or f"approve:{actor.id}:{head}" + (":review" if user_token else "")

        def init(current: Request) -> Steps:
            return ApproveSteps(
                sha=current.pr.head_sha if current.pr else None, mode="review" if user_token else "comment"
            )

        return self._operate(
            request_id,
            Action.APPROVE,
            key,
            actor,
            source,
            lambda b: self._run_approve(b.request, b.key, actor, user_token, source),
            init=init,
        )

    def _run_approve(self, request: Request, key: str, actor: Actor, user_token: str | None, source: str) -> Request:
        rid, repo = request.id, repo_ref(request)
        steps = operation_of(request, ApproveOp, key).steps
        sha: str = steps.sha or ""
        number = request.pr.number if request.pr and request.pr.number else 0
        who_name = actor.name or actor.email or actor.id
        mode = steps.mode
        if mode == "review" and user_token is None and steps.review is None:
            mode = "comment"  # resumed without the user's token: fall back to the app's record
        # What the GitHub step produced is written with the approval itself (one write less); a
        # crash before that write finds the review again (``_find_review``) or, for a comment,
        # knows it may have been posted (``comment_started``) and does not post it twice.
        reviewed = steps.review
        if mode == "review":
            if reviewed is None:
                review = None
                if steps.review_started is not None:
                    review = self._find_review(repo, number, sha, actor)
                else:
                    started = self._clock.now()
                    request = self._ops.record(rid, ApproveOp, key, lambda op: op.steps.set(review_started=started))
                if review is None:
                    review = self._code_host.submit_review(
                        repo,
                        number,
                        commit_sha=sha,
                        body=pr_text.review_body(request, who=who_name),
                        user_token=user_token,
                    )
                reviewed = ReviewStep(id=review.id, login=review.user_login)
            who, approval_source = reviewed.login, "github"
        else:
            # At most once: a lost comment is harmless, a duplicate is noise.
            if not steps.comment and not steps.comment_started:
                request = self._ops.record(rid, ApproveOp, key, lambda op: op.steps.set(comment_started=True))
                self._code_host.comment(repo, number, pr_text.approval_comment(request, who=who_name, sha=sha))
            who, approval_source = actor.id, "tfpilot"
        commented = mode != "review"
        base = request.target_base or "main"
        standing = standing_of(self._code_host, repo, base, number, sha, via_review=approval_source == "github")
        now = self._clock.now()
        return self._command(
            rid,
            ApproveOp,
            key,
            lambda r: record_approval(
                r,
                sha=sha,
                approver=who,
                via=approval_source,
                standing=standing,
                actor=actor.id,
                source=source,
                now=now,
            ),
            lambda op: op.steps.set(standing=standing, review=reviewed, comment=commented),
            finish=True,
            timeline=Line(TimelineCode.APPROVED, {"by": who_name}),
            actor=actor.id,
        )

    def _find_review(self, repo: RepoRef, number: int, sha: str, actor: Actor) -> Any:
        for review in self._code_host.list_reviews(repo, number):
            same_user = actor.github_login is None or review.user_login.lower() == actor.github_login.lower()
            if review.state.upper() == "APPROVED" and review.commit_id == sha and same_user:
                return review
        return None

    def merge(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Squash-merge the PR, only at the approved commit."""
        request = self._store.get(request_id)
        sha = (request.approval.approved_sha if request.approval else None) or (
            request.pr.head_sha if request.pr else None
        )
        key = key or f"merge:{sha}"

        def init(current: Request) -> Steps:
            approved = current.approval.approved_sha if current.approval else None
            return MergeSteps(sha=approved or (current.pr.head_sha if current.pr else None))

        return self._operate(
            request_id,
            Action.MERGE,
            key,
            actor,
            source,
            lambda b: self._run_merge(b.request, b.key, actor, source),
            init=init,
        )

    def _run_merge(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, repo_ref(request)
        sha = operation_of(request, MergeOp, key).steps.sha
        if not sha:  # the gate allows a merge only with an approved (or known head) commit
            raise CodeHostError(f"{rid} has no commit to merge at")
        number = request.pr.number if request.pr and request.pr.number else 0
        try:
            result = self._code_host.merge_pull_request(repo, number, sha=sha, title=pr_text.title(request))
        except MergeBlocked as blocked:
            # Nothing changed on the request (the failure is recorded by ``_guard``): recorded and
            # told once for this version and commit, so a retried click says it once.
            told = transition(
                request,
                "merge_blocked",
                None,
                actor.id,
                message=str(blocked),
                blocked=blocked.reason,
                required_approvals=blocked.required_approvals,
            )
            refused = NewEvent(
                name="merge_blocked",
                actor=actor.id,
                source=source,
                data={"number": number, "reason": blocked.reason, "message": str(blocked)[:500]},
                notice=told,
            )
            self._bus.record(rid, refused, version=request.version, key=sha, request=request)
            raise
        if not result.merged:
            refused = NewEvent(name="merge_failed", actor=actor.id, source=source, data={"message": result.message})
            self._bus.record(rid, refused, version=request.version, key=sha, request=request)
            raise CodeHostError(f"GitHub did not merge PR #{number}: {result.message or 'no reason given'}")
        now = self._clock.now()
        return self._command(
            rid,
            MergeOp,
            key,
            lambda r: record_merge(r, number=number, sha=result.sha, actor=actor.id, source=source, now=now),
            lambda op: op.steps.set(merged=result.sha),
            finish=True,
            timeline=TimelineCode.MERGED,
            actor=actor.id,
        )
