"""Destroy through the product's flow with real Terraform against the local cloud (moto).

The whole service graph (``RequestService``, ``SyncService``) over the local forge, whose runner
runs Terraform for real: create -> plan -> approve -> merge -> apply, then Destroy. An ECR
repository holding an image is prepared first (a reviewed change lifting exactly its guard) and
then destroyed, and so are a bucket holding objects and a prod DynamoDB table with deletion
protection; a destroy AWS would refuse is refused before anything is deleted and leaves the
request's file, state and protections as they were and the environment usable; a destroy that
fails part-way is restored by the workflow's restore step.

Marked ``terraform`` and sharing the session's moto server (``local_cloud``); slow (minutes).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bot.bootstrap import environments_in
from bot.deps import Deps
from bot.views.refusals import reason_text
from core.adapters.local_cloud import MotoServer
from core.adapters.local_code_host import LocalCodeHost
from core.adapters.local_runner import LocalRunner
from core.adapters.terraform_cli import TerraformCli
from core.adapters.terraform_run import RealTerraform
from core.domain.errors import PermissionDenied
from core.domain.policy import Actor, Policy
from core.domain.request import Request, Requester, SlackThread
from core.ports.code_host import RepoRef
from core.services.commands import CreateRequest
from module_registry.catalogue import load_registry
from module_registry.projects import load_projects
from tests.fakes import ManualClock
from tests.graph import build_graph
from tests.local.conftest import PLUGIN_DIR

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1800)]

REQUESTER = Requester(id="U_DEV", name="Dana Dev", email="dana@example.com")
DEV = Actor(id="U_DEV", email="dana@example.com", name="Dana Dev")
APPROVER = Actor(id="U_APP", name="Abe Approver")
ADMIN = Actor(id="U_ADM", name="Ada Admin")
POLICY = Policy.of(
    admins=["U_ADM"],
    approvers=["U_APP"],
    developers=["U_DEV"],
    prod_allowed=["U_DEV", "U_APP", "U_ADM"],
    destroy_prod_allowed=["U_ADM"],
)
REPO = RepoRef(owner="acme", name="core-infra")  # the example projects map's core project


@pytest.fixture
def product(tmp_path: Path, local_cloud: MotoServer) -> Iterator[Deps]:
    """The service graph over a local forge whose runner runs Terraform for real. Runs and facts
    go through the forge's worker thread as on GitHub (a run starts after the dispatch is
    recorded); ``settled`` waits for them."""
    clock = ManualClock()
    cli = TerraformCli(shutil.which("terraform") or "terraform", plugin_dir=PLUGIN_DIR)
    runner = LocalRunner(clock, real=RealTerraform(cli, local_cloud, tmp_path / "terraform"))
    registry = load_registry(None)
    projects = load_projects(None, known_modules=registry.ids())
    host = LocalCodeHost(
        tmp_path / "data",
        clock,
        runner_mode="thread",
        runner=runner,
        pickup_delay=0.05,
        environments_of=lambda repo: environments_in(projects, repo),
    )
    yield build_graph(clock=clock, code_host=host, registry=registry, projects=projects, policy=POLICY)
    host.close()


def settled(deps: Deps, rid: str) -> Request:
    """The request once every queued run and fact is done (the runs take minutes here)."""
    host = deps.code_host
    assert isinstance(host, LocalCodeHost)
    assert host.wait_idle(timeout=1500), "the local forge's runs did not finish"
    return deps.store.get(rid)


def _client(cloud: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def applied(deps: Deps, module: str, config: dict[str, Any], environment: str = "dev") -> Request:
    """create -> plan -> approve -> merge -> apply, each run real; the request ends applied."""
    requests = deps.requests
    cmd = CreateRequest(
        project="core",
        environment=environment,
        module=module,
        config=config,
        requester=REQUESTER,
        slack=SlackThread(team_id="T1", channel="C1", ts="1700000000.000100"),
        source="slack",
    )
    request = requests.create(cmd)
    settled(deps, request.id)
    return through_apply(deps, request.id)


def through_apply(deps: Deps, rid: str) -> Request:
    """The request's open PR, planned already: approve, merge, apply (the runs are inline)."""
    requests = deps.requests
    planned = settled(deps, rid)
    assert planned.status == "plan_ready", _why(deps, planned)
    requests.approve(rid, APPROVER)
    assert requests.merge(rid, APPROVER).status == "merged"
    requests.apply(rid, APPROVER)
    done = settled(deps, rid)
    assert done.status == "applied", _why(deps, done)
    return done


def _why(deps: Deps, request: Request) -> str:
    host = deps.code_host
    assert isinstance(host, LocalCodeHost)
    runs = [r for r in (request.plan_run, request.apply_run, request.destroy_run) if r is not None and r.run_id]
    logs = "\n".join(host.run_log(REPO, r.run_id)[-3000:] for r in runs if r.run_id is not None)
    return f"status {request.status}\n{logs}"


def destroyed(deps: Deps, rid: str) -> Request:
    """Destroy: removal PR, the destroy run on main with the file present, then the merge."""
    deps.requests.destroy(rid, ADMIN)
    final = settled(deps, rid)
    assert final.status == "destroyed", _why(deps, final)
    assert final.archived_at is not None and final.cleanup_pr is not None and final.cleanup_pr.merged
    assert _on_main(deps, final) is None
    return final


def prepared(deps: Deps, rid: str, fields: dict[str, Any]) -> Request:
    """Prepare destroy: the change lifting the guards, planned, approved, merged and applied."""
    deps.requests.prepare_destroy(rid, ADMIN)
    preparing = settled(deps, rid)
    assert preparing.prepared_destroy is not None and preparing.prepared_destroy.fields == fields
    assert preparing.branch_name == f"prepare/{rid}"
    done = through_apply(deps, rid)
    text = _on_main(deps, done)
    assert text is not None
    for field, value in fields.items():
        assert f"{_input(field)} = {json.dumps(value)}" in " ".join(text.split()), text
    return done


# The module input each guard field renders as (the registry definitions' terraform inputs).
_INPUTS = {
    "force_destroy": "force_destroy",
    "deletion_protection": "deletion_protection_enabled",
    "force_delete": "repository_force_delete",
}


def _input(field: str) -> str:
    return _INPUTS[field]


def _on_main(deps: Deps, request: Request) -> str | None:
    host = deps.code_host
    assert isinstance(host, LocalCodeHost)
    return host.read_file(REPO, "main", request.target_files[0])


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchBucket", "ResourceNotFoundException", "RepositoryNotFoundException")


def bucket_exists(cloud: MotoServer, name: str) -> bool:
    try:
        _client(cloud, "s3").head_bucket(Bucket=name)
    except ClientError as exc:
        if _missing(exc):
            return False
        raise
    return True


def bucket_protections(cloud: MotoServer, name: str) -> dict[str, Any]:
    """What the s3-bucket module puts on a bucket besides the bucket itself."""
    s3 = _client(cloud, "s3")
    out: dict[str, Any] = {}
    for key, call in (
        ("public_access_block", lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]),
        ("policy", lambda: json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])),
        ("encryption", lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]),
        ("lifecycle", lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]),
    ):
        try:
            out[key] = call()
        except ClientError:
            out[key] = None
    return out


def table(cloud: MotoServer, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = _client(cloud, "dynamodb").describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return found


def repository_exists(cloud: MotoServer, name: str) -> bool:
    try:
        _client(cloud, "ecr").describe_repositories(repositoryNames=[name])
    except ClientError as exc:
        if _missing(exc):
            return False
        raise
    return True


def _name(request: Request, output: str) -> str:
    """The module output ``output`` the apply recorded (named as the definition names it)."""
    outputs = request.outputs or {}
    assert output in outputs, outputs
    return str(outputs[output])


def _destroy_failed(deps: Deps, rid: str) -> Request:
    request = settled(deps, rid)
    assert request.status == "failed", _why(deps, request)
    op = [o for o in request.operations if o.kind == "destroy"][-1]
    assert op.completed_at is not None and op.steps.failed is not None
    # Code and PR as they were: the file on main, the removal PR open.
    assert _on_main(deps, request) is not None
    assert request.cleanup_pr is not None and request.cleanup_pr.open and not request.cleanup_pr.merged
    return request


# --- (a) a bucket holding objects -------------------------------------------------------------


def put_object(cloud: MotoServer, bucket: str, key: str) -> None:
    """Put an object the way a client that AWS lets through does.

    The module's bucket policy denies every request with ``aws:SecureTransport`` false. moto
    passes no request context into a bucket policy's conditions, so that Deny matches every
    request to moto, over HTTPS too (a plain ``put_object`` gets 403 whatever the transport):
    no client can say SecureTransport to it. The honest stand-in for an HTTPS writer is
    therefore to write while the policy is not there: take the policy off out of band, put the
    object, put the very same policy document back, and check it is back unchanged (Terraform
    sees no drift: the plans below would show one)."""
    s3 = _client(cloud, "s3")
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] >= 1


# A bucket holding objects goes applied -> Prepare destroy -> destroyed in
# test_a_refused_destroy_keeps_the_bucket_whole_then_prepare_from_failed_destroys_it (below), after
# a refused first Destroy: one real-Terraform lifecycle covers both (the suite's time is budgeted).


# --- (b) a prod DynamoDB table with deletion protection ---------------------------------------


def test_a_prod_table_with_deletion_protection_is_prepared_then_destroyed(
    product: Deps, local_cloud: MotoServer
) -> None:
    config = {"name": "orders", "hash_key": "id", "deletion_protection": True}
    request = applied(product, "dynamodb-table", config, environment="prod")
    rid, name = request.id, _name(request, "id")
    found = table(local_cloud, name)
    assert found is not None and found.get("DeletionProtectionEnabled") is True

    # Destroy is refused at once, naming the change; nothing is opened.
    with pytest.raises(PermissionDenied) as refused:
        product.requests.destroy(rid, ADMIN)
    assert "`deletion_protection` true → false" in reason_text(refused.value.reason)
    assert product.store.get(rid).cleanup_pr is None
    # Prepare destroy: prod forbids turning protection off except in exactly this change.
    prepared(product, rid, {"deletion_protection": False})
    after = table(local_cloud, name)
    assert after is not None and after.get("DeletionProtectionEnabled") is False
    destroyed(product, rid)
    assert table(local_cloud, name) is None


# --- (c) an ECR repository holding an image ---------------------------------------------------


def test_an_ecr_repository_holding_an_image_is_prepared_then_destroyed(product: Deps, local_cloud: MotoServer) -> None:
    request = applied(product, "ecr-repository", {"name": "api", "image_tag_mutability": "MUTABLE"})
    rid = request.id
    name = "core-dev-api"
    assert repository_exists(local_cloud, name)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "b" * 64},
        "layers": [],
    }
    _client(local_cloud, "ecr").put_image(repositoryName=name, imageManifest=json.dumps(manifest), imageTag="v1")
    prepared(product, rid, {"force_delete": True})
    destroyed(product, rid)
    assert not repository_exists(local_cloud, name)


# --- a destroy the preflight refuses: everything intact, Prepare destroy from failed -----------


def _state_addresses(tmp_path: Path, environment: str = "dev") -> list[str]:
    """The resource addresses the environment's state holds (the local runner's local backend)."""
    state = json.loads(
        (tmp_path / "terraform" / REPO.owner / REPO.name / environment / "terraform.tfstate").read_text()
    )
    return sorted(
        f"{r['module'] + '.' if r.get('module') else ''}{r['type']}.{r['name']}"
        for r in state.get("resources", [])
        if r.get("mode") == "managed"
    )


@pytest.mark.terraform(cost=9)
def test_refused_destroys_keep_the_table_and_the_bucket_whole_then_prepare_from_failed_destroys(
    product: Deps, local_cloud: MotoServer, tmp_path: Path
) -> None:
    """Two destroys AWS would refuse, refused by the destroy run's preflight before anything is
    deleted: a table whose config lifted the guard but whose deletion protection someone turned
    on out of band, and a bucket holding an object with force_destroy off. Each request fails
    with the reason; its file is on main, its resources are in state and keep their protections
    (the table's flag and tags; the bucket's public access block, TLS-only policy, encryption,
    lifecycle); another request in the environment plans and applies cleanly and a plan after it
    is empty. The admin then prepares the bucket's destroy from the failed request
    (force_destroy on, reviewed and applied) and Destroy goes through: the removal PR, whose
    deletion predates the prepare change, is rebuilt on main's head and merges without conflict.
    (One environment holds both refusals: each real-Terraform lifecycle costs minutes.)"""
    ledger = applied(product, "dynamodb-table", {"name": "ledger", "hash_key": "id", "deletion_protection": False})
    table_id, table_name = ledger.id, _name(ledger, "id")
    found = table(local_cloud, table_name)
    assert found is not None
    request = applied(product, "s3-bucket", {"name": "refused", "versioning": True})
    rid, bucket = request.id, _name(request, "bucket")
    put_object(local_cloud, bucket, "keep/me.txt")
    protections = bucket_protections(local_cloud, bucket)
    assert all(protections.values()), protections
    in_state = _state_addresses(tmp_path)
    # Out of band, after the last apply of the environment (an apply of main would put the
    # table's configured flag back).
    ddb = _client(local_cloud, "dynamodb")
    ddb.update_table(TableName=table_name, DeletionProtectionEnabled=True)
    tags_before = ddb.list_tags_of_resource(ResourceArn=found["TableArn"])["Tags"]

    product.requests.destroy(table_id, ADMIN)
    failed_table = _destroy_failed(product, table_id)
    said = " ".join(d.summary for d in failed_table.destroy_run.diagnostics)
    assert "deletion_protection_enabled is on" in said and "before deleting anything" in said, said
    still = table(local_cloud, table_name)
    assert still is not None and still.get("DeletionProtectionEnabled") is True
    assert ddb.list_tags_of_resource(ResourceArn=found["TableArn"])["Tags"] == tags_before

    product.requests.destroy(rid, ADMIN)
    failed = _destroy_failed(product, rid)
    said = " ".join(d.summary for d in failed.destroy_run.diagnostics)
    assert "before deleting anything" in said, said
    assert bucket_exists(local_cloud, bucket) and bucket_protections(local_cloud, bucket) == protections
    assert _state_addresses(tmp_path) == in_state
    assert _client(local_cloud, "s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 1

    # Another request in the same environment: planned, applied; a plan of main right after is empty.
    other = applied(product, "sns-topic", {"name": "refused-events"})
    _assert_empty_plan(product, other.id)
    assert bucket_protections(local_cloud, bucket) == protections
    assert table(local_cloud, table_name) is not None

    # From the failed request: Prepare destroy (offered there), then Destroy again.
    from bot.views.card import card_actions
    from core.domain.policy import Action

    assert Action.PREPARE_DESTROY in card_actions(product.store.get(rid))
    prepared(product, rid, {"force_destroy": True})
    destroyed(product, rid)
    assert not bucket_exists(local_cloud, bucket)
    _assert_empty_plan(product, other.id)


def _assert_empty_plan(deps: Deps, rid: str) -> None:
    """A plan of main (dispatched as the request's plan workflow) changes nothing."""
    host = deps.code_host
    assert isinstance(host, LocalCodeHost)
    replan = host.dispatch_workflow(REPO, "plan.yml", ref="main", inputs={"request_id": rid, "environment": "dev"})
    assert replan is not None and host.wait_idle(timeout=1500)
    assert host.get_run(REPO, replan.run_id).conclusion == "success", host.run_log(REPO, replan.run_id)
    plan = host.get_plan_json(REPO, replan.run_id, rid)
    assert plan is not None
    changed = {
        rc["address"]: rc["change"]["actions"]
        for rc in plan["resource_changes"]
        if rc["change"]["actions"] not in (["no-op"], ["read"])
    }
    assert changed == {}, changed


@pytest.mark.terraform(cost=6)
def test_a_destroy_failing_part_way_puts_the_bucket_protections_back_by_the_runner_then_by_destroy_yml(
    product: Deps, local_cloud: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A failure the preflight did not foresee (it is switched off here): AWS refuses the
    bucket's delete after the module's other resources went; the restore step applies the
    request's targets again, so the public access block, the TLS-only policy, the encryption
    and the lifecycle rules are back, and the request failed with AWS's reason.

    Then the same part-way failure on the Destroy retried from the failed request, restored by
    destroy.yml's own step: its ``run`` script (with the scaffold's ``tfpilot_ci.py
    check-restore``) runs with bash, as the runner would, in the failed destroy's working
    directory (its state, its provider wiring for moto). It plans the request's targets, checks
    that plan deletes nothing, applies it and fails the step on purpose; the protections are
    back. (One applied bucket serves both: each real-Terraform lifecycle costs minutes.)"""
    import subprocess

    import yaml

    from core.scaffold.generator import HELPER_PATH, scaffold_files

    request = applied(product, "s3-bucket", {"name": "part-way", "versioning": True})
    rid, bucket = request.id, _name(request, "bucket")
    put_object(local_cloud, bucket, "a.txt")
    protections = bucket_protections(local_cloud, bucket)
    monkeypatch.setattr(RealTerraform, "_preflight", lambda self, run: True)

    product.requests.destroy(rid, ADMIN)
    failed = _destroy_failed(product, rid)
    said = " ".join(f"{d.summary} {d.detail}" for d in failed.destroy_run.diagnostics)
    assert "BucketNotEmpty" in said or "not empty" in said.lower(), said
    host = product.code_host
    assert isinstance(host, LocalCodeHost)
    log = host.run_log(REPO, failed.destroy_run.run_id)
    assert "restore: done" in log, log[-3000:]
    assert bucket_exists(local_cloud, bucket) and bucket_protections(local_cloud, bucket) == protections
    first_run = failed.destroy_run.run_id

    # --- the Destroy retried from failed, restored by destroy.yml's own step
    scaffold = scaffold_files()
    workflow = yaml.safe_load(scaffold[".github/workflows/destroy.yml"])
    (step,) = [s for s in workflow["jobs"]["destroy"]["steps"] if str(s.get("name", "")).startswith("Restore")]
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    (workspace / HELPER_PATH).parent.mkdir(parents=True)
    (workspace / HELPER_PATH).write_text(scaffold[HELPER_PATH])
    runner_temp.mkdir()
    outputs: list[subprocess.CompletedProcess[str]] = []

    def workflow_restore(self: RealTerraform, run: Any, cwd: Path, env: dict[str, str], target_args: list[str]) -> None:
        (runner_temp / "targets.txt").write_text("".join(a.removeprefix("-target=") + "\n" for a in target_args))
        # GitHub runs a `run` step as `bash --noprofile --norc -eo pipefail {0}`.
        done = subprocess.run(
            ["/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env={
                **os.environ,
                **env,
                "REQUEST_ID": rid,
                "RUNNER_TEMP": str(runner_temp),
                "GITHUB_WORKSPACE": str(workspace),
                "TF_IN_AUTOMATION": "true",
                "TF_INPUT": "false",
            },
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        outputs.append(done)
        run.lines.extend(["restore (destroy.yml's step):", *done.stdout.splitlines(), *done.stderr.splitlines()])
        run.restored = done.returncode == 1 and "the request's resources were applied again" in done.stdout

    monkeypatch.setattr(RealTerraform, "_restore", workflow_restore)

    product.requests.destroy(rid, ADMIN)
    failed = _destroy_failed(product, rid)
    assert failed.destroy_run.run_id != first_run
    (done,) = outputs
    text = done.stdout + done.stderr
    # The step applied the restore plan after check-restore passed it, then failed on purpose.
    assert done.returncode == 1, text
    assert "restore plan: creates and updates only" in done.stdout, text
    assert "Apply complete!" in done.stdout, text
    assert "::error::the destroy failed part-way; the request's resources were applied again" in done.stdout
    assert failed.status == "failed"
    assert bucket_exists(local_cloud, bucket) and bucket_protections(local_cloud, bucket) == protections
