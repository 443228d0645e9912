"""Whether an approval will let the PR merge under the base branch's protection.

``standing_of`` asks the code host for the base branch's protection (the host caches it) and,
when reviews are required, counts the approving GitHub reviews of the approved commit, then
applies the pure rule of ``core.domain.protection``. A host that fails to answer makes the
standing "unknown", never a failed approval: the approval itself is already recorded.
"""

from __future__ import annotations

import logging

from core.domain.protection import ApprovalStanding, BranchProtection, approval_standing
from core.ports.code_host import CodeHost, CodeHostError, RepoRef

log = logging.getLogger(__name__)


def standing_of(
    host: CodeHost, repo: RepoRef, base: str, number: int, sha: str, *, via_review: bool
) -> ApprovalStanding:
    try:
        protection = host.branch_protection(repo, base)
    except CodeHostError as exc:
        log.warning("protection of %s@%s unavailable: %s", repo.full_name, base, exc)
        protection = BranchProtection(branch=base, visibility="unknown", detail=str(exc)[:300])
    approving = 1 if via_review else 0
    if protection.reviews_required:
        try:
            reviews = host.list_reviews(repo, number)
        except CodeHostError as exc:
            log.warning("reviews of %s#%s unavailable: %s", repo.full_name, number, exc)
        else:
            logins = {r.user_login.lower() for r in reviews if r.state.upper() == "APPROVED" and r.commit_id == sha}
            approving = max(approving, len(logins))
    return approval_standing(protection, via_review=via_review, approving_reviews=approving)
