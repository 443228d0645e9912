"""Operation bookkeeping merged into the writes around it, and why each merge is crash-safe.

The dispatch marker (``launches.<kind>.at``) rides on the write before the dispatch (``Mark``:
the apply's lease, the create's PR, the removal PR, the removal review), and the destroy's
dispatch write releases the lease (no ``pause`` write). The process that wrote a marker
dispatches once without a lookup (``Operations.fresh``); anyone else looks the run up first. A
crash (``Crash``, no cleanup) before or after the dispatch, then a retry in the same process or
in another one, dispatches exactly once.
"""

from __future__ import annotations

import pytest

from bot.views.timeline_text import timeline_label
from core.domain.operation import ApplyOp, Launch
from core.services.operations import LEASE, Mark, Operations
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd
from tests.services.fake_code_host import Crash
from tests.services.helpers import applied, finish_run, merged

WHEN = ("before", "after")
# The destroy click's code host calls: branch_head, create_branch, commit_files, open_pull_request,
# dispatch_workflow (the removal PR's plan), branch_protection, dispatch_workflow (destroy).
DESTROY_DISPATCH = 7


def _expire_lease(world: World) -> None:
    world.clock.advance(seconds=LEASE.total_seconds() + 1)


def test_apply_writes_its_marker_with_the_lease(world: World) -> None:
    request = merged(world)
    world.host.reset_counts()
    done = world.requests.apply(request.id, APPROVER, key="click-1")
    # begin (lease + marker) and the dispatch's record (run + finish): no marker write between.
    assert done.version == request.version + 2
    assert world.host.calls["dispatch_workflow"] == 1 and world.host.calls["find_run"] == 0
    launch = done.find(ApplyOp, "click-1").steps.launch("apply")
    assert launch is not None and launch.at is not None and launch.by and launch.recorded


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
@pytest.mark.parametrize("when", WHEN)
def test_apply_crash_at_the_dispatch_dispatches_once(world: World, when: str, fresh: bool) -> None:
    request = merged(world)
    world.host.crash_at(1, when=when)  # the apply's one code host call: the dispatch
    with pytest.raises(Crash):
        world.requests.apply(request.id, APPROVER, key="click-1")
    stored = world.get(request.id).find(ApplyOp, "click-1")
    assert stored is not None and stored.steps.launch("apply").at is not None  # marked before
    _expire_lease(world)
    world.host.reset_counts()
    service = world.fresh_requests() if fresh else world.requests
    done = service.apply(request.id, APPROVER, key="click-2")
    assert len(world.host.runs_of("apply.yml")) == 1
    assert done.status == "applying" and done.apply_run.run_id == world.host.runs_of("apply.yml")[0].run_id
    # The marker was answered before the dispatch: every retry looks the run up first.
    assert world.host.calls["find_run"] == 1
    assert world.host.calls["dispatch_workflow"] == (1 if when == "before" else 0)
    assert world.events(request.id).count("apply_dispatched") == 1


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
@pytest.mark.parametrize("when", WHEN)
def test_create_crash_at_the_plan_dispatch_dispatches_once(world: World, when: str, fresh: bool) -> None:
    cmd = create_cmd()
    world.host.crash_at(5, when=when)  # branch_head, create_branch, commit_files, open_pull_request, dispatch
    with pytest.raises(Crash):
        world.requests.create(cmd)
    (rid,) = world.store.active
    assert world.get(rid).pr is not None  # the PR's write carried the marker
    _expire_lease(world)
    service = world.fresh_requests() if fresh else world.requests
    done = service.resume(rid)
    assert len(world.host.runs_of("plan.yml")) == 1
    assert done.plan_run.run_id == world.host.runs_of("plan.yml")[0].run_id
    assert done.operation("create", done.idempotency_key).completed_at is not None
    assert world.events(rid).count("plan_dispatched") == 1


def test_create_without_a_crash_makes_no_lookup(world: World) -> None:
    world.host.reset_counts()
    done = world.requests.create(create_cmd())
    # create, commit attempt (+ the branch), PR (+ the commit, + the plan's marker), dispatch (+ finish)
    assert done.version == 4
    assert world.events(done.id).count("branch_created") == 1
    assert world.host.calls["find_run"] == 0 and world.host.calls["dispatch_workflow"] == 1
    steps = done.operation("create", done.idempotency_key).steps
    assert steps.commit == done.commit_sha and done.pr.head_sha == done.commit_sha
    assert [timeline_label(t) for t in done.timeline][:4] == [
        "Request created",
        "Branch created",
        "Terraform committed",
        "Pull request opened",
    ]


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
@pytest.mark.parametrize(("n", "when"), [(2, "after"), (3, "before")], ids=["after-create-branch", "before-commit"])
def test_create_crash_around_the_branchs_write_creates_it_once(world: World, n: int, when: str, fresh: bool) -> None:
    """The branch is recorded with the commit attempt (one write, before the commit): a crash
    right after the branch's creation leaves a document without the branch, and the retry
    creates it again (the host answers with the branch as it is); a crash after that write
    finds both recorded. Either way one branch, one commit, one PR, one plan."""
    cmd = create_cmd()
    world.host.crash_at(n, when=when)
    with pytest.raises(Crash):
        world.requests.create(cmd)
    (rid,) = world.store.active
    steps = world.get(rid).operation("create", cmd.key()).steps
    if n == 2:
        assert steps.branch is None and steps.commit_attempt is None
    else:
        assert steps.branch is not None and steps.commit_attempt == steps.branch.head  # one write
    _expire_lease(world)
    done = (world.fresh_requests() if fresh else world.requests).create(cmd)
    repo = world.host.repo(world.repo)
    assert [b for b in repo.branches if b.startswith("request/")] == [f"request/{rid}"]
    branch_head = repo.branches[f"request/{rid}"]
    assert world.host.commits[branch_head].parent == done.operation("create", cmd.key()).steps.branch.head
    assert len(repo.prs) == 1 and len(world.host.runs_of("plan.yml")) == 1
    assert world.events(rid).count("branch_created") == 1


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
@pytest.mark.parametrize("when", WHEN)
def test_create_crash_between_the_commit_and_the_pr_adopts_the_commit(world: World, when: str, fresh: bool) -> None:
    """The commit is recorded with the PR: a crash after the commit landed and before that write
    leaves only ``commit_attempt``; the retry finds the branch moved past it and adopts it."""
    cmd = create_cmd()
    world.host.crash_at(4, when=when)  # open_pull_request (the commit landed just before)
    with pytest.raises(Crash):
        world.requests.create(cmd)
    (rid,) = world.store.active
    stored = world.get(rid).operation("create", cmd.key()).steps
    assert stored.commit is None and stored.commit_attempt is not None
    _expire_lease(world)
    service = world.fresh_requests() if fresh else world.requests
    done = service.create(cmd)
    repo = world.host.repo(world.repo)
    branch_head = repo.branches[f"request/{rid}"]
    assert world.host.commits[branch_head].parent == stored.commit_attempt  # one commit on the branch
    assert done.commit_sha == branch_head and len(repo.prs) == 1
    assert len(world.host.runs_of("plan.yml")) == 1 and done.status == "planning"


def test_destroy_releases_its_lease_with_the_dispatch(world: World) -> None:
    request = applied(world)
    world.host.reset_counts()
    done = world.requests.destroy(request.id, ADMIN)
    op = done.operation("destroy", "destroy")
    assert op is not None and op.completed_at is None and op.steps.lease is None  # waiting, free
    # begin, commit attempt (+ the removal branch), removal PR (+ the commit, + the plan's marker),
    # removal reviewed (+ the plan's run, + destroy marker), destroy recorded (+ lease released)
    assert done.version == request.version + 5
    steps = done.operation("destroy", "destroy").steps
    assert steps.removal_commit and steps.removal_pr is not None and steps.removal_pr.head == steps.removal_commit
    plan = steps.launch("plan")
    assert plan is not None and plan.recorded and plan.run_id == world.host.runs_of("plan.yml")[-1].run_id
    lines = [timeline_label(t) for t in done.timeline]
    assert lines.index("Removal PR planned") + 1 == lines.index("Removal PR approved")
    assert world.events(request.id).count("removal_plan_dispatched") == 1
    assert world.host.calls["find_run"] == 0
    finish_run(world, done, "destroy")
    assert world.get(request.id).archived_at is not None


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
@pytest.mark.parametrize("when", WHEN)
def test_destroy_crash_at_the_destroy_dispatch_dispatches_once(world: World, when: str, fresh: bool) -> None:
    request = applied(world)
    world.host.crash_at(DESTROY_DISPATCH, when=when)
    with pytest.raises(Crash):
        world.requests.destroy(request.id, ADMIN)
    assert world.host.calls["dispatch_workflow"] >= 1  # the removal PR's plan went out before
    assert len(world.host.runs_of("destroy.yml")) == (1 if when == "after" else 0)
    _expire_lease(world)
    service = world.fresh_requests() if fresh else world.requests
    done = service.resume(request.id)
    assert len(world.host.runs_of("destroy.yml")) == 1
    assert done.destroy_run is not None and done.destroy_run.run_id == world.host.runs_of("destroy.yml")[0].run_id
    assert done.operation("destroy", "destroy").steps.lease is None
    finish_run(world, done, "destroy")
    final = world.get(request.id)
    assert final.archived_at is not None and final.status == "destroyed"
    assert world.events(request.id).count("destroy_dispatched") == 1


@pytest.mark.parametrize("when", WHEN)
def test_destroy_crash_between_the_commit_and_the_removal_pr_adopts_the_commit(world: World, when: str) -> None:
    request = applied(world)
    world.host.crash_at(4, when=when)  # open_pull_request (the deletion commit landed just before)
    with pytest.raises(Crash):
        world.requests.destroy(request.id, ADMIN)
    stored = world.get(request.id).operation("destroy", "destroy").steps
    assert stored.removal_commit is None and stored.commit_attempt is not None
    _expire_lease(world)
    done = world.fresh_requests().destroy(request.id, ADMIN)
    repo = world.host.repo(world.repo)
    head = repo.branches[f"destroy/{request.id}"]
    assert world.host.commits[head].parent == stored.commit_attempt  # one deletion commit
    steps = done.operation("destroy", "destroy").steps
    assert steps.removal_commit == head and steps.removal_pr is not None
    assert len([p for p in repo.prs.values() if p.head.startswith("destroy/")]) == 1
    assert len(world.host.runs_of("destroy.yml")) == 1


@pytest.mark.parametrize("base_moved", [False, True], ids=["same-base", "base-moved"])
def test_destroy_crash_before_the_removal_branch_is_recorded(world: World, base_moved: bool) -> None:
    """The removal branch is recorded with the commit attempt: a crash right after the branch's
    creation leaves neither; the retry reads the base head again (resetting the branch when the
    base moved meanwhile) and makes one deletion commit on it."""
    request = applied(world)
    world.host.crash_at(2, when="after")  # create_branch
    with pytest.raises(Crash):
        world.requests.destroy(request.id, ADMIN)
    steps = world.get(request.id).operation("destroy", "destroy").steps
    assert steps.removal_branch is None and steps.commit_attempt is None
    if base_moved:
        repo = world.host.repo(world.repo)
        parent = repo.branches["main"]
        head = world.host.commit_files(world.repo, "main", {"README.md": "moved"}, "another change", parent_sha=parent)
        assert repo.branches["main"] == head
    _expire_lease(world)
    done = world.fresh_requests().destroy(request.id, ADMIN)
    repo = world.host.repo(world.repo)
    steps = done.operation("destroy", "destroy").steps
    assert steps.removal_branch is not None and steps.removal_branch.head == repo.branches["main"]
    deletion = repo.branches[f"destroy/{request.id}"]
    assert world.host.commits[deletion].parent == repo.branches["main"]  # one commit, on the base head
    assert len([p for p in repo.prs.values() if p.head.startswith("destroy/")]) == 1
    assert len(world.host.runs_of("destroy.yml")) == 1


@pytest.mark.parametrize("fresh", [False, True], ids=["same-process", "new-process"])
def test_destroy_crash_after_the_removal_plan_finds_its_run_again(world: World, fresh: bool) -> None:
    """The removal PR's plan run is recorded with the review's write: a crash between the plan's
    dispatch and that write loses the record, and the retry finds the run by its marker."""
    request = applied(world)
    plans_before = len(world.host.runs_of("plan.yml"))
    world.host.crash_at(6, when="before")  # branch_protection, right after the plan's dispatch
    with pytest.raises(Crash):
        world.requests.destroy(request.id, ADMIN)
    stored = world.get(request.id).operation("destroy", "destroy").steps
    assert stored.launch("plan") is not None and not stored.launch("plan").recorded  # marked, not recorded
    _expire_lease(world)
    world.host.reset_counts()
    done = (world.fresh_requests() if fresh else world.requests).destroy(request.id, ADMIN)
    assert len(world.host.runs_of("plan.yml")) == plans_before + 1  # the removal PR planned once
    assert world.host.calls["find_run"] == 1
    plan = done.operation("destroy", "destroy").steps.launch("plan")
    assert plan is not None and plan.recorded and plan.run_id == world.host.runs_of("plan.yml")[-1].run_id
    assert world.events(request.id).count("removal_plan_dispatched") == 1
    assert len(world.host.runs_of("destroy.yml")) == 1


def test_a_marker_is_fresh_once_and_only_for_its_writer(world: World) -> None:
    request = merged(world)
    ops = Operations(world.store, world.clock, world.deps.bus)
    begun = ops.begin(request.id, "apply", "k", ops.new_token(), actor=APPROVER.id, launch=Mark("apply"))
    launch = begun.request.find(ApplyOp, "k").steps.launch("apply")
    assert launch is not None and launch.by
    # Another process (another Operations) did not write it: it must look the run up.
    other = Operations(world.store, world.clock, world.deps.bus)
    assert not other.fresh(request.id, "k", "apply", launch)
    # A marker with the same key but another token (written by someone else since) is not ours.
    assert not ops.fresh(request.id, "k", "apply", Launch(at=launch.at, by="someone-else"))
    # Asked once (and the mismatch above consumed it): the writer itself now looks up too.
    assert not ops.fresh(request.id, "k", "apply", launch)


def test_the_writer_answers_its_marker_once(world: World) -> None:
    request = merged(world)
    ops = Operations(world.store, world.clock, world.deps.bus)
    begun = ops.begin(request.id, "apply", "k", ops.new_token(), actor=APPROVER.id, launch=Mark("apply"))
    launch = begun.request.find(ApplyOp, "k").steps.launch("apply")
    assert launch is not None
    assert ops.fresh(request.id, "k", "apply", launch)
    assert not ops.fresh(request.id, "k", "apply", launch)  # a second dispatch would look up


def test_a_marker_from_an_earlier_attempt_is_kept(world: World) -> None:
    """A new attempt's lease write keeps the earlier attempt's marker (that one may have dispatched)."""
    request = merged(world)
    ops = Operations(world.store, world.clock, world.deps.bus)
    first = ops.begin(request.id, "apply", "k", ops.new_token(), actor=APPROVER.id, launch=Mark("apply"))
    earlier = first.request.find(ApplyOp, "k").steps.launch("apply")
    _expire_lease(world)
    again = Operations(world.store, world.clock, world.deps.bus)
    second = again.begin(request.id, "apply", "k", again.new_token(), actor=APPROVER.id, launch=Mark("apply"))
    assert second.request.find(ApplyOp, "k").steps.launch("apply") == earlier
    assert not again.fresh(request.id, "k", "apply", earlier)
