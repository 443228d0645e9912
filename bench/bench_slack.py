"""Slack ack latency under load: 200 concurrent Apply clicks over HTTP while GitHub is slow.

TfPilot's Bolt app (``bot.app.create_app``, ``process_before_response=True``) is served the way
``tfpilot serve`` serves it: the side service (``bot.web.app.create_web_app``) behind uvicorn on
127.0.0.1 (port 0), its ``POST /slack/events`` route, over the real services, a fake Slack Web
API (its own process) and a code host that answers every call after 300 ms. The clicks are
signed ``block_actions`` payloads carrying the card they were clicked on, as Slack sends them,
from a load generator in another process.

1. **Where the ack time goes** (no work after the ack: a pool that drops it):
   - in-process, Bolt's ``dispatch`` per ack: TfPilot's listener (ack, then ``Kit.later``) vs
     the same ack through a Bolt ``lazy=[...]`` listener, which deep-copies the request;
   - over HTTP, server CPU per request and burst latency: an empty FastAPI route (uvicorn, h11,
     FastAPI: the floor), TfPilot's app behind Bolt's FastAPI adapter (dispatch on the event
     loop), and behind the side service's ``/slack/events`` route (dispatch in the threadpool).
2. **The runs** (the work happens): TfPilot's app as one burst of 200 and paced at 200 clicks/s,
   and a work-first handler (``RequestService.apply`` and only then the ack, in the threadpool)
   as one burst. Prints p50/p99, the work-first/TfPilot ratio, and checks that every click
   dispatched exactly one apply. Target: p99 < 100 ms.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from bot.app import HTTP_MODE_WORKERS, create_app, fastapi_handler
from bot.deps import Deps
from bot.views.card import request_card
from bot.views.ids import CARD_ACTION_RE, CardRef
from bot.web.app import create_web_app
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
PACED_RATE = 200.0  # clicks per second in the paced run
GITHUB_DELAY = 0.3
CHANNEL = "C0BENCH01"
TARGET_P99 = 0.100
DISPATCHES = 400  # in-process dispatches per variant (ack path profile)


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


class DropExecutor(Executor):
    """A listener pool that drops the work: what remains is the ack path alone."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(None)
        return future


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


def click_body(request: TfRequest, n: int) -> str:
    """An Apply click as Slack posts it: the payload carries the card message it was clicked on."""
    card = request_card(request)
    ts = f"1800000000.{n:06d}"
    payload = {
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "approver", "name": "approver", "team_id": TEAM},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False},
        "trigger_id": f"{n}.1.bench",
        "team": {"id": TEAM, "domain": "bench"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "bench"},
        "message": {"type": "message", "ts": ts, "text": card["text"], "blocks": card["blocks"]},
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM}/{n}/bench",
        "actions": [
            {
                "type": "button",
                "action_id": "req:apply",
                "block_id": f"card:{request.id}",
                "value": CardRef(request.id, request.version).encode(),
                "text": {"type": "plain_text", "text": "Apply", "emoji": True},
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


def lazy_copy_app(client: WebClient) -> App:
    """The same ack through Bolt's own lazy listener (the work itself dropped)."""
    app = App(
        signing_secret=SIGNING_SECRET,
        client=client,
        process_before_response=True,
        token_verification_enabled=False,
        listener_executor=DropExecutor(),
    )

    def ack_click(ack: Ack) -> None:
        ack()

    def work(body: dict[str, Any]) -> None:
        return None

    app.action(CARD_ACTION_RE)(ack=ack_click, lazy=[work])
    return app


def serve(api: Any) -> tuple[uvicorn.Server, int]:
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, int(server.servers[0].sockets[0].getsockname()[1])


def side_service(deps: Deps, bolt: App, baseline: App | None = None) -> FastAPI:
    """The side service as ``tfpilot serve`` builds it, plus the work-first route when given."""
    web = create_web_app(deps, slack_handler=fastapi_handler(bolt), reconcile_interval=None)
    if baseline is not None:

        @web.post("/baseline/events", include_in_schema=False)
        async def baseline_events(req: Request) -> Any:
            bolt_request = to_bolt_request(req, await req.body())
            return to_starlette_response(await run_in_threadpool(baseline.dispatch, bolt_request))

    return web


def floor_app() -> FastAPI:
    """The least an HTTP ack can cost here: uvicorn, h11 and a FastAPI route reading the body."""
    api = FastAPI()

    @api.post("/slack/events")
    async def events(req: Request) -> Response:
        await req.body()
        return Response(b"")

    return api


def adapter_app(bolt: App) -> FastAPI:
    """Bolt's FastAPI adapter as its docs mount it: ``dispatch`` on the event loop, no threadpool
    hop and no second parse of the payload (but an ack that waits on I/O would block the loop)."""
    api = FastAPI()
    handler = fastapi_handler(bolt)

    @api.post("/slack/events")
    async def events(req: Request) -> Any:
        return await handler.handle(req)

    return api


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


def _load_generator(conn: Any) -> None:
    while True:
        job = conn.recv()
        if job is None:
            break
        conn.send(_send(*job))
    conn.close()


class LoadGenerator:
    """One child process sending the clicks (started once: spawning costs seconds)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_load_generator, args=(child,), daemon=True)
        self._proc.start()

    def fire(self, port: int, path: str, bodies: list[str], rate: float | None = None) -> list[float]:
        self._conn.send((port, path, bodies, rate))
        latencies: list[float] = self._conn.recv()
        return latencies

    def close(self) -> None:
        self._conn.send(None)
        self._proc.join(timeout=10)


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


def report(name: str, latencies: list[float], extra: str = "") -> None:
    print(
        f"{name:>34}: n={len(latencies)}  p50 {pct(latencies, 0.5) * 1000:7.1f} ms  "
        f"p99 {pct(latencies, 0.99) * 1000:7.1f} ms  max {max(latencies) * 1000:7.1f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:7.1f} ms{extra}",
        flush=True,
    )


def dispatch_cost(app: App, bodies: list[str]) -> float:
    """Median over three rounds of Bolt's ``dispatch`` time per ack, in microseconds."""
    requests = [(b, {"content-type": "application/x-www-form-urlencoded", **sign(b)}) for b in bodies]
    app.dispatch(BoltRequest(body=requests[0][0], headers=requests[0][1]))  # warm-up (auth.test)
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for body, headers in requests:
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            assert response.status == 200, response.status
        rounds.append((time.perf_counter() - started) / len(requests) * 1e6)
    return statistics.median(rounds)


def parse_cost(bodies: list[str]) -> float:
    """Microseconds to build a ``BoltRequest`` (parsing the form-encoded payload), which every
    dispatch does once."""
    started = time.perf_counter()
    for body in bodies:
        BoltRequest(body=body, headers={"content-type": "application/x-www-form-urlencoded"})
    return (time.perf_counter() - started) / len(bodies) * 1e6


def ack_path_profile(deps: Deps, client: WebClient, load: LoadGenerator, sample: TfRequest) -> None:
    """Where one ack's time goes, with the work after the ack dropped."""
    bodies = [click_body(sample, 900_000 + n) for n in range(DISPATCHES)]
    print(f"-- where the ack time goes (work after the ack dropped); a click is {len(bodies[0])} bytes")
    ours = create_app(deps, client=client, process_before_response=True, listener_executor=DropExecutor())
    tfpilot_us = dispatch_cost(ours, bodies)
    copy_us = dispatch_cost(lazy_copy_app(client), bodies)
    print(
        f"{'Bolt dispatch per ack':>34}: TfPilot (ack, then Kit.later) {tfpilot_us:5.0f} us, of which parsing the "
        f"payload {parse_cost(bodies):4.0f} us; the same ack through a Bolt lazy listener {copy_us:5.0f} us "
        f"(its request copy: {copy_us - tfpilot_us:+.0f} us)"
    )
    variants = (
        ("HTTP floor (empty FastAPI route)", floor_app()),
        ("Bolt adapter on the loop, TfPilot", adapter_app(ours)),
        ("side service route, TfPilot", side_service(deps, ours)),
    )
    for name, api in variants:
        server, port = serve(api)
        load.fire(port, "/slack/events", bodies[:1])
        cpu_before = time.process_time()
        latencies = load.fire(port, "/slack/events", bodies[:CLICKS])
        cpu = (time.process_time() - cpu_before) / CLICKS * 1e6
        report(f"{name}, burst", latencies, f"  server CPU {cpu:5.0f} us/request")
        server.should_exit = True


def run(
    load: LoadGenerator, port: int, path: str, deps: Deps, ids: list[str], offset: int, rate: float | None
) -> list[float]:
    bodies = [click_body(deps.store.get(rid), offset + n) for n, rid in enumerate(ids)]
    return load.fire(port, path, bodies, rate)


def wait_applied(deps: Deps, ids: list[str], timeout: float = 90.0) -> int:
    """How many of ``ids`` have their apply run, waiting up to ``timeout`` for all of them
    (each request is read until it is done: reading costs CPU the server shares)."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        pending = {rid for rid in pending if deps.store.get(rid).apply_run is None}
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    return len(ids) - len(pending)


def timed_run(
    load: LoadGenerator, port: int, path: str, deps: Deps, ids: list[str], offset: int, rate: float | None
) -> tuple[list[float], float]:
    """Latencies of one run and the server's CPU per click until its work is done (ms)."""
    cpu = time.process_time()
    latencies = run(load, port, path, deps, ids, offset, rate)
    if path == "/slack/events":
        wait_applied(deps, ids)
    return latencies, (time.process_time() - cpu) / len(ids) * 1000


def measure_runs(deps: Deps, client: WebClient, load: LoadGenerator, sets: dict[str, list[str]]) -> None:
    executor = ThreadPoolExecutor(max_workers=HTTP_MODE_WORKERS, thread_name_prefix="bolt-bench")
    try:
        lazy_app = create_app(deps, client=client, process_before_response=True, listener_executor=executor)
        baseline_app = work_first_app(deps, client)
        server, port = serve(side_service(deps, lazy_app, baseline_app))
        loop_server, loop_port = serve(adapter_app(lazy_app))
        # Warm-up (imports, auth.test, users.info): one click each, not measured.
        for n, (path, key) in enumerate((("/slack/events", "lb"), ("/baseline/events", "fb"))):
            load.fire(port, path, [click_body(deps.store.get(sets[key].pop()), 99_000 + n)])
        sets["lp"].pop()
        sets["ll"].pop()
        print(f"-- {CLICKS} Apply clicks per run, GitHub answering after {GITHUB_DELAY * 1000:.0f} ms per call")
        plan = (
            ("burst", "TfPilot, side service, burst", port, "/slack/events", "lb", None),
            ("paced", f"TfPilot, side service, {PACED_RATE:.0f}/s", port, "/slack/events", "lp", PACED_RATE),
            ("loop", "TfPilot, adapter on loop, burst", loop_port, "/slack/events", "ll", None),
            ("work-first", "work-first, burst", port, "/baseline/events", "fb", None),
        )
        results: dict[str, list[float]] = {}
        for offset, (key, label, where, path, ids, rate) in enumerate(plan):
            results[key], cpu = timed_run(load, where, path, deps, sets[ids], 10_000 * (offset + 1), rate)
            report(label, results[key], f"  server CPU {cpu:5.1f} ms/click incl. its work")
        server.should_exit = loop_server.should_exit = True
        done = sum(wait_applied(deps, sets[k], timeout=1) for k in ("lb", "lp", "ll"))
        print(
            f"work after the ack: {done}/{3 * CLICKS} clicks dispatched their apply; "
            f"{len(list(deps.code_host.runs_of('apply.yml')))} apply runs in all (incl. {CLICKS} work-first and "
            f"2 warm-up); work-first refusals: {len(baseline_app.failures)}"  # type: ignore[attr-defined]
        )
        lazy, first = results["burst"], results["work-first"]
        print(
            f"ratio work-first/TfPilot (burst): p50 {pct(first, 0.5) / pct(lazy, 0.5):.1f}x, "
            f"p99 {pct(first, 0.99) / pct(lazy, 0.99):.1f}x"
        )
        for key, label, *_ in plan[:3]:
            p99 = pct(results[key], 0.99)
            print(f"target p99 < {TARGET_P99 * 1000:.0f} ms ({label}): {'met' if p99 < TARGET_P99 else 'MISSED'}")
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    slack_conn, child_conn = ctx.Pipe()
    slack = ctx.Process(target=_slack_in_child, args=(child_conn,), daemon=True)
    slack.start()
    fake = RemoteSlack(slack_conn.recv())
    load = LoadGenerator()
    print(f"python {sys.version.split()[0]}, switch interval {sys.getswitchinterval() * 1000:.0f} ms")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            slow = SlowCodeHost(FakeCodeHost(), GITHUB_DELAY)
            switches: list[Switch] = []

            def quiet(notifier: Any) -> Switch:
                switches.append(Switch(notifier))
                return switches[-1]

            deps, _ = build_deps(fake, Path(tmp), code_host=slow, wrap_notifier=quiet)  # type: ignore[arg-type]
            started = time.perf_counter()
            sets = {name: merged_requests(deps, CLICKS + 1, name) for name in ("lb", "lp", "ll", "fb")}
            print(f"setup: {sum(map(len, sets.values()))} merged requests in {time.perf_counter() - started:.1f}s")
            client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
            ack_path_profile(deps, client, load, deps.store.get(sets["lp"][-1]))
            switches[0].on = True
            slow.slow = True
            measure_runs(deps, client, load, sets)
    finally:
        load.close()
        slack_conn.send("stop")
        slack.join(timeout=10)


if __name__ == "__main__":
    main()
