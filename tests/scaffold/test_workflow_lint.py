"""actionlint and zizmor on the scaffold's workflows and dependabot.yml, as a user gets them.

Both run offline (zizmor ``--offline``: no GitHub token, no network). A regression fails with
the finding named: the tool's rule, the file and the line. ``make lint`` runs the same check.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.scaffold.generator import DEPENDABOT_PATH

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed: it is a dev dependency (make venv)"
    return str(found)


def actionlint(root: Path) -> list[dict[str, Any]]:
    workflows = sorted(str(p) for p in (root / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = subprocess.run(
        [tool("actionlint"), "-no-color", "-format", "{{json .}}", *workflows],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: findings; anything else: the tool failed
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return findings


def zizmor(root: Path, persona: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-config",
            "--no-progress",
            "--strict-collection",  # a dependabot.yml its schema refuses is an error, not skipped
            f"--persona={persona}",
            "--format=json",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root.parent)},  # no GitHub token reaches it
    )
    # 0: clean; 10-14: findings by severity; anything else (1, 2, 3): zizmor could not audit.
    assert done.returncode == 0 or done.returncode >= 10, done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    audited = {line.split("completed ", 1)[1] for line in done.stderr.splitlines() if "completed " in line}
    assert f"{root}/{DEPENDABOT_PATH}" in audited, done.stderr
    return findings


def named(findings: list[dict[str, Any]]) -> list[str]:
    out = []
    for finding in findings:
        where = finding["locations"][0]
        path = where["symbolic"]["key"]["Local"]["verbatim_path"]
        row = where["concrete"]["location"]["start_point"]["row"] + 1
        out.append(f"{finding['ident']} ({finding['determinations']['severity']}) at {Path(path).name}:{row}")
    return out


def test_actionlint_is_clean(repo: Path) -> None:
    findings = actionlint(repo)
    assert [f"{f['kind']} at {Path(f['filepath']).name}:{f['line']}: {f['message']}" for f in findings] == []


def test_zizmor_pedantic_is_clean(repo: Path) -> None:
    assert named(zizmor(repo, "pedantic")) == []


def test_zizmor_auditor_finds_only_secrets_outside_an_environment(repo: Path) -> None:
    # The auditor persona (false positives accepted) would have the AWS key secrets behind GitHub
    # deployment environments. Deliberately not done: every plan would become a deployment, and
    # the environment would change the OIDC subject claim (docs/infra-repo.md, "Actions used").
    idents = {f["ident"] for f in zizmor(repo, "auditor")}
    assert idents <= {"secrets-outside-env"}


def test_the_checks_do_find_what_they_look_for(repo: Path) -> None:
    # The same tools on a workflow with the problems this scaffold avoids: they must report them,
    # or the clean results above would mean nothing.
    bad = repo / ".github" / "workflows" / "bad.yml"
    bad.write_text(
        "name: bad\n"
        "on: workflow_dispatch\n"
        "permissions:\n  id-token: write\n  contents: write\n"
        "jobs:\n  bad:\n    name: bad\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.inputs.x }}\n"
        "      - run: echo ${{ steps.nope.outputs.x }\n"
    )
    assert {f["kind"] for f in actionlint(repo)} >= {"expression"}
    idents = {f["ident"] for f in zizmor(repo, "pedantic")}
    assert {"unpinned-uses", "artipacked", "excessive-permissions", "template-injection"} <= idents


def test_a_broken_dependabot_file_is_an_error(repo: Path) -> None:
    (repo / DEPENDABOT_PATH).write_text("version: 2\nupdates:\n  - package-ecosystem: github-actions\n    bogus: 1\n")
    with pytest.raises(AssertionError, match="does not match expected validation schema"):
        zizmor(repo, "pedantic")
