"""``tfpilot doctor`` on the GitHub simulator (behind the OpenAPI checker) and on this machine.

Each check is driven to its passing and its failing answer: the repository readable, the base
branch present, the workflows and their dispatch inputs (the scaffold's real workflows), the
App's permissions and webhook events (or the token's write access and the repo's hooks), the
branch protection and rulesets, and whether Actions may open pull requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.cli.doctor_checks import Check, github_checks, local_checks, workflow_inputs_verdict
from bot.cli.main import main
from core.adapters.github.app_auth import GitHubAppAuth
from core.adapters.github.auth import StaticToken
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost
from core.domain.workflows import WorkflowNames
from core.scaffold.generator import scaffold_files
from module_registry.projects import ProjectsMap, parse_projects
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.services.github_sim import API_URL, GitHubSim

REPO = "acme/infra"
TOKEN = "ghp_DOCTORtoken0000000000000000000000000000"


def projects() -> ProjectsMap:
    doc = {
        "version": 1,
        "projects": {
            "core": {
                "owner": "acme",
                "repo": "infra",
                "base_branch": "main",
                "environments": {"dev": {"prod": False}, "prod": {"prod": True}},
            }
        },
    }
    return parse_projects(doc, source="test")


class Doctor:
    def __init__(self, checker: OpenApiChecker, *, app: bool) -> None:
        self.sim = GitHubSim()
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.post(url__regex=r".*/app/installations/\d+/access_tokens").respond(
            201, json={"token": TOKEN, "expires_at": "2099-01-01T00:00:00Z"}
        )
        self.router.route().mock(side_effect=self.sim.handler)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        auth = GitHubAppAuth(self.sim.app_id, pem, installation_id=77) if app else StaticToken(TOKEN)
        self.client = GitHubClient(
            auth=auth, base_url=API_URL, transport=checker.transport(self.router.handler), sleep=lambda _s: None
        )
        self.host = GitHubCodeHost(self.client)
        workflows = {p: c for p, c in scaffold_files().items() if p.startswith(".github/workflows/")}
        self.sim.push(REPO, "main", workflows)

    def run(self) -> dict[str, Check]:
        checks = github_checks(self.host, projects(), WorkflowNames())
        assert len({c.name for c in checks}) == len(checks)  # one repo/base: each check once
        assert all(c.scope == "acme/infra@main (core/dev, core/prod)" for c in checks)
        return {c.name: c for c in checks}


@pytest.fixture(params=["app", "token"])
def doctor(request: pytest.FixtureRequest, openapi_checker: OpenApiChecker) -> Iterator[Doctor]:  # noqa: F811
    built = Doctor(openapi_checker, app=request.param == "app")
    yield built
    built.client.close()
    assert not openapi_checker.violations


def _statuses(found: dict[str, Check]) -> dict[str, str]:
    return {name: check.status for name, check in found.items()}


def test_a_ready_repository_passes(doctor: Doctor) -> None:
    doctor.sim.hooks.append(
        {"id": 1, "active": True, "events": ["workflow_run", "pull_request", "pull_request_review"]}
    )
    found = doctor.run()
    assert set(_statuses(found).values()) == {"ok"}, {n: c.detail for n, c in found.items() if c.status != "ok"}
    perms = "app permissions" if isinstance(doctor.client.auth, GitHubAppAuth) else "token permissions"
    assert perms in found and found["workflow plan"].detail.endswith("accepts request_id, environment")


def test_a_missing_repository_fails_and_stops(openapi_checker: OpenApiChecker) -> None:  # noqa: F811
    doc = Doctor(openapi_checker, app=False)
    doc.router.routes.clear()
    doc.router.get(url__regex=r".*/repos/acme/infra$").respond(404, json={"message": "Not Found"})
    found = doc.run()
    assert _statuses(found) == {"repository": "fail"}
    assert "install the GitHub App" in (found["repository"].fix or "")


def test_missing_workflow_and_wrong_inputs_fail(doctor: Doctor) -> None:
    files = doctor.sim.files(REPO, "main")
    plan = files[".github/workflows/plan.yml"].replace("      request_id:", "      req:")
    doctor.sim.push(REPO, "main", {".github/workflows/plan.yml": plan})
    repo = doctor.sim.repo(REPO)
    tree = dict(doctor.sim.trees[doctor.sim.commits[repo.refs["main"]]["tree"]])
    del tree[".github/workflows/destroy.yml"]
    del tree[".github/workflows/cleanup.yml"]  # no longer dispatched: not checked
    repo.refs["main"] = doctor.sim._commit(doctor.sim._tree(tree), [repo.refs["main"]], "drop destroy")
    found = doctor.run()
    assert found["workflow plan"].status == "fail" and "request_id" in found["workflow plan"].detail
    assert found["workflow destroy"].status == "fail" and "missing" in found["workflow destroy"].detail
    assert "tfpilot scaffold infra-repo" in (found["workflow destroy"].fix or "")
    assert found["workflow apply"].status == "ok"
    assert "workflow cleanup" not in found


def test_an_older_destroy_workflow_warns(doctor: Doctor) -> None:
    """A destroy.yml from before the removal PR (no preflight, no restore) still accepts the
    dispatch, but a destroy AWS refuses part-way would strip the resources: re-scaffold."""
    current = doctor.sim.files(REPO, "main")[".github/workflows/destroy.yml"]
    assert doctor.run()["workflow destroy"].status == "ok"
    older = current.replace("destroy-preflight", "check-destroy").replace("check-restore", "check-destroy")
    doctor.sim.push(REPO, "main", {".github/workflows/destroy.yml": older})
    found = doctor.run()["workflow destroy"]
    assert found.status == "warn" and "destroy-preflight, check-restore" in found.detail
    assert "tfpilot scaffold infra-repo" in (found.fix or "")


def test_required_checks_must_come_from_the_plan_workflow(doctor: Doctor) -> None:
    """TfPilot runs the plan workflow on the head of each PR it opens (the removal PR too): a
    required check reported by nothing TfPilot runs keeps those PRs unmergeable."""
    doctor.sim.protect(REPO, approvals=0, checks=("terraform plan (request branch)",))
    ours = doctor.run()["branch protection"]
    assert ours.status == "ok" and "the plan workflow reports them" in ours.detail, ours.detail
    doctor.sim.protect(REPO, approvals=0, checks=("ci / lint",))
    doctor.host = GitHubCodeHost(doctor.client)  # a new process: the protection is read again
    foreign = doctor.run()["branch protection"]
    assert foreign.status == "warn" and "ci / lint" in foreign.detail and "removal PRs" in foreign.detail
    assert "terraform plan (request branch)" in foreign.detail


def test_permissions_events_actions_and_protection_fail_or_warn(doctor: Doctor) -> None:
    sim = doctor.sim
    sim.installation_permissions["pull_requests"] = "read"
    sim.installation_events.remove("pull_request_review")
    sim.protect(REPO, approvals=1)
    found = doctor.run()
    # TfPilot opens destroy's removal PR itself: whether Actions may open PRs no longer matters.
    assert "actions may open PRs" not in found
    protection = found["branch protection"]
    assert protection.status == "warn" and "1 approving review(s) required" in protection.detail
    assert "removal PR (destroy/<id>" in protection.detail
    assert "/tfpilot link" in (protection.fix or "")
    if isinstance(doctor.client.auth, GitHubAppAuth):
        assert found["app permissions"].status == "fail" and "pull_requests" in found["app permissions"].detail
        assert found["webhook events"].status == "warn" and "pull_request_review" in found["webhook events"].detail
    else:  # a token: no hooks visible that send the events
        assert found["token permissions"].status == "ok"
        assert found["webhook events"].status == "warn"


def test_protection_the_app_bypasses_passes_and_unreadable_warns(doctor: Doctor) -> None:
    doctor.sim.add_ruleset(REPO, approvals=1, app_bypass=True)
    assert doctor.run()["branch protection"].status == "ok"
    doctor.sim.rulesets.clear()
    doctor.sim.protection_readable = False
    doctor.host = GitHubCodeHost(doctor.client)  # a new process: the protection is read again
    unreadable = doctor.run()["branch protection"]
    assert unreadable.status == "warn" and "403" in unreadable.detail


def test_workflow_inputs_verdicts() -> None:
    assert workflow_inputs_verdict("on: push\n")[0] == "fail"
    assert workflow_inputs_verdict("on: [workflow_dispatch]\n") == (
        "fail",
        "workflow_dispatch lacks the input(s) request_id, environment that TfPilot sends",
    )
    extra = "on:\n  workflow_dispatch:\n    inputs:\n      request_id: {}\n      environment: {}\n      x: {required: true}\n"
    assert workflow_inputs_verdict(extra) == ("fail", "workflow_dispatch requires input(s) TfPilot does not send: x")
    assert workflow_inputs_verdict(": not yaml: [")[0] == "fail"


def test_local_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    found = {c.name: c for c in local_checks(tmp_path / "data", which=lambda _n: None, plugin_dirs=[])}
    assert found["terraform"].status == "warn" and found["provider"].status == "warn"
    assert found["data directory"].status == "ok" and (tmp_path / "data").is_dir()
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert {c.name: c.status for c in local_checks(blocked / "sub", plugin_dirs=[tmp_path])}["data directory"] == "fail"


def test_doctor_command_local_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in ("GITHUB_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFPILOT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "empty.env").write_text("")
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(tmp_path / "empty.env"))
    assert main(["doctor", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "local" and doc["ok"] is True
    assert {c["name"] for c in doc["checks"]} == {"terraform", "provider", "data directory"}
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "checking what the local forge and runner need" in out and "data directory" in out


def test_doctor_command_exit_code_on_failure(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    failing = [Check(name="repository", scope="acme/infra@main", status="fail", detail="gone", fix="install it")]
    monkeypatch.setattr("bot.cli.doctor_cmd.collect", lambda: ("github", failing))
    assert main(["doctor"]) == 1
    assert "[FAIL] acme/infra@main: repository: gone" in capsys.readouterr().out
    assert main(["doctor", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_classic_bypass_is_recognised_by_the_apps_id(openapi_checker: OpenApiChecker) -> None:  # noqa: F811
    """An App client knows its id: classic protection naming the App in its bypass allowances
    means recorded approvals are enough, without knowing the App's slug."""
    doc = Doctor(openapi_checker, app=True)
    doc.sim.protect(REPO, approvals=1, bypass_apps=(doc.sim.app_slug,))
    from core.ports.code_host import RepoRef

    found = doc.host.branch_protection(RepoRef(owner="acme", name="infra"), "main")
    assert found.required_approvals == 1 and found.app_can_bypass is True
    doc.client.close()
