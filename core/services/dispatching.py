"""``Dispatching``: dispatch a workflow once per operation and record its run on the request.

The dispatch is marked first (``launches.<kind>.at``); after a crash the run is looked up by the
request id in its run-name (``found_run_rejection``: newer than the run before, not created
before the dispatch) before dispatching again. The marker is written by the step before the
dispatch when that step says so (``Mark``: the lease of an apply, the PR of a create...), else
by a write of its own; the process that wrote it dispatches without a lookup, once
(``Operations.fresh``).
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain.commands import record_dispatch
from core.domain.ids import request_branch
from core.domain.operation import Launch, OperationBase
from core.domain.request import Request, RunRef
from core.domain.runs import found_run_rejection
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from core.domain.workflows import RequestRunKind, RunKind
from core.ports.code_host import RunInfo
from core.services.command_base import CommandBase, repo_ref, set_launch
from core.services.operations import Tell, operation_of


class Dispatching(CommandBase):
    def _launch(
        self,
        request: Request,
        op_type: type[OperationBase],
        key: str,
        kind: RunKind,
        *,
        ref: str,
        previous: int | None,
    ) -> tuple[Request, RunInfo | None]:
        """Dispatch ``kind`` once for this operation; after a crash, find the run before re-dispatching."""
        rid, repo = request.id, repo_ref(request)
        workflow = self._workflows.file(kind)
        launch = operation_of(request, op_type, key).steps.launch(kind)
        info: RunInfo | None = None
        if launch is not None and launch.at is not None:
            # A marker this process wrote in its previous write and has not dispatched since
            # needs no lookup; any other may be an earlier attempt's that dispatched.
            if not self._ops.fresh(rid, key, kind, launch):
                info = self._found_run(request, launch, kind, workflow, ref)
        else:
            marker = Launch(at=self._clock.now(), previous=previous)
            request = self._ops.record(rid, op_type, key, lambda op: set_launch(op, kind, marker))
        if info is None:
            info = self._code_host.dispatch_workflow(
                repo, workflow, ref=ref, inputs={"request_id": rid, "environment": request.environment}
            )
        return request, info

    def _found_run(self, request: Request, launch: Launch, kind: RunKind, workflow: str, ref: str) -> RunInfo | None:
        """The run an earlier attempt dispatched after ``launch``'s marker, if the host has one."""
        rid = request.id
        info = self._code_host.find_run(repo_ref(request), workflow, request_id=rid, ref=ref)
        if info is not None and found_run_rejection(info, previous=launch.previous, since=launch.at) is not None:
            return None
        on_branch = ref == (request.branch_name or request_branch(rid))
        if info is not None and kind == "plan" and on_branch and info.head_sha and request.commit_sha:
            return info if info.head_sha == request.commit_sha else None  # a plan of an older commit
        return info

    def _dispatch(
        self,
        request: Request,
        op_type: type[OperationBase],
        key: str,
        kind: RequestRunKind,
        *,
        ref: str,
        actor: str | None,
        observed: dict[str, Status] | None = None,
        finish: bool = False,
        also: Callable[[OperationBase], None] | None = None,
        tell: Tell | None = None,
        pause: Callable[[Request], bool] | None = None,
    ) -> Request:
        """Dispatch ``kind`` once (``_launch``) and record it as the request's ``<kind>Run``.

        With ``finish`` the same write closes the operation, with ``also``'s steps and what
        ``tell`` commits (as ``Operations.record``): the last step costs no write of its own.
        ``pause`` releases the lease in that write when the operation then waits for the run."""
        rid = request.id
        workflow = self._workflows.file(kind)
        launch = operation_of(request, op_type, key).steps.launch(kind)
        if launch is not None and launch.recorded:
            if finish:  # recorded by an earlier attempt that stopped before finishing
                return self._ops.record(rid, op_type, key, also, finish=True, tell=tell)
            return request
        previous_run = request.run(kind)
        previous = (
            previous_run.run_id if previous_run and previous_run.run_id else (launch.previous if launch else None)
        )
        request, info = self._launch(request, op_type, key, kind, ref=ref, previous=previous)
        now = self._clock.now()
        if info is not None:
            run = RunRef(
                run_id=info.run_id,
                url=info.url,
                status=info.status,
                conclusion=info.conclusion,
                head_sha=info.head_sha,
                workflow=workflow,
                dispatched_at=now,
            )
        else:  # the host did not say which run: SyncService finds it by the request id in its run-name
            run = RunRef(status="requested", workflow=workflow, dispatched_at=now)

        def change(r: Request) -> None:
            record_dispatch(r, kind, run, now)

        def recorded(op: OperationBase) -> None:
            done = op.steps.launch_for(kind)
            done.set(recorded=True, run_id=info.run_id if info else None)
            set_launch(op, kind, done)
            if also is not None:
                also(op)

        labels = {
            "plan": TimelineCode.PLAN_DISPATCHED,
            "apply": TimelineCode.APPLY_STARTED,
            "destroy": TimelineCode.DESTROY_STARTED,
        }
        return self._ops.record(
            rid,
            op_type,
            key,
            recorded,
            change=change,
            timeline=labels[kind],
            actor=actor,
            observed=observed,
            finish=finish,
            tell=tell,
            pause=pause,
        )
