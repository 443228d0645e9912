"""The cleanup workflow's push-and-PR step, run as a runner runs it (``bash -eo pipefail``).

Real git against a local bare "origin"; ``gh`` is a stand-in on PATH that records its calls
(GitHub's API is not reachable here) and, for ``auth setup-git``, configures git the way gh does.
The checkout is a plain clone, as ``actions/checkout`` leaves it with ``persist-credentials:
false``: no token anywhere in ``.git/config``.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RID = "req_abc123def456"
TOKEN = "ghs_only-for-the-push-step"

GH_STUB = """#!/usr/bin/env bash
# Records each call with whether GH_TOKEN was set; answers like gh would for the cleanup step.
printf '%s|token=%s\\n' "$*" "${GH_TOKEN:+set}" >> "$GH_LOG"
case "$1 $2" in
  "pr list") cat "$GH_OPEN_PR" 2>/dev/null || true ;;
  "auth setup-git") git config --global credential.https://github.com.helper '!gh auth git-credential' ;;
  "pr create") echo "https://github.com/acme/core-infra/pull/7" ;;
  *) echo "unexpected gh call: $*" >&2; exit 2 ;;
esac
"""


def git(cwd: Path, *args: str, home: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def cleanup_step(files: dict[str, str]) -> dict[str, Any]:
    workflow = yaml.safe_load(files[".github/workflows/cleanup.yml"])
    (step,) = [s for s in workflow["jobs"]["cleanup"]["steps"] if "GH_TOKEN" in (s.get("env") or {})]
    return step


@pytest.fixture
def world(tmp_path: Path, repo: Path) -> dict[str, Path]:
    home = tmp_path / "home"
    home.mkdir()
    (repo / f"envs/dev/tfpilot_{RID}.tf").write_text(f"# tfpilot:begin {RID}\n# tfpilot:end {RID}\n")
    git(repo, "init", "-q", "-b", "main", home=home)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "add", ".", home=home)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "request", home=home)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin), home=home)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout), home=home)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "gh").write_text(GH_STUB)
    (stub / "gh").chmod((stub / "gh").stat().st_mode | stat.S_IXUSR)
    return {"home": home, "origin": origin, "checkout": checkout, "bin": stub, "log": tmp_path / "gh.log"}


def run_step(step: dict[str, Any], world: dict[str, Path], open_pr: str = "") -> subprocess.CompletedProcess[str]:
    (world["log"].parent / "open_pr").write_text(open_pr)
    env = {
        "PATH": f"{world['bin']}:{os.environ['PATH']}",
        "HOME": str(world["home"]),
        "GIT_CONFIG_NOSYSTEM": "1",
        "REQUEST_ID": RID,
        "TF_ENV": "dev",
        "GITHUB_REF_NAME": "main",
        "GH_LOG": str(world["log"]),
        "GH_OPEN_PR": str(world["log"].parent / "open_pr"),
        "GH_TOKEN": TOKEN,  # the step's env: ${{ github.token }}
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=world["checkout"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_pushes_the_cleanup_branch_and_opens_the_pr(cleanup_step: dict[str, Any], world: dict[str, Path]) -> None:
    done = run_step(cleanup_step, world)
    assert done.returncode == 0, done.stdout + done.stderr
    home, origin = world["home"], world["origin"]
    on_branch = git(origin, "ls-tree", "-r", "--name-only", f"cleanup/{RID}", home=home).split()
    on_main = git(origin, "ls-tree", "-r", "--name-only", "main", home=home).split()
    assert f"envs/dev/tfpilot_{RID}.tf" in on_main
    assert set(on_main) - set(on_branch) == {f"envs/dev/tfpilot_{RID}.tf"}
    calls = world["log"].read_text().splitlines()
    assert calls[0] == f"pr list --head cleanup/{RID} --state open --json url --jq .[0].url // empty|token=set"
    assert calls[1] == "auth setup-git|token=set"
    assert calls[2].startswith(f"pr create --base main --head cleanup/{RID} --title tfpilot: remove {RID} (dev)")
    # The token never lands in the checkout's git config (what persist-credentials would do).
    config = (world["checkout"] / ".git" / "config").read_text()
    assert TOKEN not in config and "extraheader" not in config
    assert TOKEN not in (home / ".gitconfig").read_text()


def test_an_open_cleanup_pr_is_left_alone(cleanup_step: dict[str, Any], world: dict[str, Path]) -> None:
    done = run_step(cleanup_step, world, open_pr="https://github.com/acme/core-infra/pull/6\n")
    assert done.returncode == 0, done.stderr
    assert "cleanup PR already open: https://github.com/acme/core-infra/pull/6" in done.stdout
    assert [c.split("|")[0].split()[:2] for c in world["log"].read_text().splitlines()] == [["pr", "list"]]
    assert git(world["origin"], "branch", "--list", f"cleanup/{RID}", home=world["home"]).strip() == ""


def test_a_file_already_gone_is_a_no_op(cleanup_step: dict[str, Any], world: dict[str, Path]) -> None:
    (world["checkout"] / f"envs/dev/tfpilot_{RID}.tf").unlink()
    done = run_step(cleanup_step, world)
    assert done.returncode == 0, done.stderr
    assert f"envs/dev/tfpilot_{RID}.tf is not on main: nothing to clean up" in done.stdout
    assert git(world["origin"], "branch", "--list", f"cleanup/{RID}", home=world["home"]).strip() == ""
