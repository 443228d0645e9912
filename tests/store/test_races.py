"""Races between processes (fresh processes, not threads): S3 through moto's server mode, and the
local store. Every update must land exactly once, one creator must win, no index row is lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.domain.index import IndexRow, ListFilter
from tests.store import race_workers
from tests.store.helpers import make_request

pytestmark = pytest.mark.slow

WORKERS = 4
ROUNDS = 50


@pytest.fixture(params=["s3", "local"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        return {"kind": "local", "root": str(tmp_path / "data")}
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = f"race-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"kind": "s3", "endpoint": endpoint, "bucket": bucket}


def _run(worker: Callable[..., None], args: list[tuple[Any, ...]]) -> list[tuple[str, int]]:
    ctx = race_workers.context()
    start = ctx.Barrier(len(args))
    out = ctx.Queue()
    processes = [ctx.Process(target=worker, args=(*a, start, out)) for a in args]
    for process in processes:
        process.start()
    for process in processes:
        process.join(240)
    assert [p.exitcode for p in processes] == [0] * len(processes), "a worker process failed"
    return [out.get(timeout=10) for _ in processes]


def test_concurrent_updates_all_land(target: dict[str, Any]) -> None:
    store = race_workers.open_store(target)
    store.create(make_request("req_race000001"))

    results = _run(race_workers.updater, [(target, "req_race000001", w, ROUNDS) for w in range(WORKERS)])

    assert sorted(results) == [("done", w) for w in range(WORKERS)]
    final = store.get("req_race000001")
    marks = final.config["marks"]
    assert len(marks) == WORKERS * ROUNDS == len(set(marks))
    assert set(marks) == {f"w{w}-{n}" for w in range(WORKERS) for n in range(ROUNDS)}
    for w in range(WORKERS):  # each worker's updates landed in its own order
        assert [m for m in marks if m.startswith(f"w{w}-")] == [f"w{w}-{n}" for n in range(ROUNDS)]
    assert final.version == WORKERS * ROUNDS + 1
    [row] = store.rows()
    assert (row.id, row.version) == ("req_race000001", WORKERS * ROUNDS + 1)
    assert row == IndexRow.of(final)  # the index agrees with the document
    # No older version survives in any stream (every writer settled after its writes).
    assert len(list(store.objects.list_keys("index/"))) == len(store.index.entries_of(row))


def test_concurrent_creates_of_one_id_have_one_winner(target: dict[str, Any]) -> None:
    results = _run(race_workers.creator, [(target, "req_race000002", w) for w in range(WORKERS)])

    winners = [w for outcome, w in results if outcome == "won"]
    assert len(winners) == 1 and len(results) == WORKERS
    store = race_workers.open_store(target)
    assert store.get("req_race000002").config == {"winner": winners[0]}
    assert [(r.id, r.version) for r in store.rows()] == [("req_race000002", 1)]


def test_concurrent_creates_of_different_ids_lose_no_index_row(target: dict[str, Any]) -> None:
    per_worker = 25
    results = _run(race_workers.many_creator, [(target, w, per_worker) for w in range(WORKERS)])

    assert sorted(results) == [("done", w) for w in range(WORKERS)]
    store = race_workers.open_store(target)
    expected = {f"req_w{w}n{n:04d}" for w in range(WORKERS) for n in range(per_worker)}
    assert {row.id for row in store.rows(ListFilter())} == expected
    assert len(store.rows()) == WORKERS * per_worker
