"""Fixtures for webhook parsing: the shared GitHub deliveries, by file name and event."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.domain.workflows import WorkflowNames

REQUEST_ID = "req_abc123def456"

# Every shared delivery and the X-GitHub-Event header GitHub sends with it.
EVENT_OF_FILE: dict[str, str] = {
    "octokit-webhooks.net__workflow_run_in_progress.payload.json": "workflow_run",
    "octokit__check_run_completed.1.payload.json": "check_run",
    "octokit__check_run_completed.payload.json": "check_run",
    "octokit__pull_request_closed.payload.json": "pull_request",
    "octokit__pull_request_opened.payload.json": "pull_request",
    "octokit__pull_request_review_dismissed.payload.json": "pull_request_review",
    "octokit__pull_request_review_submitted.payload.json": "pull_request_review",
    "octokit__pull_request_synchronize.payload.json": "pull_request",
    "octokit__push_payload.json": "push",
    "octokit__push_with-new-branch.payload.json": "push",
    "octokit__workflow_job_completed.failure.with-organization.payload.json": "workflow_job",
    "octokit__workflow_job_completed.success.with-organization.payload.json": "workflow_job",
    "octokit__workflow_job_in_progress.payload.json": "workflow_job",
    "octokit__workflow_job_in_progress.with-queued-steps.payload.json": "workflow_job",
    "octokit__workflow_job_queued.payload.json": "workflow_job",
    "octokit__workflow_job_waiting.payload.json": "workflow_job",
    "octokit__workflow_run_completed.payload.json": "workflow_run",
    "octokit__workflow_run_completed.with-pull-requests.payload.json": "workflow_run",
    "octokit__workflow_run_requested.payload.json": "workflow_run",
    "octokit__workflow_run_requested.with-conclusion.payload.json": "workflow_run",
}

WORKFLOW_RUN_FILES = sorted(f for f, e in EVENT_OF_FILE.items() if e == "workflow_run")
PULL_REQUEST_FILES = sorted(f for f, e in EVENT_OF_FILE.items() if e == "pull_request")
REVIEW_FILES = sorted(f for f, e in EVENT_OF_FILE.items() if e == "pull_request_review")


@pytest.fixture(scope="session")
def webhooks_dir(shared_fixtures: Path) -> Path:
    return shared_fixtures / "github" / "webhooks"


@pytest.fixture
def load(webhooks_dir: Path) -> Callable[[str], dict[str, Any]]:
    """A fresh deep copy of one delivery: tests rewrite fields without touching the file."""
    cache: dict[str, dict[str, Any]] = {}

    def _load(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = json.loads((webhooks_dir / name).read_text())
        return copy.deepcopy(cache[name])

    return _load


@pytest.fixture
def workflows() -> WorkflowNames:
    return WorkflowNames()
