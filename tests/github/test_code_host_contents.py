"""GitHubCodeHost single-file commits through the contents API: one PUT to create, the blob sha
as the guard when replacing, a landed earlier attempt recognised, conflicts as clear errors.
Every request goes through the OpenAPI contract checker."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
import respx

from core.adapters.github.code_host import GitHubCodeHost
from core.ports.code_host import CodeHostError
from tests.github import payloads
from tests.github.conftest import REPO
from tests.github.openapi_contract import SUPPLEMENT_SOURCE, OpenApiChecker

BRANCH = "request/req_abc123def456"
PATH = "envs/dev/tfpilot_req_abc123def456.tf"
TEXT = 'resource "x" "y" {}\n'
OLD_TEXT = 'resource "x" "old" {}\n'
BASE = payloads.sha("b")
NEW_COMMIT = payloads.sha("c")
NEW_TREE = payloads.sha("2")
CONTENTS = f"/repos/acme/infra/contents/{PATH}"
PUT_OP = "repos/create-or-update-file-contents"
SHA_MISSING = {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.', "status": "422"}


def created(commit_sha: str = NEW_COMMIT, parents: list[str] | None = None, text: str = TEXT) -> httpx.Response:
    return httpx.Response(201, json=payloads.file_commit(PATH, text, commit_sha, NEW_TREE, parents or [BASE]))


def body_of(route: respx.Route, index: int = -1) -> dict[str, object]:
    body: dict[str, object] = json.loads(route.calls[index].request.content)
    return body


def test_one_file_is_one_put_without_sha(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    put = github_api.put(CONTENTS).mock(return_value=created())
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "tfpilot: create", parent_sha=BASE) == NEW_COMMIT
    assert body_of(put) == {
        "message": "tfpilot: create",
        "content": base64.b64encode(TEXT.encode()).decode(),
        "branch": BRANCH,
    }
    assert openapi_checker.operation_ids() == [PUT_OP]
    assert openapi_checker.calls[0].source != SUPPLEMENT_SOURCE  # in the selected-ops fixture


def test_the_checker_sees_the_path_as_one_multi_segment_parameter(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    github_api.put(CONTENTS).mock(return_value=created())
    code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert openapi_checker.calls[0].path == "/repos/{owner}/{repo}/contents/{path}"


def test_a_commit_on_a_moved_branch_is_kept_with_a_warning_naming_both(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    moved = payloads.sha("7")
    github_api.put(CONTENTS).mock(return_value=created(parents=[moved]))
    with caplog.at_level(logging.WARNING, logger="tfpilot.github"):
        assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == NEW_COMMIT
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert moved[:12] in warnings[0] and BASE[:12] in warnings[0] and NEW_COMMIT[:12] in warnings[0]


def test_no_warning_when_the_parent_is_the_expected_one(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    github_api.put(CONTENTS).mock(return_value=created())
    with caplog.at_level(logging.WARNING, logger="tfpilot.github"):
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_retry_after_the_write_landed_returns_the_landed_commit(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    """The earlier attempt created the file and the worker died: GitHub now says the file
    exists; it holds our exact blob and the head sits right on the parent, so that is ours."""
    landed = payloads.sha("f")
    put = github_api.put(CONTENTS).respond(422, json=SHA_MISSING)
    at_parent = github_api.get(CONTENTS, params={"ref": BASE}).respond(404, json={"message": "Not Found"})
    at_branch = github_api.get(CONTENTS, params={"ref": BRANCH}).respond(
        200, json=payloads.content_file(PATH, TEXT, ref=BRANCH)
    )
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [BASE])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == landed
    assert put.call_count == 1
    # Absent at the parent the caller read, present on the branch: only then is the branch read.
    assert at_parent.call_count == 1 and at_branch.call_count == 1
    assert openapi_checker.operation_ids() == [
        PUT_OP,
        "repos/get-content",
        "repos/get-content",
        "git/get-ref",
        "git/get-commit",
    ]


def test_existing_file_is_replaced_under_its_blob_sha(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    put = github_api.put(CONTENTS).mock(
        side_effect=[httpx.Response(422, json=SHA_MISSING), httpx.Response(200, json=created().json())]
    )
    get = github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, OLD_TEXT, ref=BASE))
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "update", parent_sha=BASE) == NEW_COMMIT
    assert "sha" not in body_of(put, 0)
    assert body_of(put, 1)["sha"] == payloads.blob_sha(OLD_TEXT)
    assert dict(get.calls.last.request.url.params) == {"ref": BASE}  # the commit the caller read
    assert openapi_checker.operation_ids() == [PUT_OP, "repos/get-content", PUT_OP]


def test_the_guard_is_the_blob_at_the_parent_not_at_the_branch_head(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    """Someone changed the file after the commit the caller read: the blob at the parent no
    longer matches, GitHub refuses, and their change is never overwritten."""
    theirs = "# someone else\n"
    put = github_api.put(CONTENTS).mock(
        side_effect=[
            httpx.Response(422, json=SHA_MISSING),
            httpx.Response(409, json={"message": f"{PATH} does not match {payloads.blob_sha(OLD_TEXT)}"}),
        ]
    )
    at_parent = github_api.get(CONTENTS, params={"ref": BASE}).respond(
        200, json=payloads.content_file(PATH, OLD_TEXT, ref=BASE)
    )
    github_api.get(CONTENTS, params={"ref": BRANCH}).respond(200, json=payloads.content_file(PATH, theirs, ref=BRANCH))
    with pytest.raises(CodeHostError, match="conflict writing") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "update", parent_sha=BASE)
    assert caught.value.status == 409
    assert at_parent.call_count == 1
    assert body_of(put, 1)["sha"] == payloads.blob_sha(OLD_TEXT)  # never the branch's current blob
    assert put.call_count == 2


def test_a_file_added_by_someone_else_after_the_parent_is_a_409(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    put = github_api.put(CONTENTS).respond(422, json=SHA_MISSING)
    github_api.get(CONTENTS, params={"ref": BASE}).respond(404, json={"message": "Not Found"})
    github_api.get(CONTENTS, params={"ref": BRANCH}).respond(
        200, json=payloads.content_file(PATH, "# theirs\n", ref=BRANCH)
    )
    with pytest.raises(CodeHostError, match="conflict writing") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "create", parent_sha=BASE)
    assert caught.value.status == 409
    assert put.call_count == 1  # no write under a blob nobody at the parent saw


def test_identical_file_on_a_branch_not_past_the_parent_is_rewritten(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    """Same content, but the head is the parent itself: no earlier attempt of ours landed, so
    the commit is made (GitHub commits an unchanged file too)."""
    put = github_api.put(CONTENTS).mock(side_effect=[httpx.Response(422, json=SHA_MISSING), created()])
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, TEXT, ref=BRANCH))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, BASE))
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == NEW_COMMIT
    assert body_of(put, 1)["sha"] == payloads.blob_sha(TEXT)


def test_identical_file_from_someone_elses_commit_is_not_adopted(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    """Same content but the head's parent is not ours: not our landed attempt, so write."""
    other = payloads.sha("7")
    put = github_api.put(CONTENTS).mock(side_effect=[httpx.Response(422, json=SHA_MISSING), created(parents=[other])])
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, TEXT, ref=BRANCH))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, other))
    github_api.get(f"/repos/acme/infra/git/commits/{other}").respond(
        200, json=payloads.commit(other, NEW_TREE, [payloads.sha("6")])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == NEW_COMMIT
    assert put.call_count == 2


def test_a_second_write_on_our_own_commit_uses_the_remembered_blob(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    second = payloads.sha("d")
    put = github_api.put(CONTENTS).mock(
        side_effect=[created(), httpx.Response(200, json=created(second, [NEW_COMMIT], OLD_TEXT).json())]
    )
    code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "create", parent_sha=BASE)
    assert code_host.commit_files(REPO, BRANCH, {PATH: OLD_TEXT}, "update", parent_sha=NEW_COMMIT) == second
    assert body_of(put, 1)["sha"] == payloads.blob_sha(TEXT)
    assert openapi_checker.operation_ids() == [PUT_OP, PUT_OP]


def test_a_write_on_our_own_git_data_commit_uses_the_computed_blob(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.get(f"/repos/acme/infra/git/commits/{BASE}").respond(
        200, json=payloads.commit(BASE, payloads.sha("1"), [payloads.sha("0")])
    )
    github_api.post("/repos/acme/infra/git/trees").respond(201, json=payloads.tree(NEW_TREE))
    github_api.post("/repos/acme/infra/git/commits").respond(201, json=payloads.commit(NEW_COMMIT, NEW_TREE, [BASE]))
    github_api.patch(f"/repos/acme/infra/git/refs/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, NEW_COMMIT))
    code_host.commit_files(REPO, BRANCH, {PATH: TEXT, "envs/dev/other.tf": "# other\n"}, "two", parent_sha=BASE)
    put = github_api.put(CONTENTS).mock(return_value=created(payloads.sha("d"), [NEW_COMMIT], OLD_TEXT))
    code_host.commit_files(REPO, BRANCH, {PATH: OLD_TEXT}, "update", parent_sha=NEW_COMMIT)
    assert body_of(put)["sha"] == payloads.blob_sha(TEXT)


def test_file_changed_since_our_commit_is_a_409(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    """Our previous blob no longer matches: someone else changed the file. Never overwritten."""
    put = github_api.put(CONTENTS).mock(return_value=created())
    code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "create", parent_sha=BASE)
    put.mock(return_value=httpx.Response(409, json={"message": f"{PATH} does not match {payloads.blob_sha(TEXT)}"}))
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, "# someone else\n", ref=BRANCH))
    with pytest.raises(CodeHostError, match=r"conflict writing .* changed since") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: OLD_TEXT}, "update", parent_sha=NEW_COMMIT)
    assert caught.value.status == 409
    assert put.call_count == 2  # no write under the new blob


def test_409_on_a_guarded_write_that_already_landed_returns_it(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    landed = payloads.sha("f")
    put = github_api.put(CONTENTS).mock(return_value=created())
    code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "create", parent_sha=BASE)
    put.mock(return_value=httpx.Response(409, json={"message": f"{PATH} does not match"}))
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, OLD_TEXT, ref=BRANCH))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [NEW_COMMIT])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: OLD_TEXT}, "update", parent_sha=NEW_COMMIT) == landed


def test_conflict_on_the_replacing_write_is_a_409(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(CONTENTS).mock(
        side_effect=[
            httpx.Response(422, json=SHA_MISSING),
            httpx.Response(409, json={"message": f"{PATH} does not match {payloads.blob_sha(OLD_TEXT)}"}),
        ]
    )
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, OLD_TEXT, ref=BRANCH))
    with pytest.raises(CodeHostError, match="conflict writing") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert caught.value.status == 409


def test_file_gone_between_the_refusal_and_the_read_is_a_409(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.put(CONTENTS).respond(422, json=SHA_MISSING)
    github_api.get(CONTENTS).respond(404, json={"message": "Not Found"})
    with pytest.raises(CodeHostError, match="conflict writing") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert caught.value.status == 409


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (409, "Repository rule violations found", r"conflict writing .* or a rule refused the write"),
        (422, "Invalid request.\n\nFor 'properties/content', nil is not a string.", f"could not write {PATH}"),
        (404, "Branch request/req_abc123def456 not found", f"could not write {PATH} on {BRANCH}"),
    ],
)
def test_other_refusals_are_clear_errors(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, status: int, message: str, expected: str
) -> None:
    put = github_api.put(CONTENTS).respond(status, json={"message": message, "status": str(status)})
    github_api.get(CONTENTS).respond(404, json={"message": "Not Found"})  # nothing of ours landed
    with pytest.raises(CodeHostError, match=expected) as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert caught.value.status == status
    assert put.call_count == 1


def test_a_5xx_write_is_not_repeated_blindly_and_not_found_is_raised(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    """A write answered with a 5xx may have happened: it is repeated only after GitHub shows it
    did not land (the file on the branch is not ours), a bounded number of times."""
    put = github_api.put(CONTENTS).respond(502)
    landed = github_api.get(CONTENTS).respond(404, json={"message": "Not Found"})
    with pytest.raises(CodeHostError, match="may have been applied") as caught:
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)
    assert caught.value.retryable
    attempts = code_host.client.max_attempts
    assert put.call_count == attempts and landed.call_count == attempts  # each PUT checked before the next
    assert len(sleeps) == attempts - 1
    calls = [(c.request.method, c.request.url.path) for c in github_api.calls]
    assert calls == [("PUT", f"/repos/acme/infra/contents/{PATH}"), ("GET", f"/repos/acme/infra/contents/{PATH}")] * (
        attempts
    )


def test_a_5xx_write_then_success(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    commit = payloads.sha("c")
    put = github_api.put(CONTENTS).mock(
        side_effect=[
            httpx.Response(500, json={"message": "Server Error"}),
            httpx.Response(
                201,
                json={
                    "content": payloads.content_file(PATH, TEXT, ref=BRANCH),
                    "commit": payloads.commit(commit, NEW_TREE, [BASE]),
                },
            ),
        ]
    )
    github_api.get(CONTENTS).respond(404, json={"message": "Not Found"})  # the 500 wrote nothing
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == commit
    assert put.call_count == 2


def test_a_5xx_write_that_landed_returns_its_commit(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    landed = payloads.sha("f")
    github_api.put(CONTENTS).respond(504)
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, TEXT, ref=BRANCH))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [BASE])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == landed


def test_a_timed_out_write_that_landed_returns_its_commit(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    landed = payloads.sha("f")
    put = github_api.put(CONTENTS).mock(side_effect=httpx.ReadTimeout("slow"))
    github_api.get(CONTENTS).respond(200, json=payloads.content_file(PATH, TEXT, ref=BRANCH))
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [BASE])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE) == landed
    assert put.call_count == 1


def test_a_directory_at_the_path_is_refused(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(CONTENTS).respond(422, json=SHA_MISSING)
    github_api.get(CONTENTS).respond(200, json=[{"type": "file", "name": "a.tf", "path": f"{PATH}/a.tf"}])
    with pytest.raises(CodeHostError, match="is a directory"):
        code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "m", parent_sha=BASE)


def test_a_single_deletion_uses_the_git_data_api(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    github_api.get(f"/repos/acme/infra/git/commits/{BASE}").respond(
        200, json=payloads.commit(BASE, payloads.sha("1"), [payloads.sha("0")])
    )
    github_api.post("/repos/acme/infra/git/trees").respond(201, json=payloads.tree(NEW_TREE))
    github_api.post("/repos/acme/infra/git/commits").respond(201, json=payloads.commit(NEW_COMMIT, NEW_TREE, [BASE]))
    github_api.patch(f"/repos/acme/infra/git/refs/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, NEW_COMMIT))
    assert code_host.commit_files(REPO, BRANCH, {PATH: None}, "remove", parent_sha=BASE) == NEW_COMMIT
    assert openapi_checker.operation_ids() == [
        "git/get-commit",
        "git/create-tree",
        "git/create-commit",
        "git/update-ref",
    ]


def test_a_replacing_write_that_timed_out_but_landed_returns_its_commit(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    landed = payloads.sha("f")
    put = github_api.put(CONTENTS).mock(side_effect=[httpx.Response(422, json=SHA_MISSING), httpx.Response(503)])
    github_api.get(CONTENTS).mock(
        side_effect=[
            httpx.Response(200, json=payloads.content_file(PATH, OLD_TEXT, ref=BRANCH)),
            httpx.Response(200, json=payloads.content_file(PATH, TEXT, ref=BRANCH)),
        ]
    )
    github_api.get(f"/repos/acme/infra/git/ref/heads/{BRANCH}").respond(200, json=payloads.ref(BRANCH, landed))
    github_api.get(f"/repos/acme/infra/git/commits/{landed}").respond(
        200, json=payloads.commit(landed, NEW_TREE, [BASE])
    )
    assert code_host.commit_files(REPO, BRANCH, {PATH: TEXT}, "update", parent_sha=BASE) == landed
    assert put.call_count == 2
