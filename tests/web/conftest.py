"""Web test fixtures: the FastAPI app over the real services and in-memory fakes of every port.

``web`` builds a ``Deps`` over the services' test world (``tests.services.conftest``: fake
registry and projects, ``FakeCodeHost``, ``RecordingNotifier``, ``ManualClock``) and the app
with an inline webhook executor (syncs finish before the response), the reconciler thread off.
Secrets here are test-only values.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.deps import Deps
from bot.settings import Settings, load_settings
from bot.web.app import create_web_app
from bot.web.executor import InlineExecutor
from tests.conftest import SHARED_FIXTURES
from tests.fakes import (
    InMemoryObjectStore,
)
from tests.services.conftest import World, service_graph

WEBHOOK_SECRET = "test-github-webhook-secret"
API_TOKEN = "test-api-token"
DRIFT_SECRET = "test-drift-secret"
ENCRYPTION_KEY = "test-encryption-key-not-a-real-one"
GITHUB_CLIENT_ID = "Iv1.testclientid"
GITHUB_CLIENT_SECRET = "test-github-client-secret"
PUBLIC_URL = "https://tfpilot.test"
GITHUB_WEB = "https://github.test"
GITHUB_API = "https://api.github.test"

WEBHOOKS_DIR = SHARED_FIXTURES / "github" / "webhooks"


def _data_dir() -> str:
    """The test's own data dir (``tests/conftest.py`` sets it per test); a fresh temporary one
    for module-scoped apps built outside a test. Never the work tree's ``.tfpilot``."""
    return os.environ.get("TFPILOT_DATA_DIR") or tempfile.mkdtemp(prefix="tfpilot-web-")


def env_for(**extra: str) -> dict[str, str]:
    return {
        "TFPILOT_DATA_DIR": _data_dir(),
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TFPILOT_API_TOKEN": API_TOKEN,
        "TFPILOT_WEBHOOK_SECRET": DRIFT_SECRET,
        "TFPILOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GITHUB_CLIENT_ID": GITHUB_CLIENT_ID,
        "GITHUB_CLIENT_SECRET": GITHUB_CLIENT_SECRET,
        "TFPILOT_PUBLIC_URL": PUBLIC_URL,
        "TFPILOT_GITHUB_WEB_URL": GITHUB_WEB,
        "TFPILOT_GITHUB_API_URL": GITHUB_API,
        "TFPILOT_RECONCILE_MINUTES": "10",
        **extra,
    }


def github_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Web:
    world: World
    deps: Deps
    objects: InMemoryObjectStore
    client: TestClient
    dms: list[tuple[str | None, str, str]] = field(default_factory=list)
    _seq: int = 0

    @property
    def app(self) -> Any:
        return self.client.app

    @property
    def ctx(self) -> Any:
        return self.client.app.state.tfpilot  # type: ignore[attr-defined]

    def auth(self, token: str = API_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def delivery_id(self) -> str:
        self._seq += 1
        return f"00000000-0000-4000-8000-{self._seq:012d}"

    def deliver(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery: str | None = None,
        signature: str | None = "auto",
        headers: dict[str, str] | None = None,
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or self.delivery_id(),
            **(headers or {}),
        }
        if signature == "auto":
            all_headers["X-Hub-Signature-256"] = github_signature(body)
        elif signature is not None:
            all_headers["X-Hub-Signature-256"] = signature
        return self.client.post("/github/webhook", content=body, headers=all_headers)


def build_deps(settings: Settings) -> tuple[Deps, World, InMemoryObjectStore]:
    """The composition root's graph over the services' fakes (the web side never reads the
    registry: the stand-in one serves)."""
    objects = InMemoryObjectStore()
    deps = service_graph(settings, objects=objects)
    return deps, World.of(deps), objects


def make_web(**env: str) -> Web:
    settings = load_settings(env_for(**env))
    deps, world, objects = build_deps(settings)
    dms: list[tuple[str | None, str, str]] = []
    app = create_web_app(
        deps,
        executor=InlineExecutor(),
        reconcile_interval=None,
        dm=lambda team, user, text: dms.append((team, user, text)),
    )
    return Web(world=world, deps=deps, objects=objects, client=TestClient(app, base_url="https://testserver"), dms=dms)


@pytest.fixture
def web() -> Iterator[Web]:
    w = make_web()
    yield w
    w.client.close()


@pytest.fixture(scope="session")
def webhooks_dir() -> Path:
    assert WEBHOOKS_DIR.is_dir(), f"webhook fixtures missing from the checkout: {WEBHOOKS_DIR}"
    return WEBHOOKS_DIR


_CACHE: dict[str, dict[str, Any]] = {}


def load_fixture(name: str) -> dict[str, Any]:
    if name not in _CACHE:
        _CACHE[name] = json.loads((WEBHOOKS_DIR / name).read_text())
    return copy.deepcopy(_CACHE[name])
