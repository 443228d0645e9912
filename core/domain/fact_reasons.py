"""What folding a fact did, or why it changed nothing, as a code and its data (no sentence).

``FactReason(code, data)`` is what a fold reports (``Folded.reason``), what a status reply quotes
(``Transition.facts``) and what ``SyncOutcome.reasons`` carries; ``JobFailure`` is where a failed
run failed (its job and step, from the code host's job list). The sentences people and logs
read are written by the views (``bot.views.fact_text``); each code's data is listed beside it.
Strings from outside (a branch name, a login, a job's name) stay data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FactCode(StrEnum):
    # -- the fold changed the request
    RUN_PROGRESS = "run_progress"  # kind, run_id, state (the conclusion, else the status)
    PR_ACTION = "pr_action"  # number, action
    CLEANUP_PR_ACTION = "cleanup_pr_action"  # number, action
    CLEANUP_RUN_PROGRESS = "cleanup_run_progress"  # run_id, state
    REMOVAL_PR_APPROVED = "removal_pr_approved"  # number, login
    REVIEW_DISMISSED = "review_dismissed"  # login
    APPROVED_ON_GITHUB = "approved_on_github"  # login
    # -- nothing new
    ALREADY_KNOWN = "already_known"
    REFRESHED = "refreshed"  # a full refresh that folded nothing new
    NOTHING_TO_FOLD = "nothing_to_fold"
    UNKNOWN_REQUEST = "unknown_request"
    REQUEST_ARCHIVED = "request_archived"
    # -- a run that is not the request's (``run_rejection``)
    NOT_A_REQUEST_RUN = "not_a_request_run"  # kind
    RUN_OLDER_THAN_RECORDED = "run_older_than_recorded"  # kind, run_id, recorded
    REMOVAL_PLAN = "removal_plan"  # run_id, branch
    PLAN_NOT_PR_HEAD = "plan_not_pr_head"  # run_id, sha, head
    APPLY_NOT_OURS = "apply_not_ours"  # run_id, sha (None: unknown)
    NO_DESTROY_REQUESTED = "no_destroy_requested"
    NO_CLEANUP_WAITER = "no_cleanup_waiter"
    NOT_THE_CLEANUP_RUN = "not_the_cleanup_run"  # run_id, known
    FOUND_RUN_OLDER = "found_run_older"  # run_id, cleanup (a cleanup run the destroy dispatched)
    FOUND_RUN_EARLY = "found_run_early"  # run_id, cleanup
    NO_DRIFT_REPLAN = "no_drift_replan"  # run_id
    DRIFT_PLAN_EARLY = "drift_plan_early"  # run_id
    STALE_RUN = "stale_run"  # kind, status
    STALE_CLEANUP_RUN = "stale_cleanup_run"
    # -- a pull request that is not the request's, or a stale delivery of it
    PR_OTHER_BRANCH = "pr_other_branch"  # number, head_ref, branch
    PR_NOT_THE_REQUESTS = "pr_not_the_requests"  # number, current
    STALE_PR_MERGED = "stale_pr_merged"
    CLEANUP_PR_NOT_THE_REQUESTS = "cleanup_pr_not_the_requests"  # number, current
    STALE_CLEANUP_PR_MERGED = "stale_cleanup_pr_merged"
    # -- a review that changes nothing
    REMOVAL_REVIEW_UNWAITED = "removal_review_unwaited"  # number
    REMOVAL_REVIEW_NO_CHANGE = "removal_review_no_change"  # state
    REMOVAL_REVIEW_OTHER_COMMIT = "removal_review_other_commit"  # commit, head
    REVIEW_OTHER_PR = "review_other_pr"  # number
    DISMISSED_NOTHING_APPROVED = "dismissed_nothing_approved"
    DISMISSED_NOT_APPROVER = "dismissed_not_approver"  # login
    REVIEW_NO_CHANGE = "review_no_change"  # state
    PR_ALREADY_MERGED = "pr_already_merged"
    REVIEW_OTHER_COMMIT = "review_other_commit"  # commit, head
    OWN_APPROVAL = "own_approval"


class FactReason(BaseModel):
    """One thing a fold did or refused, typed (see ``FactCode`` for each code's data)."""

    model_config = ConfigDict(frozen=True)

    code: FactCode
    data: dict[str, Any] = Field(default_factory=dict)


def said(code: FactCode, **data: Any) -> FactReason:
    return FactReason(code=code, data=data)


class JobFailure(BaseModel):
    """Where a failed run failed: its first job that did not succeed and that job's first step
    that did not (``step`` None: no step says so). Names are GitHub's, as given."""

    model_config = ConfigDict(frozen=True)

    kind: str
    job: str
    conclusion: str
    step: int | None = None
    step_name: str | None = None
    url: str | None = None  # the job's page

    def audit_data(self) -> dict[str, Any]:
        """The audit record's ``failedAt`` (camelCase, as audit data is written)."""
        return {"job": self.job, "conclusion": self.conclusion, "step": self.step, "stepName": self.step_name}
