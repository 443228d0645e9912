"""The aggregate's fold of facts (``core.domain.fold_told.fold_facts``), pure: a fact changes the
request, derives its status and records its domain events in the outbox, all in one call the
store's compare-and-swap runs; a replay changes nothing and records nothing; what a fold did or
refused is a typed ``FactReason`` (the sentences are the views')."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain.events import Reason
from core.domain.fact_reasons import FactCode, JobFailure, said
from core.domain.facts import PullRequestFact, ReviewFact, RunFact
from core.domain.fold_told import fold_facts
from core.domain.request import Request
from core.domain.status import Status
from core.ports.code_host import PullRequestInfo, ReviewInfo, RunInfo
from tests.domain.builders import at_status

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _review(request: Request, login: str, *, state: str = "APPROVED", commit: str = "sha1") -> ReviewFact:
    review = ReviewInfo(id=5, user_login=login, state=state, commit_id=commit)
    return ReviewFact(request_id=request.id, action="submitted", pr_number=7, review=review)


def _plan_run(request: Request, conclusion: str, run_id: int = 1) -> RunFact:
    run = RunInfo(
        run_id=run_id, url=f"https://example.invalid/run/{run_id}", status="completed", conclusion=conclusion,
        head_sha="sha1",
    )  # fmt: skip
    return RunFact(request_id=request.id, kind="plan", run=run)


def test_a_github_approval_moves_the_status_and_records_its_events_in_the_outbox() -> None:
    request = at_status("plan_ready")
    request.status = Status.PLAN_READY.value
    done = fold_facts(request, [_review(request, "carol")], now=NOW, actor="carol", source="webhook")
    assert done.wrote and done.notified
    assert (done.before, done.after) == (Status.PLAN_READY, Status.APPROVED)
    assert done.reasons == (said(FactCode.APPROVED_ON_GITHUB, login="carol"),)
    assert request.status == Status.APPROVED.value and request.status_derived_at == NOW
    assert request.approval is not None and request.approval.approvers == ["carol"]
    audited = [e for e in request.outbox if e.audit]
    assert [(e.name, e.data) for e in audited] == [
        ("approved", {"reviewer": "carol", "sha": "sha1", "source": "github"})
    ]
    (told,) = [e.notice for e in request.outbox if e.notice is not None]
    assert told.event == "approved" and told.facts == done.reasons and told.message is None
    assert all(e.version == request.version + 1 for e in request.outbox)
    # The same fact again: nothing new to write, nothing recorded.
    again = request.model_copy(deep=True)
    replay = fold_facts(again, [_review(again, "carol")], now=NOW, actor="carol")
    assert not replay.wrote and replay.reasons == (said(FactCode.ALREADY_KNOWN),)
    assert again == request


def test_a_refused_fact_says_why_as_a_code_and_writes_nothing() -> None:
    request = at_status("plan_ready")
    before = request.model_copy(deep=True)
    own = fold_facts(request, [_review(request, "carol", commit="0" * 40)], now=NOW)
    assert not own.wrote and request == before
    assert own.reasons == (said(FactCode.REVIEW_OTHER_COMMIT, commit="0" * 40, head="sha1"),)
    nothing = fold_facts(request, [], now=NOW)
    assert nothing.reasons == (said(FactCode.NOTHING_TO_FOLD),) and request == before
    # A refresh that learnt nothing still keeps its validators (a write), saying it refreshed.
    refresh = fold_facts(request, [], now=NOW, synced=True, reads={"etag": "x"})
    assert refresh.reasons == (said(FactCode.REFRESHED),) and not refresh.wrote
    assert request.code_host_reads == {"etag": "x"} and request.last_synced_at is None and not request.outbox


def test_a_failed_run_tells_where_it_failed_typed_on_the_notice_and_as_data_in_the_audit() -> None:
    request = at_status("planning")
    failure = JobFailure(kind="plan", job="plan", conclusion="failure", step=6, step_name="terraform plan", url="u")
    done = fold_facts(request, [_plan_run(request, "failure")], now=NOW, failures={0: failure})
    assert done.after is Status.FAILED and done.notified
    (completed,) = [e for e in request.outbox if e.name == "plan_completed"]
    assert completed.data["failedAt"] == {
        "job": "plan",
        "conclusion": "failure",
        "step": 6,
        "stepName": "terraform plan",
    }
    (told,) = [e.notice for e in request.outbox if e.notice is not None]
    assert told.failed == failure and told.run_url == "u"
    assert told.facts == (said(FactCode.RUN_PROGRESS, kind="plan", run_id=1, state="failure"),)


def test_a_pr_closed_in_a_status_change_joins_its_reply_as_a_typed_reason() -> None:
    request = at_status("planning")
    info = PullRequestInfo(
        number=7, url="https://example.invalid/pr/7", state="closed", merged=False, head_sha="sha1",
        head_ref="request/x", base_ref="main",
    )  # fmt: skip
    facts = [_plan_run(request, "success"), PullRequestFact(request_id=request.id, action="closed", pr=info)]
    done = fold_facts(request, facts, now=NOW)
    (told,) = [e.notice for e in request.outbox if e.notice is not None]
    assert told.reasons == (Reason(code="pr_closed", data={"number": 7}),)
    assert [r.code for r in told.facts] == [FactCode.RUN_PROGRESS, FactCode.PR_ACTION] == [r.code for r in done.reasons]
