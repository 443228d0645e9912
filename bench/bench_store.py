"""The request store on S3 (moto's server over real HTTP) at 1 k, 10 k and 50 k requests.

For each N: a listing (cold: a fresh store and a fresh HTTP connection, as a new process; warm:
the same store again) of the default page and of status, requester and project filters, and
what one create and one update cost (S3 calls and bytes uploaded); beside them the reference
implementation's approach measured in the same run: ListObjectsV2 of ``requests/`` (its 1,000
cap: one page) and a GET of every document listed.

Seeding writes the documents and every index entry straight into the moto backend of the
in-process server (``put_object`` on the backend, no HTTP), so 50 k requests seed in about a
minute; the measured operations all go over HTTP through boto3. moto answers a ListObjectsV2 by
scanning every key of the bucket (about 10 us a key here), so list timings grow with N on moto
although the calls and bytes do not; S3 serves a page from its sorted key index. Each listing is
measured twice: on moto as it ships, and with ``bench.moto_sorted_keys`` (ListObjectsV2 from a
sorted key index, as S3 serves it; same answers, checked by tests/store/test_moto_sorted_keys.py;
faster than moto ships, and labelled so). Timings are min/median/max over REPEATS runs.
``--quick`` (or BENCH_STORE_QUICK=1) measures 1 k and 10 k.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

BUCKET = "tfpilot-bench-requests"
PROJECTS = [f"project-{n}" for n in range(10)]
REPEATS = 3
REFERENCE_REPEATS = 2  # a thousand GETs a run: slow on moto
ACCOUNT = "123456789012"
GET_FLOOR_KEY = "bench/get-floor.bin"


class CallCounter:
    """A botocore hook: S3 calls by operation, bytes uploaded (PutObject bodies) and read."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bytes_up = 0
        self.bytes_read = 0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.s3", self._call)
        client.meta.events.register("before-parameter-build.s3.PutObject", self._put)
        client.meta.events.register("after-call.s3.GetObject", self._got)
        client.meta.events.register("after-call.s3.ListObjectsV2", self._listed)

    def _call(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        body = params.get("Body", b"")
        self.bytes_up += len(body) if isinstance(body, bytes | str) else 0

    def _got(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        self.bytes_read += int((parsed or {}).get("ContentLength") or 0)

    def _listed(self, http_response: Any = None, **_: Any) -> None:
        self.bytes_read += len(getattr(http_response, "content", b"") or b"")

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_up = 0
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
        version=1,
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
    if n % 5 == 4:  # a fifth of the requests were destroyed and archived
        request.destroyed_at = request.archived_at = request.received_at + timedelta(days=1)
    return request


def _seed(backend: Any, start: int, stop: int, index: Any) -> None:
    """Write documents and index entries straight into moto's backend (no HTTP)."""
    from core.adapters.request_store import active_key, history_key
    from core.domain.index import IndexRow

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(start, stop):
        request = _request(n, t0)
        key = history_key(request.id) if request.archived_at else active_key(request.id)
        backend.put_object(BUCKET, key, request.to_json())
        for entry, body in index.entries_of(IndexRow.of(request)).items():
            backend.put_object(BUCKET, entry, body)


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"{ms[0]:8.1f} {statistics.median(ms):8.1f} {ms[-1]:8.1f}"


def _measure(
    counter: CallCounter, action: Callable[[], Any], fresh: Callable[[], None] | None = None, repeats: int = REPEATS
) -> tuple[list[float], int, int]:
    samples: list[float] = []
    for _ in range(repeats):
        if fresh is not None:
            fresh()
        counter.reset()
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples, counter.total(), counter.bytes_read


def _reference_list(client: Any) -> int:
    """The reference: one ListObjectsV2 page of requests/ (1,000 keys), then GET every document."""
    page = client.list_objects_v2(Bucket=BUCKET, Prefix="requests/", MaxKeys=1000)
    for item in page.get("Contents", []):
        client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return len(page.get("Contents", []))


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import boto3
    from moto.backends import get_backend
    from moto.server import ThreadedMotoServer

    from bench.moto_sorted_keys import sorted_listing
    from core.adapters.request_store import S3RequestStore
    from core.domain.index import ListFilter
    from core.ports.clock import SystemClock

    quick = "--quick" in sys.argv or os.environ.get("BENCH_STORE_QUICK") == "1"
    sizes = [1000, 10_000] if quick else [1000, 10_000, 50_000]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per S3 call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        counter = CallCounter()
        holder: dict[str, Any] = {}

        def fresh() -> None:  # a new process: new client (new connection), new store
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            counter.attach(client)
            holder["client"] = client
            holder["store"] = S3RequestStore(client, BUCKET, SystemClock())

        fresh()
        holder["client"].create_bucket(Bucket=BUCKET)
        backend = get_backend("s3")[ACCOUNT]["global"]
        filters = {
            "default page": ListFilter(),
            "status=applied": ListFilter(status=frozenset({"applied"})),
            "requester=U0007": ListFilter(requester="U0007"),
            "project=project-3": ListFilter(project="project-3"),
            "include_archived": ListFilter(include_archived=True),
        }
        print(f"moto server over HTTP at {endpoint}; limit 50 a page; times in ms (min median max of {REPEATS})")
        seeded = 0
        for n in sizes:
            began = time.perf_counter()
            _seed(backend, seeded, n, holder["store"].index)
            seeded = n
            took = time.perf_counter() - began
            print(f"\nN = {n}: seeded {n} documents and their index entries into moto's backend in {took:.0f}s")
            print("  moto as it ships (every ListObjectsV2 walks every key of the bucket):")
            _lists(counter, holder, fresh, filters)
            with sorted_listing():
                print(
                    "  moto with a sorted key index for ListObjectsV2, as S3 has "
                    "(bench/moto_sorted_keys.py: FASTER THAN MOTO SHIPS, same answers):"
                )
                _lists(counter, holder, fresh, filters)
            _costs(counter, holder["store"], endpoint, n)
    finally:
        server.stop()


def _lists(counter: CallCounter, holder: dict[str, Any], fresh: Callable[[], None], filters: dict[str, Any]) -> None:
    # moto scans every key of the bucket for any ListObjectsV2: a LIST of an empty prefix shows
    # that floor, which S3 (a sorted key index) does not have.
    floor, _, _ = _measure(counter, lambda: holder["client"].list_objects_v2(Bucket=BUCKET, Prefix="none/"))
    print(f"  moto's scan floor (LIST of an empty prefix)  {_stats(floor)}")
    # A page read by GET instead (a head page writers would keep; not built: docs/storage.md
    # says why): moto finds one key without the scan.
    holder["client"].put_object(Bucket=BUCKET, Key=GET_FLOOR_KEY, Body=b"x" * 30 * 1024)

    def get_one() -> None:
        holder["client"].get_object(Bucket=BUCKET, Key=GET_FLOOR_KEY)["Body"].read()

    got, _, _ = _measure(counter, get_one)
    print(f"  one GET of a 30 KB object (no scan)          {_stats(got)}")
    for label, wanted in filters.items():
        rows: list[Any] = []

        def listing(wanted: Any = wanted, rows: list[Any] = rows) -> None:
            rows[:] = holder["store"].list(wanted, limit=50).rows

        cold, calls, read = _measure(counter, listing, fresh)
        warm, _, _ = _measure(counter, listing)
        assert rows and all(wanted.matches(row) for row in rows), label
        print(
            f"  list {label:18s} cold {_stats(cold)} | warm {_stats(warm)} | "
            f"{calls} calls {read / 1024:7.1f} KiB read, {len(rows)} rows"
        )
    ref, calls, read = _measure(counter, lambda: _reference_list(holder["client"]), repeats=REFERENCE_REPEATS)
    print(f"  reference list-and-get-each (1,000 cap) {_stats(ref)} | {calls} calls {read / 1024:7.1f} KiB read")


def _costs(counter: CallCounter, store: Any, endpoint: str, n: int) -> None:
    from core.domain.request import PullRequestRef, RunRef

    request = _request(10_000_000 + n, datetime(2027, 1, 1, tzinfo=UTC)).model_copy(
        update={"archived_at": None, "destroyed_at": None, "pr": None, "plan_run": None, "apply_run": None}
    )
    costs: list[tuple[str, Callable[[], Any]]] = [
        ("create", lambda: store.create(request)),
        ("update (status)", lambda: store.update(request.id, _planned(PullRequestRef, RunRef))),
        ("update (no listed field)", lambda: store.update(request.id, _tagged)),
        ("update, cold (status)", lambda: _cold_update(endpoint, counter, request.id)),
    ]
    for label, action in costs:
        counter.reset()
        action()
        by_op = ", ".join(f"{op} {k}" for op, k in sorted(counter.calls.items()))
        print(f"  {label:26s} {counter.total():3d} calls ({by_op}), {counter.bytes_up} bytes uploaded")
    print(f"  reference create/update: 1 PutObject of the document ({len(request.to_json())} bytes), no index")


def _planned(pr_ref: Any, run_ref: Any) -> Callable[[Any], Any]:
    def mutate(request: Any) -> Any:
        request.pr = pr_ref(number=1, url="https://github.example/acme/infra/pull/1", open=True)
        request.plan_run = run_ref(run_id=1, status="in_progress")
        return request

    return mutate


def _tagged(request: Any) -> Any:
    request.config = {**request.config, "note": "touched"}
    return request


def _cold_update(endpoint: str, counter: CallCounter, request_id: str) -> None:
    """An update from a process that has not read the request yet: it must GET it first."""
    import boto3

    from core.adapters.request_store import S3RequestStore
    from core.ports.clock import SystemClock

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    counter.attach(client)
    counter.reset()

    def mutate(request: Any) -> Any:
        request.plan_run = request.plan_run.model_copy(update={"status": "completed", "conclusion": "success"})
        return request

    S3RequestStore(client, BUCKET, SystemClock()).update(request_id, mutate)


if __name__ == "__main__":
    main()
