"""Slack test fixtures: a fake Slack Web API server per test and the scenario harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
