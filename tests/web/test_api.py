"""The read API: bearer auth, filters, pagination, one request, audit export, insights cache, health,
readiness and Prometheus metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from bot.web.metrics import SLACK_ACKS, record_slack_ack
from core.domain.request import Requester
from core.ports.chat_log import ChatEntry
from tests.services.conftest import create_cmd
from tests.services.helpers import applied, planned
from tests.web.conftest import GITHUB_API, Web, make_web

PROTECTED = [
    ("GET", "/api/requests"),
    ("GET", "/api/requests/req_000000000000"),
    ("GET", "/api/requests/req_000000000000/audit"),
    ("GET", "/api/metrics/insights"),
    ("GET", "/metrics"),
    ("POST", "/github/link/unlink"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "Bearer"}],
)
def test_bearer_token_is_required(web: Web, method: str, path: str, headers: dict[str, str]) -> None:
    response = web.client.request(method, path, headers=headers, json={"user_id": "U1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_configured_means_closed(method: str, path: str) -> None:
    w = make_web()
    w.deps.settings.api_token = None
    response = w.client.request(method, path, headers=w.auth(), json={"user_id": "U1"})
    assert response.status_code == 401
    assert "TFPILOT_API_TOKEN" in response.json()["detail"]


def test_health_and_ready_need_no_token(web: Web) -> None:
    assert web.client.get("/api/health").json() == {"status": "ok"}
    ready = web.client.get("/api/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert [c["name"] for c in ready.json()["checks"]] == ["store"]


def test_list_filters_and_pages(web: Web) -> None:
    world = web.world
    a = planned(world, config={"name": "alpha"})
    world.clock.advance(minutes=1)
    b = applied(world, config={"name": "bravo"})
    world.clock.advance(minutes=1)
    c = world.requests.create(
        create_cmd(config={"name": "charlie"}, requester=Requester(id="U_APP", email="abe@example.com"))
    )
    auth = web.auth()
    everything = web.client.get("/api/requests", headers=auth).json()
    assert [r["id"] for r in everything["rows"]] == [c.id, b.id, a.id]
    assert everything["cursor"] is None
    by_status = web.client.get("/api/requests", params={"status": "applied,plan_ready"}, headers=auth).json()
    assert {r["id"] for r in by_status["rows"]} == {a.id, b.id}
    mine = web.client.get("/api/requests", params={"requester": "abe@example.com"}, headers=auth).json()
    assert [r["id"] for r in mine["rows"]] == [c.id]
    since = (world.get(b.id).received_at).isoformat()
    recent = web.client.get("/api/requests", params={"since": since}, headers=auth).json()
    assert {r["id"] for r in recent["rows"]} == {b.id, c.id}
    until = web.client.get("/api/requests", params={"until": since}, headers=auth).json()
    assert [r["id"] for r in until["rows"]] == [a.id]
    assert web.client.get("/api/requests", params={"environment": "prod"}, headers=auth).json()["rows"] == []
    first = web.client.get("/api/requests", params={"limit": 2}, headers=auth).json()
    assert len(first["rows"]) == 2 and first["cursor"]
    rest = web.client.get("/api/requests", params={"limit": 2, "cursor": first["cursor"]}, headers=auth).json()
    assert [r["id"] for r in rest["rows"]] == [a.id]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"status": "bogus"}, 400),
        ({"since": "2026-01-01T00:00:00"}, 400),
        ({"cursor": "not-a-cursor"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 1000}, 422),
        ({"project": "a b"}, 422),
        ({"since": "yesterday"}, 422),
    ],
)
def test_list_refuses_bad_parameters(web: Web, params: dict[str, Any], status: int) -> None:
    response = web.client.get("/api/requests", params=params, headers=web.auth())
    assert response.status_code == status
    assert response.json()["detail"]


def test_one_request_and_its_audit_export(web: Web) -> None:
    world = web.world
    request = applied(world)
    session = "C123:1700000000.000100"

    def tag(r: Any) -> Any:
        r.chat_session_id = session
        return r

    world.store.update(request.id, tag)
    world.chat_log.append(
        ChatEntry(session_id=session, role="user", text="a bucket for logs please", timestamp=world.clock.now())
    )
    got = web.client.get(f"/api/requests/{request.id}", headers=web.auth())
    assert got.status_code == 200
    doc = got.json()
    assert doc["id"] == request.id
    assert doc["status"] == "applied"
    assert doc["pr"]["number"] == world.get(request.id).pr.number  # type: ignore[union-attr]
    audit = web.client.get(f"/api/requests/{request.id}/audit", headers=web.auth()).json()
    assert audit["request_id"] == request.id
    assert audit["status"] == "applied"
    assert [e["event"] for e in audit["events"]] == world.events(request.id)
    assert {link["kind"] for link in audit["links"]} >= {"pull_request", "plan_run", "apply_run"}
    assert audit["chat_session_id"] == session
    assert [turn["text"] for turn in audit["chat"]] == ["a bucket for logs please"]


def test_unknown_and_malformed_ids(web: Web) -> None:
    assert web.client.get("/api/requests/req_000000000000", headers=web.auth()).status_code == 404
    assert web.client.get("/api/requests/req_000000000000/audit", headers=web.auth()).status_code == 404
    assert web.client.get("/api/requests/..%2F..%2Fsecrets", headers=web.auth()).status_code in (404, 422)
    assert web.client.get("/api/requests/REQ_X", headers=web.auth()).status_code == 422


def test_insights_are_cached_per_process(web: Web) -> None:
    world = web.world
    applied(world)
    first = web.client.get("/api/metrics/insights", headers=web.auth())
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == 1
    assert body["statusCounts"]["applied"] == 1
    world.requests.create(create_cmd(config={"name": "later"}))
    assert web.client.get("/api/metrics/insights", headers=web.auth()).json() == body  # cached
    web.ctx.insights_cache.clear()  # as 60 s passing would
    assert web.client.get("/api/metrics/insights", headers=web.auth()).json() != body


def test_ready_names_a_failing_store() -> None:
    w = make_web()

    class Broken:
        def get(self, key: str) -> None:
            raise OSError("disk gone")

    w.deps.objects = Broken()  # type: ignore[assignment]
    response = w.client.get("/api/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["store"]


@respx.mock
def test_ready_checks_github_when_configured() -> None:
    w = make_web(GITHUB_TOKEN="test-token")
    route = respx.get(f"{GITHUB_API}/rate_limit").mock(return_value=httpx.Response(200, json={"resources": {}}))
    ok = w.client.get("/api/ready")
    assert ok.status_code == 200
    assert [c["name"] for c in ok.json()["checks"]] == ["store", "github"]
    assert route.calls.last.request.headers.get("authorization") is None  # no token spent on a probe
    w.ctx.ready_cache.clear()
    route.mock(side_effect=httpx.ConnectError("refused"))
    down = w.client.get("/api/ready")
    assert down.status_code == 503
    assert down.json()["failing"] == ["github"]
    w.ctx.ready_cache.clear()
    route.mock(return_value=httpx.Response(502))
    assert w.client.get("/api/ready").json()["failing"] == ["github"]


def test_prometheus_metrics(web: Web) -> None:
    world = web.world
    applied(world)
    planned(world, config={"name": "two"})
    SLACK_ACKS.reset()
    record_slack_ack("socket")
    record_slack_ack("socket")
    response = web.client.get("/metrics", headers=web.auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'tfpilot_requests{status="applied"} 1.0' in text
    assert 'tfpilot_requests{status="plan_ready"} 1.0' in text
    assert 'tfpilot_requests{status="destroyed"} 0.0' in text
    assert 'tfpilot_slack_acks_total{mode="socket",outcome="ok"} 2.0' in text
    assert "tfpilot_webhook_latency_seconds" in text
    assert "tfpilot_github_calls_total" not in text  # the fake code host has no GitHub client


def test_metrics_show_github_stats_when_present(web: Web) -> None:
    from core.adapters.github.client import CallStats

    stats = CallStats(reads=7, writes=2, not_modified=3, last_rate_limit_remaining=4321)

    class Client:
        pass

    client = Client()
    client.stats = stats  # type: ignore[attr-defined]
    web.world.host.client = client  # type: ignore[attr-defined]
    text = web.client.get("/metrics", headers=web.auth()).text
    assert 'tfpilot_github_calls_total{kind="read"} 7.0' in text
    assert 'tfpilot_github_calls_total{kind="not_modified"} 3.0' in text
    assert "tfpilot_github_rate_limit_remaining 4321.0" in text


def test_metrics_of_two_apps_do_not_collide() -> None:
    a, b = make_web(), make_web()
    applied(a.world)
    assert 'tfpilot_requests{status="applied"} 1.0' in a.client.get("/metrics", headers=a.auth()).text
    assert 'tfpilot_requests{status="applied"} 0.0' in b.client.get("/metrics", headers=b.auth()).text


def test_request_ids_are_echoed(web: Web) -> None:
    response = web.client.get("/api/health", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = web.client.get("/api/health", headers={"X-Request-Id": "bad id with spaces"})
    assert generated.headers["x-request-id"].startswith("http-")


def test_since_window_is_inclusive(web: Web) -> None:
    world = web.world
    request = planned(world)
    at = world.get(request.id).received_at
    rows = web.client.get("/api/requests", params={"since": at.isoformat()}, headers=web.auth()).json()["rows"]
    assert [r["id"] for r in rows] == [request.id]
    later = (at + timedelta(seconds=1)).isoformat()
    assert web.client.get("/api/requests", params={"since": later}, headers=web.auth()).json()["rows"] == []


def test_the_bolt_ack_counter_counts_socket_mode_envelopes() -> None:
    from bot.web.metrics import bolt_ack_counter

    SLACK_ACKS.reset()
    assert bolt_ack_counter(lambda: "handled") == "handled"
    with pytest.raises(RuntimeError):
        bolt_ack_counter(lambda: (_ for _ in ()).throw(RuntimeError("listener failed")))
    assert dict(SLACK_ACKS.items()) == {("socket", "ok"): 2}


def test_an_unlink_body_over_one_mib_is_413(web: Web) -> None:
    body = {"team_id": "T1", "user_id": "U1", "pad": "x" * (1024 * 1024)}
    assert web.client.post("/github/link/unlink", json=body, headers=web.auth()).status_code == 413
    assert web.client.post("/github/link/unlink", json=body).status_code == 413
