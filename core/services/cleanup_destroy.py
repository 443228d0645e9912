"""``CleanupDestroy``: the destroy commands (``destroy``, ``prepare_destroy``). A new destroy
runs ``DestroyFlow`` (``core/services/destroy.py``: removal PR, its approval, the targeted
destroy with the file still on the base branch, then the merge). A destroy begun the old way,
through the infra repo's cleanup workflow (its PR removes the file; once merged the destroy
runs), finishes the old way (``_run_destroy``, ``core/services/cleanup_flow.py``), on the same
typed ``DestroySteps``.
"""

from __future__ import annotations

from core.domain.cleanup_wait import CleanupStage, cleanup_stage
from core.domain.destroy import guard_denial, is_legacy, waits_on_run
from core.domain.lifecycle import run_failed
from core.domain.operation import (
    DestroyOp,
    OperationBase,
    PrepareDestroySteps,
)
from core.domain.policy import Action, Actor
from core.domain.request import Request
from core.services.cleanup_flow import LegacyCleanupSteps
from core.services.destroy import DestroyFlow
from core.services.operations import pending


class CleanupDestroy(LegacyCleanupSteps):
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
