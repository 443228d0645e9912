"""Slack ack latency under load: 200 concurrent Apply clicks over HTTP while GitHub is slow.

Two Bolt apps behind one uvicorn server on 127.0.0.1 (port 0) serve signed ``block_actions``
requests, over the same services, a fake Slack Web API (its own process) and a code host that
answers every call after 300 ms:

- ``lazy``: TfPilot's app (``bot.app.create_app``, ``process_before_response=True``) mounted
  through the FastAPI adapter as the side service mounts it: ack at once, apply in a lazy
  listener;
- ``work-first``: a handler that calls ``RequestService.apply`` and only then acks (run in the
  threadpool, so it is not serialized behind the event loop).

Each app gets 200 clicks twice: as one burst (all sent at the same instant, from another
process) and paced at 200 clicks/s. Prints p50/p99 of every run, the work-first/lazy ratios,
and checks that the lazy app dispatched exactly one apply per click. Target: lazy p99 < 100 ms.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from bot.app import create_app, fastapi_handler
from bot.deps import Deps
from bot.views.ids import CARD_ACTION_RE, CardRef
from core.domain.facts import RunFact
from core.domain.policy import Actor
from core.domain.request import Request as TfRequest
from core.domain.request import Requester, SlackThread
from core.ports.notifier import Transition
from core.services.commands import CreateRequest
from tests.services.fake_code_host import FakeCodeHost
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import APPROVER, BOT_TOKEN, DEV, SIGNING_SECRET, TEAM, build_deps, sign

CLICKS = 200
PACED_RATE = 200.0  # clicks per second in the paced runs
GITHUB_DELAY = 0.3
CHANNEL = "C0BENCH01"
TARGET_P99 = 0.100


class SlowCodeHost:
    """The fake code host, answering every call after ``delay`` seconds once ``slow`` is set."""

    def __init__(self, inner: FakeCodeHost, delay: float) -> None:
        self._inner = inner
        self._delay = delay
        self.slow = False

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.slow:
                time.sleep(self._delay)
            return target(*args, **kwargs)

        return call


class Switch:
    """A notifier that stays quiet while the bench sets requests up (nobody watches Slack then)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.on = False

    def request_changed(self, request: TfRequest, transition: Transition) -> None:
        if self.on:
            self.inner.request_changed(request, transition)


class RemoteSlack:
    """What ``build_deps`` needs of the fake Slack running in another process: its URL."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url


def merged_requests(deps: Deps, count: int, prefix: str) -> list[str]:
    """``count`` requests planned, approved and merged (while the code host is still fast)."""
    ids = []
    host = deps.code_host
    approver = Actor(id=APPROVER)
    for i in range(count):
        cmd = CreateRequest(
            project="core",
            environment="dev",
            module="s3-bucket",
            config={"name": f"{prefix}{i}"},  # distinct configs: distinct idempotency keys
            requester=Requester(id=DEV, team_id=TEAM),
            slack=SlackThread(team_id=TEAM, channel=CHANNEL, ts=f"1700000000.{i:06d}"),
        )
        request = deps.requests.create(cmd)
        run = deps.store.get(request.id).plan_run
        assert run is not None and run.run_id is not None
        for step in (host.start_run, host.complete_run):
            deps.sync.apply_fact(RunFact(request_id=request.id, kind="plan", run=step(run.run_id)))
        deps.requests.approve(request.id, approver)
        deps.requests.merge(request.id, approver)
        ids.append(request.id)
    return ids


def click_body(request_id: str, version: int, n: int) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "approver", "name": "approver", "team_id": TEAM},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {"type": "message", "message_ts": f"1800000000.{n:06d}", "channel_id": CHANNEL},
        "trigger_id": f"{n}.1.bench",
        "team": {"id": TEAM, "domain": "bench"},
        "channel": {"id": CHANNEL, "name": "bench"},
        "message": {"ts": f"1800000000.{n:06d}", "text": "card", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": "req:apply",
                "block_id": f"card:{request_id}",
                "value": CardRef(request_id, version).encode(),
                "text": {"type": "plain_text", "text": "Apply"},
                "action_ts": f"1800000100.{n:06d}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def work_first_app(deps: Deps, client: WebClient) -> App:
    """The baseline: do the GitHub work, then ack."""
    app = App(
        signing_secret=SIGNING_SECRET, client=client, process_before_response=True, token_verification_enabled=False
    )
    failures: list[str] = []

    def apply_then_ack(ack: Ack, body: dict[str, Any]) -> None:
        ref = CardRef.decode(body["actions"][0]["value"])
        if ref is not None:
            try:
                deps.requests.apply(ref.request_id, Actor(id=body["user"]["id"]), source="slack")
            except Exception as exc:  # a refusal still gets its ack
                failures.append(f"{type(exc).__name__}: {exc}")
        ack()

    app.action(CARD_ACTION_RE)(apply_then_ack)
    app.failures = failures  # type: ignore[attr-defined]
    return app


def serve(lazy_app: App, baseline_app: App) -> tuple[uvicorn.Server, int]:
    """Both apps behind one uvicorn server: TfPilot's at ``/slack/events`` through the FastAPI
    adapter exactly as the side service mounts it, the work-first one at ``/baseline/events``."""
    api = FastAPI()
    handler = fastapi_handler(lazy_app)

    @api.post("/slack/events")
    async def events(req: Request) -> Any:
        return await handler.handle(req)

    @api.post("/baseline/events")
    async def baseline(req: Request) -> Any:
        bolt_request = to_bolt_request(req, await req.body())
        return to_starlette_response(await run_in_threadpool(baseline_app.dispatch, bolt_request))

    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, int(server.servers[0].sockets[0].getsockname()[1])


# --- the load generator (its own process: Slack is not inside the bot) -------------------------


def _send(port: int, path: str, bodies: list[str], rate: float | None) -> list[float]:
    """POST every body on its own connection, all at once (``rate`` None) or ``rate`` per
    second; the client-side latency of each, from the request's first byte to the response."""
    barrier = threading.Barrier(len(bodies))
    start_at: list[float] = []

    def one(index: int, body: str) -> float:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.connect()
        if barrier.wait() == 0:
            start_at.append(time.perf_counter() + 0.05)
        while not start_at:
            time.sleep(0.001)
        if rate is not None:
            time.sleep(max(0.0, start_at[0] + index / rate - time.perf_counter()))
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return elapsed

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, range(len(bodies)), bodies))


def _send_in_child(port: int, path: str, bodies: list[str], rate: float | None, conn: Any) -> None:
    conn.send(_send(port, path, bodies, rate))
    conn.close()


def fire(port: int, path: str, bodies: list[str], rate: float | None = None) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_send_in_child, args=(port, path, bodies, rate, child))
    proc.start()
    latencies: list[float] = parent.recv()
    proc.join()
    return latencies


def _slack_in_child(conn: Any) -> None:
    fake = FakeSlack().start()
    fake.add_user(APPROVER, email="approver@example.com")
    conn.send(fake.api_url)
    conn.recv()  # until told to stop
    fake.stop()


# --- measuring -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, latencies: list[float]) -> None:
    print(
        f"{name:>22}: n={len(latencies)}  p50 {pct(latencies, 0.5) * 1000:7.1f} ms  "
        f"p99 {pct(latencies, 0.99) * 1000:7.1f} ms  max {max(latencies) * 1000:7.1f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:7.1f} ms"
    )


def run(port: int, path: str, deps: Deps, ids: list[str], offset: int, rate: float | None) -> list[float]:
    bodies = [click_body(rid, deps.store.get(rid).version, offset + n) for n, rid in enumerate(ids)]
    return fire(port, path, bodies, rate)


def wait_applied(deps: Deps, ids: list[str], timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = sum(1 for rid in ids if deps.store.get(rid).apply_run is not None)
        if done == len(ids):
            break
        time.sleep(0.1)
    return done


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    slack_conn, child_conn = ctx.Pipe()
    slack = ctx.Process(target=_slack_in_child, args=(child_conn,), daemon=True)
    slack.start()
    fake = RemoteSlack(slack_conn.recv())
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt-bench")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            slow = SlowCodeHost(FakeCodeHost(), GITHUB_DELAY)
            switches: list[Switch] = []
            deps, _ = build_deps(
                fake, Path(tmp), code_host=slow, wrap_notifier=lambda n: switches.append(Switch(n)) or switches[-1]
            )  # type: ignore[arg-type]
            started = time.perf_counter()
            sets = {name: merged_requests(deps, CLICKS + 1, name) for name in ("lb", "lp", "fb", "fp")}
            print(f"setup: {sum(map(len, sets.values()))} merged requests in {time.perf_counter() - started:.1f}s")
            switches[0].on = True
            slow.slow = True
            client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
            lazy_app = create_app(deps, client=client, process_before_response=True, listener_executor=executor)
            baseline_app = work_first_app(deps, client)
            server, port = serve(lazy_app, baseline_app)
            # Warm-up (imports, auth.test, users.info): one click each, not measured.
            fire(port, "/slack/events", [click_body(sets["lb"].pop(), 1, 99_999)])
            fire(port, "/baseline/events", [click_body(sets["fb"].pop(), 1, 199_999)])
            for key in ("lp", "fp"):
                sets[key].pop()
            print(f"{CLICKS} Apply clicks per run, GitHub answering after {GITHUB_DELAY * 1000:.0f} ms per call")
            results: dict[str, list[float]] = {}
            results["lazy, burst"] = run(port, "/slack/events", deps, sets["lb"], 0, None)
            report("lazy, burst", results["lazy, burst"])
            lazy_done = wait_applied(deps, sets["lb"])
            results["lazy, 200/s"] = run(port, "/slack/events", deps, sets["lp"], 10_000, PACED_RATE)
            report("lazy, 200/s", results["lazy, 200/s"])
            lazy_done += wait_applied(deps, sets["lp"])
            results["work-first, burst"] = run(port, "/baseline/events", deps, sets["fb"], 20_000, None)
            report("work-first, burst", results["work-first, burst"])
            results["work-first, 200/s"] = run(port, "/baseline/events", deps, sets["fp"], 30_000, PACED_RATE)
            report("work-first, 200/s", results["work-first, 200/s"])
            server.should_exit = True
            runs = len(list(slow.runs_of("apply.yml")))
            print(
                f"lazy work: {lazy_done}/{2 * CLICKS} clicks dispatched their apply; {runs} apply runs in all "
                f"(incl. {2 * CLICKS} work-first and 2 warm-up); work-first refusals: {len(baseline_app.failures)}"  # type: ignore[attr-defined]
            )
            for mode in ("burst", "200/s"):
                lazy, first = results[f"lazy, {mode}"], results[f"work-first, {mode}"]
                print(
                    f"ratio work-first/lazy ({mode}): p50 {pct(first, 0.5) / pct(lazy, 0.5):.1f}x, "
                    f"p99 {pct(first, 0.99) / pct(lazy, 0.99):.1f}x"
                )
            for mode in ("burst", "200/s"):
                p99 = pct(results[f"lazy, {mode}"], 0.99)
                verdict = "met" if p99 < TARGET_P99 else "MISSED"
                print(f"target lazy p99 < {TARGET_P99 * 1000:.0f} ms ({mode}): {verdict} ({p99 * 1000:.1f} ms)")
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        slack_conn.send("stop")
        slack.join(timeout=10)


if __name__ == "__main__":
    main()
