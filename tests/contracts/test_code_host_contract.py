"""One ``CodeHost`` contract, run on ``FakeCodeHost`` (the service tests' fake), ``LocalCodeHost``
(a real git repository on disk) and ``GitHubCodeHost`` (real httpx through respx to ``GitHubSim``,
behind the OpenAPI checker: a request GitHub's REST description does not allow fails the test).

The statuses are GitHub's, as ``GitHubCodeHost`` reports them: 409 for a write whose guard no
longer holds (a file changed since the commit the caller read, a branch that moved, a PR head
that moved), 405 for a PR GitHub will not merge (conflicts), 422 for a request GitHub refuses as
invalid (unknown commit or ref, a PR without commits, a review of a closed PR), 404 for what does
not exist. "Already exists" is never an error: creating a branch or opening a PR that exists
returns it (GitHub answers 422 for an open PR of the same head; the adapter returns that PR).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.adapters.local_code_host import LocalCodeHost
from core.ports.code_host import CodeHost, CodeHostError, MergeBlocked, RepoRef
from tests.fakes import ManualClock
from tests.github.conftest import make_openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.fake_code_host import FakeCodeHost
from tests.services.github_sim import API_URL, GitHubSim

REPO = RepoRef(owner="acme", name="infra")
RID = "req_contract0001"
OTHER_RID = "req_contract0002"
BRANCH = f"request/{RID}"
FILE = f"envs/dev/tfpilot_{RID}.tf"
TOKEN = "ghs_CONTRACTtoken00000000000000000000000"  # a test value, not a secret


def block(request_id: str, size: str = "small") -> str:
    return (
        f'# tfpilot:begin {request_id}\nmodule "{request_id}" {{\n  size = "{size}"\n}}\n# tfpilot:end {request_id}\n'
    )


@dataclass
class Subject:
    """A code host under contract, and a way to read a file on a branch (not part of the port)."""

    host: CodeHost
    read: Callable[[str, str], str | None]  # (branch, path) -> content


@pytest.fixture(params=["fake", "local", "github"])
def subject(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_openapi_checker: Callable[[str], OpenApiChecker],  # noqa: F811
) -> Iterator[Subject]:
    clock = ManualClock()
    if request.param == "fake":
        fake = FakeCodeHost(clock=clock)
        yield Subject(fake, lambda branch, path: fake.tree(REPO, branch).get(path))
    elif request.param == "local":
        local = LocalCodeHost(tmp_path / "forge", clock, runner_mode="manual")
        yield Subject(local, lambda branch, path: local.read_file(REPO, branch, path))
        local.close()
    else:
        sim = GitHubSim(now=clock.now)
        router = respx.MockRouter(assert_all_called=False)
        router.route().mock(side_effect=sim.handler)
        client = GitHubClient(
            auth=StaticToken(TOKEN),
            base_url=API_URL,
            transport=make_openapi_checker(API_URL).transport(router.handler),
            sleep=lambda _s: None,
            now=lambda: clock.now().timestamp(),
            rand=lambda: 0.5,
        )
        github = GitHubCodeHost(client, dispatch_poll_seconds=0.0)
        yield Subject(github, lambda branch, path: sim.files(REPO.full_name, branch).get(path))
        client.close()


def base_head(host: CodeHost) -> str:
    head = host.branch_head(REPO, "main")
    assert head is not None
    return head


def request_branch(host: CodeHost, content: str | None = None) -> str:
    """``request/<RID>`` with the request's file committed on it; returns the head."""
    host.create_branch(REPO, BRANCH, base_head(host))
    parent = host.branch_head(REPO, BRANCH)
    assert parent is not None
    return host.commit_files(REPO, BRANCH, {FILE: content or block(RID)}, "tfpilot: add", parent_sha=parent)


def rival_commit(host: CodeHost, branch: str, files: dict[str, str | None]) -> str:
    """Someone else's commit on top of the branch's current head (through the same port)."""
    head = host.branch_head(REPO, branch)
    assert head is not None
    return host.commit_files(REPO, branch, files, "someone else", parent_sha=head)


def refused(call: Callable[[], object]) -> int | None:
    with pytest.raises(CodeHostError) as caught:
        call()
    return caught.value.status


# -- branches and commits --------------------------------------------------------------------


def test_branches_are_created_once(subject: Subject) -> None:
    host = subject.host
    assert host.branch_head(REPO, BRANCH) is None
    start = base_head(host)
    assert host.create_branch(REPO, BRANCH, start) == start == host.branch_head(REPO, BRANCH)
    moved = rival_commit(host, BRANCH, {FILE: block(RID)})
    # Creating it again (a retry after a crash) returns the branch as it is, unchanged.
    assert host.create_branch(REPO, BRANCH, start) == moved == host.branch_head(REPO, BRANCH)


def test_a_branch_from_an_unknown_commit_is_refused(subject: Subject) -> None:
    assert refused(lambda: subject.host.create_branch(REPO, BRANCH, "0" * 40)) == 422
    assert subject.host.branch_head(REPO, BRANCH) is None


def test_commits_write_and_delete_the_request_file(subject: Subject) -> None:
    host = subject.host
    first = request_branch(host)
    assert host.branch_head(REPO, BRANCH) == first
    assert subject.read(BRANCH, FILE) == block(RID)
    assert subject.read("main", FILE) is None  # only the branch changed
    second = host.commit_files(REPO, BRANCH, {FILE: block(RID, "large")}, "tfpilot: edit", parent_sha=first)
    assert second != first and host.branch_head(REPO, BRANCH) == second
    assert subject.read(BRANCH, FILE) == block(RID, "large")
    gone = host.commit_files(REPO, BRANCH, {FILE: None}, "tfpilot: remove", parent_sha=second)
    assert host.branch_head(REPO, BRANCH) == gone and subject.read(BRANCH, FILE) is None


def test_a_commit_over_a_changed_file_is_a_conflict(subject: Subject) -> None:
    # The fake answered 422 here where GitHub answers 409.
    host = subject.host
    read_at = request_branch(host)
    rival_commit(host, BRANCH, {FILE: block(RID, "rival")})
    status = refused(
        lambda: host.commit_files(REPO, BRANCH, {FILE: block(RID, "mine")}, "tfpilot: edit", parent_sha=read_at)
    )
    assert status == 409
    assert subject.read(BRANCH, FILE) == block(RID, "rival")


def test_a_file_added_since_the_parent_is_a_conflict(subject: Subject) -> None:
    host = subject.host
    host.create_branch(REPO, BRANCH, base_head(host))
    read_at = host.branch_head(REPO, BRANCH)
    assert read_at is not None
    rival_commit(host, BRANCH, {FILE: block(RID, "rival")})
    status = refused(lambda: host.commit_files(REPO, BRANCH, {FILE: block(RID)}, "tfpilot: add", parent_sha=read_at))
    assert status == 409
    assert subject.read(BRANCH, FILE) == block(RID, "rival")


def test_a_deletion_on_a_moved_branch_is_a_conflict(subject: Subject) -> None:
    host = subject.host
    read_at = request_branch(host)
    rival = rival_commit(host, BRANCH, {"envs/dev/notes.md": "someone else's file\n"})
    assert refused(lambda: host.commit_files(REPO, BRANCH, {FILE: None}, "tfpilot: remove", parent_sha=read_at)) == 409
    assert host.branch_head(REPO, BRANCH) == rival and subject.read(BRANCH, FILE) == block(RID)


def test_a_commit_on_a_missing_branch_is_not_found(subject: Subject) -> None:
    host = subject.host
    start = base_head(host)
    assert refused(lambda: host.commit_files(REPO, BRANCH, {FILE: block(RID)}, "add", parent_sha=start)) == 404
    assert host.branch_head(REPO, BRANCH) is None


# -- pull requests ---------------------------------------------------------------------------


def open_pr(host: CodeHost, title: str = "tfpilot: add") -> int:
    return host.open_pull_request(REPO, head=BRANCH, base="main", title=title, body="body", labels=["tfpilot"]).number


def test_opening_a_pull_request_twice_returns_the_open_one(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    assert host.find_pull_request(REPO, BRANCH) is None
    pr = host.open_pull_request(REPO, head=BRANCH, base="main", title="tfpilot: add", body="b", labels=["tfpilot"])
    assert (pr.state, pr.merged, pr.head_ref, pr.base_ref, pr.head_sha) == ("open", False, BRANCH, "main", head)
    # GitHub answers 422 "A pull request already exists" for the same head: the PR is returned.
    again = host.open_pull_request(REPO, head=BRANCH, base="main", title="retry", body="b", labels=["tfpilot"])
    assert again.number == pr.number
    found = host.find_pull_request(REPO, BRANCH)
    assert found is not None and found.number == pr.number
    assert host.get_pull_request(REPO, pr.number).number == pr.number


def test_a_pull_request_without_commits_or_branch_is_refused(subject: Subject) -> None:
    host = subject.host
    host.create_branch(REPO, BRANCH, base_head(host))  # nothing committed on it yet
    assert refused(lambda: open_pr(host)) == 422
    missing = "request/req_nobranch0001"
    status = refused(lambda: host.open_pull_request(REPO, head=missing, base="main", title="t", body="b", labels=[]))
    assert status == 422
    assert host.find_pull_request(REPO, BRANCH) is None


def test_a_pull_request_head_follows_its_branch(subject: Subject) -> None:
    host = subject.host
    first = request_branch(host)
    number = open_pr(host)
    second = host.commit_files(REPO, BRANCH, {FILE: block(RID, "large")}, "edit", parent_sha=first)
    assert host.get_pull_request(REPO, number).head_sha == second
    found = host.find_pull_request(REPO, BRANCH)
    assert found is not None and found.head_sha == second


def test_unknown_pull_requests_and_runs_are_not_found(subject: Subject) -> None:
    assert refused(lambda: subject.host.get_pull_request(REPO, 4242)) == 404
    assert refused(lambda: subject.host.get_run(REPO, 4242)) == 404
    assert subject.host.find_pull_request(REPO, "request/req_nothing00001") is None


# -- merge -----------------------------------------------------------------------------------


def test_merge_squashes_the_change_onto_the_base_once(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    number = open_pr(host)
    result = host.merge_pull_request(REPO, number, sha=head, title="tfpilot: add")
    assert result.merged and result.sha
    assert base_head(host) == result.sha
    assert subject.read("main", FILE) == block(RID)
    pr = host.get_pull_request(REPO, number)
    assert (pr.state, pr.merged, pr.merge_commit_sha) == ("closed", True, result.sha)
    # Merging again (a retry after a crash) returns the same merge.
    again = host.merge_pull_request(REPO, number, sha=head, title="tfpilot: add")
    assert (again.merged, again.sha) == (True, result.sha)


def test_merge_of_a_moved_head_is_a_conflict(subject: Subject) -> None:
    host = subject.host
    approved = request_branch(host)
    number = open_pr(host)
    rival_commit(host, BRANCH, {FILE: block(RID, "unreviewed")})
    assert refused(lambda: host.merge_pull_request(REPO, number, sha=approved, title="t")) == 409
    assert not host.get_pull_request(REPO, number).merged
    assert subject.read("main", FILE) is None


def test_merge_of_a_conflicting_pull_request_is_not_allowed(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    number = open_pr(host)
    rival_commit(host, "main", {FILE: block(RID, "on main")})  # the base changed the same file
    assert refused(lambda: host.merge_pull_request(REPO, number, sha=head, title="t")) == 405
    with pytest.raises(MergeBlocked) as blocked:  # a lasting refusal: said at once, with its reason
        host.merge_pull_request(REPO, number, sha=head, title="t")
    assert blocked.value.reason == "conflict"
    pr = host.get_pull_request(REPO, number)
    assert (pr.state, pr.merged) == ("open", False)
    assert subject.read("main", FILE) == block(RID, "on main")


def test_an_unprotected_base_branch_asks_for_no_review(subject: Subject) -> None:
    protection = subject.host.branch_protection(REPO, "main")
    assert (protection.branch, protection.visibility) == ("main", "none")
    assert not protection.reviews_required and protection.required_checks == ()


# -- reviews ---------------------------------------------------------------------------------


def test_a_review_approves_the_head_and_is_listed(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    number = open_pr(host)
    assert host.list_reviews(REPO, number) == []
    review = host.submit_review(REPO, number, commit_sha=head, body="approved in Slack")
    assert (review.state, review.commit_id) == ("APPROVED", head)
    listed = host.list_reviews(REPO, number)
    assert [(r.id, r.state, r.commit_id) for r in listed] == [(review.id, "APPROVED", head)]
    host.comment(REPO, number, "approved by U_APP in Slack")  # accepted (no read-back in the port)


def test_a_review_of_a_merged_pull_request_is_refused(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    number = open_pr(host)
    host.merge_pull_request(REPO, number, sha=head, title="t")
    assert refused(lambda: host.submit_review(REPO, number, commit_sha=head, body="late")) == 422
    assert host.list_reviews(REPO, number) == []


# -- workflow runs ---------------------------------------------------------------------------


def test_a_dispatch_returns_its_run_which_can_be_read_and_found(subject: Subject) -> None:
    host = subject.host
    head = request_branch(host)
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": RID, "environment": "dev"})
    assert run is not None  # dispatched with return_run_details (or found by its run-name)
    assert (run.status, run.conclusion, run.head_branch, run.workflow) == ("queued", None, BRANCH, "plan.yml")
    read = host.get_run(REPO, run.run_id)
    assert (read.run_id, read.status, read.head_branch, read.head_sha) == (run.run_id, "queued", BRANCH, head)
    assert read.name is not None and RID in read.name
    found = host.find_run(REPO, "plan.yml", request_id=RID, ref=BRANCH)
    assert found is not None and found.run_id == run.run_id
    assert host.find_run(REPO, "plan.yml", request_id=OTHER_RID) is None
    assert host.find_run(REPO, "apply.yml", request_id=RID) is None
    # A second dispatch (a re-plan) is a new run, and the newest is found.
    replan = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": RID, "environment": "dev"})
    assert replan is not None and replan.run_id != run.run_id
    newest = host.find_run(REPO, "plan.yml", request_id=RID)
    assert newest is not None and newest.run_id == replan.run_id


def test_a_dispatch_on_a_missing_ref_is_refused(subject: Subject) -> None:
    host = subject.host
    status = refused(
        lambda: host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": RID, "environment": "dev"})
    )
    assert status == 422
    assert host.find_run(REPO, "plan.yml", request_id=RID) is None
