"""Assistant fixtures: an ``IntakeService`` over in-memory fakes (``world``) or over the real
registry, projects map and ``RequestService`` (``core``), and a conversation driver."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.domain.reply import Reply
from assistant.domain.session import ConversationKey, IntakeSession
from assistant.service import IntakeService
from bot.views.refusals import reason_text
from core.domain.request import Requester
from tests.assistant.fakes import FakeProjects, FakeRegistry, FakeRequestService
from tests.fakes import InMemoryChatLog, InMemoryObjectStore, ManualClock

USER = Requester(id="U_ALICE", name="alice", email="alice@example.com", team_id="T1")


class Chat:
    """Drives one conversation: ``say`` a line, get the reply; ``session`` is the stored state."""

    def __init__(self, service: IntakeService, key: ConversationKey, user: Requester = USER) -> None:
        self.service = service
        self.key = key
        self.user = user
        self.replies: list[Reply] = []

    def say(self, text: str) -> Reply:
        reply = self.service.handle(self.key, self.user, text)
        self.replies.append(reply)
        return reply

    def form(self, values: dict[str, Any]) -> Reply:
        reply = self.service.submit_form(self.key, self.user, values)
        self.replies.append(reply)
        return reply

    @property
    def session(self) -> IntakeSession:
        stored = self.service.session(self.key)
        assert stored is not None
        return stored


@dataclass
class World:
    clock: ManualClock
    objects: InMemoryObjectStore
    chat_log: InMemoryChatLog
    registry: Any
    projects: Any
    requests: FakeRequestService
    make_service: Callable[..., IntakeService]
    _threads: itertools.count = field(default_factory=lambda: itertools.count(1))

    def service(self, **kwargs: Any) -> IntakeService:
        return self.make_service(**kwargs)

    def chat(self, service: IntakeService | None = None, *, thread: str | None = None, user: Requester = USER) -> Chat:
        key = ConversationKey(team_id="T1", channel="D123", thread_ts=thread or f"1700000000.{next(self._threads):06d}")
        return Chat(service or self.service(), key, user)


def _ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):012d}"


@pytest.fixture
def world() -> World:
    clock = ManualClock()
    objects = InMemoryObjectStore()
    chat_log = InMemoryChatLog()
    registry = FakeRegistry()
    projects = FakeProjects()
    requests = FakeRequestService(clock)
    request_ids = _ids("req_")
    session_ids = _ids("ses_")

    def make(**kwargs: Any) -> IntakeService:
        args: dict[str, Any] = {
            "objects": objects,
            "chat_log": chat_log,
            "registry": registry,
            "projects": projects,
            "requests": requests,
            "model": None,
            "clock": clock,
            "new_session_id": session_ids,
            "new_request_id_fn": request_ids,
            "refusal_text": reason_text,
        }
        args.update(kwargs)
        return IntakeService(**args)

    return World(clock, objects, chat_log, registry, projects, requests, make)


DEV = Requester(id="U_DEV", name="dev", email="dev@example.com")
PROD = Requester(id="U_PROD", name="prod", email="prod@example.com")


@dataclass
class Core:
    store: Any  # MemoryRequestStore
    host: Any  # FakeCodeHost
    requests: Any  # RequestService
    service: IntakeService
    objects: InMemoryObjectStore
    chat_log: InMemoryChatLog

    def chat(self, user: Requester = DEV, thread: str = "1700000000.000900") -> Chat:
        return Chat(self.service, ConversationKey(team_id="T1", channel="C42", thread_ts=thread), user)


@pytest.fixture(scope="session")
def real_catalogue() -> tuple[Any, Any]:
    """The real module registry and example projects map, loaded once (they are read-only)."""
    from module_registry import catalogue, projects

    return catalogue.load_registry(), projects.load_projects()


@pytest.fixture
def core(real_catalogue: tuple[Any, Any]) -> Core:
    """The assistant over the real core services, as the composition root builds them."""
    from core.domain.policy import Policy
    from tests.graph import build_graph

    registry, projects_map = real_catalogue
    deps = build_graph(
        registry=registry,
        projects=projects_map,
        policy=Policy.of(developers=["U_DEV", "U_PROD"], prod_allowed=["U_PROD"]),
    )
    return Core(deps.store, deps.code_host, deps.requests, deps.intake, deps.objects, deps.chat_log)  # type: ignore[arg-type]
