"""derive_status: every rule of DESIGN.md's priority list and every overlap between rules."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from core.domain.lifecycle import FAILURE_CONCLUSIONS, derive_status
from core.domain.request import Approval
from core.domain.status import Status
from tests.domain.builders import approved, make_request, pr, run

FAILURES = sorted(FAILURE_CONCLUSIONS)


def test_failure_conclusions_are_exactly_the_designed_set() -> None:
    assert {
        "failure",
        "cancelled",
        "timed_out",
        "action_required",
        "startup_failure",
        "stale",
    } == FAILURE_CONCLUSIONS


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, Status.REQUEST_CREATED),
        ({"pr": pr()}, Status.PLANNING),  # rule 9: PR open
        ({"plan_run": run(status="queued")}, Status.PLANNING),  # rule 8
        ({"plan_run": run(status="in_progress")}, Status.PLANNING),
        ({"plan_run": run(conclusion="success")}, Status.PLAN_READY),  # rule 7
        ({"approval": Approval(approved=True)}, Status.APPROVED),  # rule 6
        ({"pr": pr(merged=True)}, Status.MERGED),  # rule 5
        ({"apply_run": run(conclusion="success")}, Status.APPLIED),  # rule 4
        ({"apply_run": run(status="queued")}, Status.APPLYING),  # rule 3
        ({"apply_run": run(status="in_progress")}, Status.APPLYING),
        ({"destroy_run": run(status="in_progress")}, Status.DESTROYING),  # rule 1
        ({"destroy_run": run(status="queued")}, Status.DESTROYING),
        ({"destroy_run": run(conclusion="success")}, Status.DESTROYED),
        ({"plan_run": run(conclusion="neutral")}, Status.REQUEST_CREATED),  # not a failure conclusion
        ({"approval": Approval(approved=False)}, Status.REQUEST_CREATED),
        ({"pr": pr(open_=False)}, Status.REQUEST_CREATED),  # closed without merge
    ],
)
def test_each_rule_alone(facts: dict[str, Any], expected: Status) -> None:
    assert derive_status(make_request(**facts)) is expected


@pytest.mark.parametrize("conclusion", FAILURES)
@pytest.mark.parametrize("field", ["plan_run", "apply_run", "destroy_run"])
def test_every_failure_conclusion_of_every_run_fails(field: str, conclusion: str) -> None:
    assert derive_status(make_request(**{field: run(conclusion=conclusion)})) is Status.FAILED


# Facts ordered by rule priority: each value is the fact making that rule match.
RULE_FACTS: list[tuple[str, dict[str, Any], Status]] = [
    ("destroying", {"destroy_run": run(status="in_progress")}, Status.DESTROYING),
    ("destroyed", {"destroy_run": run(conclusion="success")}, Status.DESTROYED),
    ("destroy_failed", {"destroy_run": run(conclusion="failure")}, Status.FAILED),
    ("apply_failed", {"apply_run": run(conclusion="timed_out")}, Status.FAILED),
    ("plan_failed", {"plan_run": run(conclusion="cancelled")}, Status.FAILED),
    ("applying", {"apply_run": run(status="in_progress")}, Status.APPLYING),
    ("applied", {"apply_run": run(conclusion="success")}, Status.APPLIED),
    ("merged", {"pr": pr(merged=True)}, Status.MERGED),
    ("approved", {"approval": Approval(approved=True)}, Status.APPROVED),
    ("plan_ready", {"plan_run": run(conclusion="success")}, Status.PLAN_READY),
    ("planning", {"plan_run": run(status="in_progress")}, Status.PLANNING),
    ("pr_open", {"pr": pr()}, Status.PLANNING),
]


def _compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # Two facts about the same field (two different apply runs, say) cannot hold at once.
    return not set(a) & set(b)


@pytest.mark.parametrize(
    ("high", "low"),
    [(h, low) for h, low in itertools.combinations(RULE_FACTS, 2) if _compatible(h[1], low[1])],
    ids=lambda pair: pair[0],
)
def test_every_overlap_the_higher_rule_wins(
    high: tuple[str, dict[str, Any], Status], low: tuple[str, dict[str, Any], Status]
) -> None:
    assert derive_status(make_request(**high[1], **low[1])) is high[2]


def test_all_facts_at_once_is_destroying() -> None:
    facts: dict[str, Any] = {}
    for _, fact, _ in reversed(RULE_FACTS):
        facts.update(fact)
    facts["destroy_run"] = run(status="in_progress")
    assert derive_status(make_request(**facts)) is Status.DESTROYING


def test_approval_for_an_older_commit_does_not_count() -> None:
    request = make_request(pr=pr(sha="new"), plan_run=run(conclusion="success"), approval=approved(sha="old"))
    assert derive_status(request) is Status.PLAN_READY
    request = make_request(pr=pr(sha="new"), plan_run=run(conclusion="success"), approval=approved(sha="new"))
    assert derive_status(request) is Status.APPROVED


def test_a_run_with_a_conclusion_is_not_in_flight_whatever_its_status() -> None:
    # GitHub may briefly report status in_progress with a conclusion already set.
    assert derive_status(make_request(apply_run=run(status="in_progress", conclusion="success"))) is Status.APPLIED


@pytest.mark.parametrize("status", ["queued", "in_progress", "requested", "waiting", "pending"])
@pytest.mark.parametrize(
    ("field", "expected"),
    [("destroy_run", Status.DESTROYING), ("apply_run", Status.APPLYING), ("plan_run", Status.PLANNING)],
)
def test_every_github_in_flight_status_counts_as_running(field: str, expected: Status, status: str) -> None:
    # GitHub reports queued and in_progress, and requested/waiting/pending on the way there
    # (a run waiting for an environment's approval is "waiting"): all are "run in flight".
    assert derive_status(make_request(**{field: run(status=status)})) is expected


@pytest.mark.parametrize("conclusion", ["neutral", "skipped", None])
def test_a_completed_destroy_without_a_verdict_falls_through(conclusion: str | None) -> None:
    facts: dict[str, Any] = {"pr": pr(merged=True), "apply_run": run(conclusion="success")}
    request = make_request(**facts, destroy_run=run(status="completed", conclusion=conclusion))
    assert derive_status(request) is Status.APPLIED
