"""The sentences of what folding a fact did (``core.domain.fact_reasons``): each ``FactCode``'s
text (``FACT_SENTENCES``, one entry per code), where a failed run failed (``failed_text``), and
the one line a sync outcome or a status reply says (``facts_text``, ``outcome_text``).

Pure, no Slack import: the Slack replies and the console quote it through
``bot.views.reasons.transition_text``; the webhook route logs a delivery's outcome with
``outcome_text``. The wording is what these texts always said (tests and logs rely on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.domain.fact_reasons import FactCode, FactReason, JobFailure
from core.services.sync import SyncOutcome

_MAX_NAME = 80  # a job or step name quoted at most (GitHub allows much longer)
_FAILED_WORDS = {"failure": "failed", "timed_out": "timed out", "cancelled": "was cancelled"}

Data = dict[str, Any]


def _v(data: Data, key: str) -> Any:
    value = data.get(key)
    return "?" if value is None else value


def _short(value: Any) -> str:
    """A commit as people read it: its first 12 characters."""
    return str(value)[:12] if value else "?"


def _apply_not_ours(d: Data) -> str:
    sha = _short(d["sha"]) if d.get("sha") else "an unknown commit"
    return f"apply run {_v(d, 'run_id')} ran on {sha}, which is not one of this request's commits"


def _found(d: Data) -> str:
    return f"{'cleanup run' if d.get('cleanup') else 'run'} {_v(d, 'run_id')}"


def _intent(d: Data) -> str:
    return "the destroy" if d.get("cleanup") else "the dispatch"


FACT_SENTENCES: dict[FactCode, Callable[[Data], str]] = {
    FactCode.RUN_PROGRESS: lambda d: f"{_v(d, 'kind')} run {_v(d, 'run_id')} {_v(d, 'state')}",
    FactCode.PR_ACTION: lambda d: f"PR #{_v(d, 'number')} {_v(d, 'action')}",
    FactCode.CLEANUP_PR_ACTION: lambda d: f"cleanup PR #{_v(d, 'number')} {_v(d, 'action')}",
    FactCode.CLEANUP_RUN_PROGRESS: lambda d: f"cleanup run {_v(d, 'run_id')} {_v(d, 'state')}",
    FactCode.REMOVAL_PR_APPROVED: lambda d: f"removal PR #{_v(d, 'number')} approved by {_v(d, 'login')}",
    FactCode.REVIEW_DISMISSED: lambda d: f"review by {_v(d, 'login')} dismissed",
    FactCode.APPROVED_ON_GITHUB: lambda d: f"approved by {_v(d, 'login')} on GitHub",
    FactCode.ALREADY_KNOWN: lambda d: "already known",
    FactCode.REFRESHED: lambda d: "refreshed",
    FactCode.NOTHING_TO_FOLD: lambda d: "nothing to fold",
    FactCode.UNKNOWN_REQUEST: lambda d: "unknown request",
    FactCode.REQUEST_ARCHIVED: lambda d: "request is archived",
    FactCode.NOT_A_REQUEST_RUN: lambda d: f"{_v(d, 'kind')} runs do not change a request",
    FactCode.RUN_OLDER_THAN_RECORDED: lambda d: (
        f"{_v(d, 'kind')} run {_v(d, 'run_id')} is older than the recorded run {_v(d, 'recorded')}"
    ),
    FactCode.REMOVAL_PLAN: lambda d: f"plan run {_v(d, 'run_id')} planned the removal PR ({_v(d, 'branch')})",
    FactCode.PLAN_NOT_PR_HEAD: lambda d: (
        f"plan run {_v(d, 'run_id')} planned commit {_short(d.get('sha'))}, not the PR head {_short(d.get('head'))}"
    ),
    FactCode.APPLY_NOT_OURS: _apply_not_ours,
    FactCode.NO_DESTROY_REQUESTED: lambda d: "no destroy was requested for this request",
    FactCode.NO_CLEANUP_WAITER: lambda d: "no destroy is waiting for a cleanup run",
    FactCode.NOT_THE_CLEANUP_RUN: lambda d: (
        f"cleanup run {_v(d, 'run_id')} is not the destroy's cleanup run {_v(d, 'known')}"
    ),
    FactCode.FOUND_RUN_OLDER: lambda d: f"{_found(d)} is older than {_intent(d)}'s request",
    FactCode.FOUND_RUN_EARLY: lambda d: f"{_found(d)} was created before {_intent(d)} was requested",
    FactCode.NO_DRIFT_REPLAN: lambda d: (
        f"plan run {_v(d, 'run_id')} ran after the merge, and no drift re-plan was requested"
    ),
    FactCode.DRIFT_PLAN_EARLY: lambda d: (
        f"plan run {_v(d, 'run_id')} was created before the drift re-plan was requested"
    ),
    FactCode.STALE_RUN: lambda d: f"stale {_v(d, 'kind')} run delivery ({_v(d, 'status')})",
    FactCode.STALE_CLEANUP_RUN: lambda d: "stale cleanup run",
    FactCode.PR_OTHER_BRANCH: lambda d: f"PR #{_v(d, 'number')} is from {_v(d, 'head_ref')}, not {_v(d, 'branch')}",
    FactCode.PR_NOT_THE_REQUESTS: lambda d: f"PR #{_v(d, 'number')} is not the request's PR #{_v(d, 'current')}",
    FactCode.STALE_PR_MERGED: lambda d: "stale pull request delivery: the PR is already merged",
    FactCode.CLEANUP_PR_NOT_THE_REQUESTS: lambda d: (
        f"PR #{_v(d, 'number')} is not the request's cleanup PR #{_v(d, 'current')}"
    ),
    FactCode.STALE_CLEANUP_PR_MERGED: lambda d: "stale cleanup PR delivery: it is already merged",
    FactCode.REMOVAL_REVIEW_UNWAITED: lambda d: f"review on removal PR #{_v(d, 'number')}: no destroy waits for it",
    FactCode.REMOVAL_REVIEW_NO_CHANGE: lambda d: (
        f"a {str(_v(d, 'state')).lower()} review of the removal PR changes nothing"
    ),
    FactCode.REMOVAL_REVIEW_OTHER_COMMIT: lambda d: (
        f"review of commit {_short(d.get('commit'))}, not the removal PR head {_short(d.get('head'))}"
    ),
    FactCode.REVIEW_OTHER_PR: lambda d: f"review on PR #{_v(d, 'number')}, not the request's PR",
    FactCode.DISMISSED_NOTHING_APPROVED: lambda d: "dismissed review: nothing approved",
    FactCode.DISMISSED_NOT_APPROVER: lambda d: f"dismissed review by {_v(d, 'login')}, who is not an approver",
    FactCode.REVIEW_NO_CHANGE: lambda d: f"a {str(_v(d, 'state')).lower()} review does not change the approval",
    FactCode.PR_ALREADY_MERGED: lambda d: "the PR is already merged",
    FactCode.REVIEW_OTHER_COMMIT: lambda d: (
        f"review of commit {_short(d.get('commit'))}, not the PR head {_short(d.get('head'))}"
    ),
    FactCode.OWN_APPROVAL: lambda d: "the requester cannot approve their own request",
}


def fact_text(reason: FactReason) -> str:
    """The sentence of one thing a fold did (or why it changed nothing)."""
    return FACT_SENTENCES[reason.code](reason.data)


def failed_text(failure: JobFailure) -> str:
    """``job 'plan' failed at step 6 'terraform plan'``: names on one line, cut to ``_MAX_NAME``."""
    verb = _FAILED_WORDS.get(failure.conclusion, f"ended {failure.conclusion.replace('_', ' ')}")
    text = f"job {_name(failure.job)} {verb}"
    if failure.step is not None:
        text += f" at step {failure.step} {_name(failure.step_name or '')}"
    return text


def facts_text(facts: Sequence[FactReason], failed: JobFailure | None = None) -> str:
    """What the folds of one write did, ``; ``-joined, then where a failed run failed."""
    text = "; ".join(fact_text(f) for f in facts)
    if failed is None:
        return text
    return f"{text}: {failed_text(failed)}" if text else failed_text(failed)


def outcome_text(outcome: SyncOutcome) -> str:
    """What a sync outcome says (a webhook delivery's log line, the CLI)."""
    return facts_text(outcome.reasons) or ("changed" if outcome.changed else "unchanged")


def _name(name: str) -> str:
    name = " ".join(name.split())
    return repr(name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 1] + "…")
