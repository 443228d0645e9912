"""``CommandBase``: what every command of ``RequestService`` shares.

The ports and the recorded-operations engine (``Operations`` over the store and the
``MessageBus``), the one permission ``Gate``, and the steps several commands take: run an
operation under a lease with its permission checked in the same compare-and-swap (``_operate``),
record a failure (``_guard``), commit once (``_commit_step``), render and validate. The commands
themselves live in files named for them (create, update, approve_merge, apply_replan,
cleanup_destroy); ``core.services.requests.RequestService`` puts them together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from core.domain.events import NewEvent
from core.domain.operation import CreateOp, DestroyOp, Launch, OperationBase, OpT, PrepareDestroyOp, Steps, UpdateOp
from core.domain.policy import Action, Actor, Policy
from core.domain.refusals import Denial
from core.domain.request import Request, RunRef
from core.domain.status import Status
from core.domain.timeline import Said
from core.domain.workflows import RunKind, WorkflowNames
from core.ports.audit import AuditLog
from core.ports.clock import Clock
from core.ports.code_host import CodeHost, CodeHostError, RepoRef
from core.ports.notifier import Notifier
from core.ports.request_store import RequestStore
from core.services.gate import NOT_ALLOWED, Gate
from core.services.messagebus import MessageBus
from core.services.operations import Begun, Mark, Operations, Start, operation_of
from core.services.registry_view import ProjectsView, RegistryView, Renderer
from module_registry.errors import ConfigRejected
from module_registry.result import FieldError

if TYPE_CHECKING:
    from module_registry.catalogue import Registry


def registry_renderer(registry: Registry, *, module_sources: str = "registry") -> Renderer:
    """The default renderer: ``module_registry.render`` over the given registry.

    ``module_sources="repo"`` (the local forge) renders TfPilot's in-repo modules where it ships
    one (``modules/<id>``) and the registry module elsewhere."""

    def render(
        *,
        request_id: str,
        project: str,
        environment: str,
        module: str,
        config: dict[str, Any],
        env_path: str,
        requester: str,
        prod: bool,
        lifting: Sequence[str] = (),
    ) -> dict[str, str]:
        from module_registry import render as registry_render

        data = registry_render.RenderInput(
            request_id=request_id,
            project=project,
            environment=environment,
            module=module,
            config=config,
            env_path=env_path,
            requester=requester,
            prod=prod,
            module_sources=module_sources,
            lifting=tuple(lifting),
        )
        files: dict[str, str] = registry_render.render(data, registry)
        return files

    return render


class CommandBase:
    def __init__(
        self,
        store: RequestStore,
        audit: AuditLog,
        code_host: CodeHost,
        registry: RegistryView,
        projects: ProjectsView,
        notifier: Notifier,
        clock: Clock,
        policy: Policy,
        workflows: WorkflowNames,
        *,
        renderer: Renderer | None = None,
        bus: MessageBus | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._code_host = code_host
        self._registry = registry
        self._projects = projects
        self._notifier = notifier
        self._clock = clock
        self._workflows = workflows
        # Without a renderer the registry must be the real one: rendering needs its definitions.
        self._render = renderer or registry_renderer(cast("Registry", registry))
        # The events each write commits are handled by the bus after it; the bus also carries
        # the refresh ``resume`` asks of ``SyncService`` (a destroy waiting on a lost webhook).
        self._bus = bus or MessageBus(audit, notifier)
        self._gate = Gate(policy, self._bus)
        self._ops = Operations(store, clock, self._bus)

    def _commit_step(
        self,
        request: Request,
        op_type: type[CreateOp] | type[UpdateOp] | type[DestroyOp] | type[PrepareDestroyOp],
        key: str,
        *,
        branch: str,
        files: Mapping[str, str | None],
        parent: str,
        message: str,
    ) -> tuple[Request, str]:
        """One commit on top of ``parent``, once.

        The attempt (with its parent) is recorded first. When a later attempt finds the branch
        moved past that parent, the earlier attempt landed and the process died before recording
        it: its commit is adopted. GitHub's host detects a landed commit itself (same parent and
        tree); this covers hosts that answer "moved" instead. On a first attempt a moved branch
        is someone else's push: the attempt is forgotten so a retry re-reads the branch.
        """
        retry = operation_of(request, op_type, key).steps.commit_attempt is not None
        if not retry:
            request = self._ops.record(request.id, op_type, key, lambda op: op.steps.set(commit_attempt=parent))
        repo = repo_ref(request)
        try:
            return request, self._code_host.commit_files(repo, branch, files, message, parent_sha=parent)
        except CodeHostError:
            head = self._code_host.branch_head(repo, branch)
            if retry and head is not None and head != parent:
                return request, head
            if not retry and head != parent:
                self._ops.record(request.id, op_type, key, lambda op: op.steps.set(commit_attempt=None))
            raise

    def _files_of(self, request: Request) -> dict[str, str]:
        stored = (request.render or {}).get("files")
        if isinstance(stored, dict) and stored:
            return {str(k): str(v) for k, v in stored.items()}
        return self._render_request(request, request.config)

    def _render_request(self, request: Request, config: dict[str, Any], lifting: Sequence[str] = ()) -> dict[str, str]:
        """The files of ``request`` (its id, target and requester) rendered with ``config``."""
        return self._render_files(
            request.id,
            request.project,
            request.environment,
            request.module,
            config,
            request.target_env_path or "",
            requester_of(request),
            request.prod,
            lifting=lifting,
        )

    def _render_files(
        self,
        rid: str,
        project: str,
        environment: str,
        module: str,
        config: dict[str, Any],
        env_path: str,
        requester: str,
        prod: bool,
        lifting: Sequence[str] = (),
    ) -> dict[str, str]:
        return self._render(
            request_id=rid,
            project=project,
            environment=environment,
            module=module,
            config=config,
            env_path=env_path,
            requester=requester,
            prod=prod,
            lifting=lifting,
        )

    def _validated(
        self, module: str, config: dict[str, Any], environment: str, target: Any, project: str
    ) -> dict[str, Any]:
        allowed = target.allowed_modules
        if allowed is not None and module not in allowed:
            raise ConfigRejected([FieldError.module_not_allowed(module, list(allowed))])
        # With the project, the registry also checks the full resource name's length.
        result = self._registry.validate(module, config, environment, prod=bool(target.prod), project=project)
        if not result.ok:
            raise ConfigRejected(list(result.errors))
        validated: dict[str, Any] = dict(result.config)
        return validated

    def authorize(self, request_id: str, action: Action, actor: Actor, *, source: str = "slack") -> Request:
        """The request, when ``actor`` may do ``action`` on it now; otherwise the refusal is
        recorded (``<action>_blocked``) and raised as ``PermissionDenied`` for the caller to show.
        For callers that must decide before asking for more (the edit form, the prod destroy
        confirmation); the action itself checks again when it runs."""
        request = self._store.get(request_id)
        self._gate.require(action, request, actor, source)
        return request

    def _operate(
        self,
        request_id: str,
        action: Action,
        key: str,
        actor: Actor,
        source: str,
        run: Callable[[Begun], Request],
        *,
        init: Callable[[Request], Steps] | None = None,
        launch: Mark | None = None,
    ) -> Request:
        """Start the operation ``action``/``key`` (its kind is the action's name) under a fresh
        lease, permission checked in the same compare-and-swap, and run it; one already running
        or finished is not run again. ``launch``: the marker of the dispatch ``run`` makes first,
        set in the same write (``Mark``)."""
        kind = action.value
        begun = self._begin(
            request_id, kind, key, self._ops.new_token(), actor, action, source, init=init, launch=launch
        )
        if begun.start is not Start.GO:
            return begun.request
        return self._guard(begun, kind, lambda: run(begun))

    def _begin(
        self,
        request_id: str,
        kind: str,
        key: str,
        token: str,
        actor: Actor,
        action: Action,
        source: str,
        *,
        init: Callable[[Request], Steps] | None = None,
        launch: Mark | None = None,
    ) -> Begun:
        def refuse(request: Request) -> Denial | None:
            decision = self._gate.decide(action, request, actor)
            return None if decision.allowed else decision.reason or NOT_ALLOWED

        begun = self._ops.begin(request_id, kind, key, token, actor=actor.id, refuse=refuse, init=init, launch=launch)
        if begun.start is Start.REFUSED:
            reason = begun.reason or NOT_ALLOWED
            self._gate.refuse(request_id, action.value, actor, reason, source, version=begun.request.version)
        return begun

    def _command(
        self,
        request_id: str,
        op_type: type[OpT],
        key: str,
        command: Callable[[Request], list[NewEvent]],
        step: Callable[[OpT], None] | None = None,
        *,
        timeline: Said | None = None,
        actor: str | None = None,
        finish: bool = False,
        observed: dict[str, Status] | None = None,
        launch: Mark | None = None,
    ) -> Request:
        """Run the aggregate's ``command`` (``core.domain.commands``) inside the compare-and-swap
        that records ``step`` of the operation: the events it returns are committed with it
        (``launch``: a dispatch marker riding on the same write, see ``Operations.record``)."""
        said: list[NewEvent] = []

        def change(request: Request) -> None:
            said[:] = command(request)

        return self._ops.record(
            request_id,
            op_type,
            key,
            step,
            change=change,
            timeline=timeline,
            actor=actor,
            finish=finish,
            observed=observed,
            launch=launch,
            tell=lambda _written, _request: said,
        )

    def _guard(self, begun: Begun, kind: str, work: Callable[[], Request]) -> Request:
        try:
            return work()
        except Exception as exc:
            failed = NewEvent(name=f"{kind}_failed", source="tfpilot", data={"error": str(exc)[:500]})
            self._ops.fail(begun.request.id, kind, begun.key, f"{type(exc).__name__}: {exc}", events=[failed])
            raise


class TargetOf:
    """The target facts kept in a request (so later validation never needs the projects map)."""

    def __init__(self, request: Request) -> None:
        self.prod = request.is_prod
        self.allowed_modules: list[str] | None = None


def set_launch(op: OperationBase, kind: RunKind, launch: Launch) -> None:
    op.steps.launches = {**op.steps.launches, kind: launch}


def set_fields(request: Request, **values: Any) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def repo_ref(request: Request) -> RepoRef:
    if not request.target_owner or not request.target_repo:
        raise CodeHostError(f"{request.id} has no target repository recorded")
    return RepoRef(owner=request.target_owner, name=request.target_repo)


def requester_of(request: Request) -> str:
    if request.requester is None:
        return "unknown"
    return request.requester.email or request.requester.id


def dispatched_event(name: str, actor: str | None, source: str, run: RunRef | None) -> NewEvent:
    return NewEvent(name=name, actor=actor, source=source, data=run_data(run))


def destroy_dispatched(request: Request, actor: str | None, source: str, workflow: str) -> NewEvent:
    """``destroy_dispatched``, committed with the write recording the destroy run."""
    run = request.destroy_run
    data = {"runId": run.run_id if run else None, "url": run.url if run else None, "workflow": workflow}
    return NewEvent(name="destroy_dispatched", actor=actor, source=source, data=data)


def run_data(run: RunRef | None) -> dict[str, Any]:
    if run is None:
        return {}
    return {"runId": run.run_id, "url": run.url, "workflow": run.workflow}
