"""The contract checker itself: it knows our operations and rejects what GitHub would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.github.conftest import API_URL, TOKEN
from tests.github.openapi_contract import (
    SUPPLEMENT_SOURCE,
    SUPPLEMENTARY_OPERATIONS,
    ContractViolation,
    OpenApiChecker,
    OpenApiSpec,
)

ADAPTERS = Path(__file__).resolve().parents[2] / "core" / "adapters" / "github"

HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "test",
    "Authorization": f"Bearer {TOKEN}",
}


def request(method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> httpx.Request:
    hdrs = dict(HEADERS if headers is None else headers)
    content = None
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    return httpx.Request(method, API_URL + path, headers=hdrs, content=content)


@pytest.fixture
def checker(openapi_spec: OpenApiSpec) -> OpenApiChecker:
    # Not the recording fixture: these tests provoke violations on purpose.
    return OpenApiChecker(openapi_spec, API_URL)


def test_spec_holds_every_selected_operation_and_the_supplement(openapi_spec: OpenApiSpec) -> None:
    ids = {op.operation_id for op in openapi_spec.operations}
    assert {
        "git/create-ref",
        "git/get-ref",
        "git/update-ref",
        "git/create-tree",
        "git/create-commit",
        "pulls/create",
        "pulls/merge",
        "pulls/update-branch",
        "pulls/merge-async",
        "actions/create-workflow-dispatch",
        "actions/download-artifact",
        "apps/create-installation-access-token",
    } <= ids
    supplement = {op.operation_id for op in openapi_spec.operations if op.source == SUPPLEMENT_SOURCE}
    assert supplement == {
        "git/get-commit",
        "issues/add-labels",
        "apps/get-repo-installation",
        "repos/get-branch-protection",
        "repos/get-branch-rules",
        "repos/get-repo-ruleset",
        "repos/get",
        "repos/list-webhooks",
    }


def test_the_supplement_is_minimal(openapi_spec: OpenApiSpec) -> None:
    """Every supplementary operation is still called by an adapter, and none is one the
    selected-ops fixture already has (then the fixture's own description wins)."""
    source = "\n".join(p.read_text() for p in sorted(ADAPTERS.glob("*.py")))
    fixture = {(op.method, op.path) for op in openapi_spec.operations if op.source != SUPPLEMENT_SOURCE}
    for op in SUPPLEMENTARY_OPERATIONS:
        assert f'"{op["path"]}"' in source, f"{op['operationId']} is no longer called: drop it"
        assert (op["method"], op["path"]) not in fixture, f"{op['operationId']} is in the fixture: drop it"


def test_contents_operations_come_from_the_fixture(openapi_spec: OpenApiSpec) -> None:
    by_id = {op.operation_id: op for op in openapi_spec.operations}
    put = by_id["repos/create-or-update-file-contents"]
    assert put.source != SUPPLEMENT_SOURCE and put.multi_segment == {"path"}
    assert {"message", "content", "sha", "branch", "committer", "author"} == put.body_properties
    assert by_id["repos/get-content"].query_params == {"ref"}


def test_accepts_a_conforming_dispatch_with_return_run_details(checker: OpenApiChecker) -> None:
    call = checker.check(
        request(
            "POST",
            "/repos/acme/infra/actions/workflows/plan.yml/dispatches",
            {"ref": "main", "inputs": {"request_id": "req_abc123def456"}, "return_run_details": True},
        )
    )
    assert call is not None
    assert call.operation_id == "actions/create-workflow-dispatch"
    assert checker.operation_ids() == ["actions/create-workflow-dispatch"]


def test_multi_segment_ref_matches_get_ref(checker: OpenApiChecker) -> None:
    call = checker.check(request("GET", "/repos/acme/infra/git/ref/heads/request/req_abc123def456"))
    assert call is not None and call.operation_id == "git/get-ref"


def test_more_specific_template_wins(checker: OpenApiChecker) -> None:
    call = checker.check(request("PUT", "/repos/acme/infra/pulls/7/merge", {"merge_method": "squash"}))
    assert call is not None and call.operation_id == "pulls/merge"


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (request("GET", "/repos/acme/infra/git/refs"), "matches no operation"),
        (request("POST", "/repos/acme/infra/git/blobs", {"content": "x"}), "matches no operation"),
        (request("POST", "/repos/acme/infra/git/refs", {"ref": "refs/heads/x"}), "'sha' is a required property"),
        (request("POST", "/repos/acme/infra/git/refs"), "body is required"),
        (request("PUT", "/repos/acme/infra/pulls/7/merge", {"merge_method": "fast"}), "is not one of"),
        (request("PUT", "/repos/acme/infra/pulls/x/merge", {}), "must be an integer"),
        (request("POST", "/repos/acme/infra/pulls", {"head": "a", "base": "b", "labels": ["x"]}), "unknown body"),
        (request("GET", "/repos/acme/infra/pulls?status=open"), "unknown query parameter"),
        (request("GET", "/repos/acme/infra/pulls?state=merged"), "not in"),
        (request("GET", "/repos/acme/infra/actions/artifacts/5/tar"), "must be one of"),
        (request("GET", "/repos/acme/infra/git/ref/heads/main", headers={**HEADERS, "Accept": "*/*"}), "accept"),
        (
            request(
                "GET",
                "/repos/acme/infra/git/ref/heads/main",
                headers={k: v for k, v in HEADERS.items() if k != "X-GitHub-Api-Version"},
            ),
            "x-github-api-version",
        ),
        (request("GET", "/repos/acme/infra/installation"), "App JWT"),
        (
            request(
                "POST",
                "/repos/acme/infra/actions/workflows/plan.yml/dispatches",
                {"ref": "main", "inputs": {f"k{i}": "v" for i in range(26)}},
            ),
            "too many properties",
        ),
    ],
)
def test_rejects_what_github_would(checker: OpenApiChecker, req: httpx.Request, reason: str) -> None:
    with pytest.raises(ContractViolation, match=reason):
        checker.check(req)
    assert checker.violations
    with pytest.raises(ContractViolation):
        checker.assert_clean()


def test_tree_deletions_are_null_shas(checker: OpenApiChecker) -> None:
    body = {"base_tree": "t" * 40, "tree": [{"path": "a.tf", "mode": "100644", "type": "blob", "sha": None}]}
    call = checker.check(request("POST", "/repos/acme/infra/git/trees", body))
    assert call is not None and call.body == body


def test_enterprise_base_path_is_stripped_and_other_hosts_are_external(openapi_spec: OpenApiSpec) -> None:
    checker = OpenApiChecker(openapi_spec, "https://ghe.example.test/api/v3")
    req = httpx.Request("GET", "https://ghe.example.test/api/v3/repos/acme/infra/pulls/3", headers=HEADERS)
    call = checker.check(req)
    assert call is not None and call.operation_id == "pulls/get"
    with pytest.raises(ContractViolation, match="outside the API base path"):
        checker.check(httpx.Request("GET", "https://ghe.example.test/repos/acme/infra/pulls/3", headers=HEADERS))
    assert checker.check(httpx.Request("GET", "https://blob.example.test/artifact.zip?sig=x")) is None
    assert checker.external == ["blob.example.test"]
