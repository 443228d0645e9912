"""The in-memory fakes keep the real adapters' semantics (tests rely on them under threads)."""

from __future__ import annotations

import threading

from core.domain.request import Request
from tests.fakes import ManualClock, MemoryRequestStore


def test_concurrent_updates_of_the_fake_store_lose_nothing() -> None:
    store = MemoryRequestStore()
    now = ManualClock().now()
    store.create(
        Request(
            id="req_fake12345678",
            project="p",
            environment="dev",
            module="m",
            received_at=now,
            updated_at=now,
            config={"n": []},
        )
    )

    def add(i: int) -> Request:
        def mutate(r: Request) -> Request:
            r.config = {"n": [*r.config["n"], i]}
            return r

        return store.update("req_fake12345678", mutate)

    threads = [threading.Thread(target=lambda i=i: [add(i * 100 + j) for j in range(50)]) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.get("req_fake12345678")
    assert sorted(final.config["n"]) == sorted(i * 100 + j for i in range(4) for j in range(50))
    assert final.version == 201
