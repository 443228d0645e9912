"""Two ``tfpilot serve`` processes on one S3 bucket take interleaved clicks and webhooks for the
same requests: no update is lost and every intent reaches GitHub once.

Real pieces: two OS processes running ``python -m bot.cli.main serve --port 0`` (uvicorn, the
Bolt app in HTTP mode, the side service), S3 through moto's server (one request at a time, as
S3's conditional writes are atomic: ``tests.store.moto_server.AtomicMotoServer``), GitHub through
``FakeGitHub`` (a local HTTP server both processes call with ``TFPILOT_GITHUB_API_URL``: chosen
over the local git forge because it is what production talks to, counts dispatches across
processes by construction, and lets the test send the matching webhooks), and Slack through the
Slack tests' ``FakeSlack``. Requests are seeded at ``plan_ready``; then, for all of them at once,
each Approve, Merge and Apply click is sent to both processes at the same moment (two clicks, as
a double click or a Slack retry through a load balancer would). GitHub's deliveries about what a
click caused race the click: the ``pull_request`` closed (merged) delivery and the apply run's
``workflow_run`` requested delivery are sent to both processes the moment the fake GitHub has
merged or created the run, while the clicked process is still recording it. Then the apply run's
``workflow_run`` deliveries go to both processes (the same delivery id twice, and out of order).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from core.adapters.audit_log import ObjectAuditLog
from core.adapters.request_store import ObjectRequestStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.request import Request
from core.ports.clock import SystemClock
from tests.conftest import SHARED_FIXTURES
from tests.slack.harness import sign
from tests.web.backing import APPROVER, DEV, backing_services
from tests.web.conftest import API_TOKEN, DRIFT_SECRET, github_signature, load_fixture
from tests.web.fake_github import FakeGitHub
from tests.web.seed import seeded_request
from tests.web.served import Served, start_serve, stop_serve

pytestmark = pytest.mark.slow

REQUESTS = 4
TEAM = "T111"
CHANNEL = "C0CARDS01"
BUCKET = "tfpilot-two-processes"
WAIT = 30.0


def eventually(probe: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with backing_services(BUCKET, TFPILOT_WEBHOOK_SECRET=DRIFT_SECRET) as backing:
        servers: list[Served] = []
        try:
            with ThreadPoolExecutor(2) as pool:
                futures = []
                for name in ("a", "b"):
                    data = tmp_path / name
                    data.mkdir()
                    futures.append(
                        pool.submit(
                            start_serve,
                            {**backing.env, "TFPILOT_DATA_DIR": str(data)},
                            data / "serve.log",
                            "--no-reconciler",
                            "--log-level",
                            "warning",
                        )
                    )
                servers = [f.result() for f in futures]
            objects = S3ObjectStore(backing.s3, BUCKET)
            yield {
                "servers": servers,
                "github": backing.github,
                "slack": backing.slack,
                "store": ObjectRequestStore(objects, SystemClock()),
                "audit": ObjectAuditLog(objects, SystemClock()),
            }
        finally:
            for served in servers:
                stop_serve(served)


def seed(world: dict[str, Any], n: int) -> list[Request]:
    github: FakeGitHub = world["github"]
    store: ObjectRequestStore = world["store"]
    return [
        store.create(
            seeded_request(
                github,
                i,
                stage="plan_ready",
                requester=DEV,
                team=TEAM,
                channel=CHANNEL,
                number=100 + i,
                ts=f"1800000000.{i:06d}",
            )
        )
        for i in range(n)
    ]


_CLICK = json.loads((SHARED_FIXTURES / "slack" / "payloads" / "block_actions_button_click.json").read_text())["payload"]


def click_body(request: Request, action: str, version: int) -> str:
    payload = copy.deepcopy(_CLICK)
    assert request.slack is not None
    payload["user"] = {"id": APPROVER, "username": "abe", "name": "abe", "team_id": TEAM}
    payload["team"] = {"id": TEAM, "domain": "acme"}
    payload["container"] = {"type": "message", "message_ts": request.slack.ts, "channel_id": CHANNEL}
    payload["channel"] = {"id": CHANNEL, "name": "infra"}
    payload["message"] = {"ts": request.slack.ts, "text": "card", "blocks": []}
    payload["trigger_id"] = f"{uuid.uuid4().int % 10**9}.1.trigger"
    payload["actions"] = [
        {
            "type": "button",
            "action_id": f"req:{action}",
            "block_id": f"card:{request.id}",
            "text": {"type": "plain_text", "text": action},
            "value": json.dumps({"r": request.id, "v": version}, separators=(",", ":")),
            "action_ts": f"{time.time():.6f}",
        }
    ]
    return urlencode({"payload": json.dumps(payload)})


def post_click(http: httpx.Client, served: Served, body: str) -> int:
    headers = {"content-type": "application/x-www-form-urlencoded", **sign(body)}
    return http.post(f"{served.url}/slack/events", content=body, headers=headers).status_code


def run_delivery(run_doc: dict[str, Any], action: str) -> bytes:
    payload = load_fixture("octokit__workflow_run_completed.payload.json")
    payload["action"] = action
    payload["workflow_run"].update(run_doc)
    payload["workflow"]["path"] = run_doc["path"]
    payload["repository"] = {**payload["repository"], **run_doc["repository"]}
    return json.dumps(payload).encode()


def merged_pr_delivery(github: FakeGitHub, number: int) -> bytes | None:
    """GitHub's ``pull_request`` closed delivery for a merged PR, once the merge happened."""
    pr = github.pulls[number]
    if not pr.merged:
        return None
    payload = load_fixture("octokit__pull_request_closed.payload.json")
    payload["pull_request"] = {**payload["pull_request"], **github.pull_doc(pr)}
    payload["repository"] = {**payload["repository"], "full_name": f"{github.owner}/{github.repo}"}
    return json.dumps(payload).encode()


def requested_run_delivery(github: FakeGitHub, request_id: str, workflow: str) -> bytes | None:
    """GitHub's ``workflow_run`` requested delivery for a dispatched run, once it exists."""
    runs = github.runs_for(request_id, workflow)
    return run_delivery(github.run_doc(runs[0]), "requested") if runs else None


def post_delivery(http: httpx.Client, served: Served, body: bytes, delivery: str, event: str = "workflow_run") -> int:
    headers = {
        "content-type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(body),
    }
    return http.post(f"{served.url}/github/webhook", content=body, headers=headers).status_code


def metric_value(text: str, sample: str) -> float:
    """The value of one Prometheus sample line (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def both(pool: ThreadPoolExecutor, *calls: Callable[[], int]) -> list[int]:
    """Fire the calls at the same moment; their HTTP statuses."""
    start = threading.Barrier(len(calls))

    def go(call: Callable[[], int]) -> int:
        start.wait()
        return call()

    return [f.result() for f in [pool.submit(go, c) for c in calls]]


def test_two_processes_interleaved_clicks_and_webhooks(world: dict[str, Any]) -> None:
    a, b = world["servers"]
    github: FakeGitHub = world["github"]
    store: ObjectRequestStore = world["store"]
    requests = seed(world, REQUESTS)
    webhook_answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def lifecycle(request: Request, http: httpx.Client, pool: ThreadPoolExecutor) -> None:
        rid = request.id

        def click(action: str, done: Callable[[Request], bool]) -> None:
            version = store.get(rid).version
            statuses = both(
                pool,
                lambda: post_click(http, a, click_body(request, action, version)),
                lambda: post_click(http, b, click_body(request, action, version)),
            )
            assert statuses == [200, 200]
            eventually(lambda: done(store.get(rid)), f"{action} of {rid}")

        def click_racing_its_webhook(
            action: str, done: Callable[[Request], bool], github_side: Callable[[], bytes | None], event: str
        ) -> None:
            """The clicks to both processes, and GitHub's delivery of what the click caused, sent to
            both the moment GitHub has done it: while the clicked process is still recording it."""
            delivery = str(uuid.uuid4())

            def deliver_when_done() -> list[int]:
                deadline = time.monotonic() + WAIT
                while (body := github_side()) is None:
                    assert time.monotonic() < deadline, f"GitHub never saw the {action} of {rid}"
                    time.sleep(0.002)
                return both(
                    pool,
                    lambda: post_delivery(http, a, body, delivery, event),
                    lambda: post_delivery(http, b, body, delivery, event),
                )

            racing = pool.submit(deliver_when_done)
            click(action, lambda _r: True)
            pair = racing.result(WAIT)
            with lock:
                webhook_answers.append((pair[0], pair[1]))
            eventually(lambda: done(store.get(rid)), f"{action} of {rid}")

        click("approve", lambda r: bool(r.approval and r.approval.approved))
        number = request.pr_number
        assert number is not None
        click_racing_its_webhook(
            "merge",
            lambda r: bool(r.pr and r.pr.merged and r.merged_sha),
            lambda: merged_pr_delivery(github, number),
            "pull_request",
        )
        click_racing_its_webhook(
            "apply",
            lambda r: bool(r.apply_run and r.apply_run.run_id),
            lambda: requested_run_delivery(github, rid, "apply.yml"),
            "workflow_run",
        )
        run_id = store.get(rid).apply_run.run_id  # type: ignore[union-attr]
        # GitHub runs it: each delivery reaches both processes (same id), the last one out of order.
        started = run_delivery(github.run_doc(github.set_run(run_id, "in_progress")), "in_progress")
        finished = run_delivery(github.run_doc(github.set_run(run_id, "completed", "success")), "completed")
        d1, d2, d3 = (str(uuid.uuid4()) for _ in range(3))  # GitHub's delivery ids are GUIDs
        answers = [
            *both(pool, lambda: post_delivery(http, a, started, d1), lambda: post_delivery(http, b, started, d1)),
            *both(pool, lambda: post_delivery(http, b, finished, d2), lambda: post_delivery(http, a, finished, d2)),
        ]
        late = post_delivery(http, b, started, d3)  # a stale "in progress" arriving after completion
        with lock:
            webhook_answers.extend([(answers[0], answers[1]), (answers[2], answers[3])])
        assert late == 202
        eventually(lambda: store.get(rid).status == "applied", f"{rid} applied")

    # Per request at most: its flow, a racing webhook sender, two clicks and two deliveries.
    with httpx.Client(timeout=30) as http, ThreadPoolExecutor(6 * REQUESTS) as pool:
        flows = [pool.submit(lifecycle, r, http, pool) for r in requests]
        errors = [f.exception() for f in flows]
        if any(errors):
            logs = "\n".join(s.log.read_text()[-4000:] for s in (a, b))
            raise AssertionError(f"{[e for e in errors if e]}\n--- serve logs ---\n{logs}")

        # Let the lazy listeners and webhook workers that lost their races finish.
        time.sleep(1.0)
        for request in requests:
            stored = store.get(request.id)
            assert stored.status == "applied", stored.id
            events = [e.event for e in world["audit"].events(request.id)]
            assert events.count("approved") == 1, events
            assert events.count("merged") == 1, events
            assert events.count("apply_dispatched") == 1, events
            assert github.dispatches[("apply.yml", request.id)] == 1
            assert github.merges[request.pr_number] == 1  # type: ignore[index]
            assert github.comments[request.pr_number] == 1  # type: ignore[index]
            assert stored.apply_run is not None and stored.apply_run.conclusion == "success"
            assert stored.approval is not None and stored.approval.approvers == [APPROVER]
            ops = {(op.kind, op.completed_at is not None) for op in stored.operations}
            assert ops == {("approve", True), ("merge", True), ("apply", True)}
        # Each delivery sent to both processes was processed once: one 202, one duplicate 200.
        assert all(sorted(pair) == [200, 202] for pair in webhook_answers), webhook_answers
        assert len(webhook_answers) == 4 * REQUESTS
        assert sum(github.dispatches.values()) == REQUESTS
        assert github.unexpected == []
        # The list index (written by both processes) holds every request, from either process.
        for served in (a, b):
            listed = http.get(
                f"{served.url}/api/requests",
                params={"status": "applied"},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            ).json()
            assert sorted(row["id"] for row in listed["rows"]) == sorted(r.id for r in requests)
        # Each process's /metrics shows what it did, from the real GitHub client and Slack route.
        scraped = [
            http.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).text
            for served in (a, b)
        ]
        for text in scraped:
            assert f'tfpilot_requests{{status="applied"}} {float(REQUESTS)}' in text
            assert "tfpilot_github_rate_limit_remaining 4999.0" in text  # FakeGitHub's x-ratelimit-remaining
            assert 'tfpilot_slack_acks_total{mode="http",outcome="ok"}' in text
        webhooks = sum(
            metric_value(text, 'tfpilot_webhook_latency_seconds_count{event="workflow_run"}') for text in scraped
        )
        # requested, in progress, completed (each once, by one process) and the late stale "in progress"
        assert webhooks == 4 * REQUESTS
        assert sum(metric_value(text, 'tfpilot_github_calls_total{kind="write"}') for text in scraped) > 0
        # Every card was kept current in Slack.
        updated = {c.params.get("ts") for c in world["slack"].of("chat.update")}
        assert all(r.slack is not None and r.slack.ts in updated for r in requests)
