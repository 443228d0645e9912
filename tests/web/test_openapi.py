"""``/openapi.json`` documents every route with typed bodies, and a schemathesis run through the
ASGI app (a valid bearer token and drift secret) finds no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from bot.web.executor import InlineExecutor
from tests.services.helpers import applied, planned
from tests.web.conftest import API_TOKEN, DRIFT_SECRET, Web, make_web

# Routes whose success is not JSON (redirects, HTML pages, Prometheus text, Bolt's answers).
NON_JSON = {
    ("GET", "/github/link/start"),
    ("GET", "/github/link/callback"),
    ("GET", "/slack/install"),
    ("GET", "/slack/oauth_redirect"),
    ("GET", "/metrics"),
    ("POST", "/slack/events"),
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    w = make_web()
    try:
        response = w.client.get("/openapi.json")
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]
    finally:
        w.client.close()


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the routers of ``create_web_app`` declare."""
    from bot.web import api, drift, github_webhook, health, linking, metrics, slack_events, slack_oauth

    out = []
    for module in (health, github_webhook, drift, api, linking, slack_events, slack_oauth, metrics):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                out.extend((method, route.path) for method in sorted(route.methods))
    return sorted(out)


def test_every_route_is_in_the_spec(spec: dict[str, Any]) -> None:
    routes = _routes()
    expected = {
        ("GET", "/api/health"),
        ("GET", "/api/ready"),
        ("GET", "/api/requests"),
        ("GET", "/api/requests/{request_id}"),
        ("GET", "/api/requests/{request_id}/audit"),
        ("GET", "/api/requests/drift-eligible"),
        ("POST", "/api/requests/{request_id}/drift-result"),
        ("GET", "/api/metrics/insights"),
        ("POST", "/github/webhook"),
        ("GET", "/github/link/start"),
        ("GET", "/github/link/callback"),
        ("POST", "/github/link/unlink"),
        ("POST", "/slack/events"),
        ("GET", "/slack/install"),
        ("GET", "/slack/oauth_redirect"),
        ("GET", "/metrics"),
    }
    assert set(routes) == expected
    for method, path in routes:
        assert method.lower() in spec["paths"][path], f"{method} {path} missing from /openapi.json"


def test_every_json_answer_and_body_is_typed(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if (method.upper(), path) in NON_JSON:
                continue
            successes = {code: r for code, r in op["responses"].items() if code.startswith("2") and code != "204"}
            assert successes, f"{method} {path} documents no success"
            for code, response in successes.items():
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema or schema.get("type"), f"{method} {path} {code} is untyped"
            body = op.get("requestBody")
            if body is not None:
                schema = body["content"]["application/json"]["schema"]
                assert "$ref" in schema or schema.get("type") == "object"
    drift_body = spec["paths"]["/api/requests/{request_id}/drift-result"]["post"]["requestBody"]
    assert drift_body["content"]["application/json"]["schema"]["$ref"].endswith("/DriftReport")
    report = spec["components"]["schemas"]["DriftReport"]
    assert set(report["properties"]) == {"detected", "summary", "counts", "run_url", "checked_at"}


def test_the_webhook_body_names_the_deliveries_it_reads(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/github/webhook"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = [branch["$ref"].rsplit("/", 1)[-1] for branch in body["anyOf"] if "$ref" in branch]
    assert refs == ["WorkflowRunDelivery", "PullRequestDelivery", "PullRequestReviewDelivery"]
    schemas = spec["components"]["schemas"]
    run = schemas["WorkflowRunPart"]
    assert {"id", "status", "conclusion", "head_sha", "path", "display_title"} <= set(run["properties"])
    assert schemas["PullRequestPart"]["properties"]["state"]["enum"] == ["open", "closed"]
    assert set(schemas["PullRequestReviewDelivery"]["required"]) == {"action", "review", "pull_request"}
    dangling = {ref.rsplit("/", 1)[-1] for ref in _refs(spec) if ref.startswith("#/components/schemas/")} - set(schemas)
    assert dangling == set()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_auth_is_declared(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiToken"] == {"type": "http", "description": "TFPILOT_API_TOKEN", "scheme": "bearer"}
    assert schemes["DriftSecret"]["in"] == "header" and schemes["DriftSecret"]["name"] == "x-tfpilot-secret"
    paths = spec["paths"]
    assert paths["/api/requests"]["get"]["security"] == [{"ApiToken": []}]
    assert paths["/api/requests/drift-eligible"]["get"]["security"] == [{"DriftSecret": []}]
    assert "security" not in paths["/api/health"]["get"]
    assert "security" not in paths["/api/ready"]["get"]


# --- property-based: no 5xx ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_web() -> Iterator[Web]:
    w = make_web()
    w.ctx.executor.shutdown()
    from bot.web.executor import BoundedExecutor

    w.ctx.executor = BoundedExecutor(InlineExecutor())
    # Some data to find: an applied request (drift-eligible), a planned one, a linked identity.
    applied(w.world)
    planned(w.world, config={"name": "second"})
    yield w
    w.client.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_web: Web) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_web.app)


AUTH = {"Authorization": f"Bearer {API_TOKEN}", "x-tfpilot-secret": DRIFT_SECRET}


# One test per operation, named like schemathesis' own; the examples are driven with hypothesis
# directly (schemathesis' pytest plugin does not load with this pytest).
@pytest.mark.parametrize(("method", "path"), _routes(), ids=[f"{m} {p}" for m, p in _routes()])
def test_no_server_errors(api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    statuses: list[int] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: Any) -> None:
        headers = {**(case.headers or {}), **AUTH}
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        statuses.append(response.status_code)

    run()
    assert statuses, "no example ran"
    assert max(statuses) < 500
    if path.startswith("/api/") or path in ("/metrics", "/github/link/unlink"):
        assert set(statuses) != {401}, "the token or secret never got through"
