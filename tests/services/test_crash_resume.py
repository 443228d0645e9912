"""A crash between any two steps, then a retry or resume: every intent happens exactly once.

``FakeCodeHost.crash_at(n, when=...)`` kills the "process" (a BaseException, so no cleanup
runs) at the n-th code host call, before or after that call's effect. The dead worker's lease
expires (the clock moves past it), and a retry continues from the last recorded step.
"""

from __future__ import annotations

import pytest

from core.domain.request import Request
from core.ports.code_host import CodeHostError
from core.services.operations import LEASE
from tests.services.conftest import ADMIN, APPROVER, DEV, World, create_cmd
from tests.services.fake_code_host import Crash
from tests.services.helpers import applied, finish_run, merged, planned

CREATE_CALLS = 5  # branch_head, create_branch, commit_files, open_pull_request, dispatch_workflow
# The click: branch_head (base), create_branch, commit_files (the deletion), open_pull_request,
# branch_protection, dispatch_workflow (destroy); after the destroy run's success: merge_pull_request.
DESTROY_CALLS = 7
WHEN = ("before", "after")


def _expire_lease(world: World) -> None:
    world.clock.advance(seconds=LEASE.total_seconds() + 1)


def _commits_between(world: World, head: str, base: str) -> int:
    count, sha = 0, head
    while sha != base:
        sha = world.host.commits[sha].parent
        count += 1
    return count


def _assert_one_of_each(world: World, request: Request) -> None:
    repo = world.host.repo(world.repo)
    assert [b for b in repo.branches if b.startswith("request/")] == [f"request/{request.id}"]
    assert len(repo.prs) == 1
    assert len(world.host.runs_of("plan.yml")) == 1
    fork = repo.fork_points[f"request/{request.id}"]
    assert _commits_between(world, repo.branches[f"request/{request.id}"], fork) == 1
    assert request.status == "planning"
    assert request.pr.number in repo.prs
    assert request.plan_run.run_id == world.host.runs_of("plan.yml")[0].run_id
    op = request.operation("create", request.idempotency_key)
    assert op.completed_at is not None
    assert world.events(request.id).count("plan_dispatched") == 1
    assert world.notifier.events(request.id) == ["created"]


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("n", range(1, CREATE_CALLS + 1))
def test_create_crash_then_retry(world: World, n: int, when: str) -> None:
    cmd = create_cmd()
    world.host.crash_at(n, when=when)
    with pytest.raises(Crash):
        world.requests.create(cmd)
    _expire_lease(world)
    request = world.fresh_requests().create(cmd)
    _assert_one_of_each(world, request)


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("n", range(1, CREATE_CALLS + 1))
def test_create_crash_then_resume(world: World, n: int, when: str) -> None:
    world.host.crash_at(n, when=when)
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    (rid,) = world.store.active
    _expire_lease(world)
    request = world.fresh_requests().resume(rid)
    _assert_one_of_each(world, request)


@pytest.mark.parametrize("n", range(1, CREATE_CALLS + 1))
def test_create_crash_without_run_details(world: World, n: int) -> None:
    world.host.return_run_details = False
    world.host.crash_at(n, when="after")
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    _expire_lease(world)
    request = world.fresh_requests().create(create_cmd())
    assert len(world.host.runs_of("plan.yml")) == 1
    assert len(world.host.repo(world.repo).prs) == 1
    assert request.operation("create", request.idempotency_key).completed_at is not None


def test_a_live_lease_keeps_a_concurrent_retry_away(world: World) -> None:
    world.host.crash_at(3, when="after")  # the commit landed, the worker "died"
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    calls = world.host.total()
    # A Slack retry seconds later: the lease is still held, so it touches nothing.
    busy = world.fresh_requests().create(create_cmd())
    assert busy.status == "request_created"
    assert world.host.total() == calls
    assert world.fresh_requests().resume(busy.id).pr is None
    assert world.host.total() == calls
    _expire_lease(world)
    _assert_one_of_each(world, world.fresh_requests().resume(busy.id))


def test_an_error_releases_the_lease_and_is_recorded(world: World) -> None:
    world.host.fail_next("open_pull_request", CodeHostError("GitHub is down", status=502, retryable=True))
    with pytest.raises(CodeHostError):
        world.requests.create(create_cmd())
    (rid,) = world.store.active
    stored = world.get(rid)
    op = stored.operation("create", stored.idempotency_key)
    assert op.error and "GitHub is down" in op.error and op.steps.lease is None
    assert "create_failed" in world.events(rid)
    # No lease to wait for: an immediate retry finishes the job.
    _assert_one_of_each(world, world.requests.create(create_cmd()))


def _destroy_with_a_crash(world: World, n: int, when: str) -> str:
    """Destroy, and the destroy run's success that continues it (the removal PR's merge), with
    the n-th code host call of the whole destroy crashing (1-6: the click, 7: the merge)."""
    request = applied(world)
    world.host.crash_at(n, when=when)
    with pytest.raises(Crash):
        world.requests.destroy(request.id, ADMIN)
        finish_run(world, request, "destroy")  # the hook continues: merge the removal PR
    _expire_lease(world)
    return request.id


def _assert_destroyed_once(world: World, rid: str) -> None:
    stored = world.get(rid)
    if stored.destroy_run is not None and stored.destroy_run.conclusion is None:
        finish_run(world, stored, "destroy")  # GitHub runs the destroy now; its fact continues it
    done = world.get(rid)
    repo = world.host.repo(world.repo)
    assert [b for b in repo.branches if b.startswith("destroy/")] == [f"destroy/{rid}"]
    removal_prs = [p for p in repo.prs.values() if p.head.startswith("destroy/")]
    assert len(removal_prs) == 1 and removal_prs[0].merged
    assert not world.host.runs_of("cleanup.yml") and len(world.host.runs_of("destroy.yml")) == 1
    merges = [c for c in world.host.commits.values() if c.message.startswith("TfPilot: remove")]
    assert len(merges) == 1  # the removal PR was merged exactly once
    fork = repo.fork_points[f"destroy/{rid}"]
    assert _commits_between(world, repo.branches[f"destroy/{rid}"], fork) == 1  # one deletion commit
    assert done.status == "destroyed" and done.archived_at is not None and rid in world.store.history
    assert f"envs/dev/tfpilot_{rid}.tf" not in world.host.tree(world.repo, "main")
    events = world.events(rid)
    assert events.count("destroy_requested") == 1 and events.count("destroy_dispatched") == 1
    assert events.count("removal_pr_merged") == 1 and events.count("archived") == 1
    assert done.operation("destroy", "destroy").completed_at is not None
    assert world.notifier.events(rid).count("destroy_requested") == 1
    assert world.notifier.events(rid)[-1] == "destroyed"


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("n", range(1, DESTROY_CALLS + 1))
def test_destroy_crash_then_retry(world: World, n: int, when: str) -> None:
    rid = _destroy_with_a_crash(world, n, when)
    if world.get(rid).status in ("destroying", "destroyed"):
        world.fresh_requests().resume(rid)  # no Destroy button any more: the reconciler continues
    else:
        world.fresh_requests().destroy(rid, ADMIN)  # the admin clicks again
    _assert_destroyed_once(world, rid)


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("n", range(1, DESTROY_CALLS + 1))
def test_destroy_crash_then_reconciler(world: World, n: int, when: str) -> None:
    """The reconciler's pass: a full refresh, then resume."""
    rid = _destroy_with_a_crash(world, n, when)
    world.sync.sync(rid)
    if world.get(rid).archived_at is None:
        world.fresh_requests().resume(rid)
    _assert_destroyed_once(world, rid)


@pytest.mark.parametrize("when", WHEN)
def test_apply_crash_around_dispatch(world: World, when: str) -> None:
    request = merged(world)
    world.host.crash_at(1, when=when)
    with pytest.raises(Crash):
        world.requests.apply(request.id, APPROVER, key="click-1")
    _expire_lease(world)
    # The user clicks again (a new key): the unfinished apply is continued, not repeated.
    done = world.fresh_requests().apply(request.id, APPROVER, key="click-2")
    assert len(world.host.runs_of("apply.yml")) == 1
    assert done.status == "applying"
    assert [op.key for op in done.operations if op.kind == "apply"] == ["click-1"]


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("n", [1, 2])
def test_update_crash_then_retry(world: World, n: int, when: str) -> None:
    request = planned(world)
    head_before = world.host.repo(world.repo).branches[request.branch_name]
    world.host.crash_at(n, when=when)
    with pytest.raises(Crash):
        world.requests.update_config(request.id, {"name": "logs2"}, DEV, key="edit-1")
    _expire_lease(world)
    done = world.fresh_requests().update_config(request.id, {"name": "logs2"}, DEV, key="edit-1")
    assert _commits_between(world, world.host.repo(world.repo).branches[request.branch_name], head_before) == 1
    assert len(world.host.runs_of("plan.yml")) == 2
    assert done.revision == 2 and done.status == "planning"


def test_merge_crash_after_merge_is_resumed_as_merged(world: World) -> None:
    from tests.services.helpers import approved

    request = approved(world)
    world.host.crash_at(1, when="after")
    with pytest.raises(Crash):
        world.requests.merge(request.id, APPROVER, key="m-1")
    _expire_lease(world)
    done = world.fresh_requests().resume(request.id)
    assert done.status == "merged" and done.merged_sha
    assert world.host.calls["merge_pull_request"] == 2  # the second call finds it merged
    assert world.events(request.id).count("merged") == 1
