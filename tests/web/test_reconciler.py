"""The reconciler: lost webhooks are picked up, half-done operations resumed, replicas share work."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from bot.web.reconciler import LEASE_PREFIX, Reconciler
from core.domain.status import Status
from core.services.operations import LEASE, pending
from core.services.reconcile_claims import WindowClaims
from tests.services.conftest import APPROVER, create_cmd
from tests.services.fake_code_host import Crash
from tests.services.helpers import applied, approved, finish_run, merged, planned
from tests.web.conftest import Web

STALE = timedelta(minutes=10)


def reconciler(web: Web, **kw: object) -> Reconciler:
    return Reconciler(web.deps, **kw)  # type: ignore[arg-type]


def past_stale(web: Web) -> None:
    web.world.clock.advance(seconds=STALE.total_seconds() + 1)


def test_stale_period_comes_from_settings(web: Web) -> None:
    assert reconciler(web).stale_after == STALE


def test_a_lost_plan_webhook_is_picked_up(web: Web) -> None:
    world = web.world
    request = world.requests.create(create_cmd())
    run_id = world.get(request.id).plan_run.run_id  # type: ignore[union-attr]
    world.host.start_run(run_id)
    world.host.complete_run(run_id, "success")  # GitHub finished; the delivery never arrived
    assert world.get(request.id).status == Status.PLANNING.value
    rec = reconciler(web)
    assert rec.run_once().synced == []  # not stale yet: the webhook may still come
    past_stale(web)
    report = rec.run_once()
    assert report.synced == [request.id]
    stored = world.get(request.id)
    assert stored.status == Status.PLAN_READY.value
    assert stored.last_synced_at == world.clock.now()
    assert world.notifier.events(request.id)[-1] == "plan_ready"


def test_a_lost_merge_webhook_is_picked_up(web: Web) -> None:
    world = web.world
    request = planned(world)
    world.requests.approve(request.id, APPROVER)
    number = world.get(request.id).pr.number  # type: ignore[union-attr]
    pr = world.host.repo(world.repo).prs[number]
    pr.state, pr.merged, pr.merged_at, pr.merge_sha = "closed", True, world.clock.now(), "e" * 40
    past_stale(web)
    report = reconciler(web).run_once()
    assert request.id in report.synced
    assert world.get(request.id).status == Status.MERGED.value


def test_terminal_and_fresh_requests_are_left_alone(web: Web) -> None:
    world = web.world
    done = applied(world)
    past_stale(web)
    fresh = world.requests.create(create_cmd(config={"name": "fresh"}))
    world.host.reset_counts()
    report = reconciler(web).run_once()
    assert report.synced == []
    assert world.host.total() == 0
    assert world.get(done.id).last_synced_at is None
    assert world.get(fresh.id).last_synced_at is None


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_a_half_done_create_is_resumed(web: Web, n: int) -> None:
    world = web.world
    world.host.crash_at(n, when="after")
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    world.host.no_crash()
    (rid,) = world.store.active
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    report = reconciler(web).run_once()
    assert report.resumed == [rid]
    request = world.get(rid)
    op = request.operation("create", request.idempotency_key or "")
    assert op is not None and op.completed_at is not None
    repo = world.host.repo(world.repo)
    assert len(repo.prs) == 1
    assert len(world.host.runs_of("plan.yml")) == 1
    assert request.status == Status.PLANNING.value
    # A later pass has nothing left to do and reads nothing new.
    world.clock.advance(seconds=1)
    assert reconciler(web).run_once().resumed == []


def test_a_running_operation_is_not_touched_while_its_lease_holds(web: Web) -> None:
    world = web.world
    world.host.crash_at(3, when="after")
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    world.host.no_crash()
    world.host.reset_counts()
    report = reconciler(web).run_once()
    assert report.resumed == []
    assert world.host.total() == 0


def test_a_half_done_create_found_stale_is_synced_then_resumed(web: Web) -> None:
    world = web.world
    world.host.crash_at(3, when="after")  # branch and commit made, no PR yet
    with pytest.raises(Crash):
        world.requests.create(create_cmd())
    world.host.no_crash()
    (rid,) = world.store.active
    past_stale(web)
    report = reconciler(web).run_once()
    assert report.synced == [rid]
    assert report.resumed == [rid]
    assert len(world.host.repo(world.repo).prs) == 1


def test_replicas_share_a_window_through_the_lease(web: Web) -> None:
    world = web.world
    request = world.requests.create(create_cmd())
    past_stale(web)
    first, second = reconciler(web), reconciler(web)  # two replicas, one store
    # Another replica has claimed the request for this window (and is still working).
    window = int(world.clock.now().timestamp()) // int(STALE.total_seconds())
    assert WindowClaims(web.objects).claim(window, [request.id], world.clock.now()) == {request.id}
    world.host.reset_counts()
    report = second.run_once()
    assert report.synced == []
    assert report.leased_elsewhere == [request.id]
    assert world.host.total() == 0
    past_stale(web)  # next window: whoever comes first takes it, the other stands aside
    assert first.run_once().synced == [request.id]
    past_stale(web)
    assert second.run_once().synced == [request.id]


def test_old_lease_markers_are_deleted(web: Web) -> None:
    world = web.world
    world.requests.create(create_cmd())
    rec = reconciler(web)
    for _ in range(4):
        past_stale(web)
        rec.run_once()
    windows = {key.split("/")[2] for key in web.objects.list_keys(f"{LEASE_PREFIX}/")}
    assert len(windows) <= 2


def test_sync_errors_are_reported_and_do_not_stop_the_pass(web: Web) -> None:
    world = web.world
    a = world.requests.create(create_cmd(config={"name": "aaa"}))
    b = world.requests.create(create_cmd(config={"name": "bbb"}))
    past_stale(web)
    real = web.deps.sync

    class Flaky:
        def sync(self, request_id: str) -> object:
            if request_id == a.id:
                raise RuntimeError("GitHub 502")
            return real.sync(request_id)

    web.deps.sync = Flaky()  # type: ignore[assignment]
    report = reconciler(web).run_once()
    assert report.synced == [b.id]
    assert set(report.errors) == {a.id}
    assert "GitHub 502" in report.errors[a.id]


def test_the_background_thread_runs_passes_until_stopped(web: Web) -> None:
    world = web.world
    request = world.requests.create(create_cmd())
    run_id = world.get(request.id).plan_run.run_id  # type: ignore[union-attr]
    world.host.complete_run(run_id, "success")
    past_stale(web)
    rec = reconciler(web, interval=0.01)
    passed = threading.Event()
    original = rec.run_once

    def watched() -> object:
        report = original()
        passed.set()
        return report

    rec.run_once = watched  # type: ignore[method-assign]
    rec.start()
    try:
        assert passed.wait(10), "no reconciler pass ran"
        assert rec.running
    finally:
        rec.stop()
    assert not rec.running
    assert world.get(request.id).status == Status.PLAN_READY.value


def test_the_app_lifespan_starts_and_stops_the_reconciler() -> None:
    from fastapi.testclient import TestClient

    from bot.settings import load_settings
    from bot.web.app import create_web_app
    from tests.web.conftest import build_deps, env_for

    deps, _world, _objects = build_deps(load_settings(env_for()))
    app = create_web_app(deps, reconcile_interval=3600, dm=None)
    ctx = app.state.tfpilot
    with TestClient(app):
        assert ctx.reconciler.running
    assert not ctx.reconciler.running


def test_a_plan_finishing_after_resume_is_synced_later(web: Web) -> None:
    world = web.world
    request = world.requests.create(create_cmd())
    finish_run(world, request, "plan")
    assert world.get(request.id).status == Status.PLAN_READY.value
    past_stale(web)
    # plan_ready is not terminal: it is refreshed (cheaply) in case a review or merge was missed
    assert reconciler(web).run_once().synced == [request.id]


@pytest.mark.parametrize(("action", "setup"), [("merge", approved), ("apply", merged)])
def test_a_merge_or_apply_stopped_half_way_is_finished_not_repeated(web: Web, action: str, setup: Any) -> None:
    world = web.world
    request = setup(world)
    world.host.crash_at(1, when="after")  # GitHub merged / dispatched; the worker died before recording it
    with pytest.raises(Crash):
        getattr(world.requests, action)(request.id, APPROVER)
    world.host.no_crash()
    assert [op.kind for op in pending(world.get(request.id))] == [action]  # started, not finished
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    report = reconciler(web).run_once()
    assert report.resumed == [request.id]
    assert report.errors == {}
    stored = world.get(request.id)
    ops = [op for op in stored.operations if op.kind == action]
    assert len(ops) == 1 and ops[0].completed_at is not None
    repo = world.host.repo(world.repo)
    assert sum(1 for pr in repo.prs.values() if pr.merged) == 1
    assert len(world.host.runs_of("apply.yml")) == (1 if action == "apply" else 0)  # never dispatched twice
    assert stored.status == (Status.APPLYING.value if action == "apply" else Status.MERGED.value)
    assert world.notifier.events(request.id)[-1] == ("applying" if action == "apply" else "merged")


def test_a_lost_apply_webhook_is_picked_up(web: Web) -> None:
    world = web.world
    request = world.requests.apply(merged(world).id, APPROVER)
    run_id = world.get(request.id).apply_run.run_id  # type: ignore[union-attr]
    world.host.start_run(run_id)
    world.host.complete_run(run_id, "success")  # neither delivery arrived
    assert world.get(request.id).status == Status.APPLYING.value
    past_stale(web)
    assert reconciler(web).run_once().synced == [request.id]
    assert world.get(request.id).status == Status.APPLIED.value
    assert world.notifier.events(request.id)[-1] == "applied"


def test_abandoned_intake_conversations_are_swept_hourly(web: Web) -> None:
    from assistant.domain.session import ConversationKey
    from assistant.service import IntakeService
    from bot.views.refusals import reason_text
    from core.domain.request import Requester
    from module_registry.catalogue import load_registry
    from module_registry.projects import load_projects

    registry = load_registry()
    web.deps.intake = IntakeService(
        web.deps.objects,
        web.deps.chat_log,
        registry,
        load_projects(known_modules=registry.ids()),
        web.deps.requests,
        None,
        web.world.clock,
        refusal_text=reason_text,
    )
    key = ConversationKey(team_id="T1", channel="D1", thread_ts="1700000000.000100")
    web.deps.intake.handle(key, Requester(id="U_DEV"), "I need an sqs queue in core dev")
    assert list(web.deps.objects.list_keys("sessions/"))
    pass_ = reconciler(web)
    assert pass_.run_once().sessions_swept == 0  # still fresh
    web.world.clock.advance(hours=25)
    assert pass_.run_once().sessions_swept == 1
    assert not list(web.deps.objects.list_keys("sessions/"))
    assert pass_.run_once().sessions_swept == 0  # at most hourly


def test_the_first_pass_rebuilds_an_index_left_in_the_sharded_format(web: Web) -> None:
    world = web.world
    request = world.requests.create(create_cmd())
    store = web.deps.store
    objects = store.objects  # type: ignore[attr-defined]
    for key in list(objects.list_keys("index/")):
        objects.delete(key)  # what an upgrade from the previous release finds: shards only
    objects.put("index/shard-00.json", b'{"format": "tfpilot.index/v1", "shards": 32, "shard": 0, "rows": {}}')
    assert store.list().rows == []
    rec = reconciler(web)
    rec.run_once()
    assert [row.id for row in store.list().rows] == [request.id]
    assert list(objects.list_keys("index/shard-")) == []
    objects.put("index/shard-00.json", b"{}")  # checked once per process: a later pass does not look again
    rec.run_once()
    assert list(objects.list_keys("index/shard-")) == ["index/shard-00.json"]


def test_an_idle_request_is_checked_once_a_window_and_nothing_is_written(web: Web) -> None:
    world = web.world
    request = planned(world)
    before = world.get(request.id)
    rec = reconciler(web)
    past_stale(web)
    writes = len(web.objects.landed)
    world.host.reset_counts()
    assert rec.run_once().synced == [request.id]
    assert world.host.total() > 0  # it asked the code host
    assert world.get(request.id) == before  # and learnt nothing: no write, no new version
    assert len(web.objects.landed) == writes + 1  # the window's claim object, nothing else
    for _ in range(5):  # later passes of the same window: it knows its claim, no call at all
        world.clock.advance(seconds=1)
        world.host.reset_counts()
        report = rec.run_once()
        assert report.synced == [] and report.leased_elsewhere == []
        assert world.host.total() == 0
    assert len(web.objects.landed) == writes + 1
