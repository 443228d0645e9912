"""``tfpilot demo`` end to end, as CI runs it: the transcript, the statuses in order, the
request's file in the local infra repo after merge and gone after destroy, the history archive
and the chat log, each checked on disk rather than trusted from the demo's own summary."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from bot.cli import demo_cmd
from bot.cli.main import main
from tests.local.conftest import PLUGIN_DIR, terraform_problem

# The module's demo runs Terraform for real against the local cloud when terraform and the AWS
# provider are here (as `make demo` does); otherwise it is the preview, and the checks that
# need the real run skip, saying why.
REAL_PROBLEM = terraform_problem()
# The real demo runs four Terraform runs (plan, apply, the removal PR's plan, destroy) through a
# real provider; on a loaded machine that takes longer than the suite's default 300 s.
pytestmark = [pytest.mark.timeout(1200), pytest.mark.slow(cost=2.5, together=True)]

ORDER = ["planning", "plan_ready", "approved", "merged", "applying", "applied", "destroying", "destroyed"]


def _json_tail(out: str) -> dict:
    start = out.rindex('\n{\n  "ok"')
    return json.loads(out[start:])


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    """One real demo for the whole session, whichever xdist workers its tests land on.

    worksteal can hand some of this module's tests to another worker (an idle worker steals the
    tail of a busy one's queue), and a module fixture then runs again there: three extra demos,
    minutes of Terraform each. The first worker runs it under a lock in the session's shared
    temporary directory and leaves its result there; the others wait for the lock and read it.
    """
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a directory of the session's own (named for the worker).
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / "demo-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        result = shared / "demo-run.json"
        if result.exists():
            saved = json.loads(result.read_text(encoding="utf-8"))
            return saved["code"], saved["out"], saved["err"], Path(saved["data"])
        code, out, err, data = _run_demo(shared / "demo-run" / "data")
        result.write_text(json.dumps({"code": code, "out": out, "err": err, "data": str(data)}), encoding="utf-8")
    return code, out, err, data


def _run_demo(data: Path) -> tuple[int, str, str, Path]:
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "TFPILOT_ADMINS",
            "TFPILOT_APPROVERS",
            "TFPILOT_DEVELOPERS",
            "GITHUB_TOKEN",
            "TFPILOT_REQUESTS_BUCKET",
        ):
            mp.delenv(name, raising=False)
        if REAL_PROBLEM is None:
            mp.setenv("TFPILOT_TERRAFORM_PLUGIN_DIR", str(PLUGIN_DIR))
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--data-dir", str(data), "--json"])
    return code, out.getvalue(), err.getvalue(), data


def test_demo_exits_zero_and_walks_the_lifecycle_in_order(demo_run: tuple[int, str, str, Path]) -> None:
    code, out, err, _ = demo_run
    assert code == 0, err + out[-3000:]
    result = _json_tail(out)
    statuses = result["statuses"]
    assert statuses[0] in ("request_created", "planning")
    assert [s for s in statuses if s != "request_created"] == ORDER
    assert "failed" not in statuses
    events = result["events"]
    for earlier, later in [
        ("request_created", "plan_dispatched"),
        ("approve_blocked", "approved"),
        ("approved", "merged"),
        ("merged", "apply_dispatched"),
        ("apply_dispatched", "destroy_dispatched"),
    ]:
        assert events.index(earlier) < events.index(later)
    assert events[-1] == "archived"
    assert result["assistant_questions"] == 1  # one sentence, then the one missing value


def test_runs_report_through_the_sync_service_like_webhooks(demo_run: tuple[int, str, str, Path]) -> None:
    _, out, _, data = demo_run
    rid = _json_tail(out)["request_id"]
    logged = [json.loads(p.read_text()) for p in sorted((data / "logs" / rid).glob("*.json"))]
    by_runner = {e["event"] for e in logged if e["source"] == "local-runner"}
    # Every run's result reached the request as a fact folded by SyncService.apply_fact.
    assert {"plan_completed", "apply_completed", "destroy_completed"} <= by_runner
    # The destroy run's fact continued the destroy: its removal PR was merged only after it.
    names = [e["event"] for e in logged]
    assert names.index("destroy_completed") < names.index("removal_pr_merged") < names.index("archived")
    assert not {"plan_completed", "apply_completed", "destroy_completed"} & {
        e["event"] for e in logged if e["source"] != "local-runner"
    }


def test_demo_prints_every_card_and_thread_message(demo_run: tuple[int, str, str, Path]) -> None:
    _, out, _, _ = demo_run
    rid = _json_tail(out)["request_id"]
    positions = [
        out.index(f"card {rid} · {event}")
        for event in (
            "created",
            "plan_ready",
            "approved",
            "merged",
            "applying",
            "applied",
            "destroy_requested",
            "destroying",
            "destroyed",
        )
    ]
    assert positions == sorted(positions)
    assert out.count("  ↳ ") >= 8  # a thread reply under every card
    assert "I need an S3 bucket in dev" in out
    assert "# tfpilot:begin " + rid in out  # the confirm step shows the Terraform
    assert "approve refused" in out  # the requester cannot approve
    assert "Demo summary" in out
    assert "\x1b[" not in out  # not a TTY: no colour


def test_request_file_is_on_base_after_merge_and_gone_after_destroy(demo_run: tuple[int, str, str, Path]) -> None:
    _, out, _, data = demo_run
    result = _json_tail(out)
    rid, path = result["request_id"], result["file"]
    assert result["file_after_merge"] is True and result["file_after_destroy"] is False
    repos = list((data / "repos").glob("*/*.git"))
    assert len(repos) == 1
    repo = repos[0]
    # git itself: one commit added the file on main, a later one removed it, and it is gone now.
    touched = _git(repo, "log", "--format=%s", "--name-status", "main", "--", path).stdout
    assert f"A\t{path}" in touched and f"D\t{path}" in touched
    assert touched.index(f"D\t{path}") < touched.index(f"A\t{path}")  # newest first: removed after added
    assert _git(repo, "cat-file", "-e", f"main:{path}").returncode != 0
    # The repository started as `tfpilot scaffold infra-repo` writes it for the project's environments.
    first = _git(repo, "rev-list", "--max-parents=0", "main").stdout.split()
    assert len(first) == 1
    scaffolded = set(_git(repo, "ls-tree", "-r", "--name-only", first[0]).stdout.split())
    assert {".github/workflows/plan.yml", ".github/workflows/cleanup.yml", "envs/dev/main.tf"} <= scaffolded
    assert "envs/staging/main.tf" in scaffolded  # the core project's environments: dev, staging, prod
    if REAL_PROBLEM is None:
        # Real Terraform: the state (under the data directory, never in the repo) held the bucket
        # and holds nothing now; the repository has no preview ledger.
        state = json.loads((data / "terraform" / "acme" / "core-infra" / "dev" / "terraform.tfstate").read_text())
        assert state["resources"] == [] and state["serial"] > 1
        assert _git(repo, "cat-file", "-e", f"main:envs/dev/.tfpilot-state/{rid}.json").returncode != 0
        assert "s3://core-dev-demo-logs  versioning: Enabled" in out and "tfpilot-request-id=" + rid in out
        assert "s3://core-dev-demo-logs: gone (head_bucket: 404)" in out
    else:
        state = json.loads(_git(repo, "show", f"main:envs/dev/.tfpilot-state/{rid}.json").stdout)
        assert state["status"] == "destroyed" and state["destroyed_resources"]


def test_history_archive_and_chat_log_are_written(demo_run: tuple[int, str, str, Path]) -> None:
    _, out, _, data = demo_run
    rid = _json_tail(out)["request_id"]
    archived = [p for p in data.rglob(f"{rid}.json") if p.parent.name == "history"]
    assert len(archived) == 1
    doc = json.loads(archived[0].read_text())
    assert doc["id"] == rid and doc["archivedAt"] and doc["destroyRun"]["conclusion"] == "success"
    assert not [p for p in data.rglob(f"{rid}.json") if p.parent.name == "requests"]  # no longer active
    turns = [json.loads(p.read_text()) for p in data.rglob("*.json") if "chats" in p.parts]
    assert len(turns) >= 4
    assert {t["role"] for t in turns} == {"user", "assistant"}
    assert any("S3 bucket in dev" in t["text"] for t in turns if t["role"] == "user")


def test_demo_in_a_temporary_directory_cleans_up_unless_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The directory handling alone (the lifecycle itself is the module fixture's run).
    used: list[Path] = []

    def fake_run_demo(data_dir: Path, out: object, **_: object) -> None:
        (data_dir / "requests").mkdir()
        used.append(data_dir)

    monkeypatch.setattr(demo_cmd, "run_demo", fake_run_demo)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert demo_cmd.run(argparse.Namespace(data_dir=None, keep=False, json=False)) == 0
    assert used[0].parent == tmp_path and list(tmp_path.iterdir()) == []
    assert demo_cmd.run(argparse.Namespace(data_dir=None, keep=True, json=False)) == 0
    assert list(tmp_path.iterdir()) == [used[1]] and (used[1] / "requests").is_dir()
    assert f"kept the demo data in {used[1]}" in capsys.readouterr().err


def test_a_failing_step_exits_non_zero_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    # Nobody is an approver: Bob's approval is refused and the demo must stop there, loudly.
    monkeypatch.setattr(demo_cmd, "DEMO_ROLES", {"TFPILOT_DEVELOPERS": "alice,bob", "TFPILOT_ADMINS": "carol"})
    out, err = io.StringIO(), io.StringIO()
    code = demo_cmd.run(argparse.Namespace(data_dir=tmp_path / "d", keep=False, json=False), out=out, err=err)
    assert code == 1
    assert "tfpilot demo FAILED at step 'approve'" in err.getvalue()
    assert "expected status approved, found plan_ready" in err.getvalue()


def test_demo_with_the_background_runner_reaches_the_same_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    for name in ("TFPILOT_ADMINS", "TFPILOT_APPROVERS", "TFPILOT_DEVELOPERS"):
        monkeypatch.delenv(name, raising=False)
    result = demo_cmd.run_demo(tmp_path / "d", io.StringIO(), runner="thread")
    assert [s for s in result.trail if s != "request_created"] == ORDER
    assert result.file_after_merge and not result.file_after_destroy
    assert result.history_path is not None and result.history_path.is_file()


def test_a_second_demo_in_a_kept_data_directory_starts_a_new_conversation(
    demo_run: tuple[int, str, str, Path], tmp_path: Path
) -> None:
    import io
    import shutil

    _, out, _, shared = demo_run
    first = _json_tail(out)["request_id"]
    # A copy: the first run's directory is shared with this module's other tests (on other workers).
    data = tmp_path / "data"
    shutil.copytree(shared, data, symlinks=True)
    result = demo_cmd.run_demo(data, io.StringIO())
    assert result.request_id != first
    assert [s for s in result.trail if s != "request_created"] == ORDER
    assert result.file_after_merge and not result.file_after_destroy
    assert {p.stem for p in (data / "history").glob("*.json")} >= {first, result.request_id}


def _normalise(text: str, data: Path) -> list[str]:
    import re

    text = text.replace(str(data.resolve()), "<data>").replace(str(data), "<data>")
    text = re.sub(r"req_[a-z0-9]{12}", "req_ID", text)
    text = re.sub(r"ses_[0-9a-f]+", "ses_ID", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "TIME", text)
    text = re.sub(r"finished in [0-9.]+ s", "finished in N s", text)
    return [line.rstrip() for line in text.splitlines()]


def test_the_transcript_in_docs_demo_md_is_the_real_output(demo_run: tuple[int, str, str, Path]) -> None:
    if REAL_PROBLEM is not None:
        print(f"SKIP: docs/demo.md is a real Terraform run; here {REAL_PROBLEM}")
        pytest.skip(f"docs/demo.md shows a real Terraform run; {REAL_PROBLEM}")
    _, out, _, data = demo_run
    docs = (Path(__file__).resolve().parents[2] / "docs" / "demo.md").read_text(encoding="utf-8")
    block = docs.split("## Short transcript", 1)[1].split("```\n", 2)[1]
    real = _normalise(out, data)
    position = 0
    checked = 0
    for line in _normalise(block, data):
        if "…" in line or not line.strip():
            continue  # abridged in the docs
        try:
            position = real.index(line, position) + 1
        except ValueError:
            pytest.fail(f"docs/demo.md shows a line the demo does not print (after line {position}): {line!r}")
        checked += 1
    assert checked > 40
