"""What people read when the base branch's protection stands in the way.

Pure text builders for the thread replies (``replies.transition_reply``, which the console
prints too): whether an approval will satisfy the required reviews, and why GitHub refuses a
merge (of the request's PR, or of destroy's cleanup PR) with what to do about it.
"""

from __future__ import annotations

from bot.views.limits import escape
from core.domain.protection import ApprovalStanding, MergeBlockReason

LINK_HINT = (
    "run `/tfpilot link` to link your GitHub account, then Approve again (your approval becomes a GitHub review)"
)
ADMIN_HINT = (
    "or an admin adds the TfPilot app as a bypass actor of the rule (ruleset bypass list, or the branch "
    "protection's bypass allowances), or lowers the required approvals"
)


def _reviews(n: int) -> str:
    return f"{n} approving review{'s' if n != 1 else ''}" if n > 0 else "approving reviews"


def _where(standing: ApprovalStanding) -> str:
    return f" ({escape(', '.join(standing.sources))})" if standing.sources else ""


def approval_lines(standing: ApprovalStanding | None, base: str) -> list[str]:
    """The lines an approval reply adds about the protection (none when all is well)."""
    if standing is None or standing.satisfies is True:
        return []
    branch = f"`{escape(base)}`"
    if standing.reason == "recorded_only":
        return [
            f":warning: This approval is only recorded by TfPilot (a comment on the PR): {branch} requires "
            f"{_reviews(standing.required_approvals)}{_where(standing)}, and GitHub does not count the app's "
            f"comment, so the merge will be refused. To fix: {LINK_HINT}; {ADMIN_HINT}."
        ]
    if standing.reason == "more_reviews":
        return [
            f":warning: Your GitHub review counts, but {branch} requires {_reviews(standing.required_approvals)}"
            f"{_where(standing)} and the PR has {standing.approving_reviews}: another approver with a linked "
            "GitHub account must approve before Merge."
        ]
    if standing.via == "recorded":  # unknown protection: only a recorded approval is at risk
        detail = f" ({escape(standing.detail)})" if standing.detail else ""
        return [
            f":grey_question: TfPilot could not read the protection of {branch}{detail}. If it requires reviews, "
            f"this recorded approval will not satisfy it: {LINK_HINT}."
        ]
    return []


_BLOCK_WHY: dict[MergeBlockReason, str] = {
    "reviews": "the base branch requires {reviews} and the PR does not have them",
    "checks": "a status check the base branch requires has not passed",
    "conflict": "it conflicts with its base branch",
    "rules": "a repository rule refuses it",
    "blocked": "GitHub reports it blocked by the base branch's requirements (reviews or checks)",
}
_BLOCK_FIX: dict[MergeBlockReason, str] = {
    "reviews": "Approve with a linked GitHub account ({link}) or approve the PR on GitHub; {admin}.",
    "checks": "Open the PR's checks on GitHub; merge again once the required checks pass.",
    "conflict": "Resolve the conflict on the PR's branch (or update the request to re-render it), then merge again.",
    "rules": "Read the rule named in GitHub's answer below; an admin can adjust the ruleset or its bypass list.",
    "blocked": "Look at the PR on GitHub to see what it waits for; {admin}.",
}


def block_reason(reason: MergeBlockReason | None, required: int) -> str:
    return _BLOCK_WHY[reason or "blocked"].format(reviews=_reviews(required))


def block_fix(reason: MergeBlockReason | None) -> str:
    return _BLOCK_FIX[reason or "blocked"].format(link="`/tfpilot link`, then Approve again", admin=ADMIN_HINT)


def removal_review_lines(standing: ApprovalStanding | None, base: str, pr: str) -> list[str]:
    """What a destroy waiting for a review of its removal PR needs, and what happens meanwhile."""
    branch = f"`{escape(base)}`"
    required = _reviews(standing.required_approvals if standing else 0)
    where = _where(standing) if standing else ""
    if standing is not None and standing.via == "review":
        return [
            f"Your GitHub review of {pr} counts, but {branch} requires {required}{where} and it has "
            f"{standing.approving_reviews}: another reviewer with write access must approve {pr} on GitHub. "
            "TfPilot goes on when that review arrives. Nothing is destroyed until then."
        ]
    return [
        f"{branch} requires {required}{where} before {pr} may merge, and TfPilot cannot approve its own "
        "pull request. Nothing is destroyed until it is approved.",
        f"To go on: run `/tfpilot link` to link your GitHub account, then click Destroy again (your click "
        f"approves {pr} as you), or anyone else with write access approves {pr} on GitHub; TfPilot goes on "
        "when that review arrives.",
    ]
