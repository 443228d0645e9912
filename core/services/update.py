"""``UpdateCommand``: a new commit with the new config on the request's branch, then a fresh plan."""

from __future__ import annotations

from typing import Any

from core.domain.commands import record_config_update, transition
from core.domain.ids import request_branch
from core.domain.lifecycle import derive_status
from core.domain.operation import Launch, Steps, UpdateOp, UpdateSteps
from core.domain.policy import Action, Actor
from core.domain.request import Request
from core.domain.timeline import Line, TimelineCode
from core.ports.code_host import CodeHostError
from core.services import pr_text
from core.services.command_base import TargetOf, dispatched_event, repo_ref
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

            files_digest = digest(files)
            request = self._command(
                rid,
                UpdateOp,
                key,
                lambda r: record_config_update(
                    r,
                    config=config,
                    revision=revision,
                    sha=sha,
                    files=files,
                    files_digest=files_digest,
                    actor=actor.id,
                    source=source,
                ),
                lambda op: op.steps.set(commit=sha),
                timeline=Line(TimelineCode.CONFIG_UPDATED, {"revision": revision}),
                actor=actor.id,
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
