"""The local runner through ``LocalCodeHost``: plan checks (hcl parse, terraform fmt, validate
only without downloads) and the plan preview's content for added, changed and removed
resources, labelled as a local preview."""

from __future__ import annotations

import shutil

import pytest

from core.adapters.local_code_host import LocalCodeHost
from core.adapters.local_hcl import needs_download, parse_hcl, plain_value
from core.adapters.local_preview import PREVIEW_NOTE
from tests.local.conftest import BRANCH, REPO, REQ, FactSink, tf_block

HAS_TERRAFORM = shutil.which("terraform") is not None


def _bucket(name: str, bucket: str, extra: str = "") -> str:
    return f'resource "aws_s3_bucket" "{name}" {{\n  bucket = "{bucket}"\n{extra}}}\n'


def _setup_base(host: LocalCodeHost, files: dict[str, str | None]) -> str:
    """Put ``files`` on main (as if earlier requests had merged), returning main's head."""
    main = host.branch_head(REPO, "main")
    assert main is not None
    return host.commit_files(REPO, "main", files, "earlier requests", parent_sha=main)


def _plan(host: LocalCodeHost, files: dict[str, str | None]) -> tuple[int, str | None]:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    host.commit_files(REPO, BRANCH, files, "request", parent_sha=base)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ, "environment": "dev"})
    assert run is not None and run.status == "completed"
    return run.run_id, run.conclusion


def _actions(plan: dict) -> dict[str, list[str]]:
    return {rc["address"]: rc["change"]["actions"] for rc in plan["resource_changes"]}


def test_plan_preview_shows_added_changed_and_removed_resources(host: LocalCodeHost) -> None:
    _setup_base(
        host,
        {
            "envs/dev/a.tf": _bucket("keep", "acme-dev-keep") + _bucket("change", "acme-dev-old"),
            "envs/dev/b.tf": _bucket("gone", "acme-dev-gone"),
            "envs/prod/p.tf": _bucket("elsewhere", "acme-prod-x"),
        },
    )
    run_id, conclusion = _plan(
        host,
        {
            "envs/dev/a.tf": _bucket("keep", "acme-dev-keep") + _bucket("change", "acme-dev-new"),
            "envs/dev/b.tf": None,
            f"envs/dev/tfpilot_{REQ}.tf": tf_block(
                REQ,
                'module "queue" {\n  source  = "terraform-aws-modules/sqs/aws"\n  version = "4.2.0"\n  name    = "q"\n}\n',
            )
            + _bucket("added", "acme-dev-added"),
        },
    )
    assert conclusion == "success"
    plan = host.get_plan_json(REPO, run_id, REQ)
    assert plan is not None
    assert plan["tfpilot_local_preview"] is True and plan["tfpilot_note"] == PREVIEW_NOTE
    assert _actions(plan) == {
        "aws_s3_bucket.added": ["create"],
        "aws_s3_bucket.change": ["update"],
        "aws_s3_bucket.gone": ["delete"],
        "aws_s3_bucket.keep": ["no-op"],
        "module.queue": ["create"],
    }
    by_addr = {rc["address"]: rc for rc in plan["resource_changes"]}
    change = by_addr["aws_s3_bucket.change"]["change"]
    assert change["before"] == {"bucket": "acme-dev-old"} and change["after"] == {"bucket": "acme-dev-new"}
    assert by_addr["aws_s3_bucket.gone"]["change"]["after"] is None
    assert by_addr["module.queue"]["tfpilot_module_call"] is True
    assert by_addr["module.queue"]["change"]["after"]["source"] == "terraform-aws-modules/sqs/aws"
    assert by_addr["aws_s3_bucket.added"]["provider_name"] == "registry.terraform.io/hashicorp/aws"
    # Only the directory the branch touched is planned, like terraform in one env directory.
    assert "aws_s3_bucket.elsewhere" not in by_addr
    log = host.run_log(REPO, run_id)
    assert "local preview, not a cloud plan" in log
    assert "2 to add, 1 to change, 1 to destroy" in log
    assert "validate: skipped for envs/dev" in log and "provider aws" in log


def test_plan_compares_against_the_merge_base_not_a_moved_main(host: LocalCodeHost) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    host.commit_files(
        REPO, BRANCH, {f"envs/dev/tfpilot_{REQ}.tf": tf_block(REQ, _bucket("mine", "m"))}, "r", parent_sha=base
    )
    # Another request lands on main after this branch was cut: it must not show as "removed".
    _setup_base(host, {"envs/dev/tfpilot_req_other1234567.tf": _bucket("theirs", "t")})
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ})
    assert run is not None and run.conclusion == "success"
    plan = host.get_plan_json(REPO, run.run_id, REQ)
    assert plan is not None and _actions(plan) == {"aws_s3_bucket.mine": ["create"]}


def test_unparseable_hcl_fails_the_plan_with_a_log(host: LocalCodeHost, sink: FactSink) -> None:
    bad = f"envs/dev/tfpilot_{REQ}.tf"
    run_id, conclusion = _plan(host, {bad: 'resource "aws_s3_bucket" "x" {\n  bucket = \n'})
    assert conclusion == "failure"
    log = host.run_log(REPO, run_id)
    assert "do not parse" in log and bad in log
    assert host.get_plan_json(REPO, run_id, REQ) is None
    assert [k for k in sink.kinds() if k.startswith("plan")][-1] == "plan:completed:failure"


@pytest.mark.skipif(not HAS_TERRAFORM, reason="terraform is not installed: fmt -check cannot run")
def test_unformatted_terraform_fails_the_plan(host: LocalCodeHost) -> None:
    path = f"envs/dev/tfpilot_{REQ}.tf"
    run_id, conclusion = _plan(host, {path: 'resource "aws_s3_bucket" "x" {\nbucket="x"\n}\n'})
    assert conclusion == "failure"
    log = host.run_log(REPO, run_id)
    assert "terraform fmt -check failed" in log and path in log


@pytest.mark.skipif(not HAS_TERRAFORM, reason="terraform is not installed: validate cannot run")
def test_validate_runs_when_no_download_is_needed(host: LocalCodeHost) -> None:
    # Only locals and outputs: terraform init needs nothing from the network.
    good = 'locals {\n  name = "x"\n}\n\noutput "name" {\n  value = local.name\n}\n'
    run_id, conclusion = _plan(host, {"envs/sandbox/main.tf": good})
    assert conclusion == "success", host.run_log(REPO, run_id)
    assert "terraform validate passed for envs/sandbox" in host.run_log(REPO, run_id)


@pytest.mark.skipif(not HAS_TERRAFORM, reason="terraform is not installed: validate cannot run")
def test_validate_failure_fails_the_plan(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="inline")
    bad = 'output "name" {\n  value = local.missing\n}\n'
    run_id, conclusion = _plan(host, {"envs/sandbox/main.tf": bad})
    assert conclusion == "failure"
    assert "terraform validate failed" in host.run_log(REPO, run_id)


def test_without_terraform_the_checks_say_they_were_skipped(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from core.adapters.local_runner import LocalRunner

    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="inline", runner=LocalRunner(clock, use_terraform=False))
    run_id, conclusion = _plan(host, {f"envs/dev/tfpilot_{REQ}.tf": _bucket("x", "x")})
    assert conclusion == "success"
    log = host.run_log(REPO, run_id)
    assert "fmt: skipped (terraform is not installed)" in log
    assert "validate: skipped (terraform is not installed)" in log


def test_string_literals_are_decoded_and_expressions_kept() -> None:
    parsed = parse_hcl(
        "x.tf",
        'resource "a_b" "c" {\n  s = "q\\"uote $${lit} \\u00e9"\n  e = "${var.x}-y"\n  n = 3\n  l = ["a", true]\n}\n',
    )
    body = plain_value(parsed["resource"][0]['"a_b"']['"c"'])
    assert body["s"] == 'q"uote ${lit} é'
    assert body["e"].startswith('"${var.x}')  # an interpolation stays as written
    assert body["n"] == 3 and body["l"] == ["a", True]


def test_needs_download_names_providers_modules_and_backends() -> None:
    parsed = parse_hcl(
        "m.tf",
        'module "m" {\n  source = "terraform-aws-modules/s3-bucket/aws"\n}\n'
        'module "local" {\n  source = "./mod"\n}\n'
        'resource "terraform_data" "t" {}\n'
        'terraform {\n  backend "s3" {}\n}\n',
    )
    reasons = needs_download({"m.tf": parsed})
    assert any(r.startswith("module m ") for r in reasons)
    assert not any(r.startswith("module local") for r in reasons)
    assert "a backend" in reasons
    assert needs_download({"v.tf": parse_hcl("v.tf", 'variable "x" {}\n')}) == []
