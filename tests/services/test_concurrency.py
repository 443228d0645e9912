"""Racing workers over a real compare-and-swap store (``LocalRequestStore`` on ``tmp_path``):
simultaneous clicks and retries still do each intent once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.adapters.request_store import LocalRequestStore
from core.domain.errors import PermissionDenied
from tests.fakes import ManualClock
from tests.services.conftest import ADMIN, APPROVER, create_cmd, ports_of, service_graph
from tests.services.fake_code_host import FakeCodeHost


class SlowHost(FakeCodeHost):
    """Dispatch waits at a barrier so racing workers overlap inside the operation."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate: threading.Barrier | None = None

    def dispatch_workflow(self, *args: Any, **kwargs: Any) -> Any:
        if self.gate is not None:
            # Only the worker that won the operation gets here: the others time out the barrier.
            with contextlib.suppress(threading.BrokenBarrierError):
                self.gate.wait(timeout=0.3)
        return super().dispatch_workflow(*args, **kwargs)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    clock = ManualClock()
    store = LocalRequestStore(tmp_path / "data", clock)
    deps = service_graph(clock=clock, objects=store.objects, store=store, code_host=SlowHost(clock=clock))
    return {
        "clock": clock,
        "store": store,
        "audit": deps.audit,
        "notifier": deps.notifier,
        "host": deps.code_host,
        # Each worker is a process of its own: a new graph over the same ports.
        "services": lambda: service_graph(**ports_of(deps)).requests,
        "sync": deps.sync,
    }


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        try:
            results[i] = workers[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def _merged(env: dict[str, Any]) -> str:
    services, host, sync = env["services"](), env["host"], env["sync"]
    request = services.create(create_cmd())
    run_id = request.plan_run.run_id
    host.complete_run(run_id)
    sync.apply_fact(run_fact_for(host, request.id, run_id, "plan"))
    services.approve(request.id, APPROVER)
    services.merge(request.id, APPROVER)
    return request.id


def run_fact_for(host: FakeCodeHost, rid: str, run_id: int, kind: str) -> Any:
    from core.domain.facts import RunFact

    return RunFact(request_id=rid, kind=kind, run=host.run_info(host.runs[run_id]))


def test_simultaneous_apply_clicks_dispatch_once(env: dict[str, Any]) -> None:
    rid = _merged(env)
    env["host"].gate = threading.Barrier(4)
    results = _race([lambda k=k: env["services"]().apply(rid, APPROVER, key=f"click-{k}") for k in range(4)])
    assert len(env["host"].runs_of("apply.yml")) == 1
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, PermissionDenied)], results
    stored = env["store"].get(rid)
    assert stored.status == "applying"
    assert len([op for op in stored.operations if op.kind == "apply"]) == 1


def test_simultaneous_creates_with_one_key_make_one_request(env: dict[str, Any]) -> None:
    env["host"].gate = threading.Barrier(3)
    results = _race([lambda: env["services"]().create(create_cmd(idempotency_key="view-1")) for _ in range(3)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.id for r in results}) == 1
    assert len(env["host"].runs_of("plan.yml")) == 1
    assert len(env["host"].repo(_repo()).prs) == 1


def test_destroy_racing_its_own_retry(env: dict[str, Any]) -> None:
    rid = _merged(env)
    services = env["services"]()
    request = services.apply(rid, APPROVER)
    env["host"].complete_run(request.apply_run.run_id)
    env["sync"].apply_fact(run_fact_for(env["host"], rid, request.apply_run.run_id, "apply"))
    env["host"].gate = threading.Barrier(2)
    _race([lambda: env["services"]().destroy(rid, ADMIN) for _ in range(2)])
    assert len(env["host"].runs_of("destroy.yml")) == 1
    assert len([p for p in env["host"].repo(_repo()).prs.values() if p.head.startswith("destroy/")]) == 1


def _repo() -> Any:
    from core.ports.code_host import RepoRef

    return RepoRef(owner="acme", name="infra")
