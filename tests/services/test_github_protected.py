"""The lifecycle on a protected base branch, through the real ``GitHubCodeHost`` and the GitHub
simulator (classic protection and rulesets, GitHub's 405 messages) behind the OpenAPI checker.

A linked approver's Slack approval is a GitHub review and satisfies the required review; an
unlinked approver's is only recorded (the app's comment), the thread says so with the fix, and
Merge is refused at once with the reason (one merge call, no blind retries).

Destroy's removal PR is opened by TfPilot, so the app's own review would not count: a linked
admin's Destroy click reviews it as them and the whole lifecycle reaches destroyed; an unlinked
admin is told, before anything is destroyed, that the PR needs a review and how to give one, and
the review's webhook (or a click once linked) continues it. A merge GitHub refuses after the
destroy is told in the thread once, and the reconciler merges once it is fixed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.views.card import card_actions
from bot.views.replies import transition_reply
from core.domain.policy import Action
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


def _applied(stack: Stack, *tokens: str) -> str:
    """Planned, approved by linked approvers (their reviews), merged and applied."""
    rid = _planned(stack)
    for actor, token in zip((APPROVER, ADMIN), tokens, strict=False):
        stack.requests.approve(rid, actor, user_token=token)
    assert stack.requests.merge(rid, APPROVER).status == "merged"
    applying = stack.requests.apply(rid, APPROVER)
    stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")
    assert stack.world.get(rid).status == "applied"
    return rid


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

    # The admin's GitHub account is linked: their Destroy click reviews the removal PR as them,
    # which satisfies the protection, so the destroy runs on main (the file still there).
    destroying = stack.requests.destroy(rid, ADMIN, user_token=DAVE)
    removal = destroying.cleanup_pr
    assert destroying.status == "destroying" and removal.open and removal.branch == f"destroy/{rid}"
    assert sim.repo(REPO).pulls[removal.number]["user"]["login"] == sim.app_login
    assert [(r["user"]["login"], r["state"]) for r in sim.repo(REPO).reviews[removal.number]] == [("dave", "APPROVED")]
    assert f"envs/dev/tfpilot_{rid}.tf" in sim.files(REPO, "main")
    stack.run_to_end(destroying.destroy_run.run_id, rid, kind="destroy")
    assert sim.repo(REPO).pulls[removal.number]["merged"]  # only after the destroy succeeded
    assert f"envs/dev/tfpilot_{rid}.tf" not in sim.files(REPO, "main")
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


def test_unlinked_admin_destroy_is_told_and_a_github_review_continues_it(stack: Stack) -> None:
    sim, world = stack.sim, stack.world
    sim.protect(REPO, approvals=1)
    rid = _applied(stack, CAROL)

    # Unlinked: the removal PR is opened, nothing is dispatched, and the thread says why and how.
    waiting = stack.requests.destroy(rid, ADMIN)
    removal = waiting.cleanup_pr
    assert waiting.status == "applied" and removal.open and not sim.runs(REPO, "destroy.yml")
    told = _told(stack, rid, "destroy_review_needed")
    assert told.approval is not None and told.approval.satisfies is False and told.approval.via == "recorded"
    text = _reply(stack, rid, told)
    assert f"removal PR #{removal.number}" in text and "requires 1 approving review" in text
    assert "/tfpilot link" in text and "Nothing is destroyed" in text and "approves" in text
    # The reconciler's pass says nothing new and dispatches nothing.
    stack.requests.resume(rid)
    assert world.notifier.events(rid).count("destroy_review_needed") == 1 and not sim.runs(REPO, "destroy.yml")
    assert Action.DESTROY in card_actions(world.get(rid))  # a click once linked continues it

    # Erin approves the removal PR on GitHub: its webhook continues the destroy.
    review = sim.add_review(REPO, removal.number, "erin")
    assert stack.deliver(*sim.review_delivery(REPO, removal.number, review)).changed
    destroying = world.get(rid)
    assert destroying.status == "destroying"
    (run,) = sim.runs(REPO, "destroy.yml")
    assert run["head_branch"] == "main"
    stack.run_to_end(destroying.destroy_run.run_id, rid, kind="destroy")
    assert sim.repo(REPO).pulls[removal.number]["merged"] and rid in world.store.history
    assert world.notifier.events(rid)[-4:] == ["destroy_requested", "destroy_review_needed", "destroying", "destroyed"]


def test_unlinked_admin_links_and_clicks_destroy_again(stack: Stack) -> None:
    sim, world = stack.sim, stack.world
    sim.protect(REPO, approvals=1, dismiss_stale=True)
    rid = _applied(stack, CAROL)
    stack.requests.destroy(rid, ADMIN)
    assert _told(stack, rid, "destroy_review_needed")
    # Linked now: the same destroy continues with the click, which reviews the PR as the admin.
    continued = stack.requests.destroy(rid, ADMIN, user_token=DAVE)
    assert continued.status == "destroying"
    assert [op.key for op in continued.operations if op.kind == "destroy"] == ["destroy"]
    stack.run_to_end(continued.destroy_run.run_id, rid, kind="destroy")
    assert rid in world.store.history


def test_a_removal_pr_github_refuses_after_the_destroy_is_told_once(stack: Stack) -> None:
    sim, world = stack.sim, stack.world
    sim.protect(REPO, approvals=1, checks=("plan",))
    rid = _planned(stack)
    head = world.get(rid).pr.head_sha
    sim.set_check(REPO, head, "plan", "success")
    stack.requests.approve(rid, APPROVER, user_token=CAROL)
    assert stack.requests.merge(rid, APPROVER).status == "merged"
    applying = stack.requests.apply(rid, APPROVER)
    stack.run_to_end(applying.apply_run.run_id, rid, kind="apply")

    destroying = stack.requests.destroy(rid, ADMIN, user_token=DAVE)
    removal = destroying.cleanup_pr
    sim.set_check(REPO, removal.head_sha, "plan", "failure")
    stack.run_to_end(destroying.destroy_run.run_id, rid, kind="destroy")
    stuck = world.get(rid)
    assert stuck.status == "destroyed" and stuck.archived_at is None and not stuck.cleanup_pr.merged
    told = _told(stack, rid, "destroy_blocked")
    assert told.blocked == "checks"
    text = _reply(stack, rid, told)
    assert f"removal PR #{removal.number}" in text and "resources are destroyed" in text
    assert "create them again" in text and "next check" in text
    # The reconciler retrying says nothing new; once the check passes it merges and archives.
    stack.requests.resume(rid)
    assert world.notifier.events(rid).count("destroy_blocked") == 1
    sim.set_check(REPO, removal.head_sha, "plan", "success")
    stack.requests.resume(rid)
    assert sim.repo(REPO).pulls[removal.number]["merged"] and rid in world.store.history


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
