"""The lifecycle on a protected base branch, through the real ``GitHubCodeHost`` and the GitHub
simulator (classic protection and rulesets, GitHub's 405 messages) behind the OpenAPI checker.

A linked approver's Slack approval is a GitHub review and satisfies the required review; an
unlinked approver's is only recorded (the app's comment), the thread says so with the fix, and
Merge is refused at once with the reason (one merge call, no blind retries). Destroy's cleanup PR
(opened by the workflow, so the app may review it) merges when one review is enough; when more
are required, the thread says why the destroy waits, once, and a Destroy click continues it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.views.replies import transition_reply
from core.ports.code_host import MergeBlocked
from core.ports.notifier import Transition
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.conftest import ADMIN, APPROVER, World, create_cmd
from tests.services.test_github_lifecycle import MERGE, REPO, TOKEN, Stack

CAROL = "ghu_carolTOKEN0000000000000000000000000"
DAVE = "ghu_daveTOKEN00000000000000000000000000"


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    built.sim.app_tokens.add(TOKEN)
    built.sim.logins.update({CAROL: "carol", DAVE: "dave"})
    yield built
    built.client.close()


def _planned(stack: Stack) -> str:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    assert stack.world.get(request.id).status == "plan_ready"
    return request.id


def _told(stack: Stack, rid: str, event: str) -> Transition:
    found = [t for r, t in stack.world.notifier.sent if r == rid and t.event == event]
    assert found, stack.world.notifier.events(rid)
    return found[-1]


def _reply(stack: Stack, rid: str, transition: Transition) -> str:
    reply = transition_reply(stack.world.get(rid), transition)
    return "\n".join(block["text"]["text"] for block in reply["blocks"])


def _destroy_through_cleanup(stack: Stack, rid: str) -> Any:
    sim = stack.sim
    stack.requests.destroy(rid, ADMIN)
    (cleanup_run,) = sim.runs(REPO, "cleanup.yml")
    cleanup = sim.cleanup_pr(REPO, rid)
    assert sim.repo(REPO).pulls[cleanup]["user"]["login"] == "github-actions[bot]"
    sim.set_run(REPO, cleanup_run["id"], "in_progress")
    stack.deliver(*sim.workflow_run_delivery(REPO, cleanup_run["id"]))
    return stack.deliver(*sim.pull_request_delivery(REPO, cleanup, "opened"))


def test_linked_approver_lifecycle_on_a_protected_branch(stack: Stack, openapi_checker: OpenApiChecker) -> None:  # noqa: F811
    sim, world = stack.sim, stack.world
    sim.protect(REPO, approvals=1, dismiss_stale=True)
    rid = _planned(stack)

    approved = stack.requests.approve(rid, APPROVER, user_token=CAROL)
    assert approved.status == "approved"
    standing = approved.operation("approve", approved.operations[-1].key).steps.standing
    assert standing is not None
    assert standing.via == "review" and standing.satisfies is True and standing.reason == "reviews_met"
    told = _told(stack, rid, "approved")
    assert told.approval is not None and told.approval.satisfies is True
    assert "/tfpilot link" not in _reply(stack, rid, told)

    assert stack.requests.merge(rid, APPROVER).status == "merged"
    applying = stack.requests.apply(rid, APPROVER)
    stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")
    assert world.get(rid).status == "applied"

    # The cleanup PR is the workflow's: the app reviews it (its review counts) and merges it.
    assert _destroy_through_cleanup(stack, rid).changed
    destroying = world.get(rid)
    assert destroying.status == "destroying" and destroying.cleanup_pr.merged
    cleanup_reviews = sim.repo(REPO).reviews[destroying.cleanup_pr.number]
    assert [r["user"]["login"] for r in cleanup_reviews] == [sim.app_login]
    stack.run_to_end(destroying.destroy_run.run_id, rid, kind="destroy")
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
    # The protection was read once (cached) and every call conformed to GitHub's description.
    assert stack.client.stats.by_operation["GET /repos/{owner}/{repo}/branches/{branch}/protection"] == 1
    assert not openapi_checker.violations


def test_unlinked_approval_is_told_and_merge_is_refused_at_once(stack: Stack) -> None:
    sim = stack.sim
    sim.protect(REPO, approvals=1)
    rid = _planned(stack)

    approved = stack.requests.approve(rid, APPROVER)
    assert approved.status == "approved"  # TfPilot records it...
    told = _told(stack, rid, "approved")
    assert told.approval is not None and told.approval.satisfies is False
    assert told.approval.via == "recorded" and told.approval.reason == "recorded_only"
    text = _reply(stack, rid, told)  # ...and says at once that GitHub will not count it
    assert "requires 1 approving review" in text and "/tfpilot link" in text and "bypass actor" in text

    merges_before = stack.client.stats.by_operation[MERGE]
    with pytest.raises(MergeBlocked) as refused:
        stack.requests.merge(rid, APPROVER)
    assert refused.value.reason == "reviews" and refused.value.status == 405
    assert "At least 1 approving review is required" in str(refused.value)
    assert stack.client.stats.by_operation[MERGE] - merges_before == 1  # no blind retries
    blocked = _told(stack, rid, "merge_blocked")
    assert blocked.blocked == "reviews" and blocked.required_approvals == 1
    text = _reply(stack, rid, blocked)
    assert "will not merge PR" in text and "/tfpilot link" in text
    assert stack.world.get(rid).status == "approved"  # nothing changed but the thread knows why

    # Linking and approving again (a real review) makes the same merge go through.
    stack.requests.approve(rid, APPROVER, user_token=CAROL)
    assert stack.requests.merge(rid, APPROVER).status == "merged"


def test_a_ruleset_review_rule_is_read_and_its_bypass_honoured(stack: Stack) -> None:
    sim = stack.sim
    ruleset = sim.add_ruleset(REPO, approvals=1)
    rid = _planned(stack)
    stack.requests.approve(rid, APPROVER)
    told = _told(stack, rid, "approved")
    assert told.approval is not None and told.approval.satisfies is False
    assert told.approval.sources == (f"ruleset {ruleset}",)
    with pytest.raises(MergeBlocked) as refused:
        stack.requests.merge(rid, APPROVER)
    assert "Repository rule violations found" in str(refused.value) and refused.value.reason == "reviews"

    # The app as a bypass actor: a recorded approval is enough, and the merge goes through.
    sim.rulesets[REPO][ruleset]["bypass_actors"] = [
        {"actor_id": sim.app_id, "actor_type": "Integration", "bypass_mode": "always"}
    ]
    stack.restart()  # a new process: the protection is read again
    again = stack.requests.approve(rid, ADMIN)
    standing = again.operation("approve", again.operations[-1].key).steps.standing
    assert standing is not None and standing.satisfies is True and standing.reason == "app_bypass"
    assert stack.requests.merge(rid, APPROVER).status == "merged"


def test_unreadable_protection_is_said_to_be_unknown(stack: Stack) -> None:
    stack.sim.protection_readable = False  # 403 "Resource not accessible by integration"
    rid = _planned(stack)
    stack.requests.approve(rid, APPROVER)
    told = _told(stack, rid, "approved")
    assert told.approval is not None and told.approval.satisfies is None and told.approval.reason == "unknown"
    assert "403" in (told.approval.detail or "")
    assert "could not read the protection" in _reply(stack, rid, told)


def test_a_blocked_cleanup_pr_is_told_in_the_thread_once(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    sim, world = stack.sim, stack.world
    sim.protect(REPO, approvals=2)
    rid = _planned(stack)
    stack.requests.approve(rid, APPROVER, user_token=CAROL)
    stack.requests.approve(rid, ADMIN, user_token=DAVE)
    assert stack.requests.merge(rid, APPROVER).status == "merged"
    applying = stack.requests.apply(rid, APPROVER)
    stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")

    # Two reviews required: the app's own review of the cleanup PR is one; GitHub refuses again.
    merges_before = stack.client.stats.by_operation[MERGE]
    _destroy_through_cleanup(stack, rid)
    assert stack.client.stats.by_operation[MERGE] - merges_before == 2  # refused, reviewed, refused
    assert "after a fact unblocked it failed" not in caplog.text
    stuck = world.get(rid)
    assert stuck.status == "applied" and not stuck.cleanup_pr.merged
    told = _told(stack, rid, "destroy_blocked")
    assert told.blocked == "reviews" and told.required_approvals == 2
    text = _reply(stack, rid, told)
    assert "destroy is waiting" in text and "Nothing was destroyed" in text and "Destroy again" in text
    assert "U_DEV U_ADM destroy is waiting" in text  # the requester and the admin who asked
    # The reconciler retrying says nothing new.
    stack.requests.resume(rid)
    assert world.notifier.events(rid).count("destroy_blocked") == 1

    # Someone reviews the cleanup PR on GitHub; a Destroy click continues the destroy.
    sim.add_review(REPO, stuck.cleanup_pr.number, "erin")
    assert stack.requests.destroy(rid, ADMIN).status == "destroying"


@pytest.mark.parametrize("webhook", ["before_the_write", "after_create", "concurrently"])
def test_pr_opened_webhook_and_create_post_one_reply(stack: Stack, webhook: str) -> None:
    """Whichever of the ``pull_request opened`` webhook and create records the open PR first,
    the thread gets exactly one reply for that transition."""
    sim, original = stack.sim, stack.sim.handler
    outcomes: list[Any] = []
    workers: list[threading.Thread] = []

    def deliver(number: int) -> None:
        outcomes.append(stack.deliver(*sim.pull_request_delivery(REPO, number, "opened")))

    def handler(request: Any) -> Any:
        response = original(request)
        if request.method == "POST" and request.url.path.endswith("/pulls") and response.status_code == 201:
            number = json.loads(response.content)["number"]
            if webhook == "before_the_write":
                deliver(number)  # another process folds the webhook before create records the PR
            elif webhook == "concurrently":
                workers.append(threading.Thread(target=deliver, args=(number,)))
                workers[-1].start()
        return response

    stack.router.routes.clear()
    stack.router.route().mock(side_effect=handler)
    request = stack.requests.create(create_cmd())
    for worker in workers:
        worker.join()
    if webhook == "after_create":
        deliver(request.pr.number)
    assert len(outcomes) == 1
    replies = stack.world.notifier.events(request.id)
    assert len(replies) == 1, replies
    assert replies == (["planning"] if webhook == "before_the_write" else replies)
    assert stack.world.get(request.id).status == "planning"


def test_failing_required_check_is_lasting_a_pending_one_is_retried(stack: Stack) -> None:
    sim = stack.sim
    sim.protect(REPO, approvals=0, checks=("plan",))
    rid = _planned(stack)
    stack.requests.approve(rid, APPROVER)
    head = stack.world.get(rid).pr.head_sha
    merges_before = stack.client.stats.by_operation[MERGE]
    # Not reported yet ("is expected"): GitHub may accept in a moment, so the host retries.
    with pytest.raises(Exception) as pending:
        stack.requests.merge(rid, APPROVER)
    assert not isinstance(pending.value, MergeBlocked) and "is expected" in str(pending.value)
    assert stack.client.stats.by_operation[MERGE] - merges_before == stack.host.merge_attempts
    # Failing: lasting, refused at once with the reason.
    sim.set_check(REPO, head, "plan", "failure")
    merges_before = stack.client.stats.by_operation[MERGE]
    with pytest.raises(MergeBlocked) as failing:
        stack.requests.merge(rid, APPROVER)
    assert failing.value.reason == "checks" and stack.client.stats.by_operation[MERGE] - merges_before == 1
    sim.set_check(REPO, head, "plan", "success")
    assert stack.requests.merge(rid, APPROVER).status == "merged"


def test_protection_is_read_once_per_ttl(stack: Stack) -> None:
    stack.sim.protect(REPO, approvals=2, bypass_apps=("tfpilot-app",))
    from core.ports.code_host import RepoRef

    repo = RepoRef(owner="acme", name="infra")
    first = stack.host.branch_protection(repo, "main")
    assert first.visibility == "read" and first.required_approvals == 2 and first.sources == ("branch protection",)
    assert first.app_can_bypass is None  # the host does not know its own slug: cannot tell
    stack.host.app_slug = "tfpilot-app"
    assert stack.host.branch_protection(repo, "main") == first  # cached
    stack.world.clock.advance(seconds=stack.host._protection.ttl + 1)
    again = stack.host.branch_protection(repo, "main")
    assert again.app_can_bypass is True
    assert stack.client.stats.by_operation["GET /repos/{owner}/{repo}/branches/{branch}/protection"] == 2
    unprotected = stack.host.branch_protection(repo, "develop")
    assert unprotected.visibility == "none" and not unprotected.reviews_required
