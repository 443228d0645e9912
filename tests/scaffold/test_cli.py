"""``tfpilot scaffold infra-repo``: writes the files, refuses to overwrite, --force, --json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from core.domain.scaffold import ScaffoldOptions, scaffold_files


def test_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "new" / "infra"
    code = main(
        [
            "scaffold",
            "infra-repo",
            str(root),
            "--env",
            "dev",
            "--env",
            "qa",
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
    assert out.startswith(f"{root}: 14 written, 0 overwritten, 0 unchanged")


def test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "infra-repo", str(tmp_path), "--json", "--env", "prod"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert doc["environments"] == ["prod"]
    assert doc["written"] == sorted(scaffold_files(ScaffoldOptions.of(environments=["prod"])))
    assert doc["overwritten"] == [] and doc["unchanged"] == []


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("mine\n")
    assert main(["scaffold", "infra-repo", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "error: 1 file(s) exist already (use --force to overwrite): README.md\n"
    assert readme.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # nothing else written


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
    assert len(doc["unchanged"]) == 13
    assert (tmp_path / "README.md").read_text().startswith("# Infrastructure")


def test_invalid_option_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "infra-repo", str(tmp_path), "--env", "Prod"]) == 1
    assert "invalid option: environments: 'Prod' is not an environment name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["scaffold", "infra-repo", str(tmp_path), "--tfpilot-url", "javascript:alert(1)", "--json"]) == 1
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
