"""Slack test fixtures: a fake Slack Web API server per test and the scenario harness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from module_registry.projects import example_projects_file
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import Harness, start_harness


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def harness(fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path) -> Iterator[Harness]:
    h = start_harness(fake_slack, tmp_path, shared_fixtures)
    try:
        yield h
    finally:
        h.close()


def projects_file(tmp_path: Path, *, project: str | None = None, prod: str | None = None) -> Path:
    """The shipped example map with an approvals channel on the core project and/or its prod."""
    doc = yaml.safe_load(example_projects_file().read_text())
    core = doc["projects"]["core"]
    if project:
        core["approvals_channel"] = project
    if prod:
        core["environments"]["prod"]["approvals_channel"] = prod
    path = tmp_path / "projects.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def start(fake_slack: FakeSlack, tmp_path: Path, shared_fixtures: Path) -> Iterator[Callable[..., Harness]]:
    """``start(project=channel, prod=channel)``: a harness whose projects map names those
    approvals channels (closed after the test)."""
    started: list[Harness] = []

    def make(**channels: str) -> Harness:
        path = projects_file(tmp_path, **channels)
        h = start_harness(fake_slack, tmp_path, shared_fixtures, TFPILOT_PROJECTS_FILE=str(path))
        started.append(h)
        return h

    yield make
    for h in started:
        h.close()
