"""A plan right after an apply is empty for the registry modules too (issue 13: ``ec2-instance``
re-planned ``associate_public_ip_address: true -> false forces replacement``, ``sqs-queue`` a
JSON-formatting diff in ``redrive_policy``).

Both came from the emulator, not from the render: the render writes what the request asked
(``associate_public_ip_address = false``; ``maxReceiveCount`` as a number, as the SQS module
requires), and moto described it back differently from AWS (an empty ``Association`` on every
instance interface, read by the provider as "has a public IP"; a re-serialised RedrivePolicy).
The launcher patches those gaps (``core/adapters/moto_launcher.py``). Here the registry modules
themselves, at the pinned tags, run offline: their sources are vendored under
``tests/fixtures/terraform/modules/`` and committed into the local forge's repository as
``modules/<id>``; the request's file is the registry render with only its ``source``/``version``
lines pointed there. Then the real local runner plans, applies and plans again.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from core.adapters.local_cloud import MotoServer
from core.adapters.local_code_host import LocalCodeHost
from module_registry import infra_modules
from module_registry.catalogue import load_registry
from module_registry.render import RenderInput, render
from tests.conftest import SHARED_FIXTURES
from tests.local.conftest import REPO, FactSink
from tests.local.test_real_terraform import _changes, _plan_request, _record

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]

REGISTRY = load_registry(None)
VENDORED = SHARED_FIXTURES / "terraform" / "modules"
MODULES = {
    "ec2-instance": ("terraform-aws-ec2-instance-v5.8.0", "terraform-aws-modules/ec2-instance/aws", "5.8.0"),
    "sqs-queue": ("terraform-aws-sqs-v4.3.1", "terraform-aws-modules/sqs/aws", "4.3.1"),
}


def _client(cloud: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def registry_render(module_id: str, rid: str, config: dict[str, Any]) -> tuple[str, str]:
    """``(path, text)`` of the request's file as rendered for a GitHub infra repo."""
    inp = RenderInput(
        request_id=rid,
        project="core",
        environment="dev",
        module=module_id,
        config=config,
        env_path="envs/dev",
        requester="alice",
    )
    ((path, text),) = render(inp, REGISTRY).items()
    return path, text


def pointed_at_repo(text: str, module_id: str) -> str:
    """The render with its registry source and version replaced by the vendored copy in the repo."""
    _, source, version = MODULES[module_id]
    pinned = f'  source  = "{source}"\n  version = "{version}"\n'
    assert pinned in text, text  # the pinned tag is the one vendored
    return text.replace(pinned, f'  source = "../../modules/{module_id}"\n')


def vendor_into_forge(host: LocalCodeHost, module_id: str) -> None:
    folder = VENDORED / MODULES[module_id][0]
    main = host.branch_head(REPO, "main")
    assert main is not None
    # TfPilot's own module of the same id (seeded into every local repo) makes way for it.
    ours = infra_modules.files(module_id) if module_id in infra_modules.available() else {}
    files: dict[str, str | None] = dict.fromkeys(ours)
    files.update({f"modules/{module_id}/{p.name}": p.read_text() for p in sorted(folder.iterdir()) if p.is_file()})
    host.commit_files(REPO, "main", files, f"vendor the registry module {module_id}", parent_sha=main)


def ec2_config(cloud: MotoServer) -> dict[str, Any]:
    """The example request, in a subnet and security group that exist in the local cloud."""
    ec2 = _client(cloud, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch-runner", Description="batch runner", VpcId=vpc)["GroupId"]
    config = REGISTRY.get("ec2-instance").example_config()
    _client(cloud, "iam").create_instance_profile(InstanceProfileName=config["iam_instance_profile"])
    config.update(subnet_id=subnet, security_group_ids=[group])
    assert not config.get("associate_public_ip")  # the default: no public IP
    return config


def test_the_render_writes_what_the_request_asked() -> None:
    """The render's side of both findings: nothing for the render to fix."""
    config = REGISTRY.get("ec2-instance").example_config()
    _, ec2 = registry_render("ec2-instance", "req_renderec2001", config)
    assert re.search(r"^  associate_public_ip_address = false$", ec2, re.M)
    assert re.search(r'^  vpc_security_group_ids      = \["sg-0123456789abcdef0"\]$', ec2, re.M)
    _, sqs = registry_render("sqs-queue", "req_rendersqs001", REGISTRY.get("sqs-queue").example_config())
    # The SQS module jsonencode()s this map: a number stays a number (the module's docs insist).
    assert "  redrive_policy = {\n    maxReceiveCount = 3\n  }\n" in sqs


@pytest.mark.parametrize("module_id", sorted(MODULES))
def test_a_registry_module_replans_empty_after_apply(
    real_host: LocalCodeHost, local_cloud: MotoServer, sink: FactSink, module_id: str
) -> None:
    rid = "req_" + (module_id.replace("-", "") + "replan000000")[:12]
    config = ec2_config(local_cloud) if module_id == "ec2-instance" else REGISTRY.get(module_id).example_config()
    # The session's cloud is shared with the in-repo modules' tests: names of its own.
    config["name"] = f"replan-{config['name']}"
    vendor_into_forge(real_host, module_id)
    path, text = registry_render(module_id, rid, config)
    files = {path: pointed_at_repo(text, module_id)}

    plan_run = _plan_request(real_host, files, rid)
    assert plan_run is not None and plan_run.conclusion == "success", real_host.run_log(REPO, plan_run.run_id)
    head = real_host.branch_head(REPO, f"request/{rid}")
    assert head is not None
    real_host.merge_pull_request(REPO, 1, sha=head, title=rid)
    apply_run = real_host.dispatch_workflow(
        REPO, "apply.yml", ref="main", inputs={"request_id": rid, "environment": "dev"}
    )
    assert apply_run is not None and apply_run.conclusion == "success", real_host.run_log(REPO, apply_run.run_id)
    outputs = _record(real_host, apply_run.run_id)["report"]["outputs"]
    assert outputs, real_host.run_log(REPO, apply_run.run_id)

    replan = real_host.dispatch_workflow(REPO, "plan.yml", ref="main", inputs={"request_id": rid, "environment": "dev"})
    assert replan is not None and replan.conclusion == "success", real_host.run_log(REPO, replan.run_id)
    again = real_host.get_plan_json(REPO, replan.run_id, rid)
    assert again is not None
    changed = {a: c for a, c in _changes(again).items() if c not in (["no-op"], ["read"])}
    assert changed == {}, f"a plan right after the apply is not empty: {changed}"
    if module_id == "ec2-instance":
        (instance,) = [
            i
            for r in _client(local_cloud, "ec2").describe_instances()["Reservations"]
            for i in r["Instances"]
            if {"Key": "tfpilot-request-id", "Value": rid} in i.get("Tags", [])
        ]
        assert "PublicIpAddress" not in instance
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == config["security_group_ids"]


def test_vendored_modules_are_the_pinned_tags() -> None:
    for module_id, (folder, source, version) in MODULES.items():
        definition = REGISTRY.get(module_id)
        assert (definition.terraform.source, definition.terraform.version) == (source, version)
        assert folder.endswith(f"-v{version}") and (VENDORED / folder / "main.tf").is_file()
