"""Fixtures for GitHub adapter tests: a respx router behind an OpenAPI contract checker.

``openapi_checker`` checks every request a client sends against GitHub's REST description
(``fixtures/github/rest_openapi_selected_ops.json``) and fails the test on any violation.
Reuse it from other test areas (services) by building the client on its transport::

    client = GitHubClient(auth=StaticToken("t"), base_url=API_URL,
                          transport=openapi_checker.transport(github_api.handler), sleep=sleeps.append)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.ports.code_host import RepoRef
from tests.github.openapi_contract import OpenApiChecker, OpenApiSpec

API_URL = "https://api.github.com"
TOKEN = "ghs_TESTTOKENvalue0123456789abcdefABCDEF"
REPO = RepoRef(owner="acme", name="infra")


@pytest.fixture(scope="session")
def openapi_spec(shared_fixtures: Path) -> OpenApiSpec:
    return OpenApiSpec(shared_fixtures / "github" / "rest_openapi_selected_ops.json")


@pytest.fixture
def make_openapi_checker(openapi_spec: OpenApiSpec) -> Iterator[Callable[[str], OpenApiChecker]]:
    made: list[OpenApiChecker] = []

    def make(base_url: str = API_URL) -> OpenApiChecker:
        checker = OpenApiChecker(openapi_spec, base_url)
        made.append(checker)
        return checker

    yield make
    for checker in made:
        checker.assert_clean()


@pytest.fixture
def openapi_checker(make_openapi_checker: Callable[[str], OpenApiChecker]) -> OpenApiChecker:
    """Checks requests to ``API_URL``; the test fails at teardown if any violated the spec."""
    return make_openapi_checker(API_URL)


@pytest.fixture
def github_api() -> respx.MockRouter:
    """The fake GitHub: add routes relative to ``API_URL``; unmatched requests fail."""
    return respx.MockRouter(base_url=API_URL, assert_all_called=False)


@pytest.fixture
def sleeps() -> list[float]:
    """Every sleep the client asked for, in seconds (nothing actually sleeps)."""
    return []


class FakeTime:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(
    github_api: respx.MockRouter, openapi_checker: OpenApiChecker, sleeps: list[float], fake_time: FakeTime
) -> Iterator[Callable[..., GitHubClient]]:
    clients: list[GitHubClient] = []

    def make(**overrides: Any) -> GitHubClient:
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            fake_time.value += seconds

        options: dict[str, Any] = {
            "auth": StaticToken(TOKEN),
            "base_url": API_URL,
            "transport": openapi_checker.transport(github_api.handler),
            "sleep": sleep,
            "now": fake_time,
            "rand": lambda: 0.5,
        }
        options.update(overrides)
        client = GitHubClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., GitHubClient]) -> GitHubClient:
    return make_client()


@pytest.fixture
def code_host(client: GitHubClient) -> GitHubCodeHost:
    return GitHubCodeHost(client, dispatch_poll_seconds=1.0)
