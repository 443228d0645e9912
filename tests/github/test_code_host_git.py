"""GitHubCodeHost branches and commits through the git data API (deletions and several files;
one written file goes through the contents API, see test_code_host_contents): fast-forward
only, idempotent retries."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from core.adapters.github.code_host import GitHubCodeHost
from core.ports.code_host import CodeHostError
from tests.github import payloads
from tests.github.conftest import REPO
from tests.github.openapi_contract import OpenApiChecker

BRANCH = "request/req_abc123def456"
BASE = payloads.sha("b")
BASE_TREE = payloads.sha("1")
NEW_TREE = payloads.sha("2")
NEW_COMMIT = payloads.sha("c")
# A write and a removal: the git data API path (one file with content uses the contents API).
FILES = {"envs/dev/tfpilot_req_abc123def456.tf": 'resource "x" "y" {}\n', "envs/dev/old.tf": None}


def test_branch_head_found_and_missing(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get("/repos/acme/infra/git/ref/heads/main").respond(200, json=payloads.ref("main", BASE))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(404, json={"message": "Not Found"})
    assert code_host.branch_head(REPO, "main") == BASE
    assert code_host.branch_head(REPO, BRANCH) is None


def test_branch_head_other_errors_propagate(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get("/repos/acme/infra/git/ref/heads/main").respond(409, json={"message": "Git Repository is empty."})
    with pytest.raises(CodeHostError, match="Git Repository is empty") as caught:
        code_host.branch_head(REPO, "main")
    assert caught.value.status == 409


def test_create_branch(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    route = github_api.post("/repos/acme/infra/git/refs").respond(201, json=payloads.ref(BRANCH, BASE))
    assert code_host.create_branch(REPO, BRANCH, BASE) == BASE
    assert json.loads(route.calls.last.request.content) == {"ref": f"refs/heads/{BRANCH}", "sha": BASE}
    assert openapi_checker.operation_ids() == ["git/create-ref"]


def test_create_branch_that_exists_returns_its_head_unchanged(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.post("/repos/acme/infra/git/refs").respond(
        422, json={"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest"}
    )
    existing = payloads.sha("e")
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, existing))
    assert code_host.create_branch(REPO, BRANCH, BASE) == existing


def test_create_branch_other_422_is_an_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.post("/repos/acme/infra/git/refs").respond(422, json={"message": "Object does not exist"})
    with pytest.raises(CodeHostError, match="Object does not exist"):
        code_host.create_branch(REPO, BRANCH, BASE)


@pytest.mark.parametrize("name", ["", "a..b", "a b", "-x", "x/", "refs/heads/x", "a~1", "x.lock", "a//b"])
def test_unsafe_branch_names_are_refused_before_any_call(code_host: GitHubCodeHost, name: str) -> None:
    with pytest.raises(CodeHostError, match="invalid branch name"):
        code_host.create_branch(REPO, name, BASE)


def mock_commit_flow(github_api: respx.MockRouter) -> dict[str, respx.Route]:
    return {
        "get_commit": github_api.get(f"/repos/acme/infra/git/commits/{BASE}").respond(
            200, json=payloads.commit(BASE, BASE_TREE, [payloads.sha("0")])
        ),
        "tree": github_api.post("/repos/acme/infra/git/trees").respond(201, json=payloads.tree(NEW_TREE)),
        "commit": github_api.post("/repos/acme/infra/git/commits").respond(
            201, json=payloads.commit(NEW_COMMIT, NEW_TREE, [BASE])
        ),
        "update_ref": github_api.patch(f"/repos/acme/infra/git/refs/heads/{BRANCH}").respond(
            200, json=payloads.ref(BRANCH, NEW_COMMIT)
        ),
    }


def test_commit_files_writes_one_commit_through_the_git_data_api(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    routes = mock_commit_flow(github_api)
    assert code_host.commit_files(REPO, BRANCH, FILES, "tfpilot: create", parent_sha=BASE) == NEW_COMMIT
    tree_body = json.loads(routes["tree"].calls.last.request.content)
    assert tree_body == {
        "base_tree": BASE_TREE,
        "tree": [
            {"path": "envs/dev/old.tf", "mode": "100644", "type": "blob", "sha": None},
            {
                "path": "envs/dev/tfpilot_req_abc123def456.tf",
                "mode": "100644",
                "type": "blob",
                "content": 'resource "x" "y" {}\n',
            },
        ],
    }
    assert json.loads(routes["commit"].calls.last.request.content) == {
        "message": "tfpilot: create",
        "tree": NEW_TREE,
        "parents": [BASE],
    }
    assert json.loads(routes["update_ref"].calls.last.request.content) == {"sha": NEW_COMMIT, "force": False}
    assert openapi_checker.operation_ids() == [
        "git/get-commit",
        "git/create-tree",
        "git/create-commit",
        "git/update-ref",
    ]


def test_a_second_commit_on_our_own_commit_skips_reading_it(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    routes = mock_commit_flow(github_api)
    code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE)
    second = payloads.sha("d")
    routes["commit"].respond(201, json=payloads.commit(second, payloads.sha("3"), [NEW_COMMIT]))
    routes["update_ref"].respond(200, json=payloads.ref(BRANCH, second))
    assert code_host.commit_files(REPO, BRANCH, FILES, "update", parent_sha=NEW_COMMIT) == second
    assert routes["get_commit"].call_count == 1
    assert json.loads(routes["tree"].calls.last.request.content)["base_tree"] == NEW_TREE


def test_commit_retry_after_it_landed_returns_the_landed_commit(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    """A crash after the ref moved: the retry builds the same tree on the same parent, the
    ref update is not a fast-forward, and the head is recognised as this very commit."""
    routes = mock_commit_flow(github_api)
    landed = payloads.sha("f")
    routes["commit"].respond(201, json=payloads.commit(payloads.sha("9"), NEW_TREE, [BASE]))
    routes["update_ref"].respond(422, json={"message": "Update is not a fast forward"})
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [BASE])
    )
    assert code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE) == landed


def test_commit_on_a_branch_that_moved_is_a_409(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    routes = mock_commit_flow(github_api)
    other = payloads.sha("7")
    routes["update_ref"].respond(422, json={"message": "Update is not a fast forward"})
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, other))
    github_api.get(f"/repos/acme/infra/git/commits/{other}").respond(
        200, json=payloads.commit(other, payloads.sha("8"), [BASE])
    )
    with pytest.raises(CodeHostError, match="branch request/req_abc123def456 moved") as caught:
        code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE)
    assert caught.value.status == 409


def test_commit_on_a_missing_branch_is_a_404(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    routes = mock_commit_flow(github_api)
    routes["update_ref"].respond(422, json={"message": "Reference does not exist"})
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(404, json={"message": "Not Found"})
    with pytest.raises(CodeHostError, match="does not exist") as caught:
        code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE)
    assert caught.value.status == 404


def test_commit_with_unknown_parent_is_a_404(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get(f"/repos/acme/infra/git/commits/{BASE}").respond(404, json={"message": "Not Found"})
    with pytest.raises(CodeHostError, match="not found in acme/infra") as caught:
        code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE)
    assert caught.value.status == 404


def test_commit_retries_a_flaky_tree_call(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    routes = mock_commit_flow(github_api)
    routes["tree"].mock(side_effect=[httpx.Response(502), httpx.Response(201, json=payloads.tree(NEW_TREE))])
    assert code_host.commit_files(REPO, BRANCH, FILES, "create", parent_sha=BASE) == NEW_COMMIT
    assert routes["tree"].call_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.tf", "a//b.tf", ".git/config", "envs/./x.tf", ""])
def test_unsafe_file_paths_are_refused(code_host: GitHubCodeHost, path: str) -> None:
    with pytest.raises(CodeHostError, match="invalid file path"):
        code_host.commit_files(REPO, BRANCH, {path: "x"}, "m", parent_sha=BASE)


def test_empty_commit_is_refused(code_host: GitHubCodeHost) -> None:
    with pytest.raises(CodeHostError, match="at least one file"):
        code_host.commit_files(REPO, BRANCH, {}, "m", parent_sha=BASE)
