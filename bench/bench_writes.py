"""Request-document writes (compare-and-swaps) for one full lifecycle, step by step (`python -m bench writes`).

Runs the real services over the in-memory fakes (``tests.services``: ``MemoryRequestStore`` is
``ObjectRequestStore`` itself, so a write here is a write on S3), through create, plan,
approve, merge, apply, destroy (the removal PR, the destroy run, the PR's merge), and counts the
document writes that landed for each step, plus what replaying every webhook of the lifecycle
and an idle reconciler refresh cost. ``docs/storage.md`` keeps the numbers before and after the
typed engine.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes import ManualClock
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd, service_graph
from tests.services.fake_code_host import FakeCodeHost
from tests.services.helpers import finish_run, pr_fact


def _world() -> World:
    clock = ManualClock()
    return World.of(service_graph(clock=clock, code_host=FakeCodeHost(clock=clock, cleanup_runs="manual")))


def measure() -> list[tuple[str, int]]:
    world = _world()
    rows: list[tuple[str, int]] = []
    rid = ""

    def step(name: str, action: Callable[[], object]) -> None:
        before = world.store.writes
        action()
        rows.append((name, world.store.writes - before))

    def create() -> None:
        nonlocal rid
        rid = world.requests.create(create_cmd()).id

    step("create (branch, commit, PR, plan dispatch)", create)
    step("plan run started + succeeded (2 facts)", lambda: finish_run(world, world.get(rid), "plan"))
    step("approve", lambda: world.requests.approve(rid, APPROVER))
    step("merge", lambda: world.requests.merge(rid, APPROVER))
    step("apply (dispatch)", lambda: world.requests.apply(rid, APPROVER))
    step("apply run started + succeeded (2 facts)", lambda: finish_run(world, world.get(rid), "apply"))
    step("destroy (removal PR opened, destroy dispatched)", lambda: world.requests.destroy(rid, ADMIN))

    def removal_pr(action: str) -> Callable[[], object]:
        def deliver() -> None:
            number = world.get(rid).cleanup_pr.number  # type: ignore[union-attr]
            world.sync.apply_fact(pr_fact(world, rid, number, action, cleanup=True))

        return deliver

    step("removal PR opened (fact)", removal_pr("opened"))
    step(
        "destroy run started + succeeded (2 facts): merge it, archive",
        lambda: finish_run(world, world.get(rid), "destroy"),
    )
    step("removal PR closed (fact)", removal_pr("closed"))
    rows.append(("total", sum(n for _, n in rows)))
    return rows


def idle_refresh() -> int:
    """Writes of one reconciler refresh of a planned request nothing happened to."""
    world = _world()
    rid = world.requests.create(create_cmd()).id
    finish_run(world, world.get(rid), "plan")
    world.clock.advance(minutes=30)
    before = world.store.writes
    world.sync.sync(rid)
    return world.store.writes - before


def main() -> None:
    rows = measure()
    width = max(len(name) for name, _ in rows)
    for name, writes in rows:
        print(f"{name:<{width}}  {writes:>3} writes")
    print(f"{'idle reconciler refresh of a planned request':<{width}}  {idle_refresh():>3} writes")


if __name__ == "__main__":
    main()
