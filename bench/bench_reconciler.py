"""The reconciler at rest: S3 calls and GitHub rate limit for N idle open requests over an hour.

Real S3 calls over HTTP (moto's server, boto3) and real GitHub HTTP calls through
``GitHubClient``/``GitHubCodeHost`` (answered by the services tests' stateful ``GitHubSim``
through respx, which answers a matching If-None-Match with 304); the clock is simulated. N
requests are created through the real ``RequestService`` (a PR open, its plan run queued: not
terminal, so the reconciler keeps looking at them), then ``ReconcileService`` passes run every
``interval`` (60 s) of simulated time for an hour, with the default stale period (10 min) and
budget (100 a pass). The index's whole-index scan cache runs on the simulated clock too, so
every pass pays the LIST it would pay in production. A second run starts a new process every
pass (nothing in memory: no GitHub LRU, no store etag memory, no claims known) to show the
ETags kept on the documents at work. Printed: S3 calls by operation and key prefix, GitHub
calls, 304s and rate-limit cost, for the first pass and for the rest of the hour.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from datetime import timedelta
from typing import Any

BUCKET = "tfpilot-bench-reconciler"
N = int(os.environ.get("BENCH_RECONCILER_REQUESTS", "100"))
INTERVAL = timedelta(seconds=60)
HOUR = timedelta(hours=1)


class S3Calls:
    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-parameter-build.s3", self._call)

    def _call(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        key = params.get("Key") or params.get("Prefix") or ""
        if not key and "Delete" in params:
            key = params["Delete"]["Objects"][0]["Key"] if params["Delete"]["Objects"] else ""
        prefix = "/".join(key.split("/")[:2]) + "/" if key.startswith("dedupe/") else key.split("/", 1)[0] + "/"
        self.calls[f"{event_name.rsplit('.', 1)[-1]} {prefix}"] += 1

    def take(self) -> Counter[str]:
        taken = self.calls.copy()
        self.calls.clear()
        return taken


def _summary(calls: Counter[str]) -> str:
    return ", ".join(f"{what} {n}" for what, n in sorted(calls.items())) or "none"


def main() -> None:  # noqa: PLR0915 - one scenario, step by step
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import boto3
    import respx
    from moto.server import ThreadedMotoServer

    from core.adapters.audit_log import S3AuditLog
    from core.adapters.github.auth import StaticToken
    from core.adapters.github.client import GitHubClient
    from core.adapters.github.code_host import GitHubCodeHost
    from core.adapters.request_store import S3RequestStore
    from core.adapters.s3_objects import S3ObjectStore
    from core.services.reconcile import ReconcilePolicy, ReconcileService
    from tests.fakes import ManualClock, RecordingNotifier
    from tests.services.conftest import create_cmd, service_graph
    from tests.services.github_sim import API_URL, GitHubSim

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("tfpilot.github").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host_, port = server.get_host_and_port()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://{host_}:{port}", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        clock = ManualClock()
        sim = GitHubSim(now=clock.now)
        router = respx.MockRouter(assert_all_called=False)
        router.route().mock(side_effect=sim.handler)
        import httpx

        def process() -> tuple[Any, GitHubClient, ReconcileService]:
            """One tfpilot process: its own GitHub client (LRU), store (etag memory), reconciler."""
            github = GitHubClient(
                auth=StaticToken("ghs_BENCHtoken000000000000000000000000000"),
                base_url=API_URL,
                transport=httpx.MockTransport(router.handler),
                sleep=lambda _s: None,
                now=lambda: clock.now().timestamp(),
                rand=lambda: 0.5,
            )
            store = S3RequestStore(s3, BUCKET, clock)
            # Whole-index scans are reused for 60 s of the *simulated* clock, as in production.
            store.index._monotonic = lambda: clock.now().timestamp()
            objects = S3ObjectStore(s3, BUCKET)
            graph = service_graph(
                clock=clock,
                objects=objects,
                store=store,
                audit=S3AuditLog(s3, BUCKET, clock),
                notifier=RecordingNotifier(),
                code_host=GitHubCodeHost(github, dispatch_poll_seconds=0.0),
            )
            service = ReconcileService(
                store,
                objects,
                clock,
                ReconcilePolicy(timedelta(minutes=10)),
                sync=graph.sync.sync,
                resume=graph.requests.resume,
            )
            return graph, github, service

        graph, _, _ = process()
        for n in range(N):
            graph.requests.create(create_cmd(config={"name": f"bucket{n:04d}"}))
            clock.advance(seconds=1)
        clock.advance(hours=25)  # idle for a day: past the stale period and the resume lookback

        print(f"{N} idle open requests (PR open, plan run queued), a pass every {INTERVAL.seconds} s for an hour")
        for label, fresh_each_pass in (("one long-lived process", False), ("a new process every pass", True)):
            counter = S3Calls(s3)
            graph, github, service = process()
            passes = 0
            first: tuple[Counter[str], int, int, int] | None = None
            gh_calls = gh_cost = gh_304 = 0
            end = clock.now() + HOUR
            synced = 0
            while clock.now() < end:
                if fresh_each_pass and passes:
                    graph, github, service = process()
                before = (github.stats.calls, github.stats.rate_limit_cost, github.stats.not_modified)
                report = service.run_once()
                synced += len(report.synced)
                assert not report.errors, report.errors
                calls = github.stats.calls - before[0]
                cost = github.stats.rate_limit_cost - before[1]
                not_modified = github.stats.not_modified - before[2]
                if first is None:
                    first = (counter.take(), calls, cost, not_modified)
                else:
                    gh_calls, gh_cost, gh_304 = gh_calls + calls, gh_cost + cost, gh_304 + not_modified
                passes += 1
                clock.advance(seconds=INTERVAL.seconds)
            rest = counter.take()
            assert first is not None
            print(f"  {label}: {passes} passes, {synced} syncs")
            print(
                f"    first pass:        S3 {sum(first[0].values()):5d} calls ({_summary(first[0])})"
                f" | GitHub {first[1]} calls, {first[3]} x 304, rate limit {first[2]}"
            )
            print(
                f"    rest of the hour:  S3 {sum(rest.values()):5d} calls ({_summary(rest)})"
                f" | GitHub {gh_calls} calls, {gh_304} x 304, rate limit {gh_cost}"
            )
            print(f"    whole hour:        S3 {sum(first[0].values()) + sum(rest.values()):5d} calls")
            sys.stdout.flush()
            clock.advance(hours=2)  # the next scenario starts in a later window
    finally:
        server.stop()


if __name__ == "__main__":
    main()
