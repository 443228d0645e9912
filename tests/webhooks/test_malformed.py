"""Malformed or hostile bodies never raise: they are "not ours", with the reason."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.github.webhooks import TRACKED_EVENTS, parse_delivery
from core.domain.facts import NotOurs, PullRequestFact, ReviewFact, RunFact
from core.domain.workflows import WorkflowNames
from tests.webhooks.conftest import EVENT_OF_FILE, PULL_REQUEST_FILES, REQUEST_ID, REVIEW_FILES, WORKFLOW_RUN_FILES

Loader = Callable[[str], dict[str, Any]]
WORKFLOWS = WorkflowNames()


@pytest.mark.parametrize("event", TRACKED_EVENTS)
def test_empty_object(event: str) -> None:
    result = parse_delivery(event, {}, workflows=WORKFLOWS)
    assert isinstance(result, NotOurs)
    assert result.reason.startswith(f"malformed {event} payload: ")
    assert "Field required" in result.reason


@pytest.mark.parametrize("event", TRACKED_EVENTS)
@pytest.mark.parametrize("body", [[], "x", None, 3, [{"action": "opened"}]])
def test_not_an_object(event: str, body: Any) -> None:
    result = parse_delivery(event, body, workflows=WORKFLOWS)
    assert result == NotOurs(event=event, reason=f"malformed {event} payload: not a JSON object")


def _run(load: Loader) -> dict[str, Any]:
    payload = load("octokit__workflow_run_completed.payload.json")
    payload["workflow_run"]["path"] = ".github/workflows/plan.yml"
    payload["workflow_run"]["name"] = f"plan {REQUEST_ID}"
    return payload


def _pr(load: Loader) -> dict[str, Any]:
    payload = load("octokit__pull_request_opened.payload.json")
    payload["pull_request"]["head"]["ref"] = f"request/{REQUEST_ID}"
    return payload


def _review(load: Loader) -> dict[str, Any]:
    payload = load("octokit__pull_request_review_submitted.payload.json")
    payload["pull_request"]["head"]["ref"] = f"request/{REQUEST_ID}"
    return payload


CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("workflow_run", "run", lambda p: p.pop("workflow_run"), "workflow_run: Field required"),
    ("workflow_run", "run", lambda p: p["workflow_run"].pop("id"), "workflow_run.id: Field required"),
    (
        "workflow_run",
        "run",
        lambda p: p["workflow_run"].update(id="289782451"),
        "workflow_run.id: Input should be a valid integer",
    ),
    (
        "workflow_run",
        "run",
        lambda p: p["workflow_run"].update(status=7),
        "workflow_run.status: Input should be a valid string",
    ),
    (
        "workflow_run",
        "run",
        lambda p: p["workflow_run"].update(html_url=None),
        "workflow_run.html_url: Input should be a valid string",
    ),
    (
        "workflow_run",
        "run",
        lambda p: p["workflow_run"].update(created_at="yesterday"),
        "workflow_run.created_at: Input should be a valid datetime",
    ),
    ("workflow_run", "run", lambda p: p.update(workflow_run=[]), "workflow_run: Input should be a valid dictionary"),
    ("pull_request", "pr", lambda p: p["pull_request"].pop("head"), "pull_request.head: Field required"),
    ("pull_request", "pr", lambda p: p["pull_request"]["head"].pop("sha"), "pull_request.head.sha: Field required"),
    (
        "pull_request",
        "pr",
        lambda p: p["pull_request"].update(state="draft"),
        "pull_request.state: Input should be 'open' or 'closed'",
    ),
    (
        "pull_request",
        "pr",
        lambda p: p["pull_request"].update(number=True),
        "pull_request.number: Input should be a valid integer",
    ),
    ("pull_request", "pr", lambda p: p.pop("action"), "action: Field required"),
    ("pull_request_review", "review", lambda p: p["review"].pop("state"), "review.state: Field required"),
    (
        "pull_request_review",
        "review",
        lambda p: p["review"].update(user={"id": 1}),
        "review.user.login: Field required",
    ),
    ("pull_request_review", "review", lambda p: p.pop("pull_request"), "pull_request: Field required"),
]


@pytest.mark.parametrize(("event", "shape", "break_it", "reason"), CASES)
def test_broken_field_is_named(
    event: str, shape: str, break_it: Callable[[dict[str, Any]], None], reason: str, load: Loader
) -> None:
    payload = {"run": _run, "pr": _pr, "review": _review}[shape](load)
    good = parse_delivery(event, copy.deepcopy(payload), workflows=WORKFLOWS)
    assert isinstance(good, RunFact | PullRequestFact | ReviewFact)  # the unbroken payload is ours
    break_it(payload)
    result = parse_delivery(event, payload, workflows=WORKFLOWS)
    assert isinstance(result, NotOurs)
    assert result.event == event
    assert result.reason.startswith(f"malformed {event} payload: ")
    assert reason in result.reason


def test_many_errors_are_summarised() -> None:
    payload = {"action": 1, "pull_request": {"number": "x", "html_url": 2, "state": 3, "head": 4, "base": 5}}
    result = parse_delivery("pull_request", payload, workflows=WORKFLOWS)
    assert isinstance(result, NotOurs)
    assert result.reason.endswith("more")
    assert result.reason.count(";") == 3


# Hypothesis: any JSON object, and the shared deliveries with any part replaced by any JSON.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
EVENTS = st.sampled_from([*TRACKED_EVENTS, "push", "ping"]) | st.text(max_size=15)


def _assert_total(event: str, payload: Any) -> None:
    result = parse_delivery(event, payload, workflows=WORKFLOWS)
    assert isinstance(result, RunFact | PullRequestFact | ReviewFact | NotOurs)
    if isinstance(result, NotOurs):
        assert result.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=EVENTS, payload=st.dictionaries(st.text(max_size=15), JSON, max_size=6))
def test_arbitrary_objects_never_raise(event: str, payload: dict[str, Any]) -> None:
    _assert_total(event, payload)


@settings(max_examples=100, deadline=None)
@given(
    event=st.sampled_from(TRACKED_EVENTS),
    run=st.fixed_dictionaries(
        {
            "id": JSON,
            "html_url": JSON,
            "status": JSON,
            "path": st.just(".github/workflows/plan.yml") | JSON,
            "name": JSON,
        }
    ),
    pr=st.fixed_dictionaries({"number": JSON, "state": JSON, "head": JSON, "base": JSON, "html_url": JSON}),
)
def test_plausible_shapes_never_raise(event: str, run: dict[str, Any], pr: dict[str, Any]) -> None:
    _assert_total(event, {"action": "completed", "workflow_run": run, "pull_request": pr, "review": run})


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


_CACHE: dict[str, str] = {}


def _shared(root: Path, name: str) -> dict[str, Any]:
    if name not in _CACHE:
        _CACHE[name] = (root / "github" / "webhooks" / name).read_text()
    loaded: dict[str, Any] = json.loads(_CACHE[name])  # a fresh copy for each example
    return loaded


OUR_FILES = [*WORKFLOW_RUN_FILES, *PULL_REQUEST_FILES, *REVIEW_FILES]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(OUR_FILES), data=st.data(), replacement=JSON, make_ours=st.booleans())
def test_fixture_with_one_part_replaced_never_raises(
    shared_fixtures: Path, name: str, data: st.DataObject, replacement: Any, make_ours: bool
) -> None:
    payload = _shared(shared_fixtures, name)
    if make_ours:
        if "workflow_run" in payload:
            payload["workflow_run"]["path"] = ".github/workflows/apply.yml"
            payload["workflow_run"]["name"] = f"apply {REQUEST_ID}"
        else:
            payload["pull_request"]["head"]["ref"] = f"request/{REQUEST_ID}"
    paths = [p for p in _paths(payload) if p]
    path = data.draw(st.sampled_from(paths))
    node = payload
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = replacement
    _assert_total(EVENT_OF_FILE[name], payload)
