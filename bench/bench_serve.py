"""``tfpilot serve`` as deployed, beside its baselines in the same run.

Every server is a real process on 127.0.0.1: ``python -m bot.cli.main serve`` (one worker, and
``--workers 2``) over S3 through moto's server (its own process, one request at a time, as
atomic as S3's conditional writes), a GitHub stub answering every call after 300 ms, and a fake
Slack Web API (its own process). The baselines run the same HTTP stack (uvicorn, FastAPI):
a minimal Bolt app that only acks (``bench.baseline_apps bolt``) and an empty route
(``bench.baseline_apps empty``). The clicks are signed Apply ``block_actions`` carrying their
card (5 kB), sent all at once on 200 connections by a load generator in another process.

Printed, each as min / median / max over ``REPEATS`` (env ``BENCH_REPEATS``, default 3):

- p50/p99 ack of a burst of 200 clicks, and TfPilot's p99 over the Bolt app's (target <= 2x);
- server CPU per click (utime + stime of the server process and its workers, from the burst
  until the last click's work is done: the apply dispatched, the card updated);
- start-up: spawn to port open and to the first answer, CPU seconds and RSS at port open
  (TfPilot beside the bare Bolt app, taking turns), against the targets (port open <= 0.6 s,
  RSS <= 80 MB) and as a ratio to the bare Bolt app's (the absolute time depends on the
  machine's load; the ratio and the CPU seconds less).

Asserted: every click dispatched exactly one apply (the GitHub stub counts the dispatches).

The project's modules are compiled to bytecode first (``compileall``, into the tree's
``__pycache__``), as pip does when it installs the wheel in the image: the development
environment sets ``PYTHONDONTWRITEBYTECODE``, under which every start would otherwise compile
TfPilot's 160 modules from source while the baseline's libraries load their installed bytecode.
``BENCH_SERVE_PARTS`` (default ``burst,startup``) picks what runs: ``startup`` alone seeds
nothing and measures only the start-up.
"""

from __future__ import annotations

import compileall
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from bench.bench_slack import LoadGenerator, _slack_in_child, click_body, pct
from core.adapters.request_store import ObjectRequestStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.lifecycle import derive_status
from core.domain.request import Request
from core.domain.status import Status
from core.ports.clock import SystemClock
from tests.slack.harness import APPROVER, BOT_TOKEN, DEV, SIGNING_SECRET, TEAM
from tests.web.fake_github import FakeGitHub
from tests.web.seed import seeded_request

CLICKS = int(os.environ.get("BENCH_CLICKS", "200"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
PARTS = frozenset(os.environ.get("BENCH_SERVE_PARTS", "burst,startup").replace(" ", "").split(","))
PACKAGES = ("bot", "assistant", "core", "module_registry")
GITHUB_DELAY = 0.3
CHANNEL = "C0BENCH01"
BUCKET = "tfpilot-bench"
TARGET_RATIO = 2.0
STARTUP_TARGET_S = 0.6
RSS_TARGET_MB = 80
TICK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


class SlowGitHub(FakeGitHub):
    """The GitHub stub, answering every call after ``GITHUB_DELAY`` (outside its lock)."""

    def handle(self, method: str, raw_path: str, raw: bytes) -> tuple[int, Any]:
        time.sleep(GITHUB_DELAY)
        return super().handle(method, raw_path, raw)


def _moto_in_child(conn: Any) -> None:
    import logging

    from tests.store.moto_server import AtomicMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    conn.send(f"http://{host}:{port}")
    conn.recv()
    moto.stop()


class Child:
    """A helper server in a spawned process; ``value`` is what it sent back (its URL)."""

    def __init__(self, target: Callable[[Any], None]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=target, args=(child,), daemon=True)
        self._proc.start()
        self.value: str = self._conn.recv()

    def stop(self) -> None:
        self._conn.send(None)
        self._proc.join(timeout=10)


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (the workers of ``--workers N``)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(family(int(child)))
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


class Server:
    """A server process on ``port``; start-up measured from spawn to port open."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        started = time.perf_counter()
        with log.open("w") as err:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=log.parent)
        self.log = log
        deadline = started + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start-up:\n{log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{name} did not open its port") from None
                time.sleep(0.005)
        self.port_open = time.perf_counter() - started
        self.rss_at_open = sum(rss_mb(p) for p in family(self.proc.pid))
        self.cpu_at_open = cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --- the world --------------------------------------------------------------------------------


def seed(store: ObjectRequestStore, github: FakeGitHub, count: int) -> list[Request]:
    """``count`` requests approved and merged, ready for Apply (their PRs known to the stub)."""

    def one(i: int) -> Request:
        request = seeded_request(
            github,
            i,
            stage="merged",
            requester=DEV,
            team=TEAM,
            channel=CHANNEL,
            number=1000 + i,
            ts=f"1700000000.{i:06d}",
            approver=APPROVER,
        )
        created = store.create(request)
        assert derive_status(created) is Status.MERGED, derive_status(created)
        return created

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def serve_env(moto: str, github: FakeGitHub, slack_api: str, data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL_S3": moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TFPILOT_REQUESTS_BUCKET": BUCKET,
        "TFPILOT_DATA_DIR": str(data),
        "GITHUB_TOKEN": "bench-github-token",
        "TFPILOT_GITHUB_API_URL": github.api_url,
        "TFPILOT_GITHUB_WEB_URL": "https://github.test",
        "GITHUB_WEBHOOK_SECRET": "bench-webhook-secret",
        "TFPILOT_API_TOKEN": "bench-api-token-0123456789abcdef0123456789",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.rstrip("/"),
        "TFPILOT_DEVELOPERS": DEV,
        "TFPILOT_APPROVERS": APPROVER,
    }


def tfpilot_argv(port: int, workers: int = 1) -> list[str]:
    argv = [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port), "--no-reconciler"]
    return [*argv, "--log-level", "warning", *(["--workers", str(workers)] if workers > 1 else [])]


def baseline_argv(kind: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bench.baseline_apps", kind, str(port)]


def first_answer(port: int, timeout: float = 120) -> None:
    """Until the server answers HTTP (uvicorn's loop is running; any status)."""
    import http.client

    deadline = time.perf_counter() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.005)


# --- measuring ------------------------------------------------------------------------------


def span(values: list[float], unit: str = "ms", scale: float = 1000.0, digits: int = 0) -> str:
    ordered = sorted(values)
    parts = [ordered[0], statistics.median(ordered), ordered[-1]]
    return " / ".join(f"{v * scale:.{digits}f}" for v in parts) + f" {unit}"


def burst(load: LoadGenerator, server: Server, bodies: list[str]) -> tuple[list[float], float]:
    """The burst's latencies and the server's CPU seconds spent on it (its acks only)."""
    before = cpu_seconds(server.proc.pid)
    latencies = load.fire(server.port, "/slack/events", bodies)
    time.sleep(0.2)
    return latencies, cpu_seconds(server.proc.pid) - before


def settle_cpu(pid: int, quiet: float = 1.0, timeout: float = 120.0) -> float:
    """CPU seconds used by ``pid`` (and workers), read once it stopped using any for ``quiet``."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now == last:
            return now
        last = now
    return last


def clicked_burst(
    load: LoadGenerator, server: Server, github: FakeGitHub, requests: list[Request], first: int
) -> tuple[list[float], float]:
    """A burst of Apply clicks on ``requests``; waits until each dispatched its apply, asserts
    exactly once, and returns the latencies and the CPU seconds per click including the work."""
    bodies = [click_body(r, first + n) for n, r in enumerate(requests)]
    before = cpu_seconds(server.proc.pid)
    latencies = load.fire(server.port, "/slack/events", bodies)
    deadline = time.monotonic() + 180
    ids = [r.id for r in requests]
    while sum(github.dispatches[("apply.yml", rid)] for rid in ids) < len(ids):
        if time.monotonic() > deadline:
            missing = [rid for rid in ids if not github.dispatches[("apply.yml", rid)]]
            raise AssertionError(f"{server.name}: {len(missing)} clicks never dispatched: {missing[:5]}")
        time.sleep(0.1)
    used = settle_cpu(server.proc.pid) - before
    counts = {rid: github.dispatches[("apply.yml", rid)] for rid in ids}
    assert all(c == 1 for c in counts.values()), {k: v for k, v in counts.items() if v != 1}
    return latencies, used / len(requests)


VARIANTS = (("tfpilot serve", 1), ("tfpilot serve --workers 2", 2))
BOLT = "minimal Bolt app (ack only)"

Startup = dict[str, tuple[list[float], list[float], list[float], list[float]]]


def measure_startup(env: dict[str, str], work: Path) -> Startup:
    """Spawn to port open, to the first answer, RSS and CPU seconds at port open, ``REPEATS``
    times each, the bare Bolt app and TfPilot taking turns (the machine's load drifts)."""
    startup: Startup = {}
    commands: tuple[tuple[str, Callable[[int], list[str]]], ...] = (
        ("bare Bolt app", lambda p: baseline_argv("bolt", p)),
        ("tfpilot serve", tfpilot_argv),
    )
    for i in range(REPEATS):
        for name, argv in commands:
            opened, answered, rss, cpu = startup.setdefault(name, ([], [], [], []))
            port = free_port()
            t0 = time.perf_counter()
            server = Server(name, argv(port), env, port, work / f"startup-{i}.log")
            first_answer(port)
            answered.append(time.perf_counter() - t0)
            opened.append(server.port_open)
            rss.append(server.rss_at_open)
            cpu.append(server.cpu_at_open)
            server.stop()
    return startup


def measure_baselines(
    load: LoadGenerator, env: dict[str, str], work: Path, sample: list[Request]
) -> tuple[dict[str, list[list[float]]], dict[str, list[float]]]:
    acks: dict[str, list[list[float]]] = {}
    cpu: dict[str, list[float]] = {}
    bodies = [click_body(sample[n], 900_000 + n) for n in range(CLICKS)]
    for name, kind in (("empty FastAPI route", "empty"), (BOLT, "bolt")):
        port = free_port()
        server = Server(name, baseline_argv(kind, port), env, port, work / f"{kind}.log")
        try:
            load.fire(server.port, "/slack/events", bodies[:20])  # warm-up, as TfPilot's first_answer
            for _ in range(REPEATS):
                latencies, used = burst(load, server, bodies)
                acks.setdefault(name, []).append(latencies)
                cpu.setdefault(name, []).append(used / CLICKS)
        finally:
            server.stop()
    return acks, cpu


def measure_tfpilot(
    load: LoadGenerator, env: dict[str, str], work: Path, github: FakeGitHub, seeded: list[Request]
) -> tuple[dict[str, list[list[float]]], dict[str, list[float]], int]:
    acks: dict[str, list[list[float]]] = {}
    cpu: dict[str, list[float]] = {}
    offset = 0
    for name, workers in VARIANTS:
        port = free_port()
        server = Server(name, tfpilot_argv(port, workers), env, port, work / f"serve-{workers}.log")
        try:
            first_answer(port)
            for _ in range(REPEATS):
                batch = seeded[offset : offset + CLICKS]
                latencies, per_click = clicked_burst(load, server, github, batch, offset)
                offset += CLICKS
                acks.setdefault(name, []).append(latencies)
                cpu.setdefault(name, []).append(per_click)
        finally:
            server.stop()
    return acks, cpu, offset


def report(acks: dict[str, list[list[float]]], cpu: dict[str, list[float]], startup: Startup, clicks: int) -> None:
    if acks:
        report_bursts(acks, cpu, clicks)
    if startup:
        report_startup(startup)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


def report_bursts(acks: dict[str, list[list[float]]], cpu: dict[str, list[float]], clicks: int) -> None:
    print(f"\nburst of {CLICKS} clicks (min / median / max of {REPEATS})", flush=True)
    print(f"{'':>30}  {'p50 ack':>22}  {'p99 ack':>22}  {'server CPU per click':>22}")
    for name, runs in acks.items():
        p50 = span([pct(r, 0.5) for r in runs])
        p99 = span([pct(r, 0.99) for r in runs])
        what = "incl. its work" if name.startswith("tfpilot") else "ack only"
        print(f"{name:>30}  {p50:>22}  {p99:>22}  {span(cpu[name], digits=1):>16} {what}")
    bolt = statistics.median(pct(r, 0.99) for r in acks[BOLT])
    for name, _workers in VARIANTS:
        ratio = statistics.median(pct(r, 0.99) for r in acks[name]) / bolt
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"{name}: median p99 {ratio:.1f}x the Bolt app's (target <= {TARGET_RATIO:.0f}x: {verdict})")
    print(f"every click dispatched exactly one apply ({clicks} clicks, {clicks} dispatches)")


def report_startup(startup: Startup) -> None:
    print(f"\nstart-up (min / median / max of {REPEATS})")
    for name, (opened, answered, rss, cpu) in startup.items():
        print(
            f"{name:>30}: port open {span(opened, 's', 1.0, 2)}, first answer {span(answered, 's', 1.0, 2)}, "
            f"CPU at port open {span(cpu, 's', 1.0, 2)}, RSS at port open {span(rss, 'MB', 1.0, 1)}"
        )
    opened, _answered, rss, _cpu = startup["tfpilot serve"]
    bare_opened, _bare_answered, bare_rss, _bare_cpu = startup["bare Bolt app"]
    ratio = statistics.median(opened) / statistics.median(bare_opened)
    rss_median = statistics.median(rss)
    print(
        f"tfpilot serve: median port open {statistics.median(opened):.2f} s, {ratio:.1f}x the bare Bolt app's "
        f"(target <= {STARTUP_TARGET_S} s: {'met' if statistics.median(opened) <= STARTUP_TARGET_S else 'MISSED'}); "
        f"median RSS {rss_median:.1f} MB, {rss_median - statistics.median(bare_rss):+.1f} MB on the bare Bolt app "
        f"(target <= {RSS_TARGET_MB} MB: {'met' if rss_median <= RSS_TARGET_MB else 'MISSED'})"
    )


def compile_project() -> None:
    """TfPilot's modules as bytecode, as the image's ``pip install`` of the wheel leaves them."""
    for package in PACKAGES:
        assert compileall.compile_dir(ROOT / package, quiet=1), f"{package} does not compile"


def main() -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)  # moto's server takes any credentials
    print(
        f"{CLICKS} signed Apply clicks per burst, GitHub answering after {GITHUB_DELAY * 1000:.0f} ms, "
        f"S3 through moto's server; {REPEATS} repeats, min / median / max; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    compile_project()
    moto = Child(_moto_in_child)
    slack = Child(_slack_in_child)
    github = SlowGitHub().start()
    load = LoadGenerator()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        s3 = boto3.client("s3", endpoint_url=moto.value, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        env = serve_env(moto.value, github, slack.value, work)
        startup = measure_startup(env, work) if "startup" in PARTS else {}
        acks: dict[str, list[list[float]]] = {}
        cpu: dict[str, list[float]] = {}
        clicks = 0
        if "burst" in PARTS:
            store = ObjectRequestStore(S3ObjectStore(s3, BUCKET), SystemClock())
            started = time.perf_counter()
            seeded = seed(store, github, CLICKS * REPEATS * len(VARIANTS))
            print(f"seeded {len(seeded)} merged requests in {time.perf_counter() - started:.1f}s", flush=True)
            acks, cpu = measure_baselines(load, env, work, seeded)
            tf_acks, tf_cpu, clicks = measure_tfpilot(load, env, work, github, seeded)
            acks, cpu = {**acks, **tf_acks}, {**cpu, **tf_cpu}
        assert github.unexpected == [], github.unexpected[:5]
        assert sum(github.dispatches.values()) == clicks
        report(acks, cpu, startup, clicks)
    finally:
        load.close()
        github.stop()
        slack.stop()
        moto.stop()


if __name__ == "__main__":
    main()
