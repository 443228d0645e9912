"""``ApplyReplanCommands``: dispatch the apply workflow on the base branch, or plan again."""

from __future__ import annotations

from typing import Literal

from core.domain.commands import transition
from core.domain.events import NewEvent
from core.domain.ids import request_branch
from core.domain.lifecycle import derive_status
from core.domain.operation import ApplyOp, ReplanOp
from core.domain.policy import Action, Actor, plans_on_base
from core.domain.request import Request
from core.domain.status import Status
from core.ports.notifier import Transition
from core.services.command_base import dispatched_event
from core.services.dispatching import Dispatching
from core.services.operations import Mark


class ApplyReplanCommands(Dispatching):
    def apply(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Dispatch the apply workflow on the base branch (only once merged; once per click)."""
        request = self._store.get(request_id)
        last = request.apply_run.run_id if request.apply_run else None
        key = key or f"apply:{request.merged_sha}:{last or 'first'}"
        return self._operate(
            request_id,
            Action.APPLY,
            key,
            actor,
            source,
            lambda b: self._run_run(b.request, b.key, actor, source, "apply"),
            launch=Mark("apply"),  # the dispatch marker rides on the lease's write
        )

    def replan(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Plan the branch again; the old plan output is cleared. After the merge (allowed only
        when drift was found on an applied request) the base branch is planned instead."""
        request = self._store.get(request_id)
        last = request.plan_run.run_id if request.plan_run else None
        if key is None and plans_on_base(request):
            checked = request.drift.checked_at.isoformat() if request.drift and request.drift.checked_at else "none"
            key = f"replan:drift:{checked}:{last or 'none'}"
        key = key or f"replan:{request.commit_sha}:{last or 'none'}"
        return self._operate(
            request_id,
            Action.REPLAN,
            key,
            actor,
            source,
            lambda b: self._run_run(b.request, b.key, actor, source, "plan"),
            launch=Mark("plan"),  # the dispatch marker rides on the lease's write
        )

    def _run_run(
        self, request: Request, key: str, actor: Actor, source: str, kind: Literal["plan", "apply"]
    ) -> Request:
        op_type: type[ApplyOp] | type[ReplanOp] = ApplyOp if kind == "apply" else ReplanOp
        before = derive_status(request)
        on_base = kind == "apply" or plans_on_base(request)
        ref = (request.target_base or "main") if on_base else (request.branch_name or request_branch(request.id))
        seen: dict[str, Status] = {}
        name = "apply_dispatched" if kind == "apply" else "replan_dispatched"

        def tell(_written: Status, r: Request) -> list[Transition | NewEvent | None]:
            # A drift plan leaves the status at applied: said anyway, or nobody would see it start
            # (no webhook announces it either: a plan starting moves no status).
            event = "applying" if kind == "apply" else "planning"
            moved_only = not (kind == "plan" and on_base)
            return [
                dispatched_event(name, actor.id, source, r.run(kind)),
                transition(r, event, seen.get("before", before), actor.id, run=r.run(kind), moved_only=moved_only),
            ]

        # The run is recorded and the operation finished in one write.
        return self._dispatch(
            request, op_type, key, kind, ref=ref, actor=actor.id, observed=seen, finish=True, tell=tell
        )
