"""Real Terraform against the local cloud: every in-repo module goes request -> plan (the summary's
counts are the plan JSON's resource changes) -> apply -> the resource exists in moto with the
expected name and tags -> a plan right after shows no changes -> destroy -> it is gone.

One moto server per session (``local_cloud``); each test has its own state. Marked
``terraform``; skipped, with the reason printed, only when terraform or the AWS provider cannot
be found. The five modules share one environment and one lifecycle (each request's own
assertions kept): a terraform command costs seconds of CPU loading the provider, and the
provider's waits on SQS queues and S3 lifecycle rules overlap within one apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from core.adapters.local_cloud import MotoServer
from core.adapters.local_code_host import LocalCodeHost
from core.domain.plan_summary import summarize_plan
from module_registry import infra_modules
from module_registry.catalogue import load_registry
from module_registry.render import RenderInput, arguments, render
from tests.local.conftest import REPO, FactSink

# Each test runs a dozen terraform commands; on a busy 2-core machine that takes minutes.
pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]

REGISTRY = load_registry(None)
SERVER_TAG_KEYS = {"managed-by", "tfpilot-request-id", "project", "environment", "requester"}


def render_request(module_id: str, rid: str, config: dict[str, Any] | None = None) -> tuple[dict[str, str], str]:
    """The request's file (in-repo module source) and the resource's full name."""
    inp = RenderInput(
        request_id=rid,
        project="core",
        environment="dev",
        module=module_id,
        config=config if config is not None else REGISTRY.get(module_id).example_config(),
        env_path="envs/dev",
        requester="alice",
        module_sources="repo",
    )
    args = arguments(inp, REGISTRY)
    name = next(args[k] for k in ("bucket", "name", "role_name") if k in args)
    return render(inp, REGISTRY), name


def _client(cloud: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("404", "NoSuchBucket", "NoSuchEntity", "ResourceNotFoundException", "NotFound") or (
        "NonExistentQueue" in code
    )


def s3_tags(cloud: MotoServer, name: str) -> dict[str, str] | None:
    s3 = _client(cloud, "s3")
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}


def sqs_tags(cloud: MotoServer, name: str) -> dict[str, str] | None:
    sqs = _client(cloud, "sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return dict(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))


def sns_tags(cloud: MotoServer, name: str) -> dict[str, str] | None:
    sns = _client(cloud, "sns")
    arns = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].rsplit(":", 1)[-1] == name]
    if not arns:
        return None
    return {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arns[0])["Tags"]}


def dynamodb_tags(cloud: MotoServer, name: str) -> dict[str, str] | None:
    ddb = _client(cloud, "dynamodb")
    try:
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def iam_tags(cloud: MotoServer, name: str) -> dict[str, str] | None:
    iam = _client(cloud, "iam")
    try:
        iam.get_role(RoleName=name)
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}


PROBES: dict[str, Callable[[MotoServer, str], dict[str, str] | None]] = {
    "s3-bucket": s3_tags,
    "sqs-queue": sqs_tags,
    "sns-topic": sns_tags,
    "dynamodb-table": dynamodb_tags,
    "iam-role": iam_tags,
}


def _plan_request(host: LocalCodeHost, files: dict[str, str], rid: str) -> Any:
    base = host.branch_head(REPO, "main")
    assert base is not None
    branch = f"request/{rid}"
    host.create_branch(REPO, branch, base)
    host.commit_files(REPO, branch, files, "request", parent_sha=base)
    host.open_pull_request(REPO, head=branch, base="main", title=rid, body="", labels=[])
    return host.dispatch_workflow(REPO, "plan.yml", ref=branch, inputs={"request_id": rid, "environment": "dev"})


def _record(host: LocalCodeHost, run_id: int) -> dict[str, Any]:
    return json.loads((host.forge_dir(REPO) / "runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def _changes(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"]}


def _rid(module_id: str) -> str:
    return "req_" + (module_id.replace("-", "") + "000000000000")[:12]


def _prefix(module_id: str, rid: str) -> str:
    return f"{module_id.replace('-', '_')}_{rid}"


def run_lifecycles(host: LocalCodeHost, cloud: MotoServer, modules: list[str]) -> None:
    """Every module's request through one environment at once: each module's resources are
    planned, applied with TfPilot's tags, unchanged on a replan, and destroyed by its own
    request's destroy while the others stay. One environment rather than one per module: each
    terraform command loads the AWS provider's schema (seconds of CPU), and the provider waits
    on SQS and S3 in parallel within one apply."""
    requests = {m: (_rid(m), *render_request(m, _rid(m))) for m in modules}
    files: dict[str, str] = {}
    for m, (_, rendered, _) in requests.items():
        ((path, text),) = rendered.items()
        assert f'source = "../../modules/{m}"' in text and "version" not in text.split("\n\n")[0]
        files[path] = text
    first = requests[modules[0]][0]

    # Plan on the request branch: a real plan, summarised like a GitHub one.
    plan_run = _plan_request(host, files, first)
    assert plan_run is not None and plan_run.conclusion == "success", host.run_log(REPO, plan_run.run_id)
    plan = host.get_plan_json(REPO, plan_run.run_id, first)
    assert plan is not None and "tfpilot_local_preview" not in plan and plan["tfpilot_local_cloud"] == "moto"
    creates = [a for a, actions in _changes(plan).items() if actions == ["create"]]
    assert creates and all(actions in (["create"], ["read"]) for actions in _changes(plan).values())
    summary = summarize_plan(plan)
    assert summary.add == len(creates) and summary.change == summary.destroy == 0
    by_module = {
        m: [a for a in creates if a.startswith(f"module.{_prefix(m, rid)}.")] for m, (rid, _, _) in requests.items()
    }
    assert all(by_module.values()), f"a module plans nothing: {by_module}"
    assert sum(map(len, by_module.values())) == len(creates), "a create belongs to no request's module"

    # Merge and apply on main: every resource exists with its name and TfPilot's tags.
    head = host.branch_head(REPO, f"request/{first}")
    assert head is not None
    host.merge_pull_request(REPO, 1, sha=head, title=first)
    apply_run = host.dispatch_workflow(
        REPO, "apply.yml", ref="main", inputs={"request_id": first, "environment": "dev"}
    )
    assert apply_run is not None and apply_run.conclusion == "success", host.run_log(REPO, apply_run.run_id)
    for m, (rid, _, name) in requests.items():
        tags = PROBES[m](cloud, name)
        assert tags is not None, f"{name} was not created"
        assert set(tags) >= SERVER_TAG_KEYS
        assert tags["tfpilot-request-id"] == rid and tags["environment"] == "dev" and tags["managed-by"] == "tfpilot"
        # Case-insensitive duplicates of TfPilot's keys (the provider's default_tags) are not there.
        assert len({k.lower() for k in tags}) == len(tags)
    # The apply reports the outputs of its own request's file, not the others'.
    outputs = _record(host, apply_run.run_id)["report"]["outputs"]
    assert outputs and all(k.startswith(f"{_prefix(modules[0], first)}_") for k in outputs)
    assert any(requests[modules[0]][2] in str(v) for v in outputs.values())

    # A plan right after the apply shows no changes, and every request's outputs hold its resource.
    replan = host.dispatch_workflow(REPO, "plan.yml", ref="main", inputs={"request_id": first, "environment": "dev"})
    assert replan is not None and replan.conclusion == "success", host.run_log(REPO, replan.run_id)
    again = host.get_plan_json(REPO, replan.run_id, first)
    assert again is not None
    changed = {a: c for a, c in _changes(again).items() if c not in (["no-op"], ["read"])}
    assert changed == {}, f"a plan right after the apply is not empty: {changed}"
    values = {k: v.get("value") for k, v in again["planned_values"].get("outputs", {}).items()}
    for m, (rid, _, name) in requests.items():
        mine = {k: v for k, v in values.items() if k.startswith(f"{_prefix(m, rid)}_")}
        assert mine and any(name in str(v) for v in mine.values()), f"{m}'s outputs: {mine}"

    # Destroy after the cleanup removed the files from main (today's order): each request's
    # destroy removes its resources and leaves the other requests' in place.
    main = host.branch_head(REPO, "main")
    assert main is not None
    host.commit_files(REPO, "main", dict.fromkeys(files), "cleanup", parent_sha=main)
    for i, (m, (rid, _, name)) in enumerate(requests.items()):
        destroy = host.dispatch_workflow(
            REPO, "destroy.yml", ref="main", inputs={"request_id": rid, "environment": "dev"}
        )
        assert destroy is not None and destroy.conclusion == "success", host.run_log(REPO, destroy.run_id)
        assert PROBES[m](cloud, name) is None, f"{name} still exists after destroy"
        for other, (_, _, other_name) in list(requests.items())[i + 1 :]:
            assert PROBES[other](cloud, other_name) is not None, f"destroying {rid} removed {other_name}"


@pytest.mark.terraform(cost=4)
def test_every_in_repo_module_plans_applies_and_destroys_for_real(
    real_host: LocalCodeHost, local_cloud: MotoServer, sink: FactSink
) -> None:
    modules = [m for m in sorted(PROBES) if m in infra_modules.available()]
    assert modules == sorted(PROBES), f"an in-repo module is missing: {sorted(set(PROBES) - set(modules))}"
    run_lifecycles(real_host, local_cloud, modules)
    kinds = sink.kinds()
    assert kinds.count("plan:completed:success") == 2 and "apply:completed:success" in kinds
    assert kinds.count("destroy:completed:success") == len(modules)


# The provider block the scaffold wrote before: its default_tags carried "Environment", and the
# renderer adds "environment". IAM tag keys ignore case, so AWS (and moto) refuse the role.
OLD_PROVIDERS = """terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = {
      ManagedBy   = "tfpilot"
      Environment = "dev"
    }
  }
}
"""


def test_a_refused_apply_reports_terraforms_diagnostics_into_the_thread(
    real_host: LocalCodeHost, local_cloud: MotoServer, sink: FactSink
) -> None:
    """Regression: with the old provider block an iam-role request fails at apply ("Duplicate tag
    keys found"); the scaffold's block now applies cleanly (the iam-role lifecycle test above)."""
    from bot.views.replies import transition_reply
    from core.domain.facts import RunFact
    from core.domain.folding import fold
    from core.domain.request import RunRef
    from core.ports.notifier import Transition
    from tests.domain.builders import at_status

    main = real_host.branch_head(REPO, "main")
    assert main is not None
    real_host.commit_files(
        REPO, "main", {"envs/dev/providers.tf": OLD_PROVIDERS}, "old provider block", parent_sha=main
    )
    rid = "req_oldtags00001"
    files, name = render_request("iam-role", rid, {"name": "old-tags", "trusted_services": ["ecs-tasks.amazonaws.com"]})
    plan_run = _plan_request(real_host, files, rid)
    assert plan_run is not None and plan_run.conclusion == "success", real_host.run_log(REPO, plan_run.run_id)
    head = real_host.branch_head(REPO, f"request/{rid}")
    assert head is not None
    real_host.merge_pull_request(REPO, 1, sha=head, title=rid)
    apply_run = real_host.dispatch_workflow(
        REPO, "apply.yml", ref="main", inputs={"request_id": rid, "environment": "dev"}
    )
    assert apply_run is not None and apply_run.conclusion == "failure"
    assert iam_tags(local_cloud, name) is None

    completed = [f for f in sink.facts if isinstance(f, RunFact) and f.kind == "apply" and f.run.status == "completed"]
    assert completed and completed[-1].report is not None
    errors = completed[-1].report.errors
    assert errors and any("Duplicate tag keys" in f"{d.summary} {d.detail}" for d in errors)

    # The fact folds into the request like a webhook, and the "failed" reply quotes Terraform.
    request = at_status("applying")
    request.id = rid
    request.apply_run = RunRef(run_id=apply_run.run_id, status="in_progress", head_sha=completed[-1].run.head_sha)
    fold(request, completed[-1], now=request.updated_at)
    reply = transition_reply(request, Transition(event="failed", previous_status="applying", status="failed"))
    text = reply["blocks"][0]["text"]["text"]
    assert "Terraform said" in text and "Duplicate tag keys" in text
    assert len(text) <= 3000
