"""The generated Terraform passes ``terraform fmt -check``, and the destroy approach works on a
real Terraform state (``terraform_data`` needs no provider download; local state in tmp_path)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.scaffold.conftest import Helper

TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH")
pytestmark = [pytest.mark.terraform, needs_terraform]


def tf(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd.parent),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    assert TERRAFORM is not None
    return subprocess.run(
        [TERRAFORM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_fmt_check(repo: Path) -> None:
    done = tf(repo, "fmt", "-check", "-recursive", "-diff", ".")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in repo.rglob("*.tf")) == sorted(["backend.tf", "providers.tf", "main.tf"] * 3)


def request(request_id: str, body: str) -> str:
    return f"# tfpilot:begin {request_id}\n{body}# tfpilot:end {request_id}\n"


A, B, C = "req_aaaaaa111111", "req_bbbbbb222222", "req_cccccc333333"


@pytest.fixture
def applied(repo: Path) -> Path:
    """envs/dev with three applied requests on local state; B depends on A."""
    env = repo / "envs" / "dev"
    (env / "backend.tf").unlink()  # local state instead of S3
    (env / "providers.tf").unlink()  # no AWS provider download in tests
    (env / f"tfpilot_{A}.tf").write_text(request(A, 'resource "terraform_data" "a" {\n  input = "a"\n}\n'))
    (env / f"tfpilot_{B}.tf").write_text(
        request(B, 'resource "terraform_data" "b" {\n  input = terraform_data.a.output\n}\n')
    )
    (env / f"tfpilot_{C}.tf").write_text(request(C, 'resource "terraform_data" "c" {\n  count = 2\n  input = "c"\n}\n'))
    for args in (("init", "-input=false"), ("apply", "-input=false", "-auto-approve")):
        done = tf(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    return env


def destroy_plan(helper: Helper, env: Path, request_id: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The destroy workflow's steps: request-file, targets, plan -destroy -target, check-destroy."""
    base = {"REQUEST_ID": request_id, "TF_ENV": "dev"}
    request_tf = tmp_path / f"{request_id}.tf"
    done = helper("request-file", "--out", str(request_tf), env=base)
    assert done.returncode == 0, done.stdout
    done = helper("targets", str(request_tf), env=base)
    assert done.returncode == 0, done.stdout
    (tmp_path / "targets.txt").write_text(done.stdout)
    targets = [f"-target={line}" for line in done.stdout.splitlines() if line]
    plan = tf(env, "plan", "-destroy", "-input=false", *targets, "-out", "tfdestroy")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    shown = tf(env, "show", "-json", "tfdestroy")
    assert shown.returncode == 0
    (tmp_path / "destroy-plan.json").write_text(shown.stdout)
    return helper("check-destroy", str(tmp_path / "destroy-plan.json"), "--targets", str(tmp_path / "targets.txt"))


def state_addresses(env: Path) -> set[str]:
    done = tf(env, "show", "-json")
    values = json.loads(done.stdout).get("values") or {}
    return {r["address"] for r in values.get("root_module", {}).get("resources", [])}


@pytest.mark.slow
def test_destroy_scoped_to_one_request(helper: Helper, applied: Path, tmp_path: Path) -> None:
    assert state_addresses(applied) == {
        "terraform_data.a",
        "terraform_data.b",
        "terraform_data.c[0]",
        "terraform_data.c[1]",
    }
    checked = destroy_plan(helper, applied, C, tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert "2 resource(s) of this request to destroy" in checked.stdout
    done = tf(applied, "apply", "-input=false", "tfdestroy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert state_addresses(applied) == {"terraform_data.a", "terraform_data.b"}


@pytest.mark.slow
def test_destroy_after_cleanup_removed_the_file(helper: Helper, applied: Path, tmp_path: Path, repo: Path) -> None:
    # The cleanup PR was merged: the file is gone from the branch but still in history.
    for args in (
        ("init", "-q", "-b", "main"),
        ("add", "."),
        ("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "requests"),
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "rm", "-q", f"envs/dev/tfpilot_{C}.tf"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "cleanup"], cwd=repo, check=True
    )
    checked = destroy_plan(helper, applied, C, tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert tf(applied, "apply", "-input=false", "tfdestroy").returncode == 0
    assert state_addresses(applied) == {"terraform_data.a", "terraform_data.b"}


@pytest.mark.slow
def test_destroy_refused_when_another_request_depends_on_it(helper: Helper, applied: Path, tmp_path: Path) -> None:
    checked = destroy_plan(helper, applied, A, tmp_path)
    assert checked.returncode == 1
    assert "the destroy plan changes more than this request's resources" in checked.stdout
    assert "terraform_data.b (delete)" in checked.stdout
    assert len(state_addresses(applied)) == 4  # nothing applied
