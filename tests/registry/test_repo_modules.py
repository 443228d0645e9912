"""Modules that are a folder of the infra repo (``modules/<name>``): ``tfpilot registry import``
registers one from its ``variables.tf`` with that source, the registry accepts it, and a request
renders it relative to its environment's directory (no version), whatever the code host; TfPilot's
own in-repo modules are rendered so only for the local forge."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bot.cli.main import main
from module_registry import infra_modules
from module_registry.catalogue import Registry, load_registry
from module_registry.definition import ModuleDefinition, TerraformSpec
from module_registry.importer import import_module
from module_registry.render import RenderInput, render_block


def _infra_repo_with_module(tmp_path: Path, name: str) -> Path:
    """An infra repo checkout holding a module of its own (TfPilot's SQS module, copied)."""
    folder = tmp_path / "infra" / "modules" / name
    folder.mkdir(parents=True)
    for path, text in infra_modules.files("sqs-queue").items():
        (folder / Path(path).name).write_text(text, encoding="utf-8")
    return folder


def test_import_of_an_in_repo_module_keeps_its_repo_path_as_source(tmp_path: Path) -> None:
    folder = _infra_repo_with_module(tmp_path, "work-queue")
    result = import_module(folder)
    terraform = result.definition["terraform"]
    assert terraform["source"] == "modules/work-queue" and "version" not in terraform
    assert {"name", "fifo_queue", "visibility_timeout_seconds"} <= set(result.definition["schema"]["properties"])
    assert {o["value"] for o in result.definition["outputs"]} >= {"queue_url", "queue_arn"}

    definition = ModuleDefinition.model_validate(result.definition)
    registry = Registry([definition])
    block = render_block(
        RenderInput(
            request_id="req_abc123def456",
            project="core",
            environment="dev",
            module="work-queue",
            config={"name": "core-dev-jobs", "tags": {"team": "data"}},
            env_path="envs/dev",
            requester="alice",
        ),
        registry,
    )
    assert 'source = "../../modules/work-queue"' in block and "version" not in block
    assert 'name = "core-dev-jobs"' in block and '"managed-by"' in block


def test_the_cli_imports_an_in_repo_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _infra_repo_with_module(tmp_path, "jobs")
    out = tmp_path / "jobs.json"
    assert main(["registry", "import", str(folder), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["terraform"]["source"] == "modules/jobs"
    assert "imported" in capsys.readouterr().err


def test_an_in_repo_module_source_takes_no_version() -> None:
    with pytest.raises(ValueError, match="has no 'version'"):
        TerraformSpec(kind="module", source="modules/jobs", version="1.0.0")
    assert TerraformSpec(kind="module", source="modules/jobs").repo_path == "modules/jobs"
    assert TerraformSpec(kind="module", source="terraform-aws-modules/sqs/aws", version="4.2.0").repo_path is None


@pytest.mark.parametrize("module_id", sorted(infra_modules.available()))
def test_tfpilots_own_modules_render_from_the_repo_only_for_the_local_forge(module_id: str) -> None:
    registry = load_registry(None)
    definition = registry.get(module_id)
    inp = RenderInput(
        request_id="req_abc123def456",
        project="core",
        environment="dev",
        module=module_id,
        config=definition.example_config(),
        env_path="envs/dev",
        requester="alice",
    )
    github = render_block(inp, registry)
    assert (
        f'source  = "{definition.terraform.source}"' in github
        and f'version = "{definition.terraform.version}"' in github
    )
    local = render_block(RenderInput(**{**inp.__dict__, "module_sources": "repo"}), registry)
    assert f'source = "../../modules/{module_id}"' in local and "version =" not in local
    # Everything but the source is the same: one definition, two places the code comes from.
    assert github.split("\n\n", 1)[1] == local.split("\n\n", 1)[1]


@pytest.mark.parametrize("module_id", sorted(infra_modules.available()))
def test_each_in_repo_module_declares_every_input_and_output_its_definition_uses(module_id: str) -> None:
    definition = load_registry(None).get(module_id)
    imported = import_module_from_package(module_id)
    variables = set(imported.definition["schema"]["properties"])
    assert set(definition.terraform.inputs) | {"tags"} <= variables
    outputs = {o["value"] for o in imported.definition["outputs"]}
    assert {o.value for o in definition.outputs} <= outputs


def import_module_from_package(module_id: str):  # type: ignore[no-untyped-def]
    from importlib import resources

    with resources.as_file(resources.files("module_registry.infra_modules").joinpath(module_id)) as folder:
        return import_module(Path(folder), module_id=module_id, source=f"modules/{module_id}")


def test_terraform_fmt_accepts_the_in_repo_modules(tmp_path: Path) -> None:
    import subprocess

    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    for path, text in infra_modules.all_files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-no-color", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "TF_CLI_CONFIG_FILE": os.devnull},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
