"""Service test fixtures: the real services over in-memory fakes of every port.

``FakeRegistry``/``FakeProjects``/``fake_render`` stand in for the module registry with the
contract's shapes (``ValidationResult``/``FieldError`` are the registry's own models), so these
tests exercise the services, not the module catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack, cast

import pytest

from bot.bootstrap import Overrides
from bot.deps import Deps
from bot.settings import Settings
from core.domain.policy import Actor, Policy
from core.domain.request import Request, Requester, SlackThread
from core.domain.workflows import WorkflowNames
from core.services.commands import CreateRequest
from core.services.drift import DriftService
from core.services.queries import QueryService
from core.services.requests import RequestService
from core.services.sync import SyncService
from module_registry.errors import UnknownModule, UnknownProject
from module_registry.result import FieldError, ValidationResult
from tests.fakes import InMemoryAuditLog, InMemoryChatLog, ManualClock, MemoryRequestStore, RecordingNotifier
from tests.graph import build_graph
from tests.services.fake_code_host import FakeCodeHost

OWNER, REPO = "acme", "infra"


class FakeRegistry:
    """One module, ``s3-bucket``: ``name`` required (lowercase), ``versioning`` defaults to true,
    prod forbids ``force_destroy``."""

    def validate(
        self,
        module_id: str,
        config: dict[str, Any],
        environment: str,
        *,
        prod: bool,
        project: str | None = None,
        lifting: Any = (),
    ) -> ValidationResult:
        if module_id != "s3-bucket":
            raise UnknownModule(module_id, ["s3-bucket"])
        errors: list[FieldError] = []
        name = config.get("name")
        if not isinstance(name, str) or not name.islower():
            errors.append(FieldError(field="name", message="is required: a lowercase bucket name", allowed="a-z0-9-"))
        if prod and config.get("force_destroy") and "force_destroy" not in lifting:
            errors.append(FieldError(field="force_destroy", message="is not allowed in prod", allowed="false"))
        merged = {"versioning": True, **config}
        return ValidationResult(ok=not errors, config=merged if not errors else {}, errors=errors)

    def get(self, module_id: str) -> Any:
        """The real catalogue's definition (its destroy guards), for any module id."""
        from module_registry.catalogue import load_registry

        return load_registry(None).get(module_id)


@dataclass(frozen=True)
class Target:
    owner: str
    repo: str
    base_branch: str
    env_path: str
    prod: bool
    allowed_modules: list[str] | None = None
    owner_team: str | None = None


@dataclass
class FakeProjects:
    targets: dict[tuple[str, str], Target] = field(
        default_factory=lambda: {
            ("core", "dev"): Target(OWNER, REPO, "main", "envs/dev", False),
            ("core", "prod"): Target(OWNER, REPO, "main", "envs/prod", True),
            ("core", "sandbox"): Target(OWNER, REPO, "main", "envs/sandbox", False, allowed_modules=["sqs-queue"]),
        }
    )

    def target(self, project: str, environment: str) -> Target:
        try:
            return self.targets[(project, environment)]
        except KeyError:
            raise UnknownProject(project, environment) from None


def fake_render(
    *,
    request_id: str,
    project: str,
    environment: str,
    module: str,
    config: dict[str, Any],
    env_path: str,
    requester: str,
    prod: bool,
    lifting: Sequence[str] = (),  # the real renderer validates with it; this one validates nothing
) -> dict[str, str]:
    body = "\n".join(f'  {k} = "{v}"' for k, v in sorted(config.items()))
    text = f'# tfpilot:begin {request_id}\nmodule "{request_id}" {{\n{body}\n}}\n# tfpilot:end {request_id}\n'
    return {f"{env_path}/tfpilot_{request_id}.tf": text}


REQUESTER = Requester(id="U_DEV", name="Dana Dev", email="dana@example.com", github_login="dana")
DEV = Actor(id="U_DEV", email="dana@example.com", name="Dana Dev", github_login="dana")
APPROVER = Actor(id="U_APP", email="abe@example.com", name="Abe Approver", github_login="abe")
ADMIN = Actor(id="U_ADM", email="ada@example.com", name="Ada Admin", github_login="ada")
VIEWER = Actor(id="U_VIEW", name="Vic Viewer")
PROD_APPROVER = Actor(id="U_PAPP", name="Pat Prod", github_login="pat")

POLICY = Policy.of(
    admins=["U_ADM"],
    approvers=["U_APP", "U_PAPP"],
    developers=["U_DEV"],
    prod_allowed=["U_DEV", "U_PAPP", "U_ADM"],
    destroy_prod_allowed=["U_ADM"],
)


@dataclass
class World:
    """The graph the composition root builds (``deps``), over fakes, and its pieces by name."""

    deps: Deps
    clock: ManualClock
    store: MemoryRequestStore
    audit: InMemoryAuditLog
    chat_log: InMemoryChatLog
    notifier: RecordingNotifier
    host: FakeCodeHost
    workflows: WorkflowNames
    requests: RequestService
    sync: SyncService
    queries: QueryService
    drift: DriftService

    @classmethod
    def of(cls, deps: Deps) -> World:
        return cls(
            deps=deps,
            clock=cast("ManualClock", deps.clock),
            store=cast("MemoryRequestStore", deps.store),
            audit=cast("InMemoryAuditLog", deps.audit),
            chat_log=cast("InMemoryChatLog", deps.chat_log),
            notifier=cast("RecordingNotifier", deps.notifier),
            host=cast("FakeCodeHost", deps.code_host),
            workflows=deps.settings.workflows(),
            requests=deps.requests,
            sync=deps.sync,
            queries=deps.queries,
            drift=deps.drift,
        )

    @property
    def repo(self) -> Any:
        from core.ports.code_host import RepoRef

        return RepoRef(owner=OWNER, name=REPO)

    def events(self, request_id: str) -> list[str]:
        return self.audit.names(request_id)

    def get(self, request_id: str) -> Request:
        return self.store.get(request_id)

    def fresh_requests(self) -> RequestService:
        """A second process: the same ports (the code host as the test may have replaced it), a
        new graph."""
        return self.fresh_graph().requests

    def fresh_graph(self) -> Deps:
        """A second process's whole graph over the same ports."""
        ports = ports_of(self.deps)
        ports["code_host"] = self.host
        return service_graph(self.deps.settings, **ports)


def ports_of(deps: Deps) -> Overrides:
    """The ports of a graph, to build another graph (another process) over the same ones."""
    return Overrides(
        clock=deps.clock,
        objects=deps.objects,
        store=deps.store,
        audit=deps.audit,
        chat_log=deps.chat_log,
        notifier=deps.notifier,
        code_host=deps.code_host,
    )


def service_graph(settings: Settings | None = None, **overrides: Unpack[Overrides]) -> Deps:
    """The services' test graph: ``build_graph`` with the stand-in registry, projects map and
    renderer of this module and its ``POLICY``."""
    overrides.setdefault("registry", FakeRegistry())  # type: ignore[typeddict-item]
    overrides.setdefault("projects", FakeProjects())  # type: ignore[typeddict-item]
    overrides.setdefault("renderer", fake_render)
    overrides.setdefault("policy", POLICY)
    return build_graph(settings, **overrides)


@pytest.fixture
def world() -> World:
    clock = ManualClock()
    # The test drives the cleanup workflow's run and PR like GitHub's webhooks would.
    return World.of(service_graph(clock=clock, code_host=FakeCodeHost(clock=clock, cleanup_runs="manual")))


def create_cmd(**overrides: Any) -> CreateRequest:
    values: dict[str, Any] = {
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "config": {"name": "logs"},
        "requester": REQUESTER,
        "slack": SlackThread(team_id="T1", channel="C123", ts="1700000000.000100"),
        "source": "slack",
    }
    values.update(overrides)
    return CreateRequest(**values)
