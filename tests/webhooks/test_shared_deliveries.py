"""Every shared GitHub delivery parses, unchanged, to the right "not ours" reason.

The octokit examples come from repositories that are not TfPilot infra repos: no request ids in
run names or branches, workflows other than ours. The parser must say why for each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs
from core.domain.workflows import WorkflowNames
from tests.webhooks.conftest import EVENT_OF_FILE

EXPECTED_REASON: dict[str, str] = {
    "workflow_run": "workflow '.github/workflows/test.yml' is not a TfPilot workflow",
    "pull_request": "branch 'changes' is not a request or cleanup branch",
    "pull_request_review": "branch 'changes' is not a request or cleanup branch",
    "check_run": "event 'check_run' is not tracked",
    "push": "event 'push' is not tracked",
    "workflow_job": "event 'workflow_job' is not tracked",
}


def test_every_shared_delivery_is_covered(webhooks_dir: Path) -> None:
    on_disk = {p.name for p in webhooks_dir.iterdir() if p.suffix == ".json"}
    assert on_disk, "no webhook fixtures found"
    assert on_disk == set(EVENT_OF_FILE), "a delivery was added or removed: map it in conftest.EVENT_OF_FILE"


@pytest.mark.parametrize("name", sorted(EVENT_OF_FILE))
def test_shared_delivery_is_not_ours_with_reason(
    name: str, load: Callable[[str], dict[str, Any]], workflows: WorkflowNames
) -> None:
    event = EVENT_OF_FILE[name]
    result = parse_delivery(event, load(name), workflows=workflows, delivery_id="d-1")
    assert isinstance(result, NotOurs)
    assert result.event == event
    assert result.reason == EXPECTED_REASON[event]


@pytest.mark.parametrize("event", ["ping", "installation", "issues", "", "WORKFLOW_RUN"])
def test_untracked_events_are_not_ours(event: str, workflows: WorkflowNames) -> None:
    result = parse_delivery(event, {"zen": "Keep it logically awesome."}, workflows=workflows)
    assert result == NotOurs(event=event, reason=f"event {event!r} is not tracked")
