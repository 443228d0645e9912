"""Fixtures for the local forge: a ``LocalCodeHost`` on ``tmp_path`` recording every fact."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.adapters.local_code_host import LocalCodeHost
from core.domain.facts import Fact
from core.ports.code_host import RepoRef
from tests.fakes import ManualClock

REQ = "req_abc123def456"
BRANCH = f"request/{REQ}"
REPO = RepoRef(owner="acme", name="infra")


class FactSink:
    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def __call__(self, fact: Fact) -> None:
        self.facts.append(fact)

    def kinds(self) -> list[str]:
        out = []
        for f in self.facts:
            if f.type == "run":
                out.append(f"{f.kind}:{f.run.status}:{f.run.conclusion or '-'}")  # type: ignore[union-attr]
            elif f.type == "pull_request":
                out.append(f"pr:{f.action}")  # type: ignore[union-attr]
            else:
                out.append(f"review:{f.action}")  # type: ignore[union-attr]
        return out


def tf_block(request_id: str, body: str) -> str:
    return f"# tfpilot:begin {request_id}\n{body}# tfpilot:end {request_id}\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sink() -> FactSink:
    return FactSink()


@pytest.fixture
def host(tmp_path: Path, clock: ManualClock, sink: FactSink) -> LocalCodeHost:
    return LocalCodeHost(tmp_path / "data", clock, runner_mode="inline", on_fact=sink)
