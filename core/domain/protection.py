"""What the base branch's protection asks of a merge, and whether an approval satisfies it.

Infra repos protect their base branch (classic branch protection or rulesets) with a required
number of approving reviews. A TfPilot approval is either a real GitHub review (the approver
linked a GitHub account) or only recorded (a PR comment by the app), which GitHub does not count
as a review. ``approval_standing`` is the pure decision the approve path reports, so the thread
can say at once when an approval will not let the PR merge, and why. The words shown to people
live in the views; here are only facts and reason codes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# read: the protection and rules were read; none: the branch is not protected (no rule applies);
# unknown: the host would not show the protection (403/404 on a protected branch, or an error).
Visibility = Literal["read", "none", "unknown"]
# Why an approval does or does not satisfy the protection.
StandingReason = Literal[
    "not_required",  # no approving review is required
    "reviews_met",  # enough approving GitHub reviews (this one included)
    "more_reviews",  # a real review, but fewer than required so far
    "app_bypass",  # too few reviews, but the app may merge bypassing the review rule
    "recorded_only",  # only recorded (a comment by the app): GitHub does not count it
    "unknown",  # the protection could not be read
]
# Why a merge is refused for a lasting reason (blind retries cannot help).
MergeBlockReason = Literal["reviews", "checks", "conflict", "rules", "blocked"]


class BranchProtection(BaseModel):
    """The merge requirements of one base branch, as far as the code host can see them."""

    model_config = ConfigDict(frozen=True)

    branch: str
    visibility: Visibility
    required_approvals: int = 0
    dismiss_stale_reviews: bool = False
    required_checks: tuple[str, ...] = ()
    # The app may merge without the reviews (a ruleset bypass actor, or a classic bypass
    # allowance naming the app); None when the host could not tell.
    app_can_bypass: bool | None = None
    # Where the requirements come from: "branch protection", "ruleset 42 (acme/infra)".
    sources: tuple[str, ...] = ()
    # Why the visibility is "unknown" (the host's answer), for the admin.
    detail: str | None = None

    @property
    def reviews_required(self) -> bool:
        return self.required_approvals > 0


class ApprovalStanding(BaseModel):
    """Whether one approval, as given, satisfies the base branch's required reviews."""

    model_config = ConfigDict(frozen=True)

    via: Literal["review", "recorded"]  # a GitHub review by the linked account, or app-recorded
    satisfies: bool | None  # None: not known (the protection could not be read)
    reason: StandingReason
    required_approvals: int = 0
    approving_reviews: int = 0  # distinct GitHub accounts whose review approves the approved commit
    visibility: Visibility = "none"
    sources: tuple[str, ...] = ()
    detail: str | None = None


def approval_standing(protection: BranchProtection, *, via_review: bool, approving_reviews: int) -> ApprovalStanding:
    """Decide whether the approval satisfies ``protection``. ``approving_reviews`` counts the
    distinct accounts with an approving GitHub review of the approved commit (this approval's
    own review included when ``via_review``)."""

    def standing(satisfies: bool | None, reason: StandingReason) -> ApprovalStanding:
        return ApprovalStanding(
            via="review" if via_review else "recorded",
            satisfies=satisfies,
            reason=reason,
            required_approvals=protection.required_approvals,
            approving_reviews=approving_reviews,
            visibility=protection.visibility,
            sources=protection.sources,
            detail=protection.detail,
        )

    if protection.reviews_required:
        if approving_reviews >= protection.required_approvals:
            return standing(True, "reviews_met")
        if protection.app_can_bypass:
            return standing(True, "app_bypass")
        return standing(False, "more_reviews" if via_review else "recorded_only")
    if protection.visibility == "unknown":
        return standing(None, "unknown")
    return standing(True, "not_required")
