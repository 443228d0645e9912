"""JSON -> port models on real GitHub documents (the webhook fixtures carry the same
``workflow-run`` / ``pull-request`` / review schemas the REST API returns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.adapters.github import mapping
from core.ports.code_host import CodeHostError, RepoRef

WEBHOOKS = Path("github") / "webhooks"


def load(shared_fixtures: Path, name: str) -> dict:
    return json.loads((shared_fixtures / WEBHOOKS / name).read_text())


@pytest.mark.parametrize(
    "name",
    [
        "octokit-webhooks.net__workflow_run_in_progress.payload.json",
        "octokit__workflow_run_completed.payload.json",
        "octokit__workflow_run_requested.payload.json",
    ],
)
def test_every_workflow_run_fixture_maps_to_a_run(shared_fixtures: Path, name: str) -> None:
    raw = load(shared_fixtures, name)["workflow_run"]
    run = mapping.run(raw)
    assert run.run_id == raw["id"]
    assert run.url == raw["html_url"]
    assert run.status == raw["status"]
    assert run.conclusion == raw.get("conclusion")
    assert run.workflow == raw["path"].rsplit("/", 1)[-1]
    assert run.name == (raw.get("display_title") or raw.get("name"))
    assert run.created_at is not None and run.created_at.tzinfo is not None


def test_pull_request_fixtures_map(shared_fixtures: Path) -> None:
    closed = load(shared_fixtures, "octokit__pull_request_closed.payload.json")["pull_request"]
    pr = mapping.pull_request(closed)
    assert (pr.number, pr.state, pr.merged, pr.merge_commit_sha) == (2, "closed", False, None)
    assert pr.head_ref == closed["head"]["ref"] and pr.base_ref == closed["base"]["ref"]
    opened = mapping.pull_request(load(shared_fixtures, "octokit__pull_request_opened.payload.json")["pull_request"])
    assert opened.state == "open" and opened.head_sha


def test_review_fixture_maps(shared_fixtures: Path) -> None:
    raw = load(shared_fixtures, "octokit__pull_request_review_submitted.payload.json")["review"]
    review = mapping.review(raw)
    assert review.id == raw["id"]
    assert review.state == raw["state"].upper()
    assert review.user_login == raw["user"]["login"]
    assert review.commit_id == raw["commit_id"]


def test_run_url_falls_back_to_the_web_url() -> None:
    run = mapping.run(
        {"id": 5, "status": "queued"}, web_url="https://ghe.example.test", repo=RepoRef(owner="a", name="b")
    )
    assert run.url == "https://ghe.example.test/a/b/actions/runs/5"


def test_workflow_file_strips_folder_and_ref() -> None:
    assert mapping.workflow_file(".github/workflows/plan.yml@refs/heads/main") == "plan.yml"
    assert mapping.workflow_file(None) is None


def test_run_mentions_only_whole_request_ids() -> None:
    assert mapping.run_mentions({"display_title": "plan req_abc123def456 dev"}, "req_abc123def456")
    assert not mapping.run_mentions({"display_title": "plan req_abc123def4567 dev"}, "req_abc123def456")
    assert mapping.run_mentions({"display_title": None, "name": "apply req_abc123def456"}, "req_abc123def456")


@pytest.mark.parametrize("owner", ["", "a/b", "..", "a b", "x" * 101])
def test_bad_repo_names_are_refused(owner: str) -> None:
    with pytest.raises(CodeHostError, match="invalid repository name"):
        mapping.check_repo(RepoRef(owner=owner, name="infra"))


@pytest.mark.parametrize(
    ("convert", "doc", "says"),
    [
        (mapping.pull_request, None, "pull request without a numeric 'number'"),
        (mapping.pull_request, "<html>Sign in</html>", "pull request without a numeric 'number'"),
        (mapping.pull_request, {"number": "7"}, "pull request without a numeric 'number'"),
        (mapping.pull_request, {"number": 7, "merged_at": "yesterday"}, "pull request with an unreadable 'merged_at'"),
        (mapping.review, {"id": True}, "review without a numeric 'id'"),
        (mapping.review, {"id": 3, "submitted_at": [1]}, "review with an unreadable 'submitted_at'"),
        (mapping.run, {"name": "plan"}, "workflow run without a numeric 'id'"),
        (mapping.run, {"id": 5, "created_at": "soon"}, "workflow run with an unreadable 'created_at'"),
        (mapping.job, {}, "job without a numeric 'id'"),
        (mapping.job, {"id": 1, "steps": [{"number": 1, "conclusion": 5}]}, "job with an unreadable 'conclusion'"),
    ],
)
def test_documents_github_would_not_send_are_clear_errors(convert: object, doc: object, says: str) -> None:
    """A proxy's login page, a wrong API URL or a changed schema: a ``CodeHostError`` that says
    what could not be read, never a KeyError or a pydantic trace from deep inside a service."""
    with pytest.raises(CodeHostError, match=says):
        convert(doc)  # type: ignore[operator]


def test_a_step_without_a_number_still_maps() -> None:
    job = mapping.job({"id": 1, "name": "plan", "steps": [{"number": "x", "name": "init", "conclusion": "failure"}]})
    assert [(s.number, s.name, s.conclusion) for s in job.steps] == [(0, "init", "failure")]
