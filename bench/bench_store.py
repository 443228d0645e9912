"""List and filter 10,000 requests: through the store's sharded index vs the naive scan.

One in-process moto run. Setup writes N request documents and bulk-loads their index rows
(one conditional write per shard). Then, counting S3 calls with a botocore ``before-call``
hook: the store lists the first page of a filter (cold: a fresh store, as a new process would
be), counts every match, and lists the page again warm (unchanged shards answer 304); the naive
approach pages ListObjectsV2 over ``requests/``, GETs and parses every document and derives
its status, which it must do for a first page (newest first) as much as for a count.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

N = int(os.environ.get("BENCH_STORE_N", "10000"))
BUCKET = "tfpilot-bench-requests"
PROJECTS = [f"project-{n}" for n in range(10)]


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bytes_read = 0

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def after_get(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        self.bytes_read += int((parsed or {}).get("ContentLength") or 0)

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_read = 0


def _request(n: int, t0: datetime) -> Any:
    from core.domain.request import PullRequestRef, Request, Requester, RunRef

    request = Request(
        id=f"req_{n:012d}",
        project=PROJECTS[n % len(PROJECTS)],
        environment="prod" if n % 5 == 0 else "dev",
        module="s3-bucket" if n % 3 else "sqs-queue",
        received_at=t0 + timedelta(minutes=n),
        updated_at=t0 + timedelta(minutes=n),
        requester=Requester(id=f"U{n % 40:04d}", email=f"user{n % 40}@example.com"),
        config={"name": f"bucket-{n}", "versioning": True, "tags": {"team": "platform", "cost_center": "cc-42"}},
    )
    kind = n % 4
    if kind >= 1:
        request.pr = PullRequestRef(number=n, url=f"https://github.example/acme/infra/pull/{n}", open=kind < 3)
        request.plan_run = RunRef(run_id=n, status="completed", conclusion="success" if n % 13 else "failure")
    if kind == 3:
        request.pr = PullRequestRef(number=n, merged=True, head_sha="abc123")
        request.apply_run = RunRef(run_id=n + 1, status="completed", conclusion="success")
        request.apply_triggered_at = request.received_at + timedelta(minutes=10)
        request.applied_at = request.received_at + timedelta(minutes=14)
    return request


def _timed(counter: CallCounter, label: str, action: Any) -> tuple[Any, int, float]:
    counter.reset()
    began = time.perf_counter()
    result = action()
    seconds, calls = time.perf_counter() - began, counter.total()
    print(f"{label:26s}{calls:6d} S3 calls {seconds * 1000:9.1f} ms {counter.bytes_read / 1024:9.1f} KiB read")
    return result, calls, seconds


def _naive(client: Any, wanted: Any) -> list[Any]:
    """List every key, GET and parse every document, derive its status, filter, sort."""
    from core.domain.lifecycle import derive_status
    from core.domain.request import Request

    matches: list[Request] = []
    for item in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="requests/"):
        for entry in item.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
            request = Request.from_json(body, key=entry["Key"])
            if wanted.project == request.project and derive_status(request).value in (wanted.status or ()):
                matches.append(request)
    matches.sort(key=lambda r: (r.received_at, r.id), reverse=True)
    return matches


def _load(client: Any, counter: CallCounter) -> None:
    from core.adapters.request_store import S3RequestStore, active_key
    from core.domain.index import IndexRow
    from core.ports.clock import SystemClock

    started = time.perf_counter()
    writer = S3RequestStore(client, BUCKET, SystemClock())
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(N):
        request = _request(n, t0)
        writer.objects.put(active_key(request.id), request.to_json(), if_none_match=True)
        rows.append(IndexRow.of(request))
    writer.index.upsert_many(rows)
    print(f"N = {N} requests, {writer.index.shards} index shards")
    print(f"setup: {counter.total()} S3 calls in {time.perf_counter() - started:.1f}s (documents + bulk-loaded rows)")


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import boto3
    from moto import mock_aws

    from core.adapters.request_store import S3RequestStore
    from core.domain.index import ListFilter
    from core.ports.clock import SystemClock

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        counter = CallCounter()
        client.meta.events.register("before-call.s3", counter)
        client.meta.events.register("after-call.s3.GetObject", counter.after_get)
        _load(client, counter)

        wanted = ListFilter(project="project-3", status=frozenset({"applied"}))
        store = S3RequestStore(client, BUCKET, SystemClock())  # fresh: a cold cache, as a new process
        print("filter: project=project-3, status=applied; first page of 50, then every match")
        page, cold_calls, cold_s = _timed(counter, "store first page (cold):", lambda: store.list(wanted, limit=50))
        count_rows, _, _ = _timed(counter, "store full count (warm):", lambda: store.rows(wanted))
        warm, warm_calls, warm_s = _timed(counter, "store first page (warm):", lambda: store.list(wanted, limit=50))
        matches, naive_calls, naive_s = _timed(counter, "naive page + count:", lambda: _naive(client, wanted))
        print(f"naive calls by operation: {dict(counter.calls)}; {len(count_rows)} matches")

        assert [r.id for r in warm.rows] == [r.id for r in page.rows]
        assert [r.id for r in matches[:50]] == [r.id for r in page.rows], "store and naive disagree on the page"
        assert len(matches) == len(count_rows), "store and naive disagree on the count"
        for label, calls, seconds in (("cold page", cold_calls, cold_s), ("warm page", warm_calls, warm_s)):
            print(
                f"ratio naive/store, {label}: {naive_calls / max(calls, 1):.0f}x S3 calls, "
                f"{naive_s / max(seconds, 1e-9):.0f}x wall time"
            )


if __name__ == "__main__":
    main()
