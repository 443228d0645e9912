"""``RequestService``: every change a person asks for, checked, recorded, and done once.

create, update_config, approve, merge, apply, destroy and replan each go through the one
``Gate`` (``core.services.gate``: a refusal is logged as ``<action>_blocked`` and raised as
``PermissionDenied``; ``authorize`` lets a caller ask it before opening a form), then run as a
recorded operation (``core.services.operations``): every step's result is stored before the
next step starts, so a crash or a retry resumes where the work stopped and never opens a second
branch, PR or workflow run for one intent. Each write commits its domain events (audit records,
notices) with it; the ``MessageBus`` runs them after the write. Status is never written by
hand: it is derived from the facts recorded here and by ``SyncService``.

The commands live in files named for them (``create``, ``update``, ``approve_merge``,
``apply_replan``, ``cleanup_destroy`` (with ``destroy``), over ``dispatching`` and ``command_base``); this file puts
them together and resumes what a crash left half-way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from core.domain.destroy import is_legacy, waits_on_run
from core.domain.errors import RequestNotFound
from core.domain.operation import DestroyOp
from core.domain.policy import Actor
from core.domain.request import Request
from core.services.apply_replan import ApplyReplanCommands
from core.services.approve_merge import ApproveMergeCommands
from core.services.cards import CardCommands
from core.services.cleanup_destroy import CleanupDestroy, awaiting_cleanup
from core.services.command_base import registry_renderer
from core.services.create import CreateCommands
from core.services.operations import Begun, Start, operation_of, pending
from core.services.update import UpdateCommand

__all__ = ["RequestService", "registry_renderer"]


class RequestService(
    CreateCommands, UpdateCommand, ApproveMergeCommands, ApplyReplanCommands, CleanupDestroy, CardCommands
):
    def resume(self, request_id: str) -> Request:
        """Finish every operation a crash left half-way (lease permitting).

        A destroy waiting for its cleanup PR has nothing to do until a fact arrives; when a
        refresh handler is on the bus, it is asked for the facts a lost webhook would have brought (what
        it finds continues the destroy through the bus's continuation)."""
        request = self._store.get(request_id)
        refreshed = False
        for op in pending(request):
            if awaiting_cleanup(request, op) or waits_on_run(request, op):
                if not refreshed:
                    refreshed = self._bus.refresh(request_id)
                continue
            token = self._ops.new_token()
            begun = self._ops.begin(request_id, op.kind, op.key, token, actor=op.actor)
            if begun.start is not Start.GO:
                request = begun.request
                continue
            runner = self._runner(op.kind, begun, Actor(id=op.actor or "tfpilot"))
            if runner is None:  # pragma: no cover - a newer writer's operation kind
                continue
            request = self._guard(begun, op.kind, runner)
        if refreshed:
            with contextlib.suppress(RequestNotFound):  # archived meanwhile: the caller reads history
                request = self._store.get(request_id)
        return request

    def _runner(self, kind: str, begun: Begun, actor: Actor) -> Callable[[], Request] | None:
        request, key, source = begun.request, begun.key, "reconciler"
        if kind == "create":
            return lambda: self._run_create(request, key)
        if kind == "update":
            return lambda: self._run_update(request, key, actor, source)
        if kind == "approve":
            return lambda: self._run_approve(request, key, actor, None, source)
        if kind == "merge":
            return lambda: self._run_merge(request, key, actor, source)
        if kind == "apply":
            return lambda: self._run_run(request, key, actor, source, "apply")
        if kind == "replan":
            return lambda: self._run_run(request, key, actor, source, "plan")
        if kind == "destroy" and is_legacy(operation_of(request, DestroyOp, key)):
            return lambda: self._run_destroy(request, key, actor, source)
        if kind == "destroy":
            return lambda: self._destroy_flow.run(request, key, actor, source, None)
        if kind == "prepare_destroy":
            return lambda: self._destroy_flow.prepare(request, key, actor, source)
        return None
