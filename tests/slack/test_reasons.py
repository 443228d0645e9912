"""The sentences of typed reasons are written in the views, once, for Slack and the console."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.console.notifier import fallback_reply
from bot.views.fact_text import FACT_SENTENCES, fact_text, facts_text
from bot.views.reasons import SENTENCES, reason_text, transition_text
from core.domain.events import Reason, ReasonCode, Transition
from core.domain.fact_reasons import FactCode, FactReason, JobFailure, said


def test_every_reason_code_has_its_sentence() -> None:
    assert set(SENTENCES) == set(get_args(ReasonCode))


def test_the_sentences_people_read() -> None:
    assert reason_text(Reason(code="pr_reopened", data={"number": 7})) == "Pull request #7 was re-opened."
    assert reason_text(Reason(code="destroy_stopped", data={"error": "cleanup PR #9 was closed without merging"})) == (
        "Destroy stopped: cleanup PR #9 was closed without merging. Nothing was destroyed; Destroy again to retry."
    )
    prepare = Reason(code="destroy_prepare", data={"number": 12, "lifted": [["deletion_protection", False]]})
    assert reason_text(prepare).startswith("PR #12 sets deletion_protection → false. It is planned")
    removal = Reason(code="removal_destroy_requested", data={"number": 3, "files": ["a.tf", "b.tf"], "base": "main"})
    assert reason_text(removal).startswith(
        "Removal PR #3 deletes a.tf, b.tf. Once it is approved, the destroy runs on main"
    )


def test_a_transition_says_its_message_then_its_reasons_in_both_renderings() -> None:
    closed = Reason(code="pr_closed", data={"number": 5})
    told = Transition(event="plan_ready", previous_status="planning", status="plan_ready", message="plan run 1 success")
    told = told.model_copy(update={"reasons": (closed,)})
    said = transition_text(told)
    assert said is not None and said.startswith("plan run 1 success Pull request #5 was closed without merging")
    assert transition_text(Transition(event="x", previous_status=None, status="applied")) is None
    assert transition_text(told.model_copy(update={"message": "m" * 600})) == "m" * 500  # cut as quoted
    # The console's plain rendering says the same text as the Slack reply.
    assert f"> {said}" in fallback_reply(None, told)["text"]  # type: ignore[arg-type]


def test_every_fact_code_has_its_sentence() -> None:
    assert set(FACT_SENTENCES) == set(FactCode)
    for code in FactCode:  # each renders with no data at all (a newer writer's, or a missing key)
        assert fact_text(FactReason(code=code)).strip()


# What the folds say, as they always said it (logs and replies quote these).
_FACT_TEXTS = [
    (said(FactCode.RUN_PROGRESS, kind="plan", run_id=12, state="success"), "plan run 12 success"),
    (said(FactCode.PR_ACTION, number=3, action="synchronize"), "PR #3 synchronize"),
    (said(FactCode.CLEANUP_PR_ACTION, number=4, action="opened"), "cleanup PR #4 opened"),
    (said(FactCode.CLEANUP_RUN_PROGRESS, run_id=9, state="in_progress"), "cleanup run 9 in_progress"),
    (said(FactCode.REMOVAL_PR_APPROVED, number=5, login="carol"), "removal PR #5 approved by carol"),
    (said(FactCode.REVIEW_DISMISSED, login="carol"), "review by carol dismissed"),
    (said(FactCode.APPROVED_ON_GITHUB, login="carol"), "approved by carol on GitHub"),
    (said(FactCode.ALREADY_KNOWN), "already known"),
    (said(FactCode.REFRESHED), "refreshed"),
    (said(FactCode.NOTHING_TO_FOLD), "nothing to fold"),
    (said(FactCode.UNKNOWN_REQUEST), "unknown request"),
    (said(FactCode.REQUEST_ARCHIVED), "request is archived"),
    (said(FactCode.NOT_A_REQUEST_RUN, kind="drift"), "drift runs do not change a request"),
    (
        said(FactCode.RUN_OLDER_THAN_RECORDED, kind="apply", run_id=3, recorded=4),
        "apply run 3 is older than the recorded run 4",
    ),
    (
        said(FactCode.REMOVAL_PLAN, run_id=7, branch="remove/req_1"),
        "plan run 7 planned the removal PR (remove/req_1)",
    ),
    (
        said(FactCode.PLAN_NOT_PR_HEAD, run_id=7, sha="a" * 40, head="b" * 40),
        f"plan run 7 planned commit {'a' * 12}, not the PR head {'b' * 12}",
    ),
    (
        said(FactCode.APPLY_NOT_OURS, run_id=8, sha="c" * 40),
        f"apply run 8 ran on {'c' * 12}, which is not one of this request's commits",
    ),
    (
        said(FactCode.APPLY_NOT_OURS, run_id=8, sha=None),
        "apply run 8 ran on an unknown commit, which is not one of this request's commits",
    ),
    (said(FactCode.NO_DESTROY_REQUESTED), "no destroy was requested for this request"),
    (said(FactCode.NO_CLEANUP_WAITER), "no destroy is waiting for a cleanup run"),
    (
        said(FactCode.NOT_THE_CLEANUP_RUN, run_id=5, known=6),
        "cleanup run 5 is not the destroy's cleanup run 6",
    ),
    (
        said(FactCode.FOUND_RUN_OLDER, run_id=5, cleanup=True),
        "cleanup run 5 is older than the destroy's request",
    ),
    (
        said(FactCode.FOUND_RUN_EARLY, run_id=5, cleanup=False),
        "run 5 was created before the dispatch was requested",
    ),
    (
        said(FactCode.NO_DRIFT_REPLAN, run_id=6),
        "plan run 6 ran after the merge, and no drift re-plan was requested",
    ),
    (said(FactCode.DRIFT_PLAN_EARLY, run_id=6), "plan run 6 was created before the drift re-plan was requested"),
    (said(FactCode.STALE_RUN, kind="plan", status="in_progress"), "stale plan run delivery (in_progress)"),
    (said(FactCode.STALE_CLEANUP_RUN), "stale cleanup run"),
    (
        said(FactCode.PR_OTHER_BRANCH, number=3, head_ref="feature", branch="request/req_1"),
        "PR #3 is from feature, not request/req_1",
    ),
    (said(FactCode.PR_NOT_THE_REQUESTS, number=3, current=2), "PR #3 is not the request's PR #2"),
    (said(FactCode.STALE_PR_MERGED), "stale pull request delivery: the PR is already merged"),
    (
        said(FactCode.CLEANUP_PR_NOT_THE_REQUESTS, number=3, current=2),
        "PR #3 is not the request's cleanup PR #2",
    ),
    (said(FactCode.STALE_CLEANUP_PR_MERGED), "stale cleanup PR delivery: it is already merged"),
    (said(FactCode.REMOVAL_REVIEW_UNWAITED, number=5), "review on removal PR #5: no destroy waits for it"),
    (
        said(FactCode.REMOVAL_REVIEW_NO_CHANGE, state="COMMENTED"),
        "a commented review of the removal PR changes nothing",
    ),
    (
        said(FactCode.REMOVAL_REVIEW_OTHER_COMMIT, commit="d" * 40, head="e" * 40),
        f"review of commit {'d' * 12}, not the removal PR head {'e' * 12}",
    ),
    (said(FactCode.REVIEW_OTHER_PR, number=9), "review on PR #9, not the request's PR"),
    (said(FactCode.DISMISSED_NOTHING_APPROVED), "dismissed review: nothing approved"),
    (said(FactCode.DISMISSED_NOT_APPROVER, login="dave"), "dismissed review by dave, who is not an approver"),
    (
        said(FactCode.REVIEW_NO_CHANGE, state="CHANGES_REQUESTED"),
        "a changes_requested review does not change the approval",
    ),
    (said(FactCode.PR_ALREADY_MERGED), "the PR is already merged"),
    (
        said(FactCode.REVIEW_OTHER_COMMIT, commit="f" * 40, head="0" * 40),
        f"review of commit {'f' * 12}, not the PR head {'0' * 12}",
    ),
    (said(FactCode.OWN_APPROVAL), "the requester cannot approve their own request"),
]


def test_the_fact_texts_cover_every_code() -> None:
    assert {reason.code for reason, _ in _FACT_TEXTS} == set(FactCode)


@pytest.mark.parametrize(
    ("reason", "text"), _FACT_TEXTS, ids=lambda v: v.code.value if isinstance(v, FactReason) else ""
)
def test_what_a_fold_says(reason: FactReason, text: str) -> None:
    assert fact_text(reason) == text


def test_a_status_reply_says_what_the_folds_did_then_where_the_run_failed() -> None:
    failure = JobFailure(kind="plan", job="plan", conclusion="failure", step=6, step_name="terraform plan")
    told = Transition(
        event="failed",
        previous_status="planning",
        status="failed",
        facts=(
            said(FactCode.PR_ACTION, number=3, action="synchronize"),
            said(FactCode.RUN_PROGRESS, kind="plan", run_id=12, state="failure"),
        ),
        failed=failure,
        reasons=(Reason(code="pr_reopened", data={"number": 3}),),
    )
    assert transition_text(told) == (
        "PR #3 synchronize; plan run 12 failure: job 'plan' failed at step 6 'terraform plan' "
        "Pull request #3 was re-opened."
    )
    assert facts_text((), failure) == "job 'plan' failed at step 6 'terraform plan'"
    # A message from outside (GitHub's words) is said as it is, in place of the facts.
    assert transition_text(told.model_copy(update={"message": "GitHub said no", "reasons": ()})) == "GitHub said no"


def test_a_failed_cleanup_run_stops_the_destroy_in_the_same_words() -> None:
    failed = Reason(code="cleanup_run_failed", data={"runId": 41, "conclusion": "timed_out"})
    assert reason_text(failed) == (
        "Destroy stopped: the cleanup workflow run 41 concluded timed out. Nothing was destroyed; Destroy again to retry."
    )
