"""Small builders for requests in a given lifecycle state (tests only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.request import Approval, Drift, DriftCounts, PullRequestRef, Request, Requester, RunRef

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def run(status: str | None = "completed", conclusion: str | None = None, sha: str | None = "sha1") -> RunRef:
    return RunRef(run_id=1, url="https://example.invalid/run/1", status=status, conclusion=conclusion, head_sha=sha)


def make_request(**fields: Any) -> Request:
    base: dict[str, Any] = {
        "id": "req_abcdef123456",
        "project": "core",
        "environment": "dev",
        "module": "s3-bucket",
        "received_at": T0,
        "updated_at": T0,
        "requester": Requester(id="U_REQ", email="req@example.com"),
    }
    base.update(fields)
    return Request(**base)


def pr(open_: bool = True, merged: bool = False, sha: str = "sha1") -> PullRequestRef:
    return PullRequestRef(
        number=7, url="https://example.invalid/pr/7", open=open_ and not merged, merged=merged, head_sha=sha
    )


def approved(sha: str = "sha1") -> Approval:
    return Approval(approved=True, approvers=["U_APP"], approved_sha=sha)


def drift(checked_at: datetime = T0 + timedelta(days=1)) -> Drift:
    return Drift(detected=True, summary="1 to change", counts=DriftCounts(change=1), checked_at=checked_at)


def drift_plan(status: str | None = "completed", conclusion: str | None = None) -> RunRef:
    """A plan of the base branch dispatched after ``drift()`` was found."""
    return run(status=status, conclusion=conclusion, sha="base2").model_copy(
        update={"run_id": 2, "dispatched_at": T0 + timedelta(days=1, hours=1)}
    )


def at_status(status: str, *, prod: bool = False) -> Request:
    """A request whose facts derive ``status``."""
    env = {"environment": "prod", "prod": True} if prod else {}
    plan_ok = run(conclusion="success")
    states: dict[str, dict[str, Any]] = {
        "request_created": {},
        "planning": {"pr": pr(), "plan_run": run(status="in_progress")},
        "pr_open": {"pr": pr()},
        "plan_ready": {"pr": pr(), "plan_run": plan_ok},
        "approved": {"pr": pr(), "plan_run": plan_ok, "approval": approved()},
        "merged": {"pr": pr(merged=True), "plan_run": plan_ok, "approval": approved()},
        "applying": {"pr": pr(merged=True), "plan_run": plan_ok, "apply_run": run(status="in_progress")},
        "applied": {"pr": pr(merged=True), "plan_run": plan_ok, "apply_run": run(conclusion="success")},
        "apply_failed": {"pr": pr(merged=True), "plan_run": plan_ok, "apply_run": run(conclusion="failure")},
        "plan_failed": {"pr": pr(), "plan_run": run(conclusion="failure")},
        "destroying": {
            "pr": pr(merged=True),
            "apply_run": run(conclusion="success"),
            "destroy_run": run(status="queued"),
        },
        "destroyed": {
            "pr": pr(merged=True),
            "apply_run": run(conclusion="success"),
            "destroy_run": run(conclusion="success"),
        },
        "destroy_failed": {
            "pr": pr(merged=True),
            "apply_run": run(conclusion="success"),
            "destroy_run": run(conclusion="failure"),
        },
        # Applied, then the drift job found the infrastructure changed outside Terraform.
        "applied_with_drift": {
            "pr": pr(merged=True),
            "plan_run": plan_ok.model_copy(update={"dispatched_at": T0}),
            "apply_run": run(conclusion="success"),
            "drift": drift(),
        },
        # Drift, then Re-plan: the plan of the base branch runs, succeeded, or failed.
        "drift_planning": {
            "pr": pr(merged=True),
            "plan_run": drift_plan(status="in_progress"),
            "apply_run": run(conclusion="success"),
            "drift": drift(),
        },
        "drift_planned": {
            "pr": pr(merged=True),
            "plan_run": drift_plan(conclusion="success"),
            "apply_run": run(conclusion="success"),
            "drift": drift(),
        },
        "drift_plan_failed": {
            "pr": pr(merged=True),
            "plan_run": drift_plan(conclusion="failure"),
            "apply_run": run(conclusion="success"),
            "drift": drift(),
        },
        # A successful plan, but the PR was closed on GitHub without merging.
        "pr_closed": {"pr": pr(open_=False), "plan_run": plan_ok},
        # Approved, then a new commit: the approval no longer counts (status plan_ready).
        "stale_approval": {"pr": pr(sha="sha2"), "plan_run": plan_ok, "approval": approved(sha="sha1")},
    }
    return make_request(**env, **states[status])
