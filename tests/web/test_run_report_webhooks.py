"""Scenario, GitHub mode: an apply run's ``workflow_run`` completed delivery (octokit's shared
payload, re-aimed at the request, signed) reaches ``POST /github/webhook``; TfPilot reads the
run's ``tfoutputs-<id>`` artifact through the real ``GitHubCodeHost`` (the GitHub simulator
behind the OpenAPI contract checker serves the zip, made by the workflow helper's own code) and
the Slack card (the real ``SlackNotifier`` against the fake Slack Web API) shows the outputs;
a failed plan's ``tfdiag-<id>`` shows Terraform's diagnostics the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import respx
from slack_sdk import WebClient

from bot.slack_notifier import SlackNotifier
from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.services.sync import SyncService
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.scaffold.conftest import ci_helper_module
from tests.services.conftest import APPROVER, create_cmd
from tests.services.github_sim import API_URL, GitHubSim
from tests.services.helpers import merged
from tests.slack.fake_slack import FakeSlack
from tests.web.conftest import Web, load_fixture
from tests.web.payloads import REPO, aim_at

COMPLETED = "octokit__workflow_run_completed.payload.json"


class GitHubSide:
    """The web app's sync over the real GitHub adapter (simulated GitHub) and the real Slack notifier."""

    def __init__(self, web: Web, checker: OpenApiChecker) -> None:
        self.sim = GitHubSim(now=web.world.clock.now)
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.route().mock(side_effect=self.sim.handler)
        self.client = GitHubClient(
            auth=StaticToken("ghs_SIMULATEDtoken000000000000000000000000"),
            base_url=API_URL,
            transport=checker.transport(self.router.handler),
            sleep=lambda _s: None,
            now=lambda: web.world.clock.now().timestamp(),
            rand=lambda: 0.5,
        )
        self.slack = FakeSlack().start()
        world = web.world
        notifier = SlackNotifier(
            WebClient(token="xoxb-test", base_url=self.slack.api_url),
            cards=world.requests,
            read=world.deps.queries.get,
        )
        web.deps.sync = SyncService(
            world.store, GitHubCodeHost(self.client), notifier, world.audit, world.clock, world.workflows
        )

    def close(self) -> None:
        self.client.close()
        self.slack.stop()


@pytest.fixture
def github(web: Web, openapi_checker: OpenApiChecker) -> Iterator[GitHubSide]:  # noqa: F811
    side = GitHubSide(web, openapi_checker)
    yield side
    side.close()
    assert not openapi_checker.violations


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return ci_helper_module(tmp_path_factory.mktemp("ci"))


def completed(request_id: str, workflow: str, run_id: int, head_sha: str | None, conclusion: str) -> dict[str, Any]:
    payload = aim_at("workflow_run", load_fixture(COMPLETED), request_id, workflow=workflow, run_id=run_id)
    payload["workflow_run"].update(conclusion=conclusion, head_sha=head_sha or payload["workflow_run"]["head_sha"])
    return payload


def blocks_text(call: Any) -> str:
    return json.dumps(call.params.get("blocks") or call.params)


def test_an_apply_completion_puts_the_outputs_on_the_card(web: Web, github: GitHubSide, ci: ModuleType) -> None:
    world = web.world
    request = world.requests.apply(merged(world).id, APPROVER)
    run_id = request.apply_run.run_id
    prefix = f"{request.module.replace('-', '_')}_{request.id}_"
    report = ci.outputs_report(
        {
            f"{prefix}arn": {"sensitive": False, "type": "string", "value": "arn:aws:s3:::core-dev-logs"},
            f"{prefix}bucket": {"sensitive": False, "type": "string", "value": "core-dev-logs"},
            f"{prefix}secret": {"sensitive": True, "type": "string", "value": "do-not-upload"},
        },
        [f"{prefix}arn", f"{prefix}bucket", f"{prefix}secret"],
    )
    report["request_id"] = request.id
    github.sim.add_artifact_files(
        REPO, run_id, f"tfoutputs-{request.id}", {"outputs.json": json.dumps(report).encode()}
    )

    payload = completed(request.id, "apply.yml", run_id, request.merged_sha, "success")
    assert web.deliver("workflow_run", payload).status_code == 202

    stored = world.get(request.id)
    assert stored.status == "applied"
    assert github.client.stats.downloads == 1  # the artifact, through the GitHub adapter
    assert stored.outputs == {"arn": "arn:aws:s3:::core-dev-logs", "bucket": "core-dev-logs"}
    card = blocks_text(github.slack.of("chat.update")[-1])
    assert "*Outputs*" in card and "core-dev-logs" in card and "do-not-upload" not in card
    (reply,) = [c for c in github.slack.of("chat.postMessage") if "Outputs:" in c.text()]
    assert "`arn` = `arn:aws:s3:::core-dev-logs`" in reply.text()


def test_a_failed_plan_completion_quotes_the_diagnostics_on_the_card(
    web: Web, github: GitHubSide, ci: ModuleType
) -> None:
    world = web.world
    request = world.get(world.requests.create(create_cmd()).id)
    run_id = request.plan_run.run_id
    log = json.dumps(
        {
            "type": "diagnostic",
            "@message": "Error: Unsupported argument",
            "diagnostic": {
                "severity": "error",
                "summary": "Unsupported argument",
                "detail": 'An argument named "versioning_enabled" is not expected here.',
            },
        }
    )
    report = ci.diagnostics_report(ci.diagnostics_in(log))
    github.sim.add_artifact_files(
        REPO, run_id, f"tfdiag-{request.id}", {"diagnostics.json": json.dumps(report).encode()}
    )

    payload = completed(request.id, "plan.yml", run_id, request.pr.head_sha, "failure")
    assert web.deliver("workflow_run", payload).status_code == 202

    assert world.get(request.id).status == "failed"
    assert github.client.stats.downloads == 1
    card = blocks_text(github.slack.of("chat.update")[-1])
    assert "Terraform said" in card and "Unsupported argument" in card and "versioning_enabled" in card
    assert any("Unsupported argument" in c.text() for c in github.slack.of("chat.postMessage"))
