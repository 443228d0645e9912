"""Worker entry points for the multi-process race tests, and the process context that runs them."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_store import LocalRequestStore, ObjectRequestStore, S3RequestStore
from core.domain.errors import RequestAlreadyExists, VersionConflict
from core.domain.request import Request
from core.ports.clock import SystemClock
from tests.store.helpers import make_request


def context() -> Any:
    """Fresh processes (never a fork of the test process, whose moto server thread holds
    locks), forked from a server that imported this module once: spawning each worker would
    re-import boto3 and the core every time, which costs more than the race itself."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def open_store(target: dict[str, Any]) -> ObjectRequestStore:
    if target["kind"] == "local":
        return LocalRequestStore(Path(target["root"]), SystemClock(), max_retries=40)
    import boto3

    client = boto3.client("s3", endpoint_url=target["endpoint"], region_name="us-east-1")
    return S3RequestStore(client, target["bucket"], SystemClock(), max_retries=40)


def _append(mark: str):  # type: ignore[no-untyped-def]
    def mutate(request: Request) -> Request:
        request.config["marks"] = [*request.config.get("marks", []), mark]
        # An indexed field changes too, so every update also races on the index entries.
        request.last_synced_at = datetime.now(UTC)
        return request

    return mutate


def updater(
    target: dict[str, Any], request_id: str, worker: int, rounds: int, start: threading.Barrier, out: Any
) -> None:
    store = open_store(target)
    start.wait()
    for n in range(rounds):
        store.update(request_id, _append(f"w{worker}-{n}"))
    out.put(("done", worker))


def creator(target: dict[str, Any], request_id: str, worker: int, start: threading.Barrier, out: Any) -> None:
    store = open_store(target)
    start.wait()
    try:
        store.create(make_request(request_id, config={"winner": worker}))
    except RequestAlreadyExists:
        out.put(("lost", worker))
        return
    out.put(("won", worker))


def many_creator(target: dict[str, Any], worker: int, count: int, start: threading.Barrier, out: Any) -> None:
    store = open_store(target)
    start.wait()
    for n in range(count):
        store.create(make_request(f"req_w{worker}n{n:04d}", minutes=n))
    out.put(("done", worker))


def increment(root: str, rounds: int) -> None:
    """Add 1 to the ``counter`` object ``rounds`` times with compare-and-swap, retrying lost races."""
    store = LocalObjectStore(Path(root))
    done = 0
    while done < rounds:
        found = store.get("counter")
        assert found is not None
        try:
            store.put("counter", str(int(found.body) + 1).encode(), if_match=found.etag)
        except VersionConflict:
            continue
        done += 1
