"""The services over the real ``GitHubCodeHost`` and ``GitHubClient``: every request goes through
respx to ``GitHubSim`` behind the OpenAPI contract checker (a violation fails the test), and the
GitHub side reaches the request only as webhook deliveries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.adapters.github.webhooks import parse_delivery
from core.domain.facts import NotOurs
from core.services.sync import SyncOutcome
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.conftest import ADMIN, APPROVER, DEV, World, create_cmd, ports_of, service_graph
from tests.services.github_sim import API_URL, GitHubSim, blob_sha

REPO = "acme/infra"
TOKEN = "ghs_SIMULATEDtoken000000000000000000000000"


class Stack:
    def __init__(self, world: World, checker: OpenApiChecker, plan_doc: dict[str, Any]) -> None:
        self.world = world
        self.sim = GitHubSim(now=world.clock.now)
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.route().mock(side_effect=self.sim.handler)
        self.checker = checker
        self.client = self.new_client()
        self.plan_doc = plan_doc
        self.restart()

    def new_client(self) -> GitHubClient:
        """A GitHub client with nothing cached (a new process)."""
        return GitHubClient(
            auth=StaticToken(TOKEN),
            base_url=API_URL,
            transport=self.checker.transport(self.router.handler),
            sleep=lambda _s: None,
            now=lambda: self.world.clock.now().timestamp(),  # the test's clock, never the wall clock
            rand=lambda: 0.5,
        )

    def restart(self) -> None:
        """A new process: a new host (nothing remembered) and services over the same store."""
        self.host = GitHubCodeHost(self.client, dispatch_poll_seconds=0.0)
        ports = ports_of(self.world.deps)
        ports["code_host"] = self.host
        graph = service_graph(**ports)
        self.requests, self.sync = graph.requests, graph.sync

    def spent(self, before: Counter[str]) -> dict[str, int]:
        return dict(Counter(self.client.stats.by_operation) - before)

    def deliver(self, event: str, payload: dict[str, Any]) -> SyncOutcome:
        fact = parse_delivery(event, payload, workflows=self.world.workflows, delivery_id="d")
        assert not isinstance(fact, NotOurs), fact.reason
        return self.sync.apply_fact(fact)

    def run_to_end(self, run_id: int, rid: str, *, kind: str, conclusion: str = "success") -> list[SyncOutcome]:
        out = [self.deliver(*self.sim.workflow_run_delivery(REPO, run_id))]
        self.sim.set_run(REPO, run_id, "in_progress")
        out.append(self.deliver(*self.sim.workflow_run_delivery(REPO, run_id)))
        self.world.clock.advance(minutes=3)
        if kind == "plan":
            self.sim.add_artifact(REPO, run_id, f"tfplan-{rid}", "plan.json", self.plan_doc)
        self.sim.set_run(REPO, run_id, "completed", conclusion)
        out.append(self.deliver(*self.sim.workflow_run_delivery(REPO, run_id)))
        return out


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    yield built
    built.client.close()


def test_full_lifecycle_through_github_code_host(stack: Stack, openapi_checker: OpenApiChecker) -> None:  # noqa: F811
    world, sim = stack.world, stack.sim
    request = stack.requests.create(create_cmd())
    rid = request.id
    assert request.status == "planning" and request.pr.number in sim.repo(REPO).pulls
    pull = sim.repo(REPO).pulls[request.pr.number]
    assert [label["name"] for label in pull["labels"]] == ["tfpilot", "env:dev", "module:s3-bucket"]
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, f"request/{rid}")
    create_calls = stack.client.stats.calls

    assert not stack.deliver(*sim.pull_request_delivery(REPO, request.pr.number, "opened")).changed
    outcomes = stack.run_to_end(request.plan_run.run_id, rid, kind="plan")
    assert [o.status for o in outcomes] == ["planning", "planning", "plan_ready"]
    stored = world.get(rid)
    assert stored.plan.summary is not None and stored.plan.summary.add >= 1

    review = sim.add_review(REPO, request.pr.number, "carol")
    assert stack.deliver(*sim.review_delivery(REPO, request.pr.number, review)).status == "approved"

    assert stack.requests.merge(rid, APPROVER).status == "merged"
    assert not stack.deliver(*sim.pull_request_delivery(REPO, request.pr.number, "closed")).notified
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, "main")

    applying = stack.requests.apply(rid, APPROVER)
    assert [o.status for o in stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")] == [
        "applying",
        "applying",
        "applied",
    ]

    before_destroy = Counter(stack.client.stats.by_operation)
    requested = stack.requests.destroy(rid, ADMIN)
    # TfPilot opens the removal PR itself (no cleanup workflow) and, the branch asking for no
    # review, dispatches the destroy on main, where the request's file still is.
    assert not sim.runs(REPO, "cleanup.yml")
    removal = requested.cleanup_pr
    assert removal.branch == f"destroy/{rid}" and removal.open and not removal.merged
    assert f"envs/dev/tfpilot_{rid}.tf" not in sim.files(REPO, f"destroy/{rid}")
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, "main")
    (destroy_run,) = sim.runs(REPO, "destroy.yml")
    assert destroy_run["head_branch"] == "main" and requested.status == "destroying"
    # base ref, create ref, the deletion (git data: tree, commit, ref), PR, labels, the removal
    # PR's plan (dispatch), protection, the destroy (dispatch)
    print("destroy calls:", stack.spent(before_destroy))
    assert stack.spent(before_destroy)[DISPATCH] == 2 and MERGE not in stack.spent(before_destroy)
    (removal_plan,) = [r for r in sim.runs(REPO, "plan.yml") if r["head_branch"] == f"destroy/{rid}"]
    assert removal_plan["head_sha"] == removal.head_sha
    event, payload = sim.pull_request_delivery(REPO, removal.number, "opened")
    assert payload["pull_request"]["head"]["ref"] == f"destroy/{rid}"
    assert not stack.deliver(event, payload).notified  # the create of the PR already told the thread
    # The destroy run succeeds: the removal PR is merged only now, then the request is archived.
    assert [o.status for o in stack.run_to_end(destroy_run["id"], rid, kind="destroy")] == [
        "destroying",
        "destroying",
        "destroyed",
    ]
    assert f"envs/dev/tfpilot_{rid}.tf" not in sim.files(REPO, "main")
    assert sim.repo(REPO).pulls[removal.number]["merged"]
    assert stack.spent(before_destroy)[MERGE] == 1
    assert rid in world.store.history
    assert world.notifier.events(rid) == [
        "created",
        "plan_ready",
        "approved",
        "merged",
        "applying",
        "applied",
        "destroy_requested",
        "destroying",
        "destroyed",
    ]
    stats = stack.client.stats
    print("lifecycle through GitHubClient:", stats.snapshot())
    # Create: base ref, create ref, the file (one contents PUT), PR, labels, dispatch.
    assert create_calls == 6
    assert stats.by_operation["PUT /repos/{owner}/{repo}/contents/{path}"] == 1
    # The plan and its (absent) cost: one artifact listing, one download; the apply's outputs
    # (absent here): one listing, nothing to download.
    assert stats.by_operation["GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"] == 2
    assert stats.by_operation["GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}"] == 1
    # With the review given on GitHub (no approve call): create 6, plan 2, merge 1, apply 2, and the
    # destroy: its removal PR (the create's calls, the deletion through git data), the protection,
    # the dispatch, the merge.
    destroy_calls = sum(stack.spent(before_destroy).values())
    assert stats.calls == 11 + destroy_calls, stats.snapshot()
    assert not openapi_checker.violations and len(openapi_checker.calls) == stats.calls
    assert "blob.example.net" in openapi_checker.external  # the plan artifact download


def test_idle_refresh_costs_no_rate_limit(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    stack.sync.sync(request.id)  # first refresh primes the ETag cache
    before = stack.client.stats.snapshot()
    for _ in range(5):
        stack.world.clock.advance(minutes=10)
        synced = stack.sync.sync(request.id)
    after = stack.client.stats.snapshot()
    assert synced.status == "plan_ready"
    assert after["calls"] - before["calls"] == 10  # the PR and its reviews, five times
    assert after["rate_limit_cost"] == before["rate_limit_cost"]  # every one answered 304


def test_an_idle_refresh_in_a_fresh_process_costs_no_rate_limit_and_writes_nothing(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    stack.sync.sync(request.id)  # the first refresh keeps GitHub's answers and ETags on the document
    kept = stack.world.get(request.id)
    number = kept.pr.number  # type: ignore[union-attr]
    assert set(kept.code_host_reads) == {f"acme/infra/pulls/{number}", f"acme/infra/pulls/{number}/reviews?page=1"}
    for _ in range(3):
        stack.world.clock.advance(minutes=10)
        stack.client = stack.new_client()  # a new process: the in-memory ETag cache is empty
        stack.restart()
        synced = stack.sync.sync(request.id)
        assert synced == kept
        assert stack.client.stats.calls == 2  # the PR and its reviews
        assert stack.client.stats.not_modified == 2 and stack.client.stats.rate_limit_cost == 0
    assert stack.world.get(request.id) == kept  # nothing learnt, nothing written


def test_a_changed_answer_replaces_the_kept_one(stack: Stack) -> None:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    stack.sync.sync(request.id)
    number = stack.world.get(request.id).pr.number  # type: ignore[union-attr]
    stack.sim.add_review(REPO, number, "carol")  # approved on GitHub while webhooks were down
    stack.world.clock.advance(minutes=10)
    stack.client = stack.new_client()
    stack.restart()
    synced = stack.sync.sync(request.id)
    assert synced.approval is not None and synced.approval.approvers == ["carol"]
    reviews = synced.code_host_reads[f"acme/infra/pulls/{number}/reviews?page=1"]["value"]
    assert [review["user_login"] for review in reviews] == ["carol"]


CREATE_HTTP_CALLS = 6  # base ref, create ref, contents PUT, PR, labels, dispatch


class Died(BaseException):
    """A worker process dying mid-operation (not an Exception: nothing may catch it)."""


def die_after(stack: Stack, n: int) -> None:
    """Route GitHub through the simulator so that the worker dies right after the n-th HTTP
    call's effect landed (the response is lost with the worker)."""
    original = stack.sim.handler
    calls = 0

    def dying(request: Any) -> Any:
        nonlocal calls
        response = original(request)
        calls += 1
        if calls == n:
            raise Died
        return response

    stack.router.routes.clear()
    stack.router.route().mock(side_effect=dying)


@pytest.mark.parametrize("retry", ["same", "new"])
@pytest.mark.parametrize("n", range(1, CREATE_HTTP_CALLS + 1))
def test_crash_between_steps_through_github(stack: Stack, n: int, retry: str) -> None:
    """A worker dies after the n-th HTTP call of create (its effect landed); the retry, in the
    same process or in a new one that remembers nothing, re-finds what it made through the
    GitHub host: one branch, one commit, one PR, one plan run."""
    from core.services.operations import LEASE

    die_after(stack, n)
    with pytest.raises(Died):
        stack.requests.create(create_cmd())
    stack.world.clock.advance(seconds=LEASE.total_seconds() + 1)
    if retry == "new":
        stack.restart()
    request = stack.requests.create(create_cmd())
    repo = stack.sim.repo(REPO)
    assert [b for b in repo.refs if b.startswith("request/")] == [f"request/{request.id}"]
    assert len(repo.pulls) == 1 and len(stack.sim.runs(REPO, "plan.yml")) == 1
    assert request.status == "planning"
    head = repo.refs[f"request/{request.id}"]
    assert stack.sim.commits[head]["parents"] == [repo.forks[f"request/{request.id}"]]  # exactly one commit
    assert request.plan_run.run_id == stack.sim.runs(REPO, "plan.yml")[0]["id"]
    assert request.pr.number in repo.pulls and request.commit_sha == head
    assert stack.world.notifier.events(request.id) == ["created"]


# Without return_run_details (an older GitHub Enterprise Server): the dispatch with the field is
# refused (422), the dispatch without it answers 204, and the run is found by its run-name.
CREATE_HTTP_CALLS_WITHOUT_RUN_DETAILS = CREATE_HTTP_CALLS + 2


@pytest.mark.parametrize("n", range(1, CREATE_HTTP_CALLS_WITHOUT_RUN_DETAILS + 1))
def test_crash_between_steps_without_run_details(stack: Stack, n: int) -> None:
    from core.services.operations import LEASE

    stack.sim.return_run_details = False
    die_after(stack, n)
    with pytest.raises(Died):
        stack.requests.create(create_cmd())
    stack.world.clock.advance(seconds=LEASE.total_seconds() + 1)
    stack.restart()
    request = stack.requests.create(create_cmd())
    (run,) = stack.sim.runs(REPO, "plan.yml")
    assert len(stack.sim.repo(REPO).pulls) == 1 and request.status == "planning"
    assert request.plan_run.run_id == run["id"]  # found by the request id in its run-name
    assert request.operation("create", request.idempotency_key).completed_at is not None


GET_REF = "GET /repos/{owner}/{repo}/git/ref/{ref}"
GET_COMMIT = "GET /repos/{owner}/{repo}/git/commits/{commit_sha}"
GET_CONTENT = "GET /repos/{owner}/{repo}/contents/{path}"
PUT_CONTENT = "PUT /repos/{owner}/{repo}/contents/{path}"
DISPATCH = "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
MERGE = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"


def _planned(stack: Stack) -> tuple[str, str, str]:
    """A request with its plan ready: (id, branch, the file's path)."""
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    return request.id, f"request/{request.id}", f"envs/dev/tfpilot_{request.id}.tf"


def _put_bodies(checker: OpenApiChecker) -> list[dict[str, Any]]:
    return [c.body for c in checker.calls if c.operation_id == "repos/create-or-update-file-contents"]


def test_update_replaces_the_file_in_one_put_guarded_by_its_blob(
    stack: Stack,
    openapi_checker: OpenApiChecker,  # noqa: F811
) -> None:
    rid, branch, path = _planned(stack)
    repo = stack.sim.repo(REPO)
    first, old_text = repo.refs[branch], stack.sim.files(REPO, branch)[path]
    before = Counter(stack.client.stats.by_operation)
    done = stack.requests.update_config(rid, {"name": "logs-v2"}, DEV)
    # The branch head (read by the service), the file on top of our own commit, the re-plan.
    assert stack.spent(before) == {GET_REF: 1, PUT_CONTENT: 1, DISPATCH: 1}
    assert _put_bodies(openapi_checker)[-1]["sha"] == blob_sha(old_text)
    head = repo.refs[branch]
    assert stack.sim.commits[head]["parents"] == [first]
    assert 'name = "logs-v2"' in stack.sim.files(REPO, branch)[path]
    assert done.revision == 2 and done.commit_sha == head and done.status == "planning"


def test_update_from_a_fresh_process_reads_the_blob_once(
    stack: Stack,
    openapi_checker: OpenApiChecker,  # noqa: F811
) -> None:
    rid, branch, path = _planned(stack)
    repo = stack.sim.repo(REPO)
    first, old_text = repo.refs[branch], stack.sim.files(REPO, branch)[path]
    stack.restart()
    before = Counter(stack.client.stats.by_operation)
    done = stack.requests.update_config(rid, {"name": "logs-v2"}, DEV)
    # GitHub says the file exists (422 naming "sha"), its blob is read, then replaced under that sha.
    assert stack.spent(before) == {GET_REF: 1, PUT_CONTENT: 2, GET_CONTENT: 1, DISPATCH: 1}
    assert ("PUT", f"/repos/{REPO}/contents/{path}", 422) in stack.sim.seen
    assert "sha" not in _put_bodies(openapi_checker)[-2]
    assert _put_bodies(openapi_checker)[-1]["sha"] == blob_sha(old_text)
    assert stack.sim.commits[repo.refs[branch]]["parents"] == [first] and done.commit_sha == repo.refs[branch]


# From a fresh process: branch head, PUT (422: exists), the file's blob, PUT with sha, dispatch.
# From the process that made the create commit (its blob remembered): branch head, PUT, dispatch.
UPDATE_CRASHES = [(n, "fresh", "new") for n in range(1, 6)] + [(n, "fresh", "same") for n in range(1, 6)]
UPDATE_CRASHES += [(n, "warm", "same") for n in range(1, 4)] + [(n, "warm", "new") for n in range(1, 4)]


@pytest.mark.parametrize(
    ("n", "before", "retry"), UPDATE_CRASHES, ids=[f"{b}-{n}-retry-{r}" for n, b, r in UPDATE_CRASHES]
)
def test_crash_during_update_through_github(stack: Stack, n: int, before: str, retry: str) -> None:
    """A worker dies after the n-th HTTP call of an update; the retry, in a new process or in
    the same one, finds the commit that landed: one new commit, one new plan run. A warm
    process writes under its remembered blob, so its retry meets GitHub's 409 and must still
    recognise its own write."""
    from core.services.operations import LEASE

    rid, branch, path = _planned(stack)
    repo = stack.sim.repo(REPO)
    first = repo.refs[branch]
    if before == "fresh":
        stack.restart()
    original = stack.sim.handler
    die_after(stack, n)
    with pytest.raises(Died):
        stack.requests.update_config(rid, {"name": "logs-v2"}, DEV, key="edit-1")
    stack.router.routes.clear()
    stack.router.route().mock(side_effect=original)
    stack.world.clock.advance(seconds=LEASE.total_seconds() + 1)
    if retry == "new":
        stack.restart()
    done = stack.requests.update_config(rid, {"name": "logs-v2"}, DEV, key="edit-1")
    head = repo.refs[branch]
    assert stack.sim.commits[head]["parents"] == [first]  # exactly one new commit
    assert 'name = "logs-v2"' in stack.sim.files(REPO, branch)[path]
    assert done.commit_sha == head and done.revision == 2
    assert len(stack.sim.runs(REPO, "plan.yml")) == 2
    if (before, retry, n) == ("warm", "same", 2):  # the write landed unrecorded: its repeat got a 409
        assert ("PUT", f"/repos/{REPO}/contents/{path}", 409) in stack.sim.seen
