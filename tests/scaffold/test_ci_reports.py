"""The run reports the plan and apply workflows upload: a failed run's diagnostics
(``tfdiag-<id>``/diagnostics.json) and an apply's outputs (``tfoutputs-<id>``/outputs.json).

The workflows' own step scripts run here, as GitHub runs them (``shell: bash`` is
``bash --noprofile --norc -eo pipefail``), against real Terraform on configurations that need no
provider (outputs and functions only), so terraform's real ``-json`` output goes through the
generated helper. Skipped only when terraform is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.scaffold.conftest import Helper

RID = "req_abc123def456"
OTHER = "req_zzz999yyy888"
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")

REQUEST_FILE = f"""# tfpilot:begin {RID}
output "sqs_queue_{RID}_url" {{
  value = "http://sqs.us-east-1.localhost/123456789012/core-dev-orders"
}}

output "sqs_queue_{RID}_arn" {{
  value = "arn:aws:sqs:us-east-1:123456789012:core-dev-orders"
}}

output "sqs_queue_{RID}_password" {{
  value     = upper("hunter2-do-not-upload")
  sensitive = true
}}
# tfpilot:end {RID}
"""
OTHER_FILE = f"""# tfpilot:begin {OTHER}
output "sns_topic_{OTHER}_arn" {{
  value = "arn:aws:sns:us-east-1:123456789012:other"
}}
# tfpilot:end {OTHER}
"""
# An error whose message carries a credential-shaped value (redacted before upload).
BROKEN = """output "broken" {
  value = file("/nonexistent/AKIAABCDEFGHIJKLMNOP/key.pem")
}
"""


def step_script(workflows: dict[str, dict[str, Any]], kind: str, name: str) -> str:
    job = next(iter(workflows[kind]["jobs"].values()))
    assert job["defaults"]["run"]["shell"] == "bash"  # pipefail: terraform's failure fails the step
    script: str = next(s["run"] for s in job["steps"] if s.get("name") == name)
    return script


def run_step(script: str, env_dir: Path, repo: Path) -> subprocess.CompletedProcess[str]:
    """One ``run:`` script as the runner runs it with ``shell: bash``, in the environment's folder."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(repo.parent),
        "GITHUB_WORKSPACE": str(repo),
        "REQUEST_ID": RID,
        "TF_ENV": "dev",
        "TF_IN_AUTOMATION": "true",
        "TF_INPUT": "false",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=env_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def env_dir(repo: Path) -> Path:
    """``envs/dev`` of the scaffold with two requests' files and no provider (init is offline)."""
    root = repo / "envs" / "dev"
    for name in ("providers.tf", "backend.tf"):
        (root / name).unlink()
    (root / f"tfpilot_{RID}.tf").write_text(REQUEST_FILE)
    (root / f"tfpilot_{OTHER}.tf").write_text(OTHER_FILE)
    done = subprocess.run(
        [str(TERRAFORM), "init", "-input=false", "-no-color"], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return root


@needs_terraform
def test_apply_uploads_only_the_requests_non_sensitive_outputs(
    workflows: dict[str, dict[str, Any]], repo: Path, env_dir: Path
) -> None:
    shown = {}
    for name in ("terraform plan", "terraform apply", "The request's outputs"):
        done = run_step(step_script(workflows, "apply", name), env_dir, repo)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        shown[name] = done.stdout
    # terraform's JSON is kept in the log file; the run's log shows it as text.
    assert "Apply complete! Resources: 0 added" in shown["terraform apply"]
    assert '"type":"change_summary"' in (env_dir / "apply.log.json").read_text()
    assert "left out: sqs_queue_" in shown["The request's outputs"]
    report = json.loads((env_dir / "outputs.json").read_text())
    assert report == {
        "format": 1,
        "request_id": RID,
        "outputs": {
            f"sqs_queue_{RID}_url": "http://sqs.us-east-1.localhost/123456789012/core-dev-orders",
            f"sqs_queue_{RID}_arn": "arn:aws:sqs:us-east-1:123456789012:core-dev-orders",
        },
        "left_out": [f"sqs_queue_{RID}_password (sensitive)"],
    }
    # The sensitive value is in none of the files the steps wrote (only in terraform's state).
    written = sorted(p.name for p in env_dir.glob("*.json"))
    assert written == ["apply.log.json", "outputs.json", "plan.log.json"]
    for name in written:
        assert "HUNTER2" not in (env_dir / name).read_text(), name


@needs_terraform
def test_a_failed_plan_leaves_its_first_diagnostics_redacted(
    workflows: dict[str, dict[str, Any]], repo: Path, env_dir: Path
) -> None:
    (env_dir / "broken.tf").write_text(BROKEN)
    validate = run_step(step_script(workflows, "plan", "terraform validate"), env_dir, repo)
    assert validate.returncode != 0  # pipefail: terraform's exit status, not the helper's
    assert "Error: Invalid function argument" in validate.stdout  # shown as text in the run's log
    plan = run_step(step_script(workflows, "plan", "terraform plan"), env_dir, repo)
    assert plan.returncode != 0
    assert "Error: Invalid function argument" in plan.stdout

    done = run_step(step_script(workflows, "plan", "Terraform diagnostics"), env_dir, repo)
    assert done.returncode == 0, done.stdout
    report = json.loads((env_dir / "diagnostics.json").read_text())
    assert report["format"] == 1 and report["request_id"] == RID
    # validate and plan report the same error: it is kept once.
    (diag,) = report["diagnostics"]
    assert diag["severity"] == "error" and diag["summary"] == "Invalid function argument"
    assert "no file exists at" in diag["detail"]
    assert "AKIAABCDEFGHIJKLMNOP" not in json.dumps(report) and "[REDACTED]" in diag["detail"]


@needs_terraform
def test_an_apply_that_fails_leaves_diagnostics_and_no_outputs(
    workflows: dict[str, dict[str, Any]], repo: Path, env_dir: Path
) -> None:
    # Known only at apply time: plan succeeds, apply fails.
    (env_dir / "late.tf").write_text(
        'resource "terraform_data" "late" {\n  input = "x"\n}\n\n'
        'output "late" {\n  value = parseint(terraform_data.late.output, 10)\n}\n'
    )
    run_step("terraform init -input=false -no-color", env_dir, repo)
    assert run_step(step_script(workflows, "apply", "terraform plan"), env_dir, repo).returncode == 0
    applied = run_step(step_script(workflows, "apply", "terraform apply"), env_dir, repo)
    assert applied.returncode != 0
    run_step(step_script(workflows, "apply", "Terraform diagnostics"), env_dir, repo)
    report = json.loads((env_dir / "diagnostics.json").read_text())
    assert [d["summary"] for d in report["diagnostics"]] == ["Invalid function argument"]
    assert not (env_dir / "outputs.json").exists()


def test_diagnostics_are_bounded_errors_first_and_absent_without_any(helper: Helper, repo: Path) -> None:
    lines = [
        json.dumps({"type": "diagnostic", "diagnostic": {"severity": "warning", "summary": "Deprecated", "detail": ""}})
    ]
    lines += [
        json.dumps(
            {
                "type": "diagnostic",
                "@message": f"Error: failure {n}",
                "diagnostic": {
                    "severity": "error",
                    "summary": f"failure {n}",
                    "detail": "x" * 5000 + " password=swordfish",
                    "address": f"module.m.aws_s3_bucket.b[{n}]",
                },
            }
        )
        for n in range(9)
    ]
    (repo / "plan.log.json").write_text("\n".join(lines) + "\n")
    done = helper("diagnostics", "--out", "diagnostics.json", "validate.log.json", "plan.log.json")
    assert done.returncode == 0, done.stdout
    report = json.loads((repo / "diagnostics.json").read_text())
    kept = report["diagnostics"]
    assert [d["summary"] for d in kept] == [f"failure {n}" for n in range(5)]  # errors first, five
    assert all(len(d["detail"]) <= 1500 and d["detail"].endswith("…") for d in kept)
    assert kept[0]["address"] == "module.m.aws_s3_bucket.b[0]"

    (repo / "diagnostics.json").unlink()
    (repo / "plan.log.json").write_text('{"@message": "Terraform 1.11.4", "type": "version"}\n')
    done = helper("diagnostics", "--out", "diagnostics.json", "plan.log.json", "apply.log.json")
    assert done.returncode == 0 and "no terraform diagnostics" in done.stdout
    assert not (repo / "diagnostics.json").exists()  # nothing to upload: the failed step says why


def test_outputs_refuses_what_is_not_terraform_output_json(helper: Helper, repo: Path) -> None:
    (repo / "mine.tf").write_text(REQUEST_FILE)
    done = subprocess.run(
        ["python3", str(repo / ".github/tfpilot/tfpilot_ci.py"), "outputs", "--file", "mine.tf", "--out", "o.json"],
        cwd=repo,
        input="not json",
        env={"PATH": os.environ.get("PATH", ""), "REQUEST_ID": RID},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and done.stdout.startswith("::error::terraform output -json did not print JSON")
    assert not (repo / "o.json").exists()
