"""``tfpilot registry ...`` and ``tfpilot render``: output, ``--json``, exit codes, and the
TFPILOT_MODULES_DIR / TFPILOT_PROJECTS_FILE settings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from module_registry import catalogue
from tests.registry.test_importer import EVERY_CONSTRUCT

RID = "req_cli0000001"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


def test_registry_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registry", "list")
    assert code == 0 and len(out.splitlines()) == 8 and out.startswith("dynamodb-table")
    code, doc = run_json(capsys, "registry", "list")
    assert code == 0 and doc["ok"] is True
    assert {m["id"] for m in doc["modules"]} >= {"s3-bucket", "rds-postgres"}
    s3 = next(m for m in doc["modules"] if m["id"] == "s3-bucket")
    assert s3["required"] == ["name"] and "private-encrypted" in s3["presets"] and "bucket" in s3["keywords"]


def test_registry_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registry", "show", "rds-postgres")
    assert code == 0
    assert "terraform-aws-modules/rds/aws 6.13.1" in out
    assert "subnet_ids (array, required)" in out and "[prod] deletion_protection" in out
    code, doc = run_json(capsys, "registry", "show", "rds-postgres")
    assert code == 0 and doc["module"]["schema"]["type"] == "object"
    assert any(f["name"] == "engine_version" and f["enum"] == ["17", "16", "15", "14"] for f in doc["module"]["fields"])


def test_registry_show_marks_presets_not_offered_in_production(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registry", "show", "s3-bucket")
    assert code == 0
    scratch = next(line for line in out.splitlines() if line.strip().startswith("scratch:"))
    assert scratch.endswith("(not offered in production)")
    assert "private-encrypted" in out and "not offered" not in next(
        line for line in out.splitlines() if line.strip().startswith("private-encrypted:")
    )
    code, doc = run_json(capsys, "registry", "show", "s3-bucket")
    assert code == 0 and doc["module"]["presets_in_production"] == ["private-encrypted"]


def test_registry_show_unknown_module(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "registry", "show", "s4-bucket")
    assert code == 1 and out == "" and "unknown module 's4-bucket'" in err
    code, doc = run_json(capsys, "registry", "show", "s4-bucket")
    assert code == 1 and doc["ok"] is False and "s3-bucket" in doc["error"]


def test_registry_validate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registry", "validate")
    assert code == 0 and "registry ok: 8 modules" in out and "projects ok: core, payments" in out
    code, doc = run_json(capsys, "registry", "validate")
    assert code == 0 and doc["projects"] == ["core", "payments"] and len(doc["modules"]) == 8


def broken_modules(tmp_path: Path) -> Path:
    directory = tmp_path / "modules"
    shutil.copytree(catalogue.builtin_modules_dir(), directory)
    doc = json.loads((directory / "sqs-queue.json").read_text())
    doc["schema"]["properties"]["delay_seconds"]["maximum"] = "fifteen"
    (directory / "sqs-queue.json").write_text(json.dumps(doc))
    return directory


def test_validate_refuses_a_broken_registry_from_the_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = broken_modules(tmp_path)
    monkeypatch.setenv("TFPILOT_MODULES_DIR", str(directory))
    code, out, err = run(capsys, "registry", "validate")
    assert code == 1 and out == ""
    assert str(directory / "sqs-queue.json") in err and "/schema/properties/delay_seconds/maximum" in err
    code, doc = run_json(capsys, "registry", "list")
    assert code == 1 and "sqs-queue.json" in doc["error"]
    code, doc = run_json(capsys, "registry", "list", "--modules-dir", str(catalogue.builtin_modules_dir()))
    assert code == 0  # the flag wins over the setting


def test_validate_checks_the_projects_file_from_the_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(
        "projects:\n  web:\n    owner: acme\n    repo: web-infra\n    allowed_modules: [lambda-function]\n    environments:\n      dev: {}\n"
    )
    monkeypatch.setenv("TFPILOT_PROJECTS_FILE", str(path))
    code, doc = run_json(capsys, "registry", "validate")
    assert code == 1 and "/projects/web/environments/dev/allowed_modules/0" in doc["error"]


def test_registry_import(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    module = tmp_path / "thing"
    module.mkdir()
    (module / "variables.tf").write_text(EVERY_CONSTRUCT)
    out_dir = tmp_path / "defs"
    out_dir.mkdir()
    target = out_dir / "thing.json"
    code, out, err = run(capsys, "registry", "import", str(module), "--source", "./modules/thing", "--out", str(target))
    assert code == 0 and out == ""
    assert re.search(r"imported \d+ of \d+ variables", err)
    assert "not mapped: cidr: validation" in err and "note: password: sensitive" in err
    assert json.loads(target.read_text())["id"] == "thing"
    code, listed, _ = run(capsys, "registry", "list", "--modules-dir", str(out_dir))
    assert code == 0 and listed.startswith("thing")
    code, doc = run_json(
        capsys, "registry", "import", str(module), "--id", "other-thing", "--source", "./modules/thing"
    )
    assert code == 0 and doc["definition"]["id"] == "other-thing"
    assert any(f["construct"] == "ephemeral" for f in doc["unmapped"])


def test_registry_import_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "registry", "import", str(tmp_path / "nope"))
    assert code == 1 and "not a directory" in err


def test_render_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    config = json.dumps({"name": "assets"})
    code, out, _ = run(
        capsys,
        "render",
        "--project",
        "core",
        "--env",
        "dev",
        "--module",
        "s3-bucket",
        "--config",
        config,
        "--request-id",
        RID,
    )
    assert code == 0
    assert out.startswith(f"# file: envs/dev/tfpilot_{RID}.tf\n# tfpilot:begin {RID}\n")
    assert 'bucket                                = "core-dev-assets"' in out and out.endswith(f"# tfpilot:end {RID}\n")
    code, doc = run_json(
        capsys,
        "render",
        "--project",
        "core",
        "--env",
        "prod",
        "--module",
        "s3-bucket",
        "--config",
        config,
        "--request-id",
        RID,
    )
    assert code == 0 and doc["prod"] is True and list(doc["files"]) == [f"envs/prod/tfpilot_{RID}.tf"]


def test_render_generates_a_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(
        capsys, "render", "--project", "core", "--env", "dev", "--module", "sqs-queue", "--config", '{"name": "jobs"}'
    )
    assert code == 0 and re.fullmatch(r"req_[a-z0-9]{12}", doc["request_id"])


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (["--config", '{"name": "Bad Name"}'], "name", "does not have the allowed format"),
        (["--config", '{"name": "d", "force_destroy": true}', "--env", "prod"], "force_destroy", "production"),
        (["--config", "[1]"], "", "must be a JSON object"),
        (["--config", "{oops"], "", "not valid JSON"),
        (["--project", "../etc"], "project", "path traversal"),
        (["--env", "dev;rm"], "environment", "shell metacharacter"),
        (["--module", "s3/../x"], "module", "path traversal"),
        (["--request-id", "req_x\n"], "request id", "line break"),
        (
            ["--project", "payments", "--module", "ec2-instance", "--config", "{}"],
            "module",
            "not allowed in payments/dev",
        ),
        (["--project", "nope"], "", "unknown project 'nope'"),
        (["--module", "s4-bucket"], "", "unknown module"),
    ],
)
def test_render_refusals_exit_1_with_every_error(
    capsys: pytest.CaptureFixture[str], args: list[str], field: str, words: str
) -> None:
    base = {
        "--project": "core",
        "--env": "dev",
        "--module": "s3-bucket",
        "--config": '{"name": "d"}',
        "--request-id": RID,
    }
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair]
    code, doc = run_json(capsys, "render", *argv)
    assert code == 1 and doc["ok"] is False
    assert any(e["field"] == field and words in e["message"] for e in doc["errors"]), doc
    code, out, err = run(capsys, "render", *argv)
    assert code == 1 and out == "" and words in err


def test_render_config_from_a_file_and_size_limit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "config.json"
    good.write_text(json.dumps({"name": "jobs", "fifo": True}))
    code, doc = run_json(
        capsys,
        "render",
        "--project",
        "core",
        "--env",
        "dev",
        "--module",
        "sqs-queue",
        "--config",
        f"@{good}",
        "--request-id",
        RID,
    )
    assert code == 0 and "core-dev-jobs.fifo" in next(iter(doc["files"].values()))
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "x", "pad": "y" * 70000}))
    code, doc = run_json(
        capsys,
        "render",
        "--project",
        "core",
        "--env",
        "dev",
        "--module",
        "sqs-queue",
        "--config",
        f"@{big}",
        "--request-id",
        RID,
    )
    assert code == 1 and "64 KiB" in doc["errors"][0]["message"]
    code, doc = run_json(
        capsys,
        "render",
        "--project",
        "core",
        "--env",
        "dev",
        "--module",
        "sqs-queue",
        "--config",
        f"@{tmp_path / 'missing.json'}",
    )
    assert code == 1 and "cannot read" in doc["errors"][0]["message"]


def test_render_uses_the_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(
        "projects:\n  web:\n    owner: acme\n    repo: web-infra\n    environments:\n      qa:\n        env_path: live/qa\n"
    )
    monkeypatch.setenv("TFPILOT_PROJECTS_FILE", str(path))
    code, doc = run_json(
        capsys,
        "render",
        "--project",
        "web",
        "--env",
        "qa",
        "--module",
        "sns-topic",
        "--config",
        '{"name": "events"}',
        "--request-id",
        RID,
    )
    assert code == 0 and list(doc["files"]) == [f"live/qa/tfpilot_{RID}.tf"]
    monkeypatch.setenv("TFPILOT_MODULES_DIR", str(broken_modules(tmp_path)))
    code, doc = run_json(capsys, "render", "--project", "web", "--env", "qa", "--module", "sns-topic", "--config", "{}")
    assert code == 1 and "sqs-queue.json" in doc["errors"][0]["message"]


def test_missing_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["render", "--project", "core"])
    assert caught.value.code == 2
    capsys.readouterr()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero (an endless file with no size)")
def test_render_config_from_an_endless_file_stops_at_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(
        capsys, "render", "--project", "core", "--env", "dev", "--module", "sqs-queue", "--config", "@/dev/zero"
    )
    assert code == 1 and "64 KiB" in doc["errors"][0]["message"]


def test_validate_notes_imported_definitions_without_an_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = tmp_path / "sized"
    module.mkdir()
    (module / "variables.tf").write_text('variable "size" {\n  type = number\n}\n')
    defs = tmp_path / "defs"
    defs.mkdir()
    assert (
        run(capsys, "registry", "import", str(module), "--source", "./sized", "--out", str(defs / "sized.json"))[0] == 0
    )
    projects_file = tmp_path / "projects.yaml"
    projects_file.write_text("projects:\n  core:\n    owner: acme\n    repo: infra\n    environments:\n      dev: {}\n")
    args = ("registry", "validate", "--modules-dir", str(defs), "--projects-file", str(projects_file))
    code, out, _ = run(capsys, *args)
    assert code == 0 and "note: sized: not rendered: no example config" in out and "size" in out
    code, doc = run_json(capsys, *args)
    assert code == 0 and doc["ok"] is True and doc["notes"][0].startswith("sized: not rendered")
    # With an example it is rendered, and the note goes away.
    definition = json.loads((defs / "sized.json").read_text())
    (defs / "sized.json").write_text(json.dumps({**definition, "example": {"size": 3}}))
    code, doc = run_json(capsys, *args)
    assert code == 0 and doc["notes"] == []
