"""Requests written straight into a store at a given stage, their pull request and plan run
known to a ``FakeGitHub``: what the multi-process tests and ``bench_serve`` click on.

``plan_ready``: the PR open, the plan succeeded (Approve, Merge and Apply to go). ``merged``: the
PR merged after an approval (Apply to go)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from core.domain.ids import new_request_id
from core.domain.request import Approval, PullRequestRef, Request, Requester, RunRef, SlackThread
from tests.web.fake_github import FakeGitHub

Stage = Literal["plan_ready", "merged"]


def seeded_request(
    github: FakeGitHub,
    n: int,
    *,
    stage: Stage,
    requester: str,
    team: str,
    channel: str,
    number: int,
    ts: str,
    approver: str | None = None,
) -> Request:
    """The ``n``-th seeded request (its config names it), PR ``number``, card at ``ts``: the
    document to ``create``; the fake GitHub already knows its PR and plan run."""
    rid = new_request_id()
    sha = hashlib.sha1(rid.encode(), usedforsecurity=False).hexdigest()
    pr = github.add_pull(number, rid, sha)
    plan = github.add_run("plan.yml", rid, f"request/{rid}", sha)
    now = datetime.now(UTC)
    merged = stage == "merged"
    approval = None
    if merged:
        if approver is None:
            raise ValueError("a merged request needs its approver")
        pr.merged, pr.state, pr.merge_sha = True, "closed", f"{number:040d}"
        approval = Approval(approved=True, approvers=[approver], approved_sha=sha, approved_at=now, source="tfpilot")
    return Request(
        id=rid,
        project="core",
        environment="dev",
        module="s3-bucket",
        received_at=now,
        updated_at=now,
        requester=Requester(id=requester, email="dev@example.com", team_id=team),
        config={"name": f"bucket-{n}"},
        target_owner="acme",
        target_repo="infra",
        target_base="main",
        target_env_path="envs/dev",
        branch_name=f"request/{rid}",
        commit_sha=sha,
        pr=PullRequestRef(
            number=number,
            url=f"https://github.test/acme/infra/pull/{number}",
            open=not merged,
            merged=merged,
            head_sha=sha,
            merged_sha=pr.merge_sha,
            merged_at=now if merged else None,
        ),
        pr_number=number,
        merged_sha=pr.merge_sha,
        plan_run=RunRef(
            run_id=plan.run_id, status="completed", conclusion="success", head_sha=sha, workflow="plan.yml"
        ),
        approval=approval,
        slack=SlackThread(team_id=team, channel=channel, ts=ts),
        status=stage,
    )
