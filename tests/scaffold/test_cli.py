"""``tfpilot scaffold infra-repo``: writes the files, refuses to overwrite, --force, --json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from core.scaffold.generator import ScaffoldOptions, scaffold_files

# A map whose environments are not the scaffold's old defaults: the scaffold must follow it.
PROJECTS = """\
version: 1
projects:
  core:
    owner: acme
    repo: core-infra
    environments:
      dev: {}
      qa: {}
  web:
    owner: acme
    repo: web-infra
    environments:
      qa: {}
      live: {env_path: stacks/live}
"""


@pytest.fixture(autouse=True)
def projects_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(PROJECTS)
    monkeypatch.setenv("TFPILOT_PROJECTS_FILE", str(path))
    return path


def test_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "new" / "infra"
    code = main(
        [
            "scaffold",
            "infra-repo",
            str(root),
            "--tfpilot-url",
            "https://tfpilot.example.com",
            "--project",
            "core",
        ]
    )
    assert code == 0
    expected = scaffold_files(
        ScaffoldOptions.of(environments=["dev", "qa"], tfpilot_url="https://tfpilot.example.com", project="core")
    )
    written = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    assert written == expected
    assert os.access(root / ".github/tfpilot/tfpilot_ci.py", os.X_OK)
    plan = yaml.safe_load((root / ".github/workflows/plan.yml").read_text())
    assert plan["on" if "on" in plan else True]["workflow_dispatch"]["inputs"]["environment"]["options"] == [
        "dev",
        "qa",
    ]
    out = capsys.readouterr().out
    assert out.startswith(f"{root}: 15 written, 0 overwritten, 0 unchanged")
    assert "Environments (from " in out and "projects.yaml): dev, qa\n" in out


def test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], projects_file: Path) -> None:
    root = tmp_path / "infra"
    assert main(["scaffold", "infra-repo", str(root), "--json", "--env", "live"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert doc["environments"] == ["live"]
    assert doc["projects_file"] == str(projects_file)
    # The map puts live elsewhere than the workflows look: said, not silently ignored.
    assert doc["notes"] == [
        "web/live: env_path 'stacks/live' in the projects map, but the workflows work in 'envs/live'"
    ]
    assert doc["written"] == sorted(scaffold_files(ScaffoldOptions.of(environments=["live"])))
    assert doc["overwritten"] == [] and doc["unchanged"] == []


def test_environments_are_every_one_the_map_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "infra"
    assert main(["scaffold", "infra-repo", str(root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["environments"] == ["dev", "qa", "live"]  # projects by name, each environment once
    assert sorted(p.name for p in (root / "envs").iterdir()) == ["dev", "live", "qa"]
    for kind in ("plan", "apply", "destroy", "cleanup"):
        workflow = yaml.safe_load((root / f".github/workflows/{kind}.yml").read_text())
        assert workflow[True]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "qa", "live"]
    drift = yaml.safe_load((root / ".github/workflows/drift.yml").read_text())
    assert drift[True]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["all", "dev", "qa", "live"]


def test_project_selects_its_environments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "infra-repo", str(tmp_path / "a"), "--project", "web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["environments"] == ["qa", "live"]
    assert main(["scaffold", "infra-repo", str(tmp_path / "b"), "--project", "core", "--env", "qa", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["environments"] == ["qa"]


def test_env_the_map_lacks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], projects_file: Path) -> None:
    root = tmp_path / "infra"
    assert main(["scaffold", "infra-repo", str(root), "--env", "dev", "--env", "staging"]) == 1
    assert capsys.readouterr().err == (
        f"error: invalid option: --env 'staging': not an environment of any project in the projects map "
        f"{projects_file} (it has dev, qa, live); add it to the map first, or leave --env out\n"
    )
    assert not root.exists()
    assert main(["scaffold", "infra-repo", str(root), "--project", "web", "--env", "dev", "--json"]) == 1
    assert "--env 'dev': not an environment of project 'web'" in json.loads(capsys.readouterr().out)["error"]
    assert main(["scaffold", "infra-repo", str(root), "--project", "nope"]) == 1
    assert "unknown project 'nope'; known projects: core, web" in capsys.readouterr().err
    assert not root.exists()


def test_projects_file_option_and_the_shipped_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nprojects:\n  p:\n    owner: o\n    repo: r\n    environments:\n      sandbox: {}\n")
    assert main(["scaffold", "infra-repo", str(tmp_path / "a"), "--projects-file", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["environments"] == ["sandbox"]
    monkeypatch.delenv("TFPILOT_PROJECTS_FILE")
    assert main(["scaffold", "infra-repo", str(tmp_path / "b"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["projects_file"].endswith("projects.example.yaml")
    assert doc["environments"] == ["dev", "staging", "prod"]


def test_a_broken_projects_map_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nprojects: {}\n")
    assert main(["scaffold", "infra-repo", str(tmp_path / "a"), "--projects-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: projects map: ") and "bad.yaml" in err
    assert not (tmp_path / "a").exists()


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("mine\n")
    assert main(["scaffold", "infra-repo", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "error: 1 file(s) exist already (use --force to overwrite): README.md\n"
    assert readme.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "projects.yaml"]  # nothing else written


def test_refusal_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "envs" / "dev").mkdir(parents=True)
    (tmp_path / "envs" / "dev" / "backend.tf").write_text("# mine\n")
    assert main(["scaffold", "infra-repo", str(tmp_path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["paths"] == ["envs/dev/backend.tf"]
    assert "use --force" in doc["error"]


def test_force_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "infra-repo", str(tmp_path)]) == 0
    (tmp_path / "README.md").write_text("changed\n")
    capsys.readouterr()
    assert main(["scaffold", "infra-repo", str(tmp_path), "--force", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["overwritten"] == ["README.md"]
    assert doc["written"] == []
    assert len(doc["unchanged"]) == len(scaffold_files(ScaffoldOptions.of(environments=["dev", "qa", "live"]))) - 1
    assert (tmp_path / "README.md").read_text().startswith("# Infrastructure")


def test_invalid_option_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The map refuses a bad name itself; a name it allows but the scaffold reserves is refused here.
    bad_names = tmp_path / "bad-names.yaml"
    bad_names.write_text("version: 1\nprojects:\n  p:\n    owner: o\n    repo: r\n    environments:\n      Prod: {}\n")
    root = tmp_path / "infra"
    assert main(["scaffold", "infra-repo", str(root), "--projects-file", str(bad_names)]) == 1
    assert "environment 'Prod': must be lowercase letters" in capsys.readouterr().err
    reserved = tmp_path / "reserved.yaml"
    reserved.write_text("version: 1\nprojects:\n  p:\n    owner: o\n    repo: r\n    environments:\n      all: {}\n")
    assert main(["scaffold", "infra-repo", str(root), "--projects-file", str(reserved)]) == 1
    assert "invalid option: environments: 'all' is reserved" in capsys.readouterr().err
    assert not root.exists()
    assert main(["scaffold", "infra-repo", str(root), "--tfpilot-url", "javascript:alert(1)", "--json"]) == 1
    assert "is not an http(s) base URL" in json.loads(capsys.readouterr().out)["error"]


def test_dir_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["scaffold", "infra-repo", str(target)]) == 1
    assert "exists and is not a directory" in capsys.readouterr().err


def test_a_directory_in_the_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").mkdir()
    assert main(["scaffold", "infra-repo", str(tmp_path), "--force"]) == 1
    assert "not files, cannot write: README.md" in capsys.readouterr().err


def test_scaffold_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["scaffold"])
    assert info.value.code == 2
