"""``Deps``: the object graph the composition root builds and every entry point receives.

Listeners, web routes, the console and the CLI take a ``Deps`` and never build adapters
themselves; tests build a ``Deps`` over in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.service import IntakeService
    from bot.settings import Settings
    from core.domain.policy import Policy
    from core.ports.audit import AuditLog
    from core.ports.chat_log import ChatLog
    from core.ports.clock import Clock
    from core.ports.code_host import CodeHost
    from core.ports.notifier import Notifier
    from core.ports.object_store import ObjectStore
    from core.ports.request_store import RequestStore
    from core.services.drift import DriftService
    from core.services.messagebus import MessageBus
    from core.services.queries import QueryService
    from core.services.requests import RequestService
    from core.services.sync import SyncService
    from module_registry.catalogue import Registry
    from module_registry.projects import ProjectsMap


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    objects: ObjectStore  # requests bucket (or local dir): sessions, dedupe, identities, ...
    store: RequestStore
    audit: AuditLog
    chat_log: ChatLog
    registry: Registry
    projects: ProjectsMap
    code_host: CodeHost
    notifier: Notifier
    policy: Policy
    requests: RequestService
    sync: SyncService
    queries: QueryService
    drift: DriftService
    intake: IntakeService
    bus: MessageBus  # runs the events writes commit (audit, notices, continuations)
