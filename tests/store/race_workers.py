"""Worker entry points for the multi-process race tests (imported by spawned processes)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.adapters.request_store import LocalRequestStore, ObjectRequestStore, S3RequestStore
from core.domain.errors import RequestAlreadyExists
from core.domain.request import Request
from core.ports.clock import SystemClock
from tests.store.helpers import make_request


def open_store(target: dict[str, Any]) -> ObjectRequestStore:
    shards = int(target.get("shards", 32))
    if target["kind"] == "local":
        return LocalRequestStore(Path(target["root"]), SystemClock(), index_shards=shards, max_retries=40)
    import boto3

    client = boto3.client("s3", endpoint_url=target["endpoint"], region_name="us-east-1")
    return S3RequestStore(client, target["bucket"], SystemClock(), index_shards=shards, max_retries=40)


def _append(mark: str):  # type: ignore[no-untyped-def]
    def mutate(request: Request) -> Request:
        request.config["marks"] = [*request.config.get("marks", []), mark]
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
