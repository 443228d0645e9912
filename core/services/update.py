"""``UpdateCommand``: a new commit with the new config on the request's branch, then a fresh plan."""

from __future__ import annotations

from typing import Any

from core.domain.events import NewEvent
from core.domain.ids import request_branch
from core.domain.lifecycle import derive_status
from core.domain.operation import Launch, Steps, UpdateOp, UpdateSteps
from core.domain.policy import Action, Actor
from core.domain.request import Request
from core.ports.code_host import CodeHostError
from core.services import pr_text
from core.services.command_base import TargetOf, dispatched_event, repo_ref, transition
from core.services.commands import digest
from core.services.dispatching import Dispatching
from core.services.operations import operation_of


class UpdateCommand(Dispatching):
    def update_config(
        self, request_id: str, config: dict[str, Any], actor: Actor, *, key: str | None = None, source: str = "slack"
    ) -> Request:
        """A new commit with the new config on the request's branch, then a fresh plan."""
        request = self._store.get(request_id)
        key = key or f"update:{request.revision}:{digest(config)[:16]}"
        if request.operation("update", key) is None:
            self._gate.require(Action.UPDATE, request, actor, source)  # refuse before saying anything of the config
        validated = self._validated(request.module, config, request.environment, TargetOf(request), request.project)

        def init(current: Request) -> Steps:
            plan = current.plan_run.run_id if current.plan_run else None
            return UpdateSteps(
                config=validated, revision=current.revision + 1, launches={"plan": Launch(previous=plan)}
            )

        return self._operate(
            request_id,
            Action.UPDATE,
            key,
            actor,
            source,
            lambda b: self._run_update(b.request, b.key, actor, source),
            init=init,
        )

    def _run_update(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, repo_ref(request)
        branch = request.branch_name or request_branch(rid)
        before = derive_status(request)
        steps = operation_of(request, UpdateOp, key).steps
        config, revision = steps.config, steps.revision
        if steps.commit is None:
            files = self._render_request(request, config)
            # The parent is the branch as it is now (someone may have pushed since our last look).
            parent = steps.commit_attempt or self._code_host.branch_head(repo, branch)
            if parent is None:
                raise CodeHostError(f"branch {branch!r} no longer exists in {repo.full_name}", status=404)
            request, sha = self._commit_step(
                request,
                UpdateOp,
                key,
                branch=branch,
                files=files,
                parent=parent,
                message=pr_text.commit_message(request, revision=revision),
            )

            def change(r: Request) -> None:
                was_approved = bool(r.approval and r.approval.approved)
                r.config, r.revision, r.commit_sha = config, revision, sha
                r.render = {"files": files, "digest": digest(files)}
                r.target_files = sorted(set(r.target_files) | set(files))
                if r.pr is not None:
                    r.pr = r.pr.model_copy(update={"head_sha": sha})
                r.plan, r.cost, r.plan_run = None, None, None
                if was_approved and r.approval is not None:
                    r.approval = r.approval.model_copy(update={"approved": False, "approvers": []})

            was_approved = bool(request.approval and request.approval.approved)
            updated = [
                NewEvent(
                    name="config_updated", actor=actor.id, source=source, data={"revision": revision, "commit": sha}
                )
            ]
            if was_approved:
                updated.append(
                    NewEvent(
                        name="approval_voided",
                        actor=actor.id,
                        source=source,
                        data={"reason": "config updated", "headSha": sha},
                    )
                )
            request = self._ops.record(
                rid,
                UpdateOp,
                key,
                lambda op: op.steps.set(commit=sha),
                change=change,
                timeline=f"Config updated (revision {revision})",
                actor=actor.id,
                events=updated,
            )
        return self._dispatch(
            request,
            UpdateOp,
            key,
            "plan",
            ref=branch,
            actor=actor.id,
            finish=True,
            tell=lambda _before, r: [
                dispatched_event("plan_dispatched", actor.id, source, r.plan_run),
                transition(r, "updated", before, actor.id, run=r.plan_run),
            ],
        )
