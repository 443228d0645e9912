"""One request's GitHub side end to end through the contract checker, with its call budget,
and an idle re-sync that costs no rate limit thanks to ETags."""

from __future__ import annotations

import json

import httpx
import respx

from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from tests.github import payloads
from tests.github.conftest import REPO
from tests.github.openapi_contract import OpenApiChecker

RID = "req_abc123def456"
BRANCH = f"request/{RID}"
BASE = payloads.sha("b")
COMMIT = payloads.sha("c")
MERGED = payloads.sha("m")


def test_create_plan_approve_merge_apply_through_the_contract(
    code_host: GitHubCodeHost, client: GitHubClient, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    github_api.get("/repos/acme/infra/git/ref/heads/main").respond(200, json=payloads.ref("main", BASE))
    github_api.post("/repos/acme/infra/git/refs").respond(201, json=payloads.ref(BRANCH, BASE))
    put_file = github_api.put(f"/repos/acme/infra/contents/envs/dev/tfpilot_{RID}.tf").respond(
        201, json=payloads.file_commit(f"envs/dev/tfpilot_{RID}.tf", "# tf\n", COMMIT, payloads.sha("2"), [BASE])
    )
    github_api.post("/repos/acme/infra/pulls").respond(201, json=payloads.pull(7, head_sha=COMMIT, head=BRANCH))
    github_api.post("/repos/acme/infra/issues/7/labels").respond(200, json=[])
    for workflow, run_id in (("plan.yml", 100), ("apply.yml", 200)):
        github_api.post(f"/repos/acme/infra/actions/workflows/{workflow}/dispatches").respond(
            200,
            json={
                "workflow_run_id": run_id,
                "run_url": f"https://api.github.com/repos/acme/infra/actions/runs/{run_id}",
                "html_url": f"https://github.com/acme/infra/actions/runs/{run_id}",
            },
        )
    github_api.post("/repos/acme/infra/pulls/7/reviews").respond(
        200, json=payloads.review(1, login="approver", state="APPROVED", commit_id=COMMIT)
    )
    github_api.put("/repos/acme/infra/pulls/7/merge").respond(
        200, json={"sha": MERGED, "merged": True, "message": "ok"}
    )

    head = code_host.branch_head(REPO, "main")
    assert head == BASE
    code_host.create_branch(REPO, BRANCH, head)
    sha = code_host.commit_files(
        REPO, BRANCH, {f"envs/dev/tfpilot_{RID}.tf": "# tf\n"}, "tfpilot: create", parent_sha=head
    )
    pr = code_host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="b", labels=["tfpilot"])
    plan = code_host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": RID, "environment": "dev"})
    create_calls = client.stats.calls
    code_host.submit_review(REPO, pr.number, commit_sha=sha, body="approved")
    merged = code_host.merge_pull_request(REPO, pr.number, sha=sha, title="t (#7)")
    apply = code_host.dispatch_workflow(REPO, "apply.yml", ref="main", inputs={"request_id": RID, "environment": "dev"})

    assert (plan and plan.run_id, apply and apply.run_id, merged.sha) == (100, 200, MERGED)
    assert sha == COMMIT and "sha" not in json.loads(put_file.calls.last.request.content)
    # Create: base ref, branch, the file (one contents PUT), PR, labels, plan dispatch.
    assert create_calls == 6
    assert client.stats.calls == 9
    assert len(openapi_checker.calls) == 9
    assert all(call.source for call in openapi_checker.calls)


def test_idle_resync_costs_no_rate_limit(
    code_host: GitHubCodeHost, client: GitHubClient, github_api: respx.MockRouter
) -> None:
    def etagged(body: object, tag: str) -> list[httpx.Response]:
        return [httpx.Response(200, json=body, headers={"etag": tag})] + [
            httpx.Response(304, headers={"etag": tag}) for _ in range(10)
        ]

    github_api.get("/repos/acme/infra/pulls/7").mock(side_effect=etagged(payloads.pull(7, head_sha=COMMIT), '"p"'))
    github_api.get("/repos/acme/infra/pulls/7/reviews").mock(side_effect=etagged([], '"r"'))
    github_api.get("/repos/acme/infra/actions/runs/100").mock(
        side_effect=etagged(payloads.run(100, title=f"plan {RID}"), '"w"')
    )

    def resync() -> tuple[object, ...]:
        return (code_host.get_pull_request(REPO, 7), code_host.list_reviews(REPO, 7), code_host.get_run(REPO, 100))

    first = resync()
    cost_after_first = client.stats.rate_limit_cost
    for _ in range(10):
        assert resync() == first
    assert cost_after_first == 3
    assert client.stats.calls == 33
    assert client.stats.not_modified == 30
    assert client.stats.rate_limit_cost == 3
