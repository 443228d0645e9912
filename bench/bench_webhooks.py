"""GitHub webhook -> card updated: latency p50/p99 and throughput for 500 deliveries.

The real side service (``create_web_app`` with its default bounded executor: 4 workers, 256
queued) runs under uvicorn in a thread, on 127.0.0.1 over real HTTP. Storage is the local
object store in a temporary directory (the same compare-and-swap and sharded index as S3, on
disk); the code host is a stub that hands back a small plan for the plan-summary fetch. The
notifier is the real ``SlackNotifier`` talking to the Slack tests' fake Web API, which runs in
its own process (so its HTTP server does not share the service's GIL) and stamps the moment
each card's ``chat.update`` arrives (``time.monotonic``, one clock for both processes). 500
requests wait in ``planning`` with a card in a channel; 500 signed ``workflow_run
completed/success`` deliveries (the octokit fixture re-aimed at each request) are sent, the
first 50 one at a time (unloaded latency), the rest by 8 client threads. Latency is send ->
``chat.update`` received by Slack, per delivery; a 503 (queue full) is redelivered after 50 ms,
as GitHub's redelivery would, and counted, the latency still measured from the first send.
Also printed: send -> the notifier called (the sync's own share), and the Slack calls made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import multiprocessing
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

N = 500
ONE_AT_A_TIME = 50  # the first deliveries go one by one (unloaded latency); the rest in a burst
CLIENTS = 8
SECRET = "bench-webhook-secret"
CHANNEL = "C0BENCH01"
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "github" / "webhooks"
PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "module.bucket.aws_s3_bucket.this",
            "type": "aws_s3_bucket",
            "name": "this",
            "change": {"actions": ["create"], "before": None, "after": {"bucket": "logs"}},
        }
    ],
}


class StubCodeHost:
    def get_plan_json(self, repo: Any, run_id: int, request_id: str) -> dict[str, Any]:
        return PLAN

    def get_cost_json(self, repo: Any, run_id: int, request_id: str) -> None:
        return None


class CardClock:
    """Notifier wrapper: records when the sync hands each request to the Slack notifier, then
    lets the real ``SlackNotifier`` update the card."""

    def __init__(self) -> None:
        self.inner: Any = None
        self.at: dict[str, float] = {}
        self.events: dict[str, str] = {}
        self._lock = threading.Lock()

    def request_changed(self, request: Any, transition: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self.at.setdefault(request.id, now)
            self.events[request.id] = transition.event
        if self.inner is not None:
            self.inner.request_changed(request, transition)


def _slack_in_child(conn: Any) -> None:
    """The fake Slack Web API in its own process, stamping each card's first ``chat.update``."""
    from tests.slack.fake_slack import Call, FakeSlack

    class TimedSlack(FakeSlack):
        def __init__(self) -> None:
            super().__init__()
            self.updated: dict[str, float] = {}

        def _record(self, call: Call) -> None:
            if call.method == "chat.update":
                self.updated.setdefault(str(call.params.get("ts")), time.monotonic())
            super()._record(call)

    fake = TimedSlack()
    fake.start()
    conn.send(fake.api_url)
    conn.recv()  # the bench is over
    methods: dict[str, int] = {}
    for call in fake.calls:
        methods[call.method] = methods.get(call.method, 0) + 1
    conn.send((fake.updated, methods))
    fake.stop()


def _card_ts(n: int) -> str:
    return f"1800000000.{n:06d}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _deps(root: Path, notifier: CardClock) -> Any:
    """The composition root's embedded graph on ``root``, with the stub code host and the
    card-timing notifier."""
    from bot.bootstrap import build
    from bot.settings import load_settings

    settings = load_settings({"GITHUB_WEBHOOK_SECRET": SECRET, "TFPILOT_DATA_DIR": str(root)})
    return build(settings, notifier=notifier, code_host=StubCodeHost(), chat_model=None)


def _seed(deps: Any) -> list[tuple[str, bytes]]:
    from core.domain.request import PullRequestRef, Request, Requester, RunRef, SlackThread

    template = json.loads((FIXTURE / "octokit__workflow_run_completed.payload.json").read_text())
    deliveries = []
    now = datetime.now(UTC)
    for n in range(N):
        rid = f"req_{n:012d}"
        sha = hashlib.sha1(rid.encode(), usedforsecurity=False).hexdigest()
        run_id = 50_000_000 + n
        deps.store.create(
            Request(
                id=rid,
                project="core",
                environment="dev",
                module="s3-bucket",
                received_at=now,
                updated_at=now,
                requester=Requester(id="U_DEV"),
                target_owner="acme",
                target_repo="infra",
                branch_name=f"request/{rid}",
                commit_sha=sha,
                pr=PullRequestRef(number=n + 1, open=True, head_sha=sha),
                plan_run=RunRef(run_id=run_id, status="in_progress", head_sha=sha, workflow="plan.yml"),
                slack=SlackThread(team_id="T111", channel=CHANNEL, ts=_card_ts(n)),
                status="planning",
            )
        )
        payload = json.loads(json.dumps(template))
        payload["workflow_run"].update(
            id=run_id,
            path=".github/workflows/plan.yml",
            display_title=f"plan {rid}",
            head_branch=f"request/{rid}",
            head_sha=sha,
            status="completed",
            conclusion="success",
        )
        payload["workflow"]["path"] = ".github/workflows/plan.yml"
        for part in (payload["repository"], payload["workflow_run"]["head_repository"]):
            part["full_name"] = "acme/infra"
        deliveries.append((rid, json.dumps(payload).encode()))
    return deliveries


class Sender:
    """Signed deliveries over HTTP; a 503 is redelivered after 50 ms (counted)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: dict[str, float] = {}
        self.acks: list[float] = []
        self.busy = 0
        self._lock = threading.Lock()

    def deliver(self, item: tuple[str, bytes], http: Any) -> None:
        rid, body = item
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "X-GitHub-Event": "workflow_run",
            "X-GitHub-Delivery": f"bench-{rid[4:]}",
            "X-Hub-Signature-256": signature,
        }
        with self._lock:
            self.sent[rid] = time.monotonic()
        while True:
            began = time.perf_counter()
            status = http.post(self.url, content=body, headers=headers).status_code
            with self._lock:
                self.acks.append(time.perf_counter() - began)
            if status == 202:
                return
            if status != 503:
                raise RuntimeError(f"delivery for {rid} answered {status}")
            with self._lock:
                self.busy += 1
            time.sleep(0.05)


def _serve(app: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from bot.cli.serve_cmd import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}/github/webhook", server, thread


def _line(label: str, values: list[float]) -> None:
    if values:
        print(
            f"webhook -> chat.update at Slack ms ({label}): p50 {_pct(values, 0.5):7.2f}  "
            f"p99 {_pct(values, 0.99):7.2f}  max {max(values):7.2f}"
        )


def main() -> None:
    import httpx
    from slack_sdk import WebClient

    from bot.slack_notifier import SlackNotifier
    from bot.web.app import create_web_app

    logging.getLogger("bot.web").setLevel(logging.ERROR)  # a 503 is counted below, not logged per delivery
    spawn = multiprocessing.get_context("spawn")
    slack_conn, child_conn = spawn.Pipe()
    slack = spawn.Process(target=_slack_in_child, args=(child_conn,), daemon=True)
    slack.start()
    api_url = slack_conn.recv()
    with tempfile.TemporaryDirectory(prefix="tfpilot-bench-webhooks-") as tmp:
        cards = CardClock()
        deps = _deps(Path(tmp), cards)
        started = time.perf_counter()
        deliveries = _seed(deps)
        print(f"seeded {N} requests in planning ({time.perf_counter() - started:.1f}s, local store)")
        cards.inner = SlackNotifier(
            WebClient(token="xoxb-bench", base_url=api_url), store=deps.store, objects=deps.objects
        )
        app = create_web_app(deps, reconcile_interval=None, dm=None)
        url, server, thread = _serve(app)
        sender = Sender(url)
        clients = [httpx.Client(timeout=30) for _ in range(CLIENTS)]
        for item in deliveries[:ONE_AT_A_TIME]:
            sender.deliver(item, clients[0])
            app.state.tfpilot.executor.wait_idle(30)  # its sync, card update included, is over
        burst = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: sender.deliver(deliveries[i], clients[i % CLIENTS]), range(ONE_AT_A_TIME, N)))
        sending = time.monotonic() - burst
        app.state.tfpilot.executor.wait_idle(120)  # every sync finished, card updates included (they run inside it)
        server.should_exit = True
        thread.join(10)
        for client in clients:
            client.close()
    slack_conn.send("report")
    updated, methods = slack_conn.recv()
    slack.join(10)

    _report(sender, cards, deliveries, updated, methods, burst, sending)


def _report(
    sender: Sender,
    cards: CardClock,
    deliveries: list[tuple[str, bytes]],
    updated: dict[str, float],
    methods: dict[str, int],
    burst: float,
    sending: float,
) -> None:
    sent = sender.sent
    card_of = {rid: _card_ts(n) for n, (rid, _) in enumerate(deliveries)}

    def latencies(items: list[tuple[str, bytes]], at: dict[str, float]) -> list[float]:
        return [(at[rid] - sent[rid]) * 1000 for rid, _ in items if rid in at]

    slack_at = {rid: updated[ts] for rid, ts in card_of.items() if ts in updated}
    ack_ms = [a * 1000 for a in sender.acks]
    ready = sum(1 for event in cards.events.values() if event == "plan_ready")
    print(
        f"transport: uvicorn in a thread, real HTTP on 127.0.0.1, {CLIENTS} client threads; Slack: fake Web API process"
    )
    print(
        f"deliveries: {N}  synced to plan_ready: {ready}  cards updated in Slack: {len(slack_at)}  "
        f"503 redeliveries: {sender.busy}"
    )
    print("slack calls: " + ", ".join(f"{m} {n}" for m, n in sorted(methods.items())))
    print(f"ack (HTTP answer) ms: p50 {_pct(ack_ms, 0.5):7.2f}  p99 {_pct(ack_ms, 0.99):7.2f}  max {max(ack_ms):7.2f}")
    alone, loaded = deliveries[:ONE_AT_A_TIME], deliveries[ONE_AT_A_TIME:]
    _line(f"first {ONE_AT_A_TIME}, one at a time", latencies(alone, slack_at))
    _line(f"burst of {len(loaded)}", latencies(loaded, slack_at))
    _line(f"all {len(slack_at)}", latencies(deliveries, slack_at))
    synced = latencies(deliveries, cards.at)
    print(f"webhook -> notifier called ms (all): p50 {_pct(synced, 0.5):7.2f}  p99 {_pct(synced, 0.99):7.2f}")
    burst_cards = [slack_at[rid] for rid, _ in loaded if rid in slack_at]
    if burst_cards:
        total = max(burst_cards) - burst
        print(
            f"burst: sent in {sending:.2f}s, every card updated after {total:.2f}s: "
            f"{len(burst_cards) / total:.0f} deliveries/s end to end (4 sync workers)"
        )
