"""``tfpilot plan-summary``: text, --json, --full, and exit 1 with the error on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.plan.conftest import PLAN_FILES


def test_text(plans_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-summary", str(plans_dir / PLAN_FILES["delete"])]) == 0
    out = capsys.readouterr().out
    assert (
        out
        == "Plan: 0 to add, 0 to change, 1 to destroy.\n⚠ 1 resource will be destroyed.\n- terraform_data.foo-bar (delete) ⚠\n"
    )


def test_json(plans_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-summary", str(plans_dir / PLAN_FILES["delete-create"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    summary = doc["summary"]
    assert (summary["add"], summary["change"], summary["destroy"], summary["replace"], summary["noOp"]) == (
        0,
        0,
        0,
        1,
        0,
    )
    assert summary["hasDeletions"] is True and summary["hasReplacements"] is True
    assert summary["addresses"] == {"replace": ["null_resource.foo-bar"]}
    assert "output" not in doc


def test_full_text_and_json(plans_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(plans_dir / PLAN_FILES["update"])
    assert main(["plan-summary", path, "--full"]) == 0
    text = capsys.readouterr().out
    assert '~ input = "foo" -> "bar"' in text
    assert main(["plan-summary", path, "--full", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == text.rstrip("\n")


def test_max_chars(plans_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-summary", str(plans_dir / PLAN_FILES["create"]), "--max-chars", "20"]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) <= 20


def test_stdin(plans_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (plans_dir / PLAN_FILES["create"]).read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert main(["plan-summary", "-"]) == 0
    assert capsys.readouterr().out.startswith("Plan: 1 to add")


def test_invalid_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"format_version": "1.0", "values": {}}))
    assert main(["plan-summary", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == "error: not a Terraform plan: no planned_values or resource_changes (is this a state file?)\n"


def test_invalid_file_json_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    assert main(["plan-summary", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["error"].startswith("not a Terraform plan: invalid JSON")


def test_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-summary", str(tmp_path / "nope.json")]) == 1
    assert "No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("bound", ["0", "-5", "ten"])
def test_max_chars_must_be_a_positive_number(bound: str, plans_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["plan-summary", str(plans_dir / PLAN_FILES["create"]), "--max-chars", bound])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert "--max-chars" in captured.err and captured.out == ""
