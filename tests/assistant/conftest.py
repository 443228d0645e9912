"""Assistant fixtures: an ``IntakeService`` over in-memory fakes, and a conversation driver."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.domain.reply import Reply
from assistant.domain.session import ConversationKey, IntakeSession
from assistant.service import IntakeService
from core.domain.errors import PermissionDenied
from core.domain.request import PullRequestRef, Request, Requester
from tests.assistant.fakes import FakeProjects, FakeRegistry
from tests.fakes import InMemoryChatLog, InMemoryObjectStore, ManualClock

USER = Requester(id="U_ALICE", name="alice", email="alice@example.com", team_id="T1")


@dataclass
class FakeRequestService:
    """``RequestService.create/preview`` as the assistant sees them: idempotent on the key."""

    clock: ManualClock
    prod_allowed: set[str] = field(default_factory=set)
    created: dict[str, Request] = field(default_factory=dict)  # idempotency key -> request
    commands: list[Any] = field(default_factory=list)
    previews: int = 0
    fail_with: Exception | None = None

    def _check(self, cmd: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if cmd.environment == "prod" and cmd.requester.id not in self.prod_allowed:
            raise PermissionDenied("create", "requests in prod need the prod allowlist")

    def preview(self, cmd: Any) -> dict[str, str]:
        self.previews += 1
        body = "\n".join(f'  {k} = "{v}"' for k, v in sorted(cmd.config.items()))
        path = f"envs/{cmd.environment}/tfpilot_{cmd.request_id}.tf"
        return {
            path: f'# tfpilot:begin {cmd.request_id}\nmodule "{cmd.module}" {{\n{body}\n}}\n# tfpilot:end {cmd.request_id}\n'
        }

    def create(self, cmd: Any) -> Request:
        self.commands.append(cmd)
        self._check(cmd)
        if cmd.idempotency_key in self.created:
            return self.created[cmd.idempotency_key]
        now = self.clock.now()
        request = Request(
            id=cmd.request_id,
            project=cmd.project,
            environment=cmd.environment,
            module=cmd.module,
            config=cmd.config,
            requester=cmd.requester,
            idempotency_key=cmd.idempotency_key,
            slack=cmd.slack,
            received_at=now,
            updated_at=now,
            pr_url=f"https://github.example/acme/{cmd.project}-infra/pull/{len(self.created) + 1}",
            pr=PullRequestRef(number=len(self.created) + 1, open=True),
        )
        self.created[cmd.idempotency_key] = request
        return request


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
        }
        args.update(kwargs)
        return IntakeService(**args)

    return World(clock, objects, chat_log, registry, projects, requests, make)
