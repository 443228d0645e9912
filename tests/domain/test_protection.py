"""``approval_standing``: does one approval satisfy the base branch's required reviews?"""

from __future__ import annotations

import pytest

from core.domain.protection import BranchProtection, approval_standing

NONE = BranchProtection(branch="main", visibility="none")
ONE = BranchProtection(branch="main", visibility="read", required_approvals=1, sources=("branch protection",))
TWO = ONE.model_copy(update={"required_approvals": 2})
BYPASS = ONE.model_copy(update={"app_can_bypass": True})
UNKNOWN = BranchProtection(branch="main", visibility="unknown", detail="403 Resource not accessible by integration")
# Rulesets read, classic protection not readable: what was read still decides.
PARTLY = UNKNOWN.model_copy(update={"required_approvals": 1, "sources": ("ruleset 42",)})


@pytest.mark.parametrize(
    ("protection", "via_review", "approving", "satisfies", "reason"),
    [
        (NONE, False, 0, True, "not_required"),
        (NONE, True, 1, True, "not_required"),
        (ONE, True, 1, True, "reviews_met"),
        (ONE, False, 0, False, "recorded_only"),
        (ONE, False, 1, True, "reviews_met"),  # someone's GitHub review already approves the commit
        (TWO, True, 1, False, "more_reviews"),
        (TWO, True, 2, True, "reviews_met"),
        (BYPASS, False, 0, True, "app_bypass"),
        (UNKNOWN, False, 0, None, "unknown"),
        (PARTLY, False, 0, False, "recorded_only"),
    ],
)
def test_standing(
    protection: BranchProtection, via_review: bool, approving: int, satisfies: bool | None, reason: str
) -> None:
    standing = approval_standing(protection, via_review=via_review, approving_reviews=approving)
    assert (standing.satisfies, standing.reason) == (satisfies, reason)
    assert standing.via == ("review" if via_review else "recorded")
    assert standing.required_approvals == protection.required_approvals and standing.sources == protection.sources
