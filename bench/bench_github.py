"""GitHub API calls for one full request lifecycle and for keeping 100 idle open requests current
for an hour, measured against the reference's sync-every-3-s polling on the same scenario.

Measured through the real ``GitHubClient`` and ``GitHubCodeHost`` over respx, answered by
``tests.services.github_sim.GitHubSim`` (a stateful GitHub REST simulator; every request is also
checked against GitHub's REST description). The GitHub side reaches the services only as webhook
deliveries built from the octokit fixtures (no polling). The lifecycle's REST calls are printed per
step, in order, by GitHub operation id. Destroy dispatches the infra repo's
cleanup workflow (GitHub runs it and opens the cleanup PR); the PR's webhook makes TfPilot merge
it and dispatch destroy. The reference is modelled, not run: its detail page
polled ``/sync`` every 3 s while a request was not terminal, and one sync made about six GitHub
calls (PR, reviews, plan/apply/destroy runs, plan output), none of them conditional.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import respx

from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.domain.facts import NotOurs
from core.domain.policy import Actor
from core.domain.webhooks import parse_delivery
from tests.conftest import SHARED_FIXTURES
from tests.fakes import ManualClock
from tests.github.openapi_contract import OpenApiChecker, OpenApiSpec
from tests.services.conftest import create_cmd, service_graph
from tests.services.github_sim import API_URL, GitHubSim

REPO = "acme/infra"
TARGET_LIFECYCLE_CALLS = 15
IDLE_REQUESTS = 100
IDLE_HOURS = 1
RECONCILE_MINUTES = 10
# The reference (see the module docstring).
REFERENCE_POLL_SECONDS = 3
REFERENCE_CALLS_PER_SYNC = 6
# How long a lifecycle keeps a request non-terminal (the reference polls all that time):
# plan 3 min, waiting for review 30, merge then apply click 2, apply 5; destroy 5.
REFERENCE_LIFECYCLE_OPEN_MINUTES = 3 + 30 + 2 + 5 + 5

APPROVER = Actor(id="U_APP", name="Abe Approver")
ADMIN = Actor(id="U_ADM", name="Ada Admin")


class CountingHost:
    """Counts ``CodeHost`` port calls on the way to the real host."""

    def __init__(self, inner: GitHubCodeHost) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted


class Stack:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.sim = GitHubSim(now=self.clock.now)
        self.checker = OpenApiChecker(
            OpenApiSpec(SHARED_FIXTURES / "github" / "rest_openapi_selected_ops.json"), API_URL
        )
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.route().mock(side_effect=self.sim.handler)
        self.client = GitHubClient(
            auth=StaticToken("ghs_BENCHtoken0000000000000000000000000000"),
            base_url=API_URL,
            transport=self.checker.transport(self.router.handler),
            sleep=lambda _s: None,
            now=lambda: self.clock.now().timestamp(),  # the scenario's clock, never the wall clock
        )
        self.host = CountingHost(GitHubCodeHost(self.client, dispatch_poll_seconds=0.0))
        # The composition root's graph (on_unblocked and refresh wired) over the simulator.
        graph = service_graph(clock=self.clock, code_host=self.host)
        self.store, self.audit, self.notifier = graph.store, graph.audit, graph.notifier
        self.workflows = graph.settings.workflows()
        self.requests, self.sync = graph.requests, graph.sync
        self.plan = json.loads(
            (SHARED_FIXTURES / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text()
        )
        self.deliveries = 0

    def deliver(self, event: str, payload: dict[str, Any]) -> None:
        fact = parse_delivery(event, payload, workflows=self.workflows)
        if isinstance(fact, NotOurs):
            raise AssertionError(fact.reason)
        self.deliveries += 1
        self.sync.apply_fact(fact)

    def run(self, run_id: int, rid: str, *, plan: bool = False) -> None:
        self.deliver(*self.sim.workflow_run_delivery(REPO, run_id))
        self.sim.set_run(REPO, run_id, "in_progress")
        self.deliver(*self.sim.workflow_run_delivery(REPO, run_id))
        self.clock.advance(minutes=3)
        if plan:
            self.sim.add_artifact(REPO, run_id, f"tfplan-{rid}", "plan.json", self.plan)
        self.sim.set_run(REPO, run_id, "completed", "success")
        self.deliver(*self.sim.workflow_run_delivery(REPO, run_id))

    def snapshot(self) -> tuple[dict[str, Any], Counter[str]]:
        return self.client.stats.snapshot(), Counter(self.host.calls)


def lifecycle() -> dict[str, Any]:
    stack = Stack()
    steps: list[tuple[str, list[str]]] = []
    done = 0

    def step(name: str) -> None:
        # The contract checker saw every REST call in order: name them by GitHub's operation ids.
        nonlocal done
        steps.append((name, [call.operation_id for call in stack.checker.calls[done:]]))
        done = len(stack.checker.calls)

    request = stack.requests.create(create_cmd())
    rid = request.id
    step("create")
    stack.deliver(*stack.sim.pull_request_delivery(REPO, request.pr.number, "opened"))
    stack.run(request.plan_run.run_id, rid, plan=True)
    step("plan (webhooks; plan output + cost)")
    stack.requests.approve(rid, APPROVER)  # recorded by TfPilot + a PR comment (no linked account)
    step("approve")
    stack.requests.merge(rid, APPROVER)
    stack.deliver(*stack.sim.pull_request_delivery(REPO, request.pr.number, "closed"))
    step("merge")
    applying = stack.requests.apply(rid, APPROVER)
    stack.run(applying.apply_run.run_id, rid)
    step("apply (+ run webhooks)")
    stack.requests.destroy(rid, ADMIN)
    step("destroy: dispatch cleanup")
    # The cleanup workflow runs on GitHub and opens its PR; its "opened" webhook continues the destroy.
    (cleanup_run,) = stack.sim.runs(REPO, "cleanup.yml")
    stack.deliver(*stack.sim.workflow_run_delivery(REPO, cleanup_run["id"]))
    stack.sim.set_run(REPO, cleanup_run["id"], "in_progress")
    stack.deliver(*stack.sim.workflow_run_delivery(REPO, cleanup_run["id"]))
    cleanup = stack.sim.cleanup_pr(REPO, rid)
    assert cleanup is not None, "the cleanup workflow opened no PR"
    stack.deliver(*stack.sim.pull_request_delivery(REPO, cleanup, "opened"))
    stack.sim.set_run(REPO, cleanup_run["id"], "completed", "success")
    stack.deliver(*stack.sim.workflow_run_delivery(REPO, cleanup_run["id"]))
    stack.deliver(*stack.sim.pull_request_delivery(REPO, cleanup, "closed"))
    step("destroy: cleanup PR webhook -> merge, destroy")
    destroying = stack.store.get(rid)
    stack.run(destroying.destroy_run.run_id, rid)
    step("destroy run (webhooks)")
    final = stack.store.get(rid)
    assert final.status == "destroyed" and final.archived_at is not None, final.status
    assert not stack.checker.violations, stack.checker.violations
    stats, ports = stack.snapshot()
    stack.client.close()
    return {
        "stats": stats,
        "ports": ports,
        "steps": steps,
        "deliveries": stack.deliveries,
        "statuses": [t.status for _, t in stack.notifier.sent],
    }


def idle_hour() -> dict[str, Any]:
    stack = Stack()
    ids = []
    for i in range(IDLE_REQUESTS):
        request = stack.requests.create(create_cmd(config={"name": f"bucket{i}"}))
        stack.run(request.plan_run.run_id, request.id, plan=True)
        ids.append(request.id)
    assert all(stack.store.get(rid).status == "plan_ready" for rid in ids)
    # A reconciler that has just started has no ETags yet: its first pass pays once.
    before, _ = stack.snapshot()
    for rid in ids:
        stack.sync.sync(rid)
    primed, _ = stack.snapshot()
    rounds = IDLE_HOURS * 60 // RECONCILE_MINUTES
    for _ in range(rounds):
        stack.clock.advance(minutes=RECONCILE_MINUTES)
        for rid in ids:
            stack.sync.sync(rid)
    after, _ = stack.snapshot()
    assert not stack.checker.violations, stack.checker.violations
    stack.client.close()
    return {
        "rounds": rounds,
        "first_pass": {k: primed[k] - before[k] for k in ("calls", "rate_limit_cost")},
        "hour": {k: after[k] - primed[k] for k in ("calls", "reads", "writes", "not_modified", "rate_limit_cost")},
    }


def main() -> None:
    print("counted through: the real GitHubClient + GitHubCodeHost, respx -> GitHubSim (stateful REST simulator),")
    print("                 every request checked against fixtures/github/rest_openapi_selected_ops.json")
    life = lifecycle()
    stats, ports = life["stats"], life["ports"]
    print("\n-- one full lifecycle: create -> plan -> approve -> merge -> apply -> destroy (webhook-driven) --")
    print(
        f"webhook deliveries folded: {life['deliveries']} (no polling); "
        f"statuses notified: {' > '.join(life['statuses'])}"
    )
    port_total = sum(ports.values())
    print(
        f"CodeHost operations: {port_total} (target <= {TARGET_LIFECYCLE_CALLS}: "
        f"{'met' if port_total <= TARGET_LIFECYCLE_CALLS else 'MISSED'})"
    )
    for name, count in sorted(ports.items()):
        print(f"  {name:<22} {count}")
    print(
        f"GitHub REST calls: {stats['calls']} (reads {stats['reads']}, writes {stats['writes']}), "
        f"rate-limit cost {stats['rate_limit_cost']}, plus {stats['downloads']} artifact download(s) off-API "
        f"(target <= {TARGET_LIFECYCLE_CALLS}: {'met' if stats['calls'] <= TARGET_LIFECYCLE_CALLS else 'MISSED'})"
    )
    print("per step (REST calls, in order, by GitHub operation id):")
    for name, ops in life["steps"]:
        print(f"  {name:<46} {len(ops):>2}  {', '.join(ops) or '-'}")
    print(
        "  (the plan run uploads no Infracost artifact here: with one, the cost adds one download, "
        "not a second listing)"
    )
    print("by operation:")
    for op, count in sorted(stats["by_operation"].items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>3}  {op}")
    destroy_calls = sum(len(ops) for name, ops in life["steps"] if name.startswith("destroy"))
    print(
        f"destroy: {destroy_calls} calls (dispatch cleanup, merge its PR, dispatch destroy); the cleanup "
        "workflow makes the branch, the commit and the PR with its own token, off TfPilot's budget"
    )
    if stats["calls"] > TARGET_LIFECYCLE_CALLS:
        print(f"over target by {stats['calls'] - TARGET_LIFECYCLE_CALLS}")
    reference_polls = REFERENCE_LIFECYCLE_OPEN_MINUTES * 60 // REFERENCE_POLL_SECONDS
    reference_life = stats["calls"] + reference_polls * REFERENCE_CALLS_PER_SYNC
    print(
        f"reference (same actions + a detail page polling /sync every {REFERENCE_POLL_SECONDS}s for the "
        f"{REFERENCE_LIFECYCLE_OPEN_MINUTES} non-terminal minutes, {REFERENCE_CALLS_PER_SYNC} calls/sync): "
        f"{reference_life} calls"
    )
    print(f"ratio reference/ours: {reference_life / stats['calls']:.0f}x")

    idle = idle_hour()
    hour = idle["hour"]
    print(f"\n-- {IDLE_REQUESTS} idle open requests (plan ready, awaiting approval) kept current for {IDLE_HOURS} h --")
    print("webhooks: 0 calls (nothing happens, nothing is delivered)")
    print(
        f"reconciler every {RECONCILE_MINUTES} min ({idle['rounds']} passes, conditional GETs): {hour['calls']} calls "
        f"(reads {hour['reads']}, writes {hour['writes']}), {hour['not_modified']} answered 304, "
        f"rate-limit cost {hour['rate_limit_cost']}"
    )
    print(
        f"  (a freshly started reconciler's first pass primes its ETag cache: {idle['first_pass']['calls']} calls, "
        f"rate-limit cost {idle['first_pass']['rate_limit_cost']}, once per process)"
    )
    reference_idle = IDLE_REQUESTS * (IDLE_HOURS * 3600 // REFERENCE_POLL_SECONDS) * REFERENCE_CALLS_PER_SYNC
    print(
        f"reference (/sync every {REFERENCE_POLL_SECONDS}s per open request, {REFERENCE_CALLS_PER_SYNC} calls/sync, "
        f"no ETags): {reference_idle} calls, rate-limit cost {reference_idle}"
    )
    cost = hour["rate_limit_cost"]
    cost_ratio = "infinite (ours is 0)" if cost == 0 else f"{reference_idle / cost:.0f}x"
    print(f"ratio reference/ours: calls {reference_idle / max(hour['calls'], 1):.0f}x, rate-limit cost {cost_ratio}")
