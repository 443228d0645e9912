"""Rendering: one marked file per request, deterministic, canonical, with server tags; golden files
for every module in dev and prod (regenerate with ``UPDATE_GOLDEN=1``)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from module_registry import catalogue, render
from module_registry.catalogue import Registry
from module_registry.errors import ConfigRejected
from tests.registry.conftest import REQUEST_ID, module_body, read_hcl

GOLDEN = Path(__file__).parent / "golden"
REQUESTER = "U024BE7LH"
# What each module needs on top of its example to meet the production policy.
PROD_OVERLAY: dict[str, dict[str, Any]] = {
    "dynamodb-table": {"deletion_protection": True},
    "rds-postgres": {"multi_az": True, "deletion_protection": True, "backup_retention_days": 14},
    "ec2-instance": {"termination_protection": True},
}
ENVIRONMENTS = {"dev": False, "prod": True}


def golden_input(registry: Registry, module_id: str, environment: str) -> render.RenderInput:
    config = registry.get(module_id).example_config()
    if ENVIRONMENTS[environment]:
        config.update(PROD_OVERLAY.get(module_id, {}))
    return render.RenderInput(
        request_id=REQUEST_ID,
        project="core",
        environment=environment,
        module=module_id,
        config=config,
        env_path=f"envs/{environment}",
        requester=REQUESTER,
        prod=ENVIRONMENTS[environment],
    )


CASES = [
    (m, e)
    for m in sorted(json.loads(json.dumps([p.stem for p in catalogue.builtin_modules_dir().glob("*.json")])))
    for e in ENVIRONMENTS
]


@pytest.mark.parametrize(("module_id", "environment"), CASES)
def test_golden(registry: Registry, module_id: str, environment: str) -> None:
    files = render.render(golden_input(registry, module_id, environment), registry)
    assert list(files) == [f"envs/{environment}/tfpilot_{REQUEST_ID}.tf"]
    content = next(iter(files.values()))
    golden = GOLDEN / f"{module_id}.{environment}.tf"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(content, encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}: run UPDATE_GOLDEN=1 pytest tests/registry/test_render.py"
    assert content == golden.read_text(encoding="utf-8")


def test_golden_files_cover_every_module_and_pass_terraform_fmt(
    tmp_path: Path, fmt_check: Callable[[Path], None]
) -> None:
    names = sorted(p.name for p in GOLDEN.glob("*.tf"))
    assert names == sorted(f"{m}.{e}.tf" for m, e in CASES)
    for name in names:
        shutil.copy(GOLDEN / name, tmp_path / name)
    fmt_check(tmp_path)


@pytest.mark.parametrize(("module_id", "environment"), CASES)
def test_golden_parses_and_carries_name_and_server_tags(registry: Registry, module_id: str, environment: str) -> None:
    text = (GOLDEN / f"{module_id}.{environment}.tf").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == f"# tfpilot:begin {REQUEST_ID}" and lines[-1] == f"# tfpilot:end {REQUEST_ID}"
    assert text.endswith("\n") and not text.endswith("\n\n")
    body = module_body(text)
    definition = registry.get(module_id)
    assert body["source"] == definition.terraform.source and body["version"] == definition.terraform.version
    assert f"core-{environment}-" in json.dumps(body)
    assert body["tags"]["managed-by"] == "tfpilot"
    assert body["tags"]["tfpilot-request-id"] == REQUEST_ID
    assert body["tags"]["project"] == "core" and body["tags"]["environment"] == environment
    assert body["tags"]["requester"] == REQUESTER
    outputs = read_hcl(text)["output"]
    assert len(outputs) == len(definition.outputs)


def test_rendering_is_deterministic_whatever_the_key_order(registry: Registry) -> None:
    inp = golden_input(registry, "sns-topic", "dev")
    reordered = dict(reversed(list(copy.deepcopy(inp.config).items())))
    reordered["subscriptions"] = {
        k: dict(reversed(list(v.items()))) for k, v in reversed(list(reordered["subscriptions"].items()))
    }
    first = render.render(inp, registry)
    again = render.render(inp, registry)
    other = render.render(render.RenderInput(**{**inp.__dict__, "config": reordered}), registry)
    assert first == again == other


def test_user_tags_are_merged_with_server_tags(registry: Registry) -> None:
    inp = render.RenderInput(
        REQUEST_ID, "core", "dev", "s3-bucket", {"name": "logs", "tags": {"team": "data"}}, "envs/dev", "U1"
    )
    body = module_body(render.render_block(inp, registry))
    assert body["tags"] == {
        "environment": "dev",
        "managed-by": "tfpilot",
        "project": "core",
        "requester": "U1",
        "team": "data",
        "tfpilot-request-id": REQUEST_ID,
    }


def test_server_tags_cannot_be_overridden_through_render(registry: Registry) -> None:
    inp = render.RenderInput(
        REQUEST_ID, "core", "dev", "s3-bucket", {"name": "logs", "tags": {"managed-by": "me"}}, "envs/dev", "U1"
    )
    with pytest.raises(ConfigRejected) as caught:
        render.render(inp, registry)
    assert caught.value.errors[0].field == "tags.managed-by"


def test_render_enforces_the_production_policy(registry: Registry) -> None:
    config = {"name": "data", "force_destroy": True}
    render.render(render.RenderInput(REQUEST_ID, "core", "dev", "s3-bucket", config, "envs/dev", "U1", False), registry)
    with pytest.raises(ConfigRejected) as caught:
        render.render(
            render.RenderInput(REQUEST_ID, "core", "prod", "s3-bucket", config, "envs/prod", "U1", True), registry
        )
    assert [e.field for e in caught.value.errors] == ["force_destroy"]
    assert "production" in str(caught.value)


def test_optional_inputs_are_left_out_and_conditionals_follow_the_config(registry: Registry) -> None:
    plain = module_body(
        render.render_block(
            render.RenderInput(
                REQUEST_ID, "core", "dev", "sqs-queue", {"name": "jobs", "dead_letter_queue": False}, "envs/dev", "U1"
            ),
            registry,
        )
    )
    assert plain["name"] == "core-dev-jobs" and plain["create_dlq"] is False
    assert (
        "redrive_policy" not in plain and "kms_master_key_id" not in plain and plain["sqs_managed_sse_enabled"] is True
    )
    fifo = module_body(
        render.render_block(
            render.RenderInput(
                REQUEST_ID,
                "core",
                "dev",
                "sqs-queue",
                {"name": "jobs", "fifo": True, "kms_key_id": "alias/jobs"},
                "envs/dev",
                "U1",
            ),
            registry,
        )
    )
    assert fifo["name"] == "core-dev-jobs.fifo" and fifo["redrive_policy"] == {"maxReceiveCount": 5}
    assert fifo["kms_master_key_id"] == "alias/jobs" and fifo["sqs_managed_sse_enabled"] is False
    kms = module_body(
        render.render_block(
            render.RenderInput(
                REQUEST_ID, "core", "dev", "s3-bucket", {"name": "d", "encryption": "sse-kms"}, "envs/dev", "U1"
            ),
            registry,
        )
    )
    rule = kms["server_side_encryption_configuration"]["rule"]
    assert rule == {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}


def test_extract_block_finds_the_marked_block() -> None:
    text = f'# other\n# tfpilot:begin {REQUEST_ID}\nmodule "m" {{}}\n# tfpilot:end {REQUEST_ID}\n# after\n'
    assert (
        render.extract_block(text, REQUEST_ID)
        == f'# tfpilot:begin {REQUEST_ID}\nmodule "m" {{}}\n# tfpilot:end {REQUEST_ID}\n'
    )
    assert render.extract_block(text, "req_otherid01") is None


PASSTHROUGH = {
    "id": "custom-queue",
    "title": "Custom queue",
    "description": "A plain aws_sqs_queue resource with passthrough arguments.",
    "category": "messaging",
    "keywords": ["custom queue"],
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "title": "Name", "description": "Short name", "pattern": "^[a-z0-9-]+$"},
            "delay_seconds": {"type": "integer", "title": "Delay", "description": "Delay", "default": 0},
            "policy_doc": {"title": "Anything", "description": "Any JSON value"},
        },
    },
    "naming": {"field": "name", "rule": "sqs"},
    "terraform": {
        "kind": "resource",
        "resource_type": "aws_sqs_queue",
        "inputs": {"name": {"$ref": "name"}},
        "passthrough": True,
    },
    "outputs": [{"name": "arn", "description": "ARN", "value": "arn"}],
}


def test_resource_definitions_and_user_values_that_look_like_expressions(
    tmp_path: Path, fmt_check: Callable[[Path], None]
) -> None:
    (tmp_path / "custom-queue.json").write_text(json.dumps(PASSTHROUGH))
    registry = catalogue.load_registry(tmp_path)
    sneaky = {"$ref": "tags", "$call": "file", "x": '${file("/etc/passwd")}'}
    config = {"name": "q", "policy_doc": sneaky}
    text = render.render_block(
        render.RenderInput(REQUEST_ID, "core", "dev", "custom-queue", config, "envs/dev", "U1"), registry
    )
    assert f'resource "aws_sqs_queue" "custom_queue_{REQUEST_ID}"' in text
    assert f"value       = aws_sqs_queue.custom_queue_{REQUEST_ID}.arn" in text
    body = module_body(text)
    assert body["policy_doc"] == sneaky  # written as data, never evaluated
    assert "delay_seconds" not in body  # equal to the default: left to the resource
    assert body["tags"]["managed-by"] == "tfpilot"
    out = tmp_path / "tf"
    out.mkdir()
    (out / "custom.tf").write_text(text)
    fmt_check(out)


def _sqs_module_queue_names(body: dict[str, Any]) -> tuple[str, str]:
    """The names terraform-aws-modules/sqs 4.x gives the queue and its DLQ (its main.tf logic)."""

    def fifo(name: str) -> str:
        return f"{name.removesuffix('.fifo')}.fifo" if body["fifo_queue"] else name

    return fifo(body["name"]), fifo(body.get("dlq_name") or f"{body['name']}-dlq")


@pytest.mark.parametrize("fifo", [False, True])
def test_sqs_queue_and_dead_letter_queue_names_are_valid_sqs_names(registry: Registry, fifo: bool) -> None:
    # The module names the DLQ "<name>-dlq" and then appends ".fifo": given "x.fifo" it would make
    # "x.fifo-dlq.fifo", which SQS refuses. The definition passes the DLQ name itself for FIFO.
    longest = "q" * (80 - len("core-prod-") - 4 - (5 if fifo else 0))
    config = {"name": longest, "fifo": fifo}
    inp = render.RenderInput(REQUEST_ID, "core", "prod", "sqs-queue", config, "envs/prod", "U1", True)
    queue, dlq = _sqs_module_queue_names(module_body(render.render_block(inp, registry)))
    suffix = r"\.fifo" if fifo else ""
    for name in (queue, dlq):
        assert re.fullmatch(rf"[A-Za-z0-9_-]+{suffix}", name) and len(name) <= 80, name
    assert dlq == f"core-prod-{longest}-dlq" + (".fifo" if fifo else "")
    too_long = registry.validate("sqs-queue", {**config, "name": longest + "q"}, "prod", prod=True, project="core")
    assert not too_long.ok and "keeping 4 for the suffix the module adds" in too_long.errors[0].message


def test_output_is_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    """Same input, same bytes: also across interpreters whose set/dict hashing differs."""
    config = json.dumps(
        {
            "name": "events",
            "display_name": "Ünïcödé ${x} %{y}",
            "subscriptions": {
                "b-worker": {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:b"},
                "a-worker": {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:a"},
            },
            "tags": {"zeta": "1", "alpha": "2", "Ωmega": "3"},
        }
    )
    hermetic = {k: v for k, v in os.environ.items() if not k.startswith("TFPILOT_") or k == "TFPILOT_ENV_FILE"}
    outputs = set()
    for seed in ("0", "1", "12345"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli.main",
                "render",
                "--project",
                "core",
                "--env",
                "prod",
                "--module",
                "sns-topic",
                "--config",
                config,
                "--request-id",
                REQUEST_ID,
                "--requester",
                "U024BE7LH",
                "--json",
            ],
            capture_output=True,
            check=False,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
            env={**hermetic, "PYTHONHASHSEED": seed, "TFPILOT_DATA_DIR": str(tmp_path)},
        )
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1
    files = json.loads(outputs.pop())["files"]
    assert list(files) == [f"envs/prod/tfpilot_{REQUEST_ID}.tf"]


def test_prepare_destroy_renders_prod_with_exactly_the_lifted_guards(registry: Registry) -> None:
    """Prepare destroy renders a prod config whose guard is at its safe value: the render's own
    validation lets that field (and only it) past the production constraint."""
    inp = golden_input(registry, "dynamodb-table", "prod")
    lifted = dataclasses.replace(inp, config={**inp.config, "deletion_protection": False})
    with pytest.raises(ConfigRejected) as refused:
        render.render(lifted, registry)
    assert "deletion_protection" in str(refused.value)

    files = render.render(dataclasses.replace(lifted, lifting=("deletion_protection",)), registry)
    (body,) = files.values()
    assert re.search(r"deletion_protection\w*\s*=\s*false", body), body

    # Lifting another field does not let this one pass.
    with pytest.raises(ConfigRejected):
        render.render(dataclasses.replace(lifted, lifting=("point_in_time_recovery",)), registry)
