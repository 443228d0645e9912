"""GitHubCodeHost artifact listings: a run's artifacts are listed once and serve both the plan
(``tfplan-<id>``) and the cost (``infracost-<id>``); the per-run cache is bounded and expires,
an empty listing is not kept, and a long listing is paged. Through the contract checker."""

from __future__ import annotations

import io
import json
import zipfile

import respx

from core.adapters.github import artifacts
from core.adapters.github.code_host import GitHubCodeHost
from tests.github.conftest import REPO, FakeTime
from tests.github.openapi_contract import OpenApiChecker

RID = "req_abc123def456"
LISTING = "/repos/acme/infra/actions/runs/{run}/artifacts"
SIGNED = "https://results.blob.example.test/{id}.zip?sig=SIGNATURE"
PLAN = {"format_version": "1.2", "resource_changes": []}
COST = {"version": "0.2", "currency": "USD", "totalMonthlyCost": "12.5", "diffTotalMonthlyCost": "12.5"}


def zip_of(member: str, doc: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, json.dumps(doc))
    return buffer.getvalue()


def artifact(artifact_id: int, name: str) -> dict[str, object]:
    return {
        "id": artifact_id,
        "name": name,
        "size_in_bytes": 100,
        "expired": False,
        "created_at": "2026-11-26T09:05:00Z",
        "archive_download_url": f"https://api.github.com/repos/acme/infra/actions/artifacts/{artifact_id}/zip",
    }


def serve(github_api: respx.MockRouter, artifact_id: int, member: str, doc: dict[str, object]) -> None:
    url = SIGNED.format(id=artifact_id)
    github_api.get(f"/repos/acme/infra/actions/artifacts/{artifact_id}/zip").respond(302, headers={"location": url})
    github_api.get(url).respond(200, content=zip_of(member, doc))


def mock_run(github_api: respx.MockRouter, run: int = 88, *, cost: bool = True) -> respx.Route:
    items = [artifact(run * 10 + 1, f"tfplan-{RID}")]
    serve(github_api, run * 10 + 1, "plan.json", PLAN)
    if cost:
        items.append(artifact(run * 10 + 2, f"infracost-{RID}"))
        serve(github_api, run * 10 + 2, "infracost.json", COST)
    return github_api.get(LISTING.format(run=run)).respond(200, json={"total_count": len(items), "artifacts": items})


def test_plan_and_cost_come_from_one_listing(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    listing = mock_run(github_api)
    assert code_host.get_plan_json(REPO, 88, RID) == PLAN
    assert code_host.get_cost_json(REPO, 88, RID) == COST
    assert listing.call_count == 1
    assert openapi_checker.operation_ids() == [
        "actions/list-workflow-run-artifacts",
        "actions/download-artifact",
        "actions/download-artifact",
    ]


def test_no_cost_artifact_costs_no_second_listing(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    listing = mock_run(github_api, cost=False)
    assert code_host.get_plan_json(REPO, 88, RID) == PLAN
    assert code_host.get_cost_json(REPO, 88, RID) is None
    assert listing.call_count == 1


def test_each_run_has_its_own_listing(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    first, second = mock_run(github_api, 88), mock_run(github_api, 89)
    assert code_host.get_plan_json(REPO, 88, RID) == PLAN
    assert code_host.get_plan_json(REPO, 89, RID) == PLAN
    assert code_host.get_cost_json(REPO, 89, RID) == COST
    assert code_host.get_cost_json(REPO, 88, RID) == COST
    assert (first.call_count, second.call_count) == (1, 1)


def test_an_empty_listing_is_read_again(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get(LISTING.format(run=88)).respond(200, json={"total_count": 0, "artifacts": []})
    assert code_host.get_plan_json(REPO, 88, RID) is None
    listing = mock_run(github_api)  # the upload finished (respx updates the same route)
    assert code_host.get_plan_json(REPO, 88, RID) == PLAN
    assert code_host.get_cost_json(REPO, 88, RID) == COST
    assert listing.call_count == 2  # the empty answer was not kept; the full one is


def test_a_listing_expires(code_host: GitHubCodeHost, github_api: respx.MockRouter, fake_time: FakeTime) -> None:
    listing = mock_run(github_api)
    code_host.get_plan_json(REPO, 88, RID)
    fake_time.value += 601  # the default time limit is 10 minutes
    code_host.get_cost_json(REPO, 88, RID)
    assert listing.call_count == 2


def test_a_long_listing_is_paged(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    filler = [artifact(1000 + i, f"log-{i}") for i in range(100)]
    route = github_api.get(LISTING.format(run=88))
    route.side_effect = lambda request: respx.MockResponse(
        200,
        json={
            "total_count": 102,
            "artifacts": filler
            if request.url.params.get("page", "1") == "1"
            else [artifact(881, f"tfplan-{RID}"), artifact(882, f"infracost-{RID}")],
        },
    )
    serve(github_api, 881, "plan.json", PLAN)
    serve(github_api, 882, "infracost.json", COST)
    assert code_host.get_plan_json(REPO, 88, RID) == PLAN
    assert code_host.get_cost_json(REPO, 88, RID) == COST
    assert [dict(call.request.url.params) for call in route.calls] == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
    ]


def test_the_listing_cache_is_bounded_oldest_first() -> None:
    cache = artifacts.ListingCache(max_entries=2, ttl=60.0)
    for run in (1, 2, 3):
        cache.put("acme/infra", run, 0.0, [{"id": run}])
    assert len(cache) == 2
    assert cache.get("acme/infra", 1, 0.0) is None
    assert cache.get("acme/infra", 3, 0.0) == [{"id": 3}]
    assert cache.get("acme/infra", 3, 61.0) is None and len(cache) == 1
