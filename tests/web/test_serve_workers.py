"""``tfpilot serve --workers 2``: two server processes on one port, S3 through moto's server.

Every click is sent twice at the same moment on two connections (as a Slack retry or a double
delivery would arrive), so the two workers, which accept from the one socket, take the copies
between them; each intent still reaches GitHub once (the ``Once`` markers and the core's
leases in the bucket). Both workers must have served requests, and the reconciler runs in one
of them only (the host lock).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.adapters.audit_log import ObjectAuditLog
from core.adapters.request_store import ObjectRequestStore
from core.adapters.s3_objects import S3ObjectStore
from core.ports.clock import SystemClock
from tests.web.backing import backing_services
from tests.web.fake_github import FakeGitHub
from tests.web.served import Served, start_serve, stop_serve
from tests.web.test_two_processes import (
    BUCKET,
    both,
    click_body,
    eventually,
    post_click,
    seed,
)

pytestmark = pytest.mark.slow

REQUESTS = 3


def worker_pids(parent: int) -> list[int]:
    """The uvicorn workers spawned by ``parent`` (multiprocessing's spawn children)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    pids = []
    for pid in map(int, children):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(pid)
    return pids


def slack_requests_by_worker(log: str) -> dict[int, int]:
    """How many ``POST /slack/events`` each worker answered (their access log lines)."""
    counts: dict[int, int] = {}
    for line in log.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("path") == "/slack/events" and isinstance(doc.get("worker"), int):
            counts[doc["worker"]] = counts.get(doc["worker"], 0) + 1
    return counts


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with backing_services(BUCKET, TFPILOT_DATA_DIR=str(tmp_path)) as backing:
        served: Served | None = None
        try:
            served = start_serve(
                backing.env,
                tmp_path / "serve.log",
                "--workers",
                "2",
                "--reconcile-interval",
                "0.2",
                "--log-level",
                "info",
            )
            objects = S3ObjectStore(backing.s3, BUCKET)
            yield {
                "served": served,
                "github": backing.github,
                "store": ObjectRequestStore(objects, SystemClock()),
                "audit": ObjectAuditLog(objects, SystemClock()),
            }
        finally:
            if served is not None:
                assert stop_serve(served) == 0


COPIES = 4


def test_two_workers_dispatch_each_click_once(world: dict[str, Any]) -> None:
    served: Served = world["served"]
    github: FakeGitHub = world["github"]
    store: ObjectRequestStore = world["store"]
    requests = seed(world, REQUESTS)
    workers = eventually(
        lambda: len(worker_pids(served.process.pid)) == 2 and worker_pids(served.process.pid), "2 workers"
    )
    reached_both: list[str] = []

    def post_fresh(body: str) -> int:
        # A new connection per copy: either worker may accept it.
        with httpx.Client(timeout=30, headers={"connection": "close"}) as http:
            return post_click(http, served, body)

    def delivered(body: str, what: str, pool: ThreadPoolExecutor) -> None:
        before = slack_requests_by_worker(served.log.read_text())
        statuses = both(pool, *[lambda: post_fresh(body) for _ in range(COPIES)])
        assert statuses == [200] * COPIES
        after = eventually(lambda: _settled(served, before, COPIES), f"the access logs of {what}")
        if all(after.get(pid, 0) > before.get(pid, 0) for pid in workers):
            reached_both.append(what)

    def clicked(pool: ThreadPoolExecutor, request: Any, action: str, done: Any) -> None:
        # COPIES copies of one click (same action_ts): one delivery, delivered again and again.
        body = click_body(request, action, store.get(request.id).version)
        delivered(body, f"{action} of {request.id}", pool)
        eventually(lambda: done(store.get(request.id)), f"{action} of {request.id}")
        rounds = 0
        while not reached_both and rounds < 20:  # until one click reached both workers
            delivered(body, f"{action} of {request.id} (again)", pool)
            rounds += 1

    with ThreadPoolExecutor(COPIES) as pool:
        for request in requests:
            clicked(pool, request, "approve", lambda r: bool(r.approval and r.approval.approved))
            clicked(pool, request, "merge", lambda r: bool(r.pr and r.pr.merged and r.merged_sha))
            clicked(pool, request, "apply", lambda r: bool(r.apply_run and r.apply_run.run_id))
    time.sleep(1.0)  # let a losing copy's work finish before counting

    assert reached_both, "no click was delivered to both workers"
    for request in requests:
        events = [e.event for e in world["audit"].events(request.id)]
        assert events.count("approved") == 1, events
        assert events.count("merged") == 1, events
        assert events.count("apply_dispatched") == 1, events
        assert github.dispatches[("apply.yml", request.id)] == 1
        assert github.merges[request.pr_number] == 1
    assert sum(github.dispatches.values()) == REQUESTS
    assert github.unexpected == []
    log = served.log.read_text()
    assert sorted(slack_requests_by_worker(log)) == sorted(workers)
    # One worker per host holds the reconciler lock, however many passes went by.
    assert log.count("this worker runs the reconciler") == 1, log[-3000:]
    assert "reconciler pass failed" not in log


def _settled(served: Served, before: dict[int, int], copies: int) -> dict[int, int] | None:
    after = slack_requests_by_worker(served.log.read_text())
    return after if sum(after.values()) - sum(before.values()) >= copies else None
