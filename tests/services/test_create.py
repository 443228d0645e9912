"""RequestService.create and preview: validation, permissions, the four steps, idempotency."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.views.refusals import reason_text
from bot.views.timeline_text import timeline_label
from core.domain.errors import PermissionDenied, RequestAlreadyExists
from core.domain.ids import is_request_id
from core.domain.policy import Policy
from core.domain.request import Requester, SlackThread
from core.services.commands import CreateRequest, request_id_for_key
from module_registry.errors import ConfigRejected, UnknownProject
from tests.services.conftest import REQUESTER, World, create_cmd
from tests.services.fake_code_host import FakeCodeHost
from tests.services.helpers import use_policy


def test_create_opens_branch_commit_pr_and_plan(world: World) -> None:
    request = world.requests.create(create_cmd())

    assert is_request_id(request.id)
    assert request.status == "planning"
    assert request.branch_name == f"request/{request.id}"
    path = f"envs/dev/tfpilot_{request.id}.tf"
    assert request.target_files == [path]
    assert request.config == {"name": "logs", "versioning": True}  # registry defaults applied
    # One branch holding the rendered file on top of main.
    tree = world.host.tree(world.repo, request.branch_name)
    assert tree[path].startswith(f"# tfpilot:begin {request.id}")
    assert world.host.commits[request.commit_sha].parent == world.host.repo(world.repo).branches["main"]
    # One PR with labels, a summary, the config table and the Slack thread link.
    pr = world.host.repo(world.repo).prs[request.pr.number]
    assert pr.head == request.branch_name and pr.base == "main"
    assert pr.labels == ["tfpilot", "env:dev", "module:s3-bucket"]
    assert "| `name` | `logs` |" in pr.body
    assert "https://slack.com/archives/C123/p1700000000000100" in pr.body
    assert request.pr.open and request.pr.head_sha == request.commit_sha
    # One plan run on the branch, with the request's inputs.
    (run,) = world.host.runs_of("plan.yml")
    assert run.ref == request.branch_name
    assert run.inputs == {"request_id": request.id, "environment": "dev"}
    assert request.plan_run.run_id == run.run_id and request.plan_run.status == "queued"
    # Recorded progress, events, timeline, one notification.
    op = request.operation("create", request.idempotency_key)
    assert op.completed_at is not None and op.steps.lease is None
    steps = op.steps
    assert steps.branch is not None and steps.commit is not None and steps.pr is not None
    assert steps.launches["plan"].at is not None and steps.launches["plan"].recorded
    assert world.events(request.id) == ["request_created", "branch_created", "pr_opened", "plan_dispatched"]
    assert [timeline_label(t) for t in request.timeline] == [
        "Request created",
        "Branch created",
        "Terraform committed",
        "Pull request opened",
        "Plan dispatched",
    ]
    assert world.notifier.events(request.id) == ["created"]
    assert world.notifier.sent[0][1].status == "planning"


def test_create_costs_five_code_host_calls(world: World) -> None:
    world.requests.create(create_cmd())
    assert dict(world.host.calls) == {
        "branch_head": 1,
        "create_branch": 1,
        "commit_files": 1,
        "open_pull_request": 1,
        "dispatch_workflow": 1,
    }


def test_preview_is_exactly_what_create_commits(world: World) -> None:
    cmd = create_cmd(request_id="req_preview01")
    files = world.requests.preview(cmd)
    assert world.host.total() == 0 and world.store.writes == 0
    request = world.requests.create(cmd)
    tree = world.host.tree(world.repo, request.branch_name)
    assert {path: tree[path] for path in files} == files


def test_retried_create_returns_the_same_request_without_new_calls(world: World) -> None:
    first = world.requests.create(create_cmd())
    calls = world.host.total()
    again = world.requests.create(create_cmd())
    assert again.id == first.id
    assert world.host.total() == calls
    assert len(world.host.runs_of("plan.yml")) == 1
    assert world.notifier.events(first.id) == ["created"]


def test_explicit_idempotency_key_names_the_request(world: World) -> None:
    a = world.requests.create(create_cmd(idempotency_key="slack-view-V123"))
    b = world.requests.create(create_cmd(idempotency_key="slack-view-V123"))
    assert a.id == b.id == request_id_for_key("slack-view-V123")
    c = world.requests.create(create_cmd(idempotency_key="slack-view-V999"))
    assert c.id != a.id
    assert len(world.host.repo(world.repo).prs) == 2


def test_same_key_from_another_requester_is_refused(world: World) -> None:
    world.requests.create(create_cmd(idempotency_key="k-1"))
    other = Requester(id="U_OTHER", name="Other")
    with pytest.raises(RequestAlreadyExists):
        world.requests.create(create_cmd(idempotency_key="k-1", requester=other))


def test_same_request_id_with_another_intent_is_refused(world: World) -> None:
    world.requests.create(create_cmd(request_id="req_fixed0001"))
    with pytest.raises(RequestAlreadyExists):
        world.requests.create(create_cmd(request_id="req_fixed0001", config={"name": "other"}))


def test_viewer_cannot_create(world: World) -> None:
    cmd = create_cmd(requester=Requester(id="U_VIEW"), request_id="req_viewer0001")
    with pytest.raises(PermissionDenied) as err:
        world.requests.create(cmd)
    assert "developer role" in reason_text(err.value.reason)
    assert world.events("req_viewer0001") == ["create_blocked"]
    assert world.audit.events("req_viewer0001")[0].data["reason"] == err.value.reason.model_dump(mode="json")
    assert world.host.total() == 0 and world.store.writes == 0


def test_prod_needs_the_prod_allowlist(world: World) -> None:
    outsider = Requester(id="U_DEV2")
    use_policy(world, Policy.of(developers=["U_DEV", "U_DEV2"], prod_allowed=["U_DEV"]))
    with pytest.raises(PermissionDenied) as err:
        world.requests.create(create_cmd(environment="prod", requester=outsider, request_id="req_prodno0001"))
    assert "prod allowlist" in reason_text(err.value.reason)
    assert world.events("req_prodno0001") == ["create_blocked"]
    allowed = world.requests.create(create_cmd(environment="prod"))
    assert allowed.prod and allowed.is_prod


def test_invalid_config_is_rejected_with_field_errors(world: World) -> None:
    with pytest.raises(ConfigRejected) as err:
        world.requests.create(create_cmd(config={"name": "Not Lower"}))
    assert [e.field for e in err.value.errors] == ["name"]
    with pytest.raises(ConfigRejected) as err:
        world.requests.create(create_cmd(environment="prod", config={"name": "x", "force_destroy": True}))
    assert [e.field for e in err.value.errors] == ["force_destroy"]
    assert world.host.total() == 0 and world.store.writes == 0


def test_module_outside_the_environment_allowlist_is_rejected(world: World) -> None:
    with pytest.raises(ConfigRejected) as err:
        world.requests.create(create_cmd(environment="sandbox"))
    assert err.value.errors[0].field == "module" and "is not allowed here" in err.value.errors[0].message
    assert "sqs-queue" in (err.value.errors[0].allowed or "")


def test_unknown_project_or_environment(world: World) -> None:
    with pytest.raises(UnknownProject):
        world.requests.create(create_cmd(environment="qa"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", "../etc"),
        ("environment", "dev/x"),
        ("module", "S3"),
        ("request_id", "req_../x"),
        ("idempotency_key", "has space"),
        ("project", ""),
    ],
)
def test_bad_identifiers_are_refused_before_anything(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        create_cmd(**{field: value})


def test_oversized_config_is_refused() -> None:
    with pytest.raises(ValidationError):
        create_cmd(config={"blob": "x" * (65 * 1024)})


def test_dispatch_without_run_details_leaves_a_requested_run_sync_finds(world: World) -> None:
    world.host.return_run_details = False
    request = world.requests.create(create_cmd())
    assert request.plan_run.run_id is None and request.plan_run.status == "requested"
    assert request.status == "planning"
    synced = world.sync.sync(request.id)
    (run,) = world.host.runs_of("plan.yml")
    assert synced.plan_run.run_id == run.run_id
    assert synced.plan_run.dispatched_at == request.plan_run.dispatched_at
    assert synced.last_synced_at == world.clock.now()


def test_command_key_is_stable_and_sensitive_to_the_intent() -> None:
    a, b = create_cmd(), create_cmd()
    assert a.key() == b.key() and a.resolved_request_id() == b.resolved_request_id()
    assert create_cmd(config={"name": "other"}).key() != a.key()
    assert CreateRequest(project="core", environment="dev", module="s3-bucket", requester=REQUESTER).key() != a.key()


def test_a_second_process_resumes_nothing_when_done(world: World) -> None:
    request = world.requests.create(create_cmd())
    calls = world.host.total()
    world.fresh_requests().resume(request.id)
    assert world.host.total() == calls


def test_base_branch_missing_is_a_clear_error(world: World) -> None:
    world.host = FakeCodeHost(base_branch="trunk", clock=world.clock)
    service = world.fresh_requests()
    with pytest.raises(Exception, match="base branch 'main' not found"):
        service.create(create_cmd())


def test_pr_body_links_the_channel_before_the_card_exists(world: World) -> None:
    request = world.requests.create(create_cmd(slack=SlackThread(team_id="T1", channel="C999")))
    body = world.host.repo(world.repo).prs[request.pr.number].body
    assert "https://slack.com/app_redirect?channel=C999&team=T1" in body


def test_pr_body_cells_cannot_break_the_table(world: World) -> None:
    from core.services.pr_text import cell

    assert cell("a|b\n`c`") == "a\\|b 'c'"
    assert len(cell("x" * 500)) == 200
    assert cell({"k": [1, 2]}) == '{"k": [1, 2]}'


def test_the_steps_of_a_create_are_logged_with_where_the_request_came_from(world) -> None:
    from tests.services.conftest import create_cmd

    request = world.requests.create(create_cmd(source="console"))
    sources = {e.event: e.source for e in world.audit.events(request.id)}
    for event in ("request_created", "branch_created", "pr_opened", "plan_dispatched"):
        assert sources[event] == "console", event
