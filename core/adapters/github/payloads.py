"""Pydantic models of the parts of GitHub webhook deliveries that TfPilot reads.

Only the fields webhook parsing uses are modelled; everything else in a delivery is ignored.
Ids are strict integers and strings are never coerced from numbers, so a delivery of the wrong
shape fails validation (and becomes "not ours") instead of producing a half-right fact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Strict

GitHubId = Annotated[int, Strict()]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RepositoryPart(_Part):
    full_name: str | None = None


class WorkflowPart(_Part):
    path: str | None = None
    name: str | None = None


class WorkflowRunPart(_Part):
    id: GitHubId
    html_url: str
    status: str
    conclusion: str | None = None
    name: str | None = None
    display_title: str | None = None
    path: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    event: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    head_repository: RepositoryPart | None = None


class WorkflowRunDelivery(_Part):
    action: str | None = None
    workflow_run: WorkflowRunPart
    workflow: WorkflowPart | None = None
    repository: RepositoryPart | None = None


class BranchPart(_Part):
    ref: str
    sha: str
    repo: RepositoryPart | None = None


class PullRequestPart(_Part):
    number: GitHubId
    html_url: str
    state: Literal["open", "closed"]
    head: BranchPart
    base: BranchPart
    # Absent (or null) in pull_request_review deliveries.
    merged: bool | None = None
    merge_commit_sha: str | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    mergeable_state: str | None = None
    title: str | None = None


class PullRequestDelivery(_Part):
    action: str
    pull_request: PullRequestPart
    repository: RepositoryPart | None = None


class UserPart(_Part):
    login: str


class ReviewPart(_Part):
    id: GitHubId
    state: str
    # A deleted account shows as null; parsing reports it as GitHub's "ghost" user.
    user: UserPart | None = None
    commit_id: str | None = None
    submitted_at: datetime | None = None


class PullRequestReviewDelivery(_Part):
    action: str
    review: ReviewPart
    pull_request: PullRequestPart
    repository: RepositoryPart | None = None
