"""Facts: what a GitHub delivery (or the local runner) says about one request.

Webhook parsing turns a delivery into exactly one of these, or ``NotOurs`` with the reason;
``SyncService.apply_fact`` folds a fact into the request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.domain.run_report import RunReport
from core.domain.workflows import RunKind
from core.ports.code_host import PullRequestInfo, ReviewInfo, RunInfo


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    delivery_id: str | None = None


class RunFact(_Fact):
    type: Literal["run"] = "run"
    kind: RunKind
    run: RunInfo
    # What the run reported when it finished (the local runner; GitHub's artifacts later):
    # Terraform's diagnostics of a failed run, the outputs of an applied one.
    report: RunReport | None = None


class PullRequestFact(_Fact):
    type: Literal["pull_request"] = "pull_request"
    action: str  # opened | synchronize | closed | reopened | edited ...
    pr: PullRequestInfo
    cleanup: bool = False  # the cleanup PR (branch cleanup/<id>) rather than the request's PR


class ReviewFact(_Fact):
    type: Literal["review"] = "review"
    action: str  # submitted | dismissed | edited
    pr_number: int
    review: ReviewInfo


class NotOurs(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["not_ours"] = "not_ours"
    event: str
    reason: str


Fact = RunFact | PullRequestFact | ReviewFact
