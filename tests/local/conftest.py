"""Fixtures for the local forge: a ``LocalCodeHost`` on ``tmp_path`` recording every fact."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.adapters.local_cloud import MotoServer
from core.adapters.local_code_host import LocalCodeHost
from core.adapters.local_runner import LocalRunner
from core.adapters.terraform_cli import TerraformCli
from core.adapters.terraform_run import RealTerraform
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


# --- real Terraform against the local cloud ---------------------------------------------------

# Where the AWS provider comes from in these tests: TFPILOT_TERRAFORM_PLUGIN_DIR when set, else
# the filesystem mirror these machines carry. Tests needing it skip, saying why, when absent.
PLUGIN_DIR = Path(os.environ.get("TFPILOT_TERRAFORM_PLUGIN_DIR") or "/opt/tf-plugins")


def terraform_problem() -> str | None:
    from core.adapters.terraform_cli import provider_in

    if shutil.which("terraform") is None:
        return "terraform is not installed"
    if not provider_in(PLUGIN_DIR):
        return f"the hashicorp/aws provider is not under {PLUGIN_DIR} (set TFPILOT_TERRAFORM_PLUGIN_DIR)"
    return None


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """ONE moto server per test session (per xdist worker), started by the real launcher."""
    problem = terraform_problem()
    if problem is not None:
        print(f"SKIP real Terraform tests: {problem}")
        pytest.skip(problem)
    server = MotoServer(tmp_path_factory.mktemp("local-cloud"))
    server.endpoint()
    yield server
    server.stop()


@pytest.fixture
def real_host(tmp_path: Path, clock: ManualClock, sink: FactSink, local_cloud: MotoServer) -> LocalCodeHost:
    """A local forge whose runner runs Terraform for real against the session's moto server."""
    cli = TerraformCli(shutil.which("terraform") or "terraform", plugin_dir=PLUGIN_DIR)
    runner = LocalRunner(clock, real=RealTerraform(cli, local_cloud, tmp_path / "terraform"))
    return LocalCodeHost(tmp_path / "data", clock, runner_mode="inline", on_fact=sink, runner=runner)
