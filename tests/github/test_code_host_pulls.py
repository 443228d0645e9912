"""GitHubCodeHost pull requests, reviews, comments and merges (idempotent, bounded retries)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from core.adapters.github.code_host import GitHubCodeHost
from core.ports.code_host import CodeHostError, MergeResult
from tests.github import payloads
from tests.github.conftest import REPO, TOKEN
from tests.github.openapi_contract import OpenApiChecker

HEAD = "request/req_abc123def456"
HEAD_SHA = payloads.sha("h")
PR_PATH = "/repos/acme/infra/pulls/7"
MERGE_PATH = "/repos/acme/infra/pulls/7/merge"


def open_pr(code_host: GitHubCodeHost, labels: list[str] | None = None) -> object:
    return code_host.open_pull_request(
        REPO,
        head=HEAD,
        base="main",
        title="tfpilot: s3-bucket in dev",
        body="Request req_abc123def456 - Slack thread: https://slack.example/archives/C1/p1",
        labels=labels if labels is not None else ["tfpilot", "env:dev"],
    )


def test_open_pull_request_creates_it_and_labels_it(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    create = github_api.post("/repos/acme/infra/pulls").respond(201, json=payloads.pull(7, head_sha=HEAD_SHA))
    labels = github_api.post("/repos/acme/infra/issues/7/labels").respond(200, json=[{"name": "tfpilot"}])
    pr = open_pr(code_host)
    assert pr.number == 7
    assert pr.url == "https://github.com/acme/infra/pull/7"
    assert (pr.state, pr.merged, pr.head_sha, pr.head_ref, pr.base_ref) == ("open", False, HEAD_SHA, HEAD, "main")
    assert pr.merge_commit_sha is None  # the test-merge sha of an open PR is not a merge result
    assert json.loads(create.calls.last.request.content) == {
        "title": "tfpilot: s3-bucket in dev",
        "head": HEAD,
        "base": "main",
        "body": "Request req_abc123def456 - Slack thread: https://slack.example/archives/C1/p1",
    }
    assert json.loads(labels.calls.last.request.content) == {"labels": ["tfpilot", "env:dev"]}
    assert openapi_checker.operation_ids() == ["pulls/create", "issues/add-labels"]


def test_open_pull_request_when_one_is_open_returns_it_and_adds_missing_labels(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.post("/repos/acme/infra/pulls").respond(
        422,
        json={
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for acme:{HEAD}.",
                }
            ],
        },
    )
    listing = github_api.get("/repos/acme/infra/pulls").respond(
        200, json=[payloads.pull(7, head_sha=HEAD_SHA, labels=["tfpilot"])]
    )
    labels = github_api.post("/repos/acme/infra/issues/7/labels").respond(200, json=[])
    pr = open_pr(code_host)
    assert pr.number == 7
    assert dict(listing.calls.last.request.url.params) == {
        "head": f"acme:{HEAD}",
        "state": "open",
        "sort": "created",
        "direction": "desc",
        "per_page": "10",
    }
    assert json.loads(labels.calls.last.request.content) == {"labels": ["env:dev"]}


def test_open_pull_request_twice_adds_no_label_call_when_all_present(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.post("/repos/acme/infra/pulls").respond(
        422, json={"message": "A pull request already exists for acme:x."}
    )
    github_api.get("/repos/acme/infra/pulls").respond(
        200, json=[payloads.pull(7, head_sha=HEAD_SHA, labels=["tfpilot", "env:dev"])]
    )
    labels = github_api.post("/repos/acme/infra/issues/7/labels")
    assert open_pr(code_host).number == 7
    assert labels.call_count == 0


def test_a_label_permission_error_does_not_undo_the_pr(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    github_api.post("/repos/acme/infra/pulls").respond(201, json=payloads.pull(7, head_sha=HEAD_SHA))
    github_api.post("/repos/acme/infra/issues/7/labels").respond(
        403, json={"message": "Resource not accessible by integration"}
    )
    assert open_pr(code_host).number == 7
    assert "could not label PR #7" in caplog.text


def test_open_pull_request_other_422_is_an_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.post("/repos/acme/infra/pulls").respond(
        422, json={"message": "Validation Failed", "errors": [{"message": "No commits between main and x"}]}
    )
    with pytest.raises(CodeHostError, match="No commits between main and x") as caught:
        open_pr(code_host)
    assert caught.value.status == 422


def test_find_pull_request_returns_the_newest_open_or_closed(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    route = github_api.get("/repos/acme/infra/pulls").respond(
        200,
        json=[
            payloads.pull(3, head_sha=HEAD_SHA, state="closed"),
            payloads.pull(9, head_sha=HEAD_SHA, state="closed", merged=True, merge_commit_sha=payloads.sha("9")),
        ],
    )
    pr = code_host.find_pull_request(REPO, HEAD)
    assert pr is not None
    assert (pr.number, pr.state, pr.merged, pr.merge_commit_sha) == (9, "closed", True, payloads.sha("9"))
    assert route.calls.last.request.url.params["state"] == "all"
    route.respond(200, json=[])
    assert code_host.find_pull_request(REPO, HEAD) is None


def test_get_pull_request_and_reviews(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="behind"))
    reviews = github_api.get(f"{PR_PATH}/reviews").respond(
        200,
        json=[
            payloads.review(1, login="alice", state="CHANGES_REQUESTED", commit_id=payloads.sha("o")),
            payloads.review(2, login="bob", state="APPROVED", commit_id=HEAD_SHA),
        ],
    )
    assert code_host.get_pull_request(REPO, 7).mergeable_state == "behind"
    listed = code_host.list_reviews(REPO, 7)
    assert [(r.id, r.user_login, r.state, r.commit_id) for r in listed] == [
        (1, "alice", "CHANGES_REQUESTED", payloads.sha("o")),
        (2, "bob", "APPROVED", HEAD_SHA),
    ]
    assert reviews.calls.last.request.url.params["per_page"] == "100"


def test_list_reviews_follows_pages(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    page1 = [payloads.review(i, login="u", state="COMMENTED", commit_id=HEAD_SHA) for i in range(100)]
    page2 = [payloads.review(100, login="bob", state="APPROVED", commit_id=HEAD_SHA)]
    route = github_api.get(f"{PR_PATH}/reviews").mock(
        side_effect=[httpx.Response(200, json=page1), httpx.Response(200, json=page2)]
    )
    assert len(code_host.list_reviews(REPO, 7)) == 101
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]


def test_submit_review_as_the_user_when_a_token_is_given(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    route = github_api.post(f"{PR_PATH}/reviews").respond(
        200, json=payloads.review(5, login="carol", state="APPROVED", commit_id=HEAD_SHA)
    )
    review = code_host.submit_review(REPO, 7, commit_sha=HEAD_SHA, body="Approved in Slack", user_token="gho_carol")
    assert (review.id, review.user_login, review.state, review.commit_id) == (5, "carol", "APPROVED", HEAD_SHA)
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer gho_carol"
    assert json.loads(sent.content) == {"commit_id": HEAD_SHA, "body": "Approved in Slack", "event": "APPROVE"}
    code_host.submit_review(REPO, 7, commit_sha=HEAD_SHA, body="ok")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"


def test_comment(code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker) -> None:
    route = github_api.post("/repos/acme/infra/issues/7/comments").respond(201, json={"id": 1, "body": "hi"})
    code_host.comment(REPO, 7, "Approved by <@U1> in Slack")
    assert json.loads(route.calls.last.request.content) == {"body": "Approved by <@U1> in Slack"}
    assert openapi_checker.operation_ids() == ["issues/create-comment"]


# --- merge ------------------------------------------------------------------------------------


def merge(code_host: GitHubCodeHost, sha: str = HEAD_SHA) -> MergeResult:
    return code_host.merge_pull_request(REPO, 7, sha=sha, title="tfpilot: s3-bucket in dev (#7)")


def test_squash_merge_at_the_approved_sha(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, openapi_checker: OpenApiChecker
) -> None:
    route = github_api.put(MERGE_PATH).respond(
        200, json={"sha": payloads.sha("m"), "merged": True, "message": "Pull Request successfully merged"}
    )
    assert merge(code_host) == MergeResult(
        merged=True, sha=payloads.sha("m"), message="Pull Request successfully merged"
    )
    assert json.loads(route.calls.last.request.content) == {
        "sha": HEAD_SHA,
        "merge_method": "squash",
        "commit_title": "tfpilot: s3-bucket in dev (#7)",
    }
    assert openapi_checker.operation_ids() == ["pulls/merge"]


def test_merging_an_already_merged_pr_returns_its_result(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    github_api.put(MERGE_PATH).respond(405, json={"message": "Pull Request is not mergeable"})
    github_api.get(PR_PATH).respond(
        200,
        json=payloads.pull(7, head_sha=HEAD_SHA, state="closed", merged=True, merge_commit_sha=payloads.sha("m")),
    )
    result = merge(code_host)
    assert result.merged is True
    assert result.sha == payloads.sha("m")


def test_behind_branch_is_updated_then_merged(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float], openapi_checker: OpenApiChecker
) -> None:
    updated = payloads.sha("u")
    merge_route = github_api.put(MERGE_PATH).mock(
        side_effect=[
            httpx.Response(405, json={"message": "Base branch was modified. Review and try the merge again."}),
            httpx.Response(200, json={"sha": payloads.sha("m"), "merged": True, "message": "merged"}),
        ]
    )
    github_api.get(PR_PATH).mock(
        side_effect=[
            httpx.Response(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="behind")),
            httpx.Response(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="behind")),
            httpx.Response(200, json=payloads.pull(7, head_sha=updated, mergeable_state="clean")),
        ]
    )
    update = github_api.put(f"{PR_PATH}/update-branch").respond(
        202, json={"message": "Updating pull request branch.", "url": "https://github.com/acme/infra/pull/7"}
    )
    github_api.get(f"/repos/acme/infra/git/commits/{updated}").respond(
        200, json=payloads.commit(updated, payloads.sha("t"), [HEAD_SHA, payloads.sha("b")])
    )
    assert merge(code_host).merged is True
    assert json.loads(update.calls.last.request.content) == {"expected_head_sha": HEAD_SHA}
    assert json.loads(merge_route.calls.last.request.content)["sha"] == updated
    assert sleeps  # polled and backed off through the injected sleep
    assert openapi_checker.operation_ids() == [
        "pulls/merge",
        "pulls/get",
        "pulls/update-branch",
        "pulls/get",
        "pulls/get",
        "git/get-commit",
        "pulls/merge",
    ]


def test_a_foreign_push_during_update_branch_is_refused(
    code_host: GitHubCodeHost, github_api: respx.MockRouter
) -> None:
    pushed = payloads.sha("p")
    github_api.put(MERGE_PATH).respond(405, json={"message": "Base branch was modified."})
    github_api.get(PR_PATH).mock(
        side_effect=[
            httpx.Response(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="behind")),
            httpx.Response(200, json=payloads.pull(7, head_sha=pushed)),
        ]
    )
    github_api.put(f"{PR_PATH}/update-branch").respond(202, json={"message": "Updating pull request branch."})
    github_api.get(f"/repos/acme/infra/git/commits/{pushed}").respond(
        200, json=payloads.commit(pushed, payloads.sha("t"), [payloads.sha("z")])
    )
    with pytest.raises(CodeHostError, match="not an update of the approved") as caught:
        merge(code_host)
    assert caught.value.status == 409


def test_checks_pending_409_then_success(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    github_api.put(MERGE_PATH).mock(
        side_effect=[
            httpx.Response(405, json={"message": 'Required status check "plan" is expected.'}),
            httpx.Response(200, json={"sha": payloads.sha("m"), "merged": True, "message": "merged"}),
        ]
    )
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="blocked"))
    assert merge(code_host).sha == payloads.sha("m")
    assert len(sleeps) == 1


def test_409_with_the_head_unchanged_is_retried_then_merged(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    """A 409 while the PR head is still the approved sha (the base moved under the merge) is
    transient: the same merge, at the same sha, goes through on the next attempt."""
    route = github_api.put(MERGE_PATH).mock(
        side_effect=[
            httpx.Response(409, json={"message": "Base branch was modified. Review and try the merge again."}),
            httpx.Response(200, json={"sha": payloads.sha("m"), "merged": True, "message": "merged"}),
        ]
    )
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="unknown"))
    assert merge(code_host).sha == payloads.sha("m")
    assert [json.loads(c.request.content)["sha"] for c in route.calls] == [HEAD_SHA, HEAD_SHA]
    assert len(sleeps) == 1


def test_head_changed_is_a_clear_409(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(MERGE_PATH).respond(
        409, json={"message": "Head branch was modified. Review and try the merge again."}
    )
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=payloads.sha("n")))
    with pytest.raises(CodeHostError, match="head changed from hhhhhhhhhhhh to nnnnnnnnnnnn") as caught:
        merge(code_host)
    assert caught.value.status == 409
    assert caught.value.retryable is False


def test_422_on_merge_is_a_clear_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(MERGE_PATH).respond(422, json={"message": "Merge commits are not allowed on this repository."})
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA))
    with pytest.raises(CodeHostError, match="Merge commits are not allowed") as caught:
        merge(code_host)
    assert caught.value.status == 422


def test_conflicting_pr_is_a_clear_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(MERGE_PATH).respond(405, json={"message": "Pull Request is not mergeable"})
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="dirty"))
    with pytest.raises(CodeHostError, match="conflicts with main"):
        merge(code_host)


def test_closed_unmerged_pr_is_a_clear_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(MERGE_PATH).respond(405, json={"message": "Pull Request is not mergeable"})
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, state="closed"))
    with pytest.raises(CodeHostError, match="closed without being merged"):
        merge(code_host)


def test_never_mergeable_gives_up_after_bounded_attempts(
    code_host: GitHubCodeHost, github_api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = github_api.put(MERGE_PATH).respond(405, json={"message": "Pull Request is not mergeable"})
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="unknown"))
    with pytest.raises(CodeHostError, match="still not mergeable after 5 attempts") as caught:
        merge(code_host)
    assert route.call_count == code_host.merge_attempts == 5
    assert len(sleeps) == 4
    assert caught.value.retryable is True


def test_update_branch_refused_is_a_clear_error(code_host: GitHubCodeHost, github_api: respx.MockRouter) -> None:
    github_api.put(MERGE_PATH).respond(405, json={"message": "Base branch was modified."})
    github_api.get(PR_PATH).respond(200, json=payloads.pull(7, head_sha=HEAD_SHA, mergeable_state="behind"))
    github_api.put(f"{PR_PATH}/update-branch").respond(422, json={"message": "merge conflict between base and head"})
    with pytest.raises(CodeHostError, match="behind its base and could not be updated: merge conflict"):
        merge(code_host)
