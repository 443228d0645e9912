"""In-flight legacy destroys (begun through the cleanup workflow before the removal-PR flow):
they finish, or fail clearly, the old way. The waits, the failures and the retries.

``RequestService.destroy`` dispatches ``cleanup.yml`` and returns; the cleanup PR's fact (or the
end of the cleanup run, or the reconciler's refresh) continues it through the message bus's
continuation (``RequestService.resume``): merge the PR at its head, dispatch destroy. The fake host opens the PR when
the workflow is dispatched; these tests decide which facts reach the services, and when.
"""

from __future__ import annotations

import logging

import pytest

from bot.views.fact_text import outcome_text
from bot.views.reasons import transition_text
from core.domain.facts import RunFact
from core.domain.request import Request
from core.services.messagebus import MessageBus
from core.services.sync import SyncService
from tests.services.conftest import ADMIN, APPROVER, World
from tests.services.helpers import (
    applied,
    cleanup_run_id,
    finish_cleanup,
    finish_run,
    legacy_destroy,
    legacy_destroying,
    pr_fact,
    run_fact,
)


def _cleanup_fact(world: World, rid: str) -> RunFact:
    return run_fact(world, rid, cleanup_run_id(world, rid), "cleanup")


def _requested(world: World) -> Request:
    request = applied(world)
    return legacy_destroy(world, request.id)


def test_a_failed_cleanup_run_ends_the_attempt_and_a_new_click_retries(world: World) -> None:
    request = _requested(world)
    rid = request.id
    outcomes = finish_cleanup(world, rid, "failure")
    failed = outcomes[-1]
    assert failed.changed and failed.notified and failed.status == "applied"
    stored = world.get(rid)
    op = stored.operation("destroy", "destroy")
    assert op.completed_at is not None and "concluded failure" in op.error and op.steps.lease is None
    assert op.steps.failed is not None and op.steps.failed.conclusion == "failure"
    assert stored.status == "applied" and stored.destroy_run is None and stored.cleanup_pr is None
    assert "destroy_failed" in world.events(rid) and stored.timeline[-1].status == "failure"
    sent = world.notifier.sent[-1][1]
    run_url = world.host.run_info(world.host.runs[cleanup_run_id(world, rid)]).url
    assert (sent.event, sent.status, sent.run_url) == ("destroy_failed", "applied", run_url)
    assert "Destroy again to retry" in transition_text(sent)
    assert not world.host.runs_of("destroy.yml")
    # Nothing resumes an ended attempt on its own (the reconciler's resume does nothing).
    calls = world.host.total()
    world.requests.resume(rid)
    assert world.host.total() == calls and len(world.host.runs_of("cleanup.yml")) == 1
    # A late or replayed delivery of the failed run changes nothing.
    assert not world.sync.apply_fact(_cleanup_fact(world, rid)).changed

    # The admin clicks Destroy again: a new attempt, now the removal-PR way (no cleanup workflow).
    retry = world.requests.destroy(rid, ADMIN)
    attempts = [op for op in retry.operations if op.kind == "destroy"]
    assert [op.key for op in attempts] == ["destroy", "destroy:retry-1"]
    assert len(world.host.runs_of("cleanup.yml")) == 1
    assert attempts[-1].steps.removal_pr is not None and attempts[-1].steps.launch("cleanup") is None
    done = world.get(rid)
    assert done.status == "destroying" and done.cleanup_pr.open and len(world.host.runs_of("destroy.yml")) == 1
    assert world.events(rid).count("destroy_requested") == 2


def test_a_cancelled_cleanup_run_ends_the_attempt_too(world: World) -> None:
    request = _requested(world)
    finish_cleanup(world, request.id, "cancelled")
    op = world.get(request.id).operation("destroy", "destroy")
    assert op.completed_at is not None and "cancelled" in op.error
    assert world.notifier.events(request.id)[-1] == "destroy_failed"


def test_a_cleanup_run_that_finishes_before_its_pr_webhook_finds_the_pr(world: World) -> None:
    """GitHub's deliveries may come out of order: the run's success arrives first. The destroy
    asks for the PR once (find by branch) and goes on."""
    request = _requested(world)
    rid = request.id
    world.host.reset_counts()
    finish_cleanup(world, rid, pr_webhook=False)
    assert world.host.calls["find_pull_request"] == 1
    done = world.get(rid)
    assert done.status == "destroying" and done.cleanup_pr.merged
    assert done.cleanup_pr.number == world.host.cleanup_pr(world.repo, rid)
    # The late "opened" delivery (the PR as GitHub showed it then: open) is stale now.
    number = done.cleanup_pr.number
    pr = world.host.repo(world.repo).prs[number]
    pr.state, pr.merged = "open", False
    late = world.sync.apply_fact(pr_fact(world, rid, number, "opened", cleanup=True))
    pr.state, pr.merged = "closed", True
    assert not late.changed and "already merged" in outcome_text(late)
    assert world.events(rid).count("cleanup_pr_opened") == 1


def test_a_lost_cleanup_pr_webhook_is_recovered_by_sync(world: World) -> None:
    request = _requested(world)
    rid = request.id
    world.host.start_run(cleanup_run_id(world, rid))  # the workflow runs; every webhook is lost
    world.clock.advance(minutes=10)
    world.host.reset_counts()
    synced = world.sync.sync(rid)
    assert world.host.calls["find_pull_request"] == 1 and world.host.calls["get_run"] == 1
    assert synced.status == "destroying" and synced.cleanup_pr.merged and synced.destroy_run is not None
    assert f"envs/dev/tfpilot_{rid}.tf" not in world.host.tree(world.repo, "main")
    assert world.events(rid)[-2:] == ["cleanup_pr_merged", "destroy_dispatched"]


def test_the_reconciler_resume_alone_does_nothing_while_the_workflow_works(world: World) -> None:
    request = _requested(world)
    calls, version = world.host.total(), world.get(request.id).version
    world.clock.advance(minutes=5)
    graph = world.fresh_graph()
    graph.bus.on_refresh(None)  # not wired: the resume alone (the composition root wires the refresh)
    assert graph.requests.resume(request.id).status == "applied"
    assert world.host.total() == calls and world.get(request.id).version == version


def test_a_cleanup_run_without_a_pr_means_nothing_to_remove_and_destroy_goes_on(world: World) -> None:
    """Someone removed the file from the base branch by hand: the workflow opens no PR and
    succeeds; the destroy still runs (the destroy workflow reads the file from history)."""
    request = applied(world)
    rid = request.id
    world.host.push(world.repo, "main", {f"envs/dev/tfpilot_{rid}.tf": None}, "removed by hand")
    legacy_destroy(world, rid)
    assert world.host.cleanup_pr(world.repo, rid) is None
    finish_cleanup(world, rid)
    done = world.get(rid)
    assert done.status == "destroying" and done.cleanup_pr is None and len(world.host.runs_of("destroy.yml")) == 1
    assert "workflow found no" in done.operation("destroy", "destroy").steps.cleanup_skipped
    assert "cleanup_not_needed" in world.events(rid)


def test_a_cleanup_pr_closed_without_merging_ends_the_attempt(world: World) -> None:
    request = _requested(world)
    rid = request.id
    number = world.host.cleanup_pr(world.repo, rid)
    pr = world.host.repo(world.repo).prs[number]
    pr.state = "closed"  # someone closed it on GitHub before TfPilot heard of it
    world.sync.apply_fact(pr_fact(world, rid, number, "closed", cleanup=True))
    stored = world.get(rid)
    op = stored.operation("destroy", "destroy")
    assert op.completed_at is not None and f"cleanup PR #{number} was closed without merging" in op.error
    assert stored.status == "applied" and not world.host.runs_of("destroy.yml")
    assert world.notifier.events(rid)[-1] == "destroy_failed"
    # Clicked again: the closed PR is left behind; TfPilot opens its removal PR and goes through.
    done = world.requests.destroy(rid, ADMIN)
    second = done.cleanup_pr.number
    assert second is not None and second != number and done.cleanup_pr.branch == f"destroy/{rid}"
    assert done.status == "destroying" and done.cleanup_pr.open and len(world.host.runs_of("cleanup.yml")) == 1


def test_a_moved_cleanup_pr_head_is_not_merged_blindly(world: World) -> None:
    """Someone pushed to cleanup/<id> after the opened fact: the merge at the reported head is
    refused; the synchronize delivery brings the new head and the destroy goes on."""
    request = _requested(world)
    rid = request.id
    number = world.host.cleanup_pr(world.repo, rid)
    opened = pr_fact(world, rid, number, "opened", cleanup=True)
    world.host.push(world.repo, f"cleanup/{rid}", {"README.md": "edited\n"})
    world.sync.apply_fact(opened)  # the hook's merge fails: logged, not raised
    stored = world.get(rid)
    op = stored.operation("destroy", "destroy")
    assert op.completed_at is None and op.error and "Head branch was modified" in op.error
    assert not world.host.runs_of("destroy.yml")
    world.sync.apply_fact(pr_fact(world, rid, number, "synchronize", cleanup=True))
    done = world.get(rid)
    assert done.status == "destroying" and done.cleanup_pr.merged


def test_a_failing_hook_is_logged_and_the_fact_still_stored(world: World, caplog: pytest.LogCaptureFixture) -> None:
    request = _requested(world)
    rid = request.id

    def broken(_request_id: str) -> None:
        raise RuntimeError("resume is down")

    bus = MessageBus(world.audit, world.notifier)
    bus.on_resume(broken)
    sync = SyncService(world.store, world.host, world.notifier, world.audit, world.clock, world.workflows, bus=bus)
    number = world.host.cleanup_pr(world.repo, rid)
    with caplog.at_level(logging.ERROR, logger="core.services.messagebus"):
        outcome = sync.apply_fact(pr_fact(world, rid, number, "opened", cleanup=True))
    assert outcome.changed and world.get(rid).cleanup_pr.number == number
    assert any("continuing" in r.getMessage() for r in caplog.records)
    # The reconciler's resume continues it.
    world.clock.advance(minutes=3)
    assert world.requests.resume(rid).status == "destroying"


def test_a_pr_fact_while_the_destroy_still_holds_its_lease_is_not_lost(world: World) -> None:
    """The cleanup PR's fact arrives before the click's worker recorded its dispatch (a fast
    runner): the hook finds the lease held and leaves it; the worker sees the PR and goes on."""
    request = applied(world)
    rid = request.id
    original = world.host.dispatch_workflow

    def dispatch_then_the_pr_fact(repo, workflow, *, ref, inputs):  # type: ignore[no-untyped-def]
        info = original(repo, workflow, ref=ref, inputs=inputs)
        if workflow == "cleanup.yml":
            number = world.host.cleanup_pr(world.repo, rid)
            assert world.sync.apply_fact(pr_fact(world, rid, number, "opened", cleanup=True)).changed
        return info

    world.host.dispatch_workflow = dispatch_then_the_pr_fact  # type: ignore[method-assign]
    done = legacy_destroy(world, rid)
    assert done.status == "destroying" and done.cleanup_pr.merged
    assert len(world.host.runs_of("destroy.yml")) == 1 and world.host.calls["merge_pull_request"] == 2


def test_a_second_click_by_someone_not_allowed_is_still_refused(world: World) -> None:
    from core.domain.errors import PermissionDenied

    request = _requested(world)
    with pytest.raises(PermissionDenied):
        world.requests.destroy(request.id, APPROVER, key="their-click")
    assert world.events(request.id)[-1] == "destroy_blocked"


def test_after_a_failed_destroy_run_a_new_click_destroys_again(world: World) -> None:
    request = legacy_destroying(world)
    rid = request.id
    finish_run(world, request, "destroy", "failure")
    assert world.get(rid).status == "failed"
    again = world.requests.destroy(rid, ADMIN)
    # The file left the base branch with the first attempt's merged cleanup PR: straight to destroy.
    assert len(world.host.runs_of("cleanup.yml")) == 1 and len(world.host.runs_of("destroy.yml")) == 2
    assert again.status == "destroying"
    assert [op.key for op in again.operations if op.kind == "destroy"] == ["destroy", "destroy:retry-1"]
    finish_run(world, again, "destroy")
    assert rid in world.store.history


def test_without_run_details_the_cleanup_run_is_matched_by_name(world: World) -> None:
    request = applied(world)
    rid = request.id
    world.host.return_run_details = False
    request = legacy_destroy(world, rid)
    assert request.operation("destroy", "destroy").steps.cleanup_run.run_id is None
    (run,) = world.host.runs_of("cleanup.yml")
    world.host.complete_run(run.run_id, "failure")
    outcome = world.sync.apply_fact(RunFact(request_id=rid, kind="cleanup", run=world.host.run_info(run)))
    assert outcome.changed and world.notifier.events(rid)[-1] == "destroy_failed"
    assert world.get(rid).operation("destroy", "destroy").steps.cleanup_run.run_id == run.run_id


def test_a_cleanup_run_from_before_the_destroy_is_not_ours(world: World) -> None:
    request = applied(world)
    rid = request.id
    world.host.dispatch_workflow(world.repo, "cleanup.yml", ref="main", inputs={"request_id": rid})  # by hand
    world.clock.advance(minutes=30)
    world.host.return_run_details = False
    legacy_destroy(world, rid)
    stale = world.host.runs[min(r.run_id for r in world.host.runs_of("cleanup.yml"))]
    world.host.complete_run(stale.run_id, "failure")
    outcome = world.sync.apply_fact(RunFact(request_id=rid, kind="cleanup", run=world.host.run_info(stale)))
    assert not outcome.changed and "before the destroy was requested" in outcome_text(outcome)
    assert world.get(rid).operation("destroy", "destroy").completed_at is None


def test_the_reconcilers_resume_refreshes_a_waiting_destroy_when_wired(world: World) -> None:
    """Every webhook of the cleanup workflow lost, and the request's status (applied) is one the
    reconciler never refreshes on its own: its resume of the unfinished destroy asks for a
    refresh, which finds the PR and continues the destroy."""
    request = _requested(world)  # the composition root registered ``SyncService.sync`` as the refresh
    world.clock.advance(minutes=5)
    world.host.reset_counts()
    resumed = world.requests.resume(request.id)
    assert resumed.status == "destroying" and resumed.cleanup_pr.merged
    assert world.host.calls["find_pull_request"] == 1 and world.host.calls["merge_pull_request"] == 1
    assert len(world.host.runs_of("destroy.yml")) == 1
    # Nothing waits any more: the next resume refreshes nothing.
    world.host.reset_counts()
    world.requests.resume(request.id)
    assert world.host.total() == 0


def test_the_composition_root_wires_both_hooks(tmp_path: object) -> None:
    from bot import bootstrap
    from bot.settings import load_settings

    deps = bootstrap.build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path)}))
    assert deps.bus.handlers == {"resume": deps.requests.resume, "refresh": deps.sync.sync}
