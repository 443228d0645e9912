"""S3 calls and bytes uploaded for one request's whole lifecycle, by phase, at the service level.

The real services (``RequestService``, ``SyncService``) run over the S3 request store and the S3
audit log on moto's server (real HTTP through boto3); the code host is the services tests'
``FakeCodeHost`` and every GitHub-side change arrives as a webhook payload built from the
octokit fixtures, as in tests/services/test_lifecycle_webhooks.py. A botocore ``before-call``
hook counts S3 calls by operation. Before the phases, ``PRELOAD`` other requests are written
through the store (so the index is not empty). Phases: create (+ the plan run's webhooks),
approve (review webhook), merge (+ PR closed webhook), apply (+ the apply run's webhooks),
destroy (removal PR webhooks, destroy run webhooks, the removal PR's merge, archive).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

BUCKET = "tfpilot-bench-lifecycle"
PRELOAD = int(os.environ.get("BENCH_LIFECYCLE_PRELOAD", "50"))


class Calls:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bytes_up = 0
        self.where: Counter[str] = Counter()  # calls by the key prefix they touch

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.s3", self._call)
        client.meta.events.register("before-parameter-build.s3.PutObject", self._put)
        client.meta.events.register("before-parameter-build.s3", self._where)

    def _where(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        key = params.get("Key") or params.get("Prefix") or ""
        if not key and "Delete" in params:
            key = params["Delete"]["Objects"][0]["Key"] if params["Delete"]["Objects"] else ""
        prefix = key.split("/", 1)[0] + "/" if "/" in key else key
        self.where[f"{prefix} {event_name.rsplit('.', 1)[-1]}"] += 1

    def _call(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        body = params.get("Body", b"")
        self.bytes_up += len(body) if isinstance(body, bytes | str) else 0

    def take(self) -> tuple[Counter[str], int]:
        taken = (self.calls.copy(), self.bytes_up)
        self.calls.clear()
        self.bytes_up = 0
        return taken


def main() -> None:  # noqa: PLR0915 - one lifecycle, phase by phase, reads best as one script
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import boto3
    from moto.server import ThreadedMotoServer

    from core.adapters.audit_log import S3AuditLog
    from core.adapters.github.webhooks import parse_delivery
    from core.adapters.request_store import S3RequestStore
    from core.adapters.s3_objects import S3ObjectStore
    from core.domain.workflows import WorkflowNames
    from tests.fakes import ManualClock, RecordingNotifier
    from tests.services import deliveries
    from tests.services.conftest import ADMIN, APPROVER, create_cmd, service_graph
    from tests.services.fake_code_host import FakeCodeHost
    from tests.store.helpers import make_request

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host_, port = server.get_host_and_port()
    try:
        client = boto3.client("s3", endpoint_url=f"http://{host_}:{port}", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        clock = ManualClock()
        store = S3RequestStore(client, BUCKET, clock)
        for n in range(PRELOAD):
            store.create(make_request(f"req_pre{n:06d}", minutes=n))
        counter = Calls()
        counter.attach(client)
        audit = S3AuditLog(client, BUCKET, clock)
        notifier = RecordingNotifier()
        host = FakeCodeHost(clock=clock, cleanup_runs="manual")
        workflows = WorkflowNames()
        graph = service_graph(
            clock=clock,
            objects=S3ObjectStore(client, BUCKET),
            store=store,
            audit=audit,
            notifier=notifier,
            code_host=host,
        )
        requests, sync = graph.requests, graph.sync
        serial = [0]

        def deliver(event: str, payload: dict[str, Any]) -> Any:
            serial[0] += 1
            fact = parse_delivery(event, payload, workflows=workflows, delivery_id=f"d-{serial[0]}")
            return sync.apply_fact(fact)

        def run_events(run_id: int, conclusion: str = "success") -> None:
            run = host.runs[run_id]
            deliver(*deliveries.workflow_run(run))
            host.start_run(run_id)
            deliver(*deliveries.workflow_run(run))
            clock.advance(minutes=2)
            host.complete_run(run_id, conclusion)
            deliver(*deliveries.workflow_run(run))

        repo = _repo()
        phases: list[tuple[str, Counter[str], int]] = []

        def phase(name: str) -> None:
            calls, up = counter.take()
            phases.append((name, calls, up))

        counter.take()
        request = requests.create(create_cmd())
        rid = request.id
        deliver(*deliveries.pull_request(host, repo, request.pr.number, "opened"))
        run_events(request.plan_run.run_id)
        phase("create + plan webhooks")
        review = host.add_review(repo, request.pr.number, "carol")
        deliver(*deliveries.review(host, repo, request.pr.number, review))
        phase("approve (review webhook)")
        requests.merge(rid, APPROVER)
        deliver(*deliveries.pull_request(host, repo, request.pr.number, "closed"))
        phase("merge + PR closed webhook")
        applying = requests.apply(rid, APPROVER)
        run_events(applying.apply_run.run_id)
        phase("apply + run webhooks")
        requested = requests.destroy(rid, ADMIN)
        # Removal PR first, then the targeted destroy on the base branch; the run's success
        # merges the removal PR (tests/services/test_lifecycle_webhooks.py drives the same).
        removal = requested.cleanup_pr.number
        deliver(*deliveries.pull_request(host, repo, removal, "opened"))
        run_events(requested.destroy_run.run_id)
        deliver(*deliveries.pull_request(host, repo, removal, "closed"))
        phase("destroy + webhooks + archive")
        assert store.get(rid).archived_at is not None, "the lifecycle did not reach the archive"

        total: Counter[str] = Counter()
        total_up = 0
        print(f"S3 calls per phase of one lifecycle ({PRELOAD} other requests in the store)")
        for name, calls, up in phases:
            total += calls
            total_up += up
            by_op = ", ".join(f"{op} {k}" for op, k in sorted(calls.items()))
            print(f"  {name:30s} {sum(calls.values()):4d} calls, {up / 1024:7.1f} KiB up ({by_op})")
        by_op = ", ".join(f"{op} {k}" for op, k in sorted(total.items()))
        print(f"  {'whole lifecycle':30s} {sum(total.values()):4d} calls, {total_up / 1024:7.1f} KiB up ({by_op})")
        print("  by key prefix: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.where.items())))
    finally:
        server.stop()


def _repo() -> Any:
    from core.ports.code_host import RepoRef
    from tests.services.conftest import OWNER, REPO

    return RepoRef(owner=OWNER, name=REPO)


if __name__ == "__main__":
    main()
