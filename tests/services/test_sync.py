"""SyncService: folding facts, run validation, approval binding, notify-on-change, full refresh."""

from __future__ import annotations

from datetime import timedelta

from bot.views.fact_text import outcome_text
from bot.views.reasons import transition_text
from core.domain.fact_reasons import FactCode, said
from core.domain.facts import PullRequestFact, ReviewFact, RunFact
from core.ports.code_host import CodeHostError, ReviewInfo, RunInfo
from tests.fakes import MemoryRequestStore
from tests.services.conftest import ADMIN, APPROVER, DEV, World, create_cmd
from tests.services.helpers import (
    applied,
    approved,
    destroying,
    finish_run,
    merged,
    planned,
    pr_fact,
    review_fact,
    run_fact,
)


def _run(world: World, rid: str, kind: str, **fields) -> RunFact:
    base = {"run_id": 1, "url": "https://github.example/actions/runs/1", "status": "completed", "conclusion": "success"}
    base.update(fields)
    return RunFact(request_id=rid, kind=kind, run=RunInfo(**base))


# -- plan ------------------------------------------------------------------------------------


def test_plan_success_fetches_the_plan_once_and_notifies_once(world: World) -> None:
    request = world.requests.create(create_cmd())
    run_id = request.plan_run.run_id
    world.host.start_run(run_id)
    started = world.sync.apply_fact(run_fact(world, request.id, run_id, "plan"))
    assert started.changed and not started.notified  # planning -> planning, no conclusion yet
    world.host.complete_run(run_id)
    outcome = world.sync.apply_fact(run_fact(world, request.id, run_id, "plan"))
    assert outcome.changed and outcome.notified
    assert (outcome.previous_status, outcome.status) == ("planning", "plan_ready")
    stored = world.get(request.id)
    assert stored.plan.summary.add == 1 and stored.plan.run_id == run_id
    assert stored.plan.artifact_name == f"tfplan-{request.id}"
    assert "aws_s3_bucket" in stored.plan.output
    assert stored.status == "plan_ready" and stored.status_derived_at == world.clock.now()
    assert world.notifier.events(request.id) == ["created", "plan_ready"]
    assert world.host.calls["get_plan_json"] == 1 and world.host.calls["get_cost_json"] == 1
    writes = world.store.writes
    # Replays: nothing written, nothing fetched, nobody told.
    for _ in range(3):
        replay = world.sync.apply_fact(run_fact(world, request.id, run_id, "plan"))
        assert not replay.changed and not replay.notified
    assert world.store.writes == writes
    assert world.host.calls["get_plan_json"] == 1
    assert world.notifier.events(request.id) == ["created", "plan_ready"]


def test_plan_cost_is_read_when_uploaded(world: World) -> None:
    request = world.requests.create(create_cmd())
    world.host.cost_docs[request.plan_run.run_id] = {
        "currency": "USD",
        "totalMonthlyCost": "12.5",
        "pastTotalMonthlyCost": "2.5",
    }
    finish_run(world, request, "plan")
    cost = world.get(request.id).cost
    assert cost.monthly_cost == 12.5 and cost.monthly_delta == 10.0 and cost.source == "infracost"


def test_a_local_preview_plan_is_labelled_as_such(world: World) -> None:
    request = world.requests.create(create_cmd())
    cloud = world.get(request.id)
    world.host.plan_docs[request.plan_run.run_id] = {**world.host.default_plan, "tfpilot_local_preview": True}
    finish_run(world, cloud, "plan")
    assert world.get(request.id).plan.preview is True
    other = world.requests.create(create_cmd(config={"name": "other-bucket"}, idempotency_key="second"))
    finish_run(world, other, "plan")
    assert world.get(other.id).plan.preview is False


def test_plan_failure_is_failed_and_notified(world: World) -> None:
    request = world.requests.create(create_cmd())
    outcome = finish_run(world, request, "plan", "failure")
    assert outcome.status == "failed" and outcome.notified
    assert world.host.calls["get_plan_json"] == 0
    assert world.notifier.events(request.id)[-1] == "failed"
    assert "plan_completed" in world.events(request.id)


def test_unreadable_plan_artifact_is_logged_and_retried_by_sync(world: World) -> None:
    request = world.requests.create(create_cmd())
    world.host.fail_next("get_plan_json", CodeHostError("artifact expired", status=410))
    finish_run(world, request, "plan")
    stored = world.get(request.id)
    assert stored.status == "plan_ready" and stored.plan is None
    assert "plan_output_unavailable" in world.events(request.id)
    synced = world.sync.sync(request.id)
    assert synced.plan.summary is not None and synced.plan.run_id == request.plan_run.run_id


def test_invalid_plan_json_is_logged_not_raised(world: World) -> None:
    request = world.requests.create(create_cmd())
    world.host.plan_docs[request.plan_run.run_id] = {"not": "a plan"}
    outcome = finish_run(world, request, "plan")
    assert outcome.status == "plan_ready"
    assert "plan_output_invalid" in world.events(request.id)


def test_older_and_foreign_plan_runs_are_ignored(world: World) -> None:
    request = planned(world)
    request = world.requests.replan(request.id, DEV)
    newest = request.plan_run.run_id
    old = world.sync.apply_fact(
        _run(world, request.id, "plan", run_id=newest - 1, conclusion="failure", head_sha=request.commit_sha)
    )
    assert not old.changed and "older" in outcome_text(old)
    other = world.sync.apply_fact(_run(world, request.id, "plan", run_id=newest + 50, head_sha="f" * 40))
    assert not other.changed and "not the PR head" in outcome_text(other)
    assert world.get(request.id).status == "planning"


def test_out_of_order_delivery_never_rolls_back(world: World) -> None:
    request = world.requests.create(create_cmd())
    run_id = request.plan_run.run_id
    world.host.start_run(run_id)
    in_progress = run_fact(world, request.id, run_id, "plan")
    world.host.complete_run(run_id)
    completed = run_fact(world, request.id, run_id, "plan")
    world.sync.apply_fact(completed)
    late = world.sync.apply_fact(in_progress)
    assert not late.changed and "stale" in outcome_text(late)
    assert world.get(request.id).plan_run.conclusion == "success"


# -- approval binding ------------------------------------------------------------------------


def test_review_approval_at_the_head_counts(world: World) -> None:
    request = planned(world)
    outcome = world.sync.apply_fact(review_fact(world, request.id, request.pr.number, "carol"))
    assert outcome.status == "approved" and outcome.notified
    approval = world.get(request.id).approval
    assert approval.approvers == ["carol"] and approval.source == "github"
    assert approval.approved_sha == request.pr.head_sha
    # Replaying the delivery: no change, no notification.
    sent = len(world.notifier.sent)
    review = world.host.repo(world.repo).reviews[request.pr.number][0]
    replay = ReviewFact(request_id=request.id, action="submitted", pr_number=request.pr.number, review=review)
    assert not world.sync.apply_fact(replay).changed and len(world.notifier.sent) == sent


def test_review_of_an_older_commit_or_by_the_requester_does_not_approve(world: World) -> None:
    request = planned(world)
    old = world.sync.apply_fact(review_fact(world, request.id, request.pr.number, "carol", commit="0" * 40))
    assert not old.changed and "not the PR head" in outcome_text(old)
    own = world.sync.apply_fact(review_fact(world, request.id, request.pr.number, "dana"))  # requester's login
    assert not own.changed and "own request" in outcome_text(own)
    lowercase_comment = world.sync.apply_fact(
        review_fact(world, request.id, request.pr.number, "carol", state="commented")
    )
    assert not lowercase_comment.changed
    assert world.get(request.id).status == "plan_ready"


def test_webhook_review_states_are_case_insensitive(world: World) -> None:
    request = planned(world)
    outcome = world.sync.apply_fact(review_fact(world, request.id, request.pr.number, "carol", state="approved"))
    assert outcome.status == "approved"


def test_dismissed_review_voids_the_approval(world: World) -> None:
    request = planned(world)
    fact = review_fact(world, request.id, request.pr.number, "carol")
    world.sync.apply_fact(fact)
    dismissed = world.host.dismiss_review(world.repo, request.pr.number, fact.review.id)
    outcome = world.sync.apply_fact(
        ReviewFact(request_id=request.id, action="dismissed", pr_number=request.pr.number, review=dismissed)
    )
    assert (outcome.previous_status, outcome.status) == ("approved", "plan_ready")
    assert world.notifier.events(request.id)[-1] == "approval_voided"
    assert "approval_voided" in world.events(request.id)


def test_dismissing_someone_who_did_not_approve_changes_nothing(world: World) -> None:
    request = approved(world)  # recorded by TfPilot for U_APP
    review = ReviewInfo(id=1, user_login="mallory", state="DISMISSED", commit_id=request.pr.head_sha)
    outcome = world.sync.apply_fact(
        ReviewFact(request_id=request.id, action="dismissed", pr_number=request.pr.number, review=review)
    )
    assert not outcome.changed and world.get(request.id).status == "approved"


def test_new_commit_voids_approval_and_retires_the_plan(world: World) -> None:
    request = approved(world)
    new_head = world.host.push(world.repo, request.branch_name, {"extra.tf": "# x\n"})
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "synchronize"))
    assert outcome.notified and world.notifier.events(request.id)[-1] == "approval_voided"
    stored = world.get(request.id)
    assert stored.pr.head_sha == new_head and not stored.approval.approved
    assert stored.plan_run is None and stored.plan is None and stored.status == "planning"
    assert {"approval_voided", "plan_stale", "pr_head_changed"} <= set(world.events(request.id))
    # The old run's late completion cannot bring "plan_ready" back.
    late = world.sync.apply_fact(
        _run(world, request.id, "plan", run_id=request.plan_run.run_id, head_sha=request.plan_run.head_sha)
    )
    assert not late.changed and world.get(request.id).status == "planning"


def test_pr_facts_for_other_prs_are_ignored(world: World) -> None:
    request = world.requests.create(create_cmd())
    info = world.host.pr_info(world.repo, request.pr.number)
    foreign = PullRequestFact(request_id=request.id, action="opened", pr=info.model_copy(update={"number": 999}))
    assert not world.sync.apply_fact(foreign).changed
    branch = PullRequestFact(request_id=request.id, action="opened", pr=info.model_copy(update={"head_ref": "x"}))
    assert not world.sync.apply_fact(branch).changed


def test_pr_closed_without_merge(world: World) -> None:
    request = planned(world)
    world.host.repo(world.repo).prs[request.pr.number].state = "closed"
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed"))
    assert outcome.changed and not world.get(request.id).pr.open
    assert "pr_closed" in world.events(request.id)


def test_a_pr_closed_or_reopened_on_github_is_told_once(world: World) -> None:
    """The status stays (the plan is still ready) but the card's buttons no longer apply: the
    notifier hears it, once, and again when the PR is re-opened."""
    request = planned(world)
    pr = world.host.repo(world.repo).prs[request.pr.number]
    pr.state = "closed"
    closed = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed"))
    assert closed.notified and closed.status == "plan_ready"
    rid, transition = world.notifier.sent[-1]
    assert (rid, transition.event, transition.status) == (request.id, "pr_closed", "plan_ready")
    assert f"#{request.pr.number} was closed without merging" in transition_text(
        transition
    ) and "re-open" in transition_text(transition)
    sent = len(world.notifier.sent)
    assert not world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed")).changed
    assert len(world.notifier.sent) == sent  # a redelivery tells nobody
    pr.state = "open"
    reopened = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "reopened"))
    assert reopened.notified and world.notifier.events(request.id)[-1] == "pr_reopened"
    assert world.get(request.id).pr.open


def test_a_pr_closed_with_a_status_change_is_one_reply(world: World) -> None:
    request = planned(world)
    world.host.push(world.repo, request.branch_name, {"hand.tf": "# edit\n"})
    world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "synchronize"))  # retires the plan
    assert world.get(request.id).status == "planning"
    sent = len(world.notifier.sent)
    world.host.repo(world.repo).prs[request.pr.number].state = "closed"
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed"))
    assert outcome.previous_status == "planning" and outcome.status != "planning"
    assert len(world.notifier.sent) == sent + 1
    _, transition = world.notifier.sent[-1]
    assert transition.event != "pr_closed" and "was closed without merging" in transition_text(transition)


def test_merged_on_github_is_folded(world: World) -> None:
    request = approved(world)
    world.host.merge_pull_request(world.repo, request.pr.number, sha=request.pr.head_sha, title="by hand")
    outcome = world.sync.apply_fact(pr_fact(world, request.id, request.pr.number, "closed"))
    assert (outcome.previous_status, outcome.status) == ("approved", "merged") and outcome.notified
    stored = world.get(request.id)
    assert stored.merged_sha == world.host.repo(world.repo).branches["main"]
    # A late "synchronize" for the merged PR cannot reopen it.
    stale = PullRequestFact(
        request_id=request.id,
        action="synchronize",
        pr=world.host.pr_info(world.repo, request.pr.number).model_copy(update={"merged": False, "state": "open"}),
    )
    assert not world.sync.apply_fact(stale).changed


# -- apply-run SHA validation ------------------------------------------------------------------


def test_apply_run_of_an_unrelated_commit_is_ignored(world: World) -> None:
    request = merged(world)
    outcome = world.sync.apply_fact(
        _run(world, request.id, "apply", run_id=5, head_sha="e" * 40, status="in_progress", conclusion=None)
    )
    assert not outcome.changed and "not one of this request's commits" in outcome_text(outcome)


def test_apply_run_on_a_candidate_sha_is_accepted(world: World) -> None:
    request = merged(world)
    for sha in (request.merged_sha, request.commit_sha):
        fresh = world.get(request.id)
        outcome = world.sync.apply_fact(
            _run(
                world,
                request.id,
                "apply",
                run_id=fresh.apply_run.run_id + 1 if fresh.apply_run else 7,
                head_sha=sha,
                status="in_progress",
                conclusion=None,
            )
        )
        assert outcome.changed and outcome.status == "applying"


def test_apply_run_we_dispatched_is_accepted_after_base_moved(world: World) -> None:
    request = merged(world)
    world.host.push(world.repo, "main", {"other.tf": "# someone else\n"})  # base moved on
    world.host.return_run_details = False
    request = world.requests.apply(request.id, APPROVER)
    (run,) = world.host.runs_of("apply.yml")
    assert run.head_sha != request.merged_sha
    outcome = world.sync.apply_fact(run_fact(world, request.id, run.run_id, "apply"))
    assert outcome.changed and world.get(request.id).apply_run.run_id == run.run_id


def test_apply_success_sets_applied_at_and_notifies_once(world: World) -> None:
    request = applied(world)
    assert request.status == "applied" and request.applied_at is not None
    assert world.notifier.events(request.id)[-1] == "applied"
    sent = len(world.notifier.sent)
    replay = world.sync.apply_fact(run_fact(world, request.id, request.apply_run.run_id, "apply"))
    assert not replay.changed and len(world.notifier.sent) == sent


def test_destroy_run_without_a_destroy_request_is_ignored(world: World) -> None:
    request = applied(world)
    outcome = world.sync.apply_fact(_run(world, request.id, "destroy", run_id=99))
    assert not outcome.changed and "no destroy was requested" in outcome_text(outcome)


def test_cleanup_and_drift_runs_change_nothing(world: World) -> None:
    request = applied(world)
    assert not world.sync.apply_fact(_run(world, request.id, "drift", run_id=4)).changed
    assert not world.sync.apply_fact(_run(world, request.id, "cleanup", run_id=5)).changed


# -- unknown / archived --------------------------------------------------------------------------


def test_unknown_request_is_an_outcome(world: World) -> None:
    outcome = world.sync.apply_fact(_run(world, "req_nosuch000001", "plan"))
    assert outcome == outcome.model_copy(update={"changed": False}) and outcome_text(outcome) == "unknown request"
    assert outcome.reasons == (said(FactCode.UNKNOWN_REQUEST),)


def test_facts_after_archive_are_ignored(world: World) -> None:
    request = destroying(world)
    finish_run(world, request, "destroy")
    replay = world.sync.apply_fact(run_fact(world, request.id, request.destroy_run.run_id, "destroy"))
    assert not replay.changed and outcome_text(replay) == "request is archived"
    assert world.sync.sync(request.id).archived_at is not None


# -- full refresh ------------------------------------------------------------------------------


def test_sync_reads_pr_reviews_and_open_runs_and_folds_them(world: World) -> None:
    request = world.requests.create(create_cmd())
    world.host.complete_run(request.plan_run.run_id)  # the webhook was lost
    world.host.reset_counts()
    synced = world.sync.sync(request.id)
    assert synced.status == "plan_ready" and synced.plan.summary is not None
    assert synced.last_synced_at == world.clock.now()
    assert world.host.calls["get_pull_request"] == 1 and world.host.calls["list_reviews"] == 1
    assert world.host.calls["get_run"] == 1
    # An approval given on GitHub while webhooks were down.
    world.host.add_review(world.repo, request.pr.number, "carol")
    world.host.reset_counts()
    world.clock.advance(minutes=10)
    synced = world.sync.sync(request.id)
    assert synced.status == "approved" and synced.approval.approvers == ["carol"]
    assert world.host.calls["get_run"] == 0  # a concluded run is never read again
    assert world.notifier.events(request.id)[-2:] == ["plan_ready", "approved"]


def test_idle_sync_notifies_nobody_and_writes_nothing(world: World) -> None:
    request = planned(world)
    before = world.get(request.id)
    sent = len(world.notifier.sent)
    for _ in range(3):
        world.clock.advance(minutes=10)
        assert world.sync.sync(request.id) == before
    assert len(world.notifier.sent) == sent
    # A refresh that learns nothing writes nothing: the document (and so its index row) stays
    # as it was, ``last_synced_at`` included (the reconciler's window claim records the check).
    assert world.get(request.id) == before


def test_a_sync_that_learns_something_sets_last_synced_at(world: World) -> None:
    request = planned(world)
    world.host.add_review(world.repo, request.pr.number, "carol")  # while webhooks were down
    world.clock.advance(minutes=10)
    synced = world.sync.sync(request.id)
    assert synced.approval.approvers == ["carol"]
    assert synced.last_synced_at == world.clock.now() == synced.updated_at


def test_sync_of_a_merged_request_does_not_list_reviews(world: World) -> None:
    request = merged(world)
    world.host.reset_counts()
    world.sync.sync(request.id)
    assert world.host.calls["list_reviews"] == 0 and world.host.calls["get_pull_request"] == 1


def test_sync_finds_a_destroy_run_and_archives(world: World) -> None:
    """No run details from the host and every webhook lost: the reconciler's refresh finds the
    destroy run by the request id in its name; its success continues the destroy (the removal
    PR's merge), then the request is archived."""
    from tests.services.conftest import ADMIN

    request = applied(world)
    world.host.return_run_details = False
    request = world.requests.destroy(request.id, ADMIN)
    assert request.status == "destroying" and request.destroy_run.run_id is None  # which run: not known yet
    assert request.cleanup_pr.open and request.cleanup_pr.branch == f"destroy/{request.id}"
    (run,) = world.host.runs_of("destroy.yml")
    world.host.complete_run(run.run_id)
    world.clock.advance(minutes=5)
    world.host.reset_counts()
    world.sync.sync(request.id)
    assert world.host.calls["find_run"] == 1 and world.host.calls["merge_pull_request"] == 1
    done = world.get(request.id)
    assert done.status == "destroyed" and done.archived_at is not None and done.cleanup_pr.merged
    assert request.id in world.store.history


def test_apply_run_concluding_again_after_a_rerun_notifies(world: World) -> None:
    request = merged(world)
    request = world.requests.apply(request.id, APPROVER)
    finish_run(world, request, "apply", "failure")
    assert world.get(request.id).status == "failed"
    world.clock.advance(minutes=1)
    run = world.host.runs[request.apply_run.run_id]
    run.status, run.conclusion, run.updated_at = "queued", None, world.clock.now()  # "Re-run jobs" on GitHub
    rerun = world.sync.apply_fact(run_fact(world, request.id, run.run_id, "apply"))
    assert rerun.changed and rerun.status == "applying"
    world.clock.advance(minutes=1)
    world.host.complete_run(run.run_id, "success")
    done = world.sync.apply_fact(run_fact(world, request.id, run.run_id, "apply"))
    assert done.status == "applied" and done.notified
    assert world.get(request.id).applied_at == world.clock.now() - timedelta(0)


def test_a_run_webhook_that_outruns_the_dispatch_record_is_kept(world: World) -> None:
    """The destroy run's completed delivery is folded before RequestService records the run."""
    request = applied(world)
    original = world.host.dispatch_workflow

    def dispatch_and_deliver(repo, workflow, *, ref, inputs):
        info = original(repo, workflow, ref=ref, inputs=inputs)
        if workflow == "destroy.yml":
            world.host.start_run(info.run_id)
            outcome = world.sync.apply_fact(run_fact(world, request.id, info.run_id, "destroy"))
            assert outcome.changed, outcome_text(outcome)
        return info

    world.host.dispatch_workflow = dispatch_and_deliver
    world.requests.destroy(request.id, ADMIN)
    done = world.get(request.id)
    assert done.destroy_run.status == "in_progress" and done.destroy_run.dispatched_at == world.clock.now()
    assert done.destroy_triggered_at == world.clock.now() and done.status == "destroying"


def test_a_webhook_that_outruns_the_merge_call_is_announced_once(world: World, monkeypatch) -> None:
    from tests.services.helpers import approved as approved_request
    from tests.services.helpers import pr_fact as merged_fact

    request = approved_request(world)
    real_merge = world.host.merge_pull_request

    def merge_then_webhook(*args, **kwargs):
        result = real_merge(*args, **kwargs)
        # GitHub's pull_request "closed" (merged) delivery is folded before our call returns.
        world.sync.apply_fact(merged_fact(world, request.id, request.pr.number, "closed"))
        return result

    monkeypatch.setattr(world.host, "merge_pull_request", merge_then_webhook)
    world.requests.merge(request.id, APPROVER)
    assert world.get(request.id).status == "merged"
    assert world.notifier.events(request.id).count("merged") == 1


def test_an_apply_run_reported_before_the_dispatch_returns_is_announced_once(world: World, monkeypatch) -> None:
    from tests.services.helpers import merged as merged_request

    request = merged_request(world)
    real_dispatch = world.host.dispatch_workflow

    def dispatch_then_webhook(repo, workflow, **kwargs):
        info = real_dispatch(repo, workflow, **kwargs)
        if info is not None:
            started = world.host.start_run(info.run_id)
            world.sync.apply_fact(RunFact(request_id=request.id, kind="apply", run=started))
        return info

    monkeypatch.setattr(world.host, "dispatch_workflow", dispatch_then_webhook)
    world.requests.apply(request.id, APPROVER)
    assert world.get(request.id).status == "applying"
    transitions = [t for rid, t in world.notifier.sent if rid == request.id and t.status == "applying"]
    assert len(transitions) == 1


def test_a_fact_folded_on_a_stale_memory_keeps_what_another_process_wrote(world: World) -> None:
    rid = world.requests.create(create_cmd()).id  # this process remembers what it wrote last
    other = MemoryRequestStore(world.clock, world.store.memory)  # another replica, same bucket
    other.update(rid, lambda r: r.model_copy(update={"chat_session_id": "from-the-other-replica"}))
    run = other.get(rid).plan_run
    assert run is not None and run.run_id is not None
    world.host.start_run(run.run_id)
    world.host.complete_run(run.run_id, "success")
    # ``apply_fact`` starts from this process's (stale) copy: the fold's write loses its
    # compare-and-swap, reads, and folds the fact into the other replica's version.
    outcome = world.sync.apply_fact(run_fact(world, rid, run.run_id, "plan"))
    stored = other.get(rid)
    assert outcome.changed and stored.chat_session_id == "from-the-other-replica"
    assert stored.status == "plan_ready" and stored.plan_run is not None and stored.plan_run.conclusion == "success"
    assert world.notifier.events(rid).count("plan_ready") == 1
