"""The scaffold's file set, its options, and what the generated files say."""

from __future__ import annotations

from typing import Any

import hcl2
import pytest

from core.domain.workflows import WorkflowNames
from core.scaffold.generator import InvalidScaffold, ScaffoldOptions, scaffold_files
from tests.scaffold.conftest import ENVS


def plain(node: Any) -> Any:
    """python-hcl2 8 output without its markers and with strings unquoted."""
    if isinstance(node, dict):
        return {plain(k): plain(v) for k, v in node.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def test_file_set(files: dict[str, str]) -> None:
    expected = {
        "README.md",
        ".gitignore",
        ".github/dependabot.yml",
        ".github/tfpilot/tfpilot_ci.py",
        *(f".github/workflows/{k}.yml" for k in ("plan", "apply", "destroy", "cleanup", "drift")),
        *(f"envs/{env}/{name}" for env in ENVS for name in ("backend.tf", "providers.tf", "main.tf")),
    }
    assert set(files) == expected
    assert all(content.strip() for content in files.values())
    assert all("@@" not in content for content in files.values())


def test_defaults_are_dev_and_prod() -> None:
    files = scaffold_files()
    assert {p.split("/")[1] for p in files if p.startswith("envs/")} == {"dev", "prod"}
    assert "TFPILOT_URL: ${{ vars.TFPILOT_URL || '' }}" in files[".github/workflows/drift.yml"]


def test_deterministic() -> None:
    options = ScaffoldOptions.of(environments=["dev"])
    assert scaffold_files(options) == scaffold_files(options)


def test_custom_workflow_file_names() -> None:
    names = WorkflowNames(plan="tf-plan.yml", drift="tf-drift.yaml")
    files = scaffold_files(ScaffoldOptions(workflows=names))
    assert ".github/workflows/tf-plan.yml" in files
    assert ".github/workflows/tf-drift.yaml" in files
    assert ".github/workflows/plan.yml" not in files


@pytest.mark.parametrize("env", ENVS)
def test_providers_pinned(env: str, files: dict[str, str]) -> None:
    parsed = plain(hcl2.loads(files[f"envs/{env}/providers.tf"]))
    terraform = parsed["terraform"][0]
    assert terraform["required_version"] == ">= 1.10.0, < 2.0.0"
    aws = terraform["required_providers"][0]["aws"]
    assert aws == {"source": "hashicorp/aws", "version": "~> 5.0"}
    provider = parsed["provider"][0]["aws"]
    assert provider["region"] == "us-east-1"
    assert provider["default_tags"][0]["tags"] == {"managed-by": "tfpilot", "environment": env}


@pytest.mark.parametrize("env", ENVS)
def test_backend_stub(env: str, files: dict[str, str]) -> None:
    text = files[f"envs/{env}/backend.tf"]
    parsed = plain(hcl2.loads(text))
    assert parsed["terraform"][0]["backend"] == [{"s3": {}}]
    # The placeholders are there, commented, for the env's own state key.
    assert '# bucket       = "REPLACE-WITH-STATE-BUCKET"' in text
    assert f'# key          = "envs/{env}/terraform.tfstate"' in text
    assert "# use_lockfile = true" in text


@pytest.mark.parametrize("env", ENVS)
def test_main_is_only_a_note(env: str, files: dict[str, str]) -> None:
    text = files[f"envs/{env}/main.tf"]
    assert all(line.startswith("#") for line in text.splitlines())
    assert "tfpilot_<request id>.tf" in text


def test_readme(files: dict[str, str]) -> None:
    readme = files["README.md"]
    assert readme.startswith("# core infrastructure")
    assert "[TfPilot](https://tfpilot.example.com)" in readme
    for name in (
        "TFPILOT_AWS_ROLE_ARN",
        "TFPILOT_STATE_BUCKET",
        "TFPILOT_URL",
        "TFPILOT_WEBHOOK_SECRET",
        "INFRACOST_API_KEY",
    ):
        assert f"`{name}`" in readme
    for env in ENVS:
        assert f"`envs/{env}/`" in readme


def test_gitignore_keeps_plans_and_state_out(files: dict[str, str]) -> None:
    ignored = files[".gitignore"].splitlines()
    for entry in (".terraform/", "*.tfstate", "tfplan", "plan.json", "infracost.json", "*.log.json", "outputs.json"):
        assert entry in ignored


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"environments": ["Dev"]}, "'Dev' is not an environment name"),
        ({"environments": ["dev", "dev"]}, "environments repeat"),
        ({"environments": ["all"]}, "'all' is reserved"),
        ({"environments": []}, "at least 1 item"),
        ({"environments": ["dev; rm -rf /"]}, "is not an environment name"),
        ({"tfpilot_url": "ftp://x"}, "is not an http(s) base URL"),
        ({"tfpilot_url": "https://x.example.com/' || 'evil"}, "is not an http(s) base URL"),
        ({"tfpilot_url": "https://x.example.com/?a=b"}, "is not an http(s) base URL"),
        ({"project": "Core Team"}, "is not a project name"),
        ({"aws_region": "mars-1"}, "is not an AWS region name"),
        ({"terraform_version": "latest"}, "is not an exact Terraform version"),
        ({"drift_cron": "@daily"}, "is not a five-field cron expression"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidScaffold) as info:
        ScaffoldOptions.of(**options)
    assert message in str(info.value)


def test_url_trailing_slash_is_dropped() -> None:
    assert (
        ScaffoldOptions.of(tfpilot_url="https://tfpilot.example.com/base/").tfpilot_url
        == "https://tfpilot.example.com/base"
    )


def test_invalid_workflow_names() -> None:
    with pytest.raises(InvalidScaffold, match="workflow file names repeat"):
        ScaffoldOptions.of(workflows=WorkflowNames(apply="plan.yml"))
    with pytest.raises(InvalidScaffold, match="is not a workflow file name"):
        ScaffoldOptions.of(workflows=WorkflowNames(plan="../plan.yml"))
