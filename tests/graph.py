"""Test object graphs, built by the one composition root (``bot.bootstrap.build``).

``build_graph`` fills every port the test does not name with an in-memory fake that holds to the
port's contract (``MemoryRequestStore``, ``FakeCodeHost``: see tests/contracts and tests/store)
and leaves the services and their wiring to ``build``, so tests run the graph production runs.
"""

from __future__ import annotations

from typing import Unpack

from bot.bootstrap import Overrides, build
from bot.deps import Deps
from bot.settings import Settings, load_settings
from core.adapters.request_store import ObjectRequestStore
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryChatLog,
    InMemoryObjectStore,
    ManualClock,
    MemoryRequestStore,
    RecordingNotifier,
)
from tests.services.fake_code_host import FakeCodeHost


def build_graph(settings: Settings | None = None, *, source: str = "slack", **overrides: Unpack[Overrides]) -> Deps:
    """``build`` over fakes: a ``ManualClock``, one ``InMemoryObjectStore`` (the request store's
    too, as in production), the in-memory audit and chat logs, a ``RecordingNotifier``, a
    ``FakeCodeHost`` and no chat model (the assistant's rules); ``overrides`` replace any of them.
    Without ``settings``: no setting at all (empty policy unless ``policy`` is given)."""
    clock = overrides.setdefault("clock", ManualClock())
    objects = overrides.setdefault("objects", InMemoryObjectStore())
    if "store" not in overrides:
        overrides["store"] = (
            MemoryRequestStore(clock, objects)
            if isinstance(objects, InMemoryObjectStore)
            else ObjectRequestStore(objects, clock)
        )
    if "audit" not in overrides:
        overrides["audit"] = InMemoryAuditLog(clock)
    overrides.setdefault("chat_log", InMemoryChatLog())
    overrides.setdefault("notifier", RecordingNotifier())
    if "code_host" not in overrides:
        overrides["code_host"] = FakeCodeHost(clock=clock)
    overrides.setdefault("chat_model", None)
    return build(settings or load_settings({}), source=source, **overrides)
