"""Contract of ``LocalCodeHost``: every ``CodeHost`` method on a real git repository on disk,
including the idempotency the port promises, merges (behind and conflicting) and the facts it
emits in order."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from core.adapters.local_code_host import LocalCodeHost
from core.ports.code_host import CodeHostError, RepoRef
from module_registry import infra_modules
from tests.fakes import ManualClock
from tests.local.conftest import BRANCH, REPO, REQ, FactSink, tf_block

BUCKET = tf_block(REQ, 'resource "aws_s3_bucket" "logs" {\n  bucket = "acme-dev-logs"\n}\n')
FILE = f"envs/dev/tfpilot_{REQ}.tf"


def _branch_with_file(host: LocalCodeHost, branch: str = BRANCH, files: dict[str, str | None] | None = None) -> str:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, branch, base)
    return host.commit_files(REPO, branch, files or {FILE: BUCKET}, "add request", parent_sha=base)


def _git(host: LocalCodeHost, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={host.repo_dir(REPO)}", *args], capture_output=True, text=True, check=True
    ).stdout


def test_repository_is_created_on_first_use_as_a_real_git_repo(host: LocalCodeHost) -> None:
    head = host.branch_head(REPO, "main")
    assert head is not None and len(head) == 40
    assert host.repo_dir(REPO).is_dir()
    files = host.list_files(REPO, "main")
    assert any(f.startswith("envs/dev/") for f in files)
    # Git itself agrees, and the author is TfPilot.
    assert _git(host, "log", "-1", "--format=%an <%ae>", "main").strip() == "TfPilot <tfpilot@localhost>"
    assert host.branch_head(REPO, "no-such-branch") is None


def test_a_new_repository_is_what_the_scaffold_writes_for_its_environments(tmp_path: Path, clock: ManualClock) -> None:
    from core.domain.workflows import WorkflowNames
    from core.scaffold.generator import ScaffoldOptions, scaffold_files

    names = WorkflowNames(plan="tf-plan.yml")
    asked: list[RepoRef] = []

    def environments_of(repo: RepoRef) -> list[str]:
        asked.append(repo)
        return ["dev", "qa"]

    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="manual", workflows=names, environments_of=environments_of)
    expected = scaffold_files(ScaffoldOptions.of(environments=["dev", "qa"], workflows=names))
    # ... plus TfPilot's in-repo modules, so the local runner needs no download.
    expected.update(infra_modules.all_files())
    assert host.list_files(REPO, "main") == sorted(expected)
    assert host.read_file(REPO, "main", ".github/workflows/tf-plan.yml") == expected[".github/workflows/tf-plan.yml"]
    assert "envs/qa/main.tf" in expected and "envs/prod/main.tf" not in expected
    assert asked == [REPO]  # asked once, on first use
    host.branch_head(REPO, "main")
    assert asked == [REPO]


def test_create_branch_is_idempotent(host: LocalCodeHost) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    assert host.create_branch(REPO, BRANCH, base) == base
    moved = host.commit_files(REPO, BRANCH, {FILE: BUCKET}, "add", parent_sha=base)
    # Creating it again returns its head unchanged (not the from_sha).
    assert host.create_branch(REPO, BRANCH, base) == moved
    assert host.branch_head(REPO, BRANCH) == moved


def test_create_branch_from_unknown_commit_is_refused(host: LocalCodeHost) -> None:
    with pytest.raises(CodeHostError) as err:
        host.create_branch(REPO, BRANCH, "f" * 40)
    assert err.value.status == 422
    assert host.branch_head(REPO, BRANCH) is None


@pytest.mark.parametrize("bad", ["../x", "a..b", "-x", "a b", "x/", "refs/../../etc", ""])
def test_bad_branch_names_are_refused(host: LocalCodeHost, bad: str) -> None:
    with pytest.raises(CodeHostError):
        host.create_branch(REPO, bad, host.branch_head(REPO, "main") or "")


@pytest.mark.parametrize("bad", ["../escape.tf", "/abs.tf", "a/../b.tf", ".git/config", "a//b.tf", "x\n.tf"])
def test_bad_paths_are_refused_before_anything_is_written(host: LocalCodeHost, bad: str) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    with pytest.raises(CodeHostError) as err:
        host.commit_files(REPO, BRANCH, {bad: "x"}, "bad", parent_sha=base)
    assert err.value.status == 422
    assert host.branch_head(REPO, BRANCH) == base


@pytest.mark.parametrize(
    "bad", [RepoRef(owner="..", name="x"), RepoRef(owner="a", name="b/c"), RepoRef(owner="a", name="x.git")]
)
def test_bad_repository_names_are_refused(host: LocalCodeHost, bad: RepoRef) -> None:
    with pytest.raises(CodeHostError):
        host.branch_head(bad, "main")


def test_commit_files_writes_and_deletes_in_one_commit(host: LocalCodeHost) -> None:
    first = _branch_with_file(host, files={FILE: BUCKET, "envs/dev/extra.tf": "# extra\n"})
    second = host.commit_files(
        REPO, BRANCH, {"envs/dev/extra.tf": None, "envs/dev/other.tf": "# other\n"}, "swap", parent_sha=first
    )
    assert _git(host, "rev-parse", f"{second}^").strip() == first
    files = host.list_files(REPO, BRANCH)
    assert "envs/dev/extra.tf" not in files
    assert "envs/dev/other.tf" in files
    assert host.read_file(REPO, BRANCH, FILE) == BUCKET
    assert _git(host, "log", "-1", "--format=%s", BRANCH).strip() == "swap"


def test_commit_on_a_moved_branch_is_refused(host: LocalCodeHost) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    head = host.commit_files(REPO, BRANCH, {FILE: BUCKET}, "one", parent_sha=base)
    with pytest.raises(CodeHostError) as err:
        host.commit_files(REPO, BRANCH, {FILE: BUCKET + "# two\n"}, "two", parent_sha=base)
    assert err.value.status == 409
    assert host.branch_head(REPO, BRANCH) == head


def test_commit_to_missing_branch_is_404(host: LocalCodeHost) -> None:
    with pytest.raises(CodeHostError) as err:
        host.commit_files(REPO, "request/req_nothere00", {FILE: "x"}, "m", parent_sha="a" * 40)
    assert err.value.status == 404


def test_concurrent_commits_on_one_parent_exactly_one_wins(host: LocalCodeHost) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    results: list[str] = []
    errors: list[int | None] = []

    def commit(i: int) -> None:
        try:
            results.append(host.commit_files(REPO, BRANCH, {f"envs/dev/f{i}.tf": "# x\n"}, f"c{i}", parent_sha=base))
        except CodeHostError as exc:
            errors.append(exc.status)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1
    assert errors == [409, 409, 409]
    assert host.branch_head(REPO, BRANCH) == results[0]


def test_two_hosts_on_one_data_dir_create_the_repository_once(tmp_path: Path, clock: ManualClock) -> None:
    hosts = [LocalCodeHost(tmp_path / "shared", clock, runner_mode="manual") for _ in range(3)]
    heads: list[str | None] = []
    threads = [threading.Thread(target=lambda h=h: heads.append(h.branch_head(REPO, "main"))) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(heads)) == 1 and heads[0] is not None


def test_open_pull_request_twice_returns_the_same_pr(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    pr = host.open_pull_request(REPO, head=BRANCH, base="main", title="Add bucket", body="body", labels=["tfpilot"])
    again = host.open_pull_request(REPO, head=BRANCH, base="main", title="other", body="", labels=[])
    assert again.number == pr.number == 1
    assert pr.state == "open" and not pr.merged
    assert pr.head_sha == head and pr.head_ref == BRANCH and pr.base_ref == "main"
    assert pr.mergeable_state == "clean"
    assert pr.url.startswith("file://")
    assert host.find_pull_request(REPO, BRANCH) == host.get_pull_request(REPO, 1)
    assert host.find_pull_request(REPO, "request/req_other12345") is None
    record = host.pull_request_record(REPO, 1)
    assert record["labels"] == ["tfpilot"] and record["body"] == "body"
    assert sink.kinds() == ["pr:opened"]
    assert sink.facts[0].request_id == REQ


def test_open_pull_request_without_commits_or_branch_is_refused(host: LocalCodeHost) -> None:
    base = host.branch_head(REPO, "main")
    assert base is not None
    host.create_branch(REPO, BRANCH, base)
    with pytest.raises(CodeHostError):
        host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    with pytest.raises(CodeHostError):
        host.open_pull_request(REPO, head="request/req_missing0000", base="main", title="t", body="", labels=[])


def test_get_missing_pull_request_is_404(host: LocalCodeHost) -> None:
    with pytest.raises(CodeHostError) as err:
        host.get_pull_request(REPO, 99)
    assert err.value.status == 404


def test_new_commit_on_pr_branch_moves_its_head_and_emits_synchronize(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    newer = host.commit_files(REPO, BRANCH, {FILE: BUCKET + "\n"}, "edit", parent_sha=head)
    assert host.get_pull_request(REPO, 1).head_sha == newer
    assert sink.kinds() == ["pr:opened", "pr:synchronize"]
    assert sink.facts[-1].pr.head_sha == newer  # type: ignore[union-attr]


def test_reviews_are_recorded_once_per_commit(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    review = host.submit_review(REPO, 1, commit_sha=head, body="LGTM")
    again = host.submit_review(REPO, 1, commit_sha=head, body="LGTM")
    assert again == review
    assert review.state == "APPROVED" and review.commit_id == head and review.user_login == "tfpilot[bot]"
    by_user = host.submit_review(REPO, 1, commit_sha=head, body="me", user_token="gho_secret")
    assert by_user.user_login != review.user_login and "gho_secret" not in by_user.user_login
    assert [r.id for r in host.list_reviews(REPO, 1)] == [review.id, by_user.id]
    assert sink.kinds() == ["pr:opened", "review:submitted", "review:submitted"]
    with pytest.raises(CodeHostError):
        host.submit_review(REPO, 1, commit_sha="0" * 40, body="x")


def test_comments_are_stored_and_not_duplicated(host: LocalCodeHost) -> None:
    _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    host.comment(REPO, 1, "Approved in Slack by alice")
    host.comment(REPO, 1, "Approved in Slack by alice")
    host.comment(REPO, 1, "Merged")
    assert [c["body"] for c in host.pull_request_record(REPO, 1)["comments"]] == [
        "Approved in Slack by alice",
        "Merged",
    ]


def test_merge_squashes_onto_base_and_is_idempotent(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    base_before = host.branch_head(REPO, "main")
    host.open_pull_request(REPO, head=BRANCH, base="main", title="Add bucket", body="why", labels=[])
    result = host.merge_pull_request(REPO, 1, sha=head, title="Add bucket")
    assert result.merged and result.sha == host.branch_head(REPO, "main")
    # A squash: one commit on main whose parent is the old main, carrying the branch's tree.
    assert _git(host, "rev-list", "--parents", "-1", "main").split() == [result.sha, base_before]
    assert host.read_file(REPO, "main", FILE) == BUCKET
    assert _git(host, "log", "-1", "--format=%s", "main").strip() == "Add bucket (#1)"
    pr = host.get_pull_request(REPO, 1)
    assert pr.merged and pr.state == "closed" and pr.merge_commit_sha == result.sha and pr.merged_at is not None
    again = host.merge_pull_request(REPO, 1, sha=head, title="Add bucket")
    assert again.merged and again.sha == result.sha
    assert host.branch_head(REPO, "main") == result.sha
    assert sink.kinds() == ["pr:opened", "pr:closed"]
    assert sink.facts[-1].pr.merged  # type: ignore[union-attr]


def test_merge_with_a_stale_sha_is_refused(host: LocalCodeHost) -> None:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    host.commit_files(REPO, BRANCH, {FILE: BUCKET + "\n"}, "later", parent_sha=head)
    with pytest.raises(CodeHostError) as err:
        host.merge_pull_request(REPO, 1, sha=head, title="t")
    assert err.value.status == 409
    assert not host.get_pull_request(REPO, 1).merged


def test_a_behind_branch_is_brought_up_to_date_and_merged(host: LocalCodeHost) -> None:
    other = "request/req_other1234567"
    head_a = _branch_with_file(host)
    head_b = _branch_with_file(host, other, {"envs/dev/tfpilot_req_other1234567.tf": "# other\n"})
    host.open_pull_request(REPO, head=BRANCH, base="main", title="a", body="", labels=[])
    host.open_pull_request(REPO, head=other, base="main", title="b", body="", labels=[])
    host.merge_pull_request(REPO, 1, sha=head_a, title="a")
    assert host.get_pull_request(REPO, 2).mergeable_state == "behind"
    assert host.merge_pull_request(REPO, 2, sha=head_b, title="b").merged
    files = host.list_files(REPO, "main")
    assert FILE in files and "envs/dev/tfpilot_req_other1234567.tf" in files


def test_a_conflicting_branch_is_refused_and_marked_dirty(host: LocalCodeHost) -> None:
    other = "request/req_other1234567"
    head_a = _branch_with_file(host, files={"envs/dev/shared.tf": "# a\n"})
    head_b = _branch_with_file(host, other, {"envs/dev/shared.tf": "# b\n"})
    host.open_pull_request(REPO, head=BRANCH, base="main", title="a", body="", labels=[])
    host.open_pull_request(REPO, head=other, base="main", title="b", body="", labels=[])
    main_after_a = host.merge_pull_request(REPO, 1, sha=head_a, title="a").sha
    assert host.get_pull_request(REPO, 2).mergeable_state == "dirty"
    with pytest.raises(CodeHostError) as err:
        host.merge_pull_request(REPO, 2, sha=head_b, title="b")
    assert err.value.status == 405 and "envs/dev/shared.tf" in str(err.value)
    assert host.branch_head(REPO, "main") == main_after_a
    assert not host.get_pull_request(REPO, 2).merged


def test_dispatch_unknown_workflow_or_ref_is_refused(host: LocalCodeHost) -> None:
    with pytest.raises(CodeHostError) as err:
        host.dispatch_workflow(REPO, "deploy.yml", ref="main", inputs={})
    assert err.value.status == 404
    with pytest.raises(CodeHostError) as err:
        host.dispatch_workflow(REPO, "plan.yml", ref="request/req_nothere000", inputs={"request_id": "req_nothere000"})
    assert err.value.status == 422


def test_plan_run_emits_facts_in_order_and_can_be_found(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ, "environment": "dev"})
    assert run is not None
    assert run.status == "completed" and run.conclusion == "success"
    assert run.head_sha == head and run.head_branch == BRANCH and run.workflow == "plan.yml"
    assert REQ in (run.name or "") and run.url.startswith("file://")
    assert sink.kinds() == ["pr:opened", "plan:queued:-", "plan:in_progress:-", "plan:completed:success"]
    assert {f.run.run_id for f in sink.facts if f.type == "run"} == {run.run_id}  # type: ignore[union-attr]
    assert host.get_run(REPO, run.run_id) == run
    assert host.find_run(REPO, "plan.yml", request_id=REQ) == run
    assert host.find_run(REPO, "plan.yml", request_id=REQ, ref="main") is None
    assert host.find_run(REPO, "apply.yml", request_id=REQ) is None
    assert Path(run.url.removeprefix("file://")).read_text() == host.run_log(REPO, run.run_id)
    with pytest.raises(CodeHostError):
        host.get_run(REPO, 999)


def test_manual_mode_runs_only_when_drained(tmp_path: Path, clock: ManualClock) -> None:
    sink = FactSink()
    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="manual", on_fact=sink)
    _branch_with_file(host)
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ})
    assert run is not None and run.status == "queued"
    assert sink.kinds() == []
    assert host.drain() == 2  # the queued fact, then the run (which reports in_progress and completed)
    assert sink.kinds() == ["plan:queued:-", "plan:in_progress:-", "plan:completed:success"]
    assert host.get_run(REPO, run.run_id).conclusion == "success"


def test_thread_mode_finishes_runs_in_the_background(tmp_path: Path, clock: ManualClock) -> None:
    sink = FactSink()
    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="thread", on_fact=sink)
    try:
        _branch_with_file(host)
        run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ})
        assert run is not None
        assert host.wait_idle(timeout=60)
        assert host.get_run(REPO, run.run_id).conclusion == "success"
        assert sink.kinds() == ["plan:queued:-", "plan:in_progress:-", "plan:completed:success"]
    finally:
        host.close()


def test_a_failing_fact_handler_does_not_stop_the_runner(tmp_path: Path, clock: ManualClock) -> None:
    seen: list[str] = []

    def handler(fact: object) -> None:
        seen.append(getattr(fact, "type", "?"))
        raise RuntimeError("consumer down")

    host = LocalCodeHost(tmp_path / "d", clock, runner_mode="inline", on_fact=handler)  # type: ignore[arg-type]
    _branch_with_file(host)
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ})
    assert run is not None and run.conclusion == "success"
    assert seen == ["run", "run", "run"]


def test_apply_and_destroy_record_their_result_on_the_base_branch(host: LocalCodeHost, sink: FactSink) -> None:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    merged = host.merge_pull_request(REPO, 1, sha=head, title="t").sha
    apply = host.dispatch_workflow(REPO, "apply.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert apply is not None and apply.conclusion == "success" and apply.head_sha == merged
    state_path = f"envs/dev/.tfpilot-state/{REQ}.json"
    state = json.loads(host.read_file(REPO, "main", state_path) or "{}")
    assert state["status"] == "applied" and state["request_id"] == REQ
    assert [r["address"] for r in state["resources"]] == ["aws_s3_bucket.logs"]
    assert state["source_commit"] == merged
    destroy = host.dispatch_workflow(REPO, "destroy.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert destroy is not None and destroy.conclusion == "success"
    state = json.loads(host.read_file(REPO, "main", state_path) or "{}")
    assert state["status"] == "destroyed" and state["resources"] == []
    assert [r["address"] for r in state["destroyed_resources"]] == ["aws_s3_bucket.logs"]
    kinds = [k for k in sink.kinds() if not k.startswith("pr:")]
    assert kinds == [
        "apply:queued:-",
        "apply:in_progress:-",
        "apply:completed:success",
        "destroy:queued:-",
        "destroy:in_progress:-",
        "destroy:completed:success",
    ]
    assert "aws_s3_bucket.logs" in host.run_log(REPO, destroy.run_id)


def test_apply_before_merge_fails_with_a_reason(host: LocalCodeHost) -> None:
    _branch_with_file(host)
    run = host.dispatch_workflow(REPO, "apply.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert run is not None and run.conclusion == "failure"
    assert "merge the pull request" in host.run_log(REPO, run.run_id)


def test_cleanup_without_the_file_and_drift_runs_succeed_without_changes(host: LocalCodeHost) -> None:
    main = host.branch_head(REPO, "main")
    for wf in ("cleanup.yml", "drift.yml"):
        run = host.dispatch_workflow(REPO, wf, ref="main", inputs={"request_id": REQ, "environment": "dev"})
        assert run is not None and run.conclusion == "success"
    assert host.branch_head(REPO, "main") == main
    assert host.branch_head(REPO, f"cleanup/{REQ}") is None and host.find_pull_request(REPO, f"cleanup/{REQ}") is None
    assert "nothing to clean up" in host.run_log(REPO, 1)


def _merged_request(host: LocalCodeHost) -> str:
    head = _branch_with_file(host)
    host.open_pull_request(REPO, head=BRANCH, base="main", title="t", body="", labels=[])
    merged = host.merge_pull_request(REPO, 1, sha=head, title="t").sha
    assert merged is not None
    return merged


def test_cleanup_run_opens_a_pr_removing_the_file_as_the_workflow_does(host: LocalCodeHost, sink: FactSink) -> None:
    main = _merged_request(host)
    sink.facts.clear()
    run = host.dispatch_workflow(REPO, "cleanup.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert run is not None and run.conclusion == "success"
    branch = f"cleanup/{REQ}"
    head = host.branch_head(REPO, branch)
    assert head is not None and _git(host, "rev-parse", f"{head}^").strip() == main  # one commit on the base head
    assert FILE not in host.list_files(REPO, branch) and FILE in host.list_files(REPO, "main")
    assert host.branch_head(REPO, "main") == main  # the workflow never merges its own PR
    pr = host.find_pull_request(REPO, branch)
    assert pr is not None and pr.state == "open" and not pr.merged
    assert (pr.head_ref, pr.base_ref, pr.head_sha) == (branch, "main", head)
    record = host.pull_request_record(REPO, pr.number)
    assert record["title"] == f"tfpilot: remove {REQ} (dev)" and record["labels"] == []
    assert f"`{FILE}`" in record["body"] and "cleanup workflow" in record["body"]
    # The PR's fact comes while the run runs, as GitHub's webhooks would: between in_progress and completed.
    assert sink.kinds() == ["cleanup:queued:-", "cleanup:in_progress:-", "pr:opened", "cleanup:completed:success"]
    opened = sink.facts[2]
    assert opened.cleanup and opened.request_id == REQ and opened.pr.number == pr.number  # type: ignore[union-attr]
    assert f"opened pull request #{pr.number}" in host.run_log(REPO, run.run_id)
    # Run again: the open PR is left as it is.
    again = host.dispatch_workflow(REPO, "cleanup.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert again is not None and again.conclusion == "success"
    assert host.find_pull_request(REPO, branch).number == pr.number and host.branch_head(REPO, branch) == head
    assert "already open" in host.run_log(REPO, again.run_id)
    # TfPilot merges it: the file leaves the base branch.
    assert host.merge_pull_request(REPO, pr.number, sha=head, title="remove").merged
    assert FILE not in host.list_files(REPO, "main")


def test_cleanup_replaces_a_leftover_branch(host: LocalCodeHost) -> None:
    main = _merged_request(host)
    branch = f"cleanup/{REQ}"
    host.create_branch(REPO, branch, main)
    host.commit_files(REPO, branch, {"junk.txt": "leftover\n"}, "leftover", parent_sha=main)
    run = host.dispatch_workflow(REPO, "cleanup.yml", ref="main", inputs={"request_id": REQ, "environment": "dev"})
    assert run is not None and run.conclusion == "success"
    head = host.branch_head(REPO, branch)
    assert head is not None and _git(host, "rev-parse", f"{head}^").strip() == main
    assert "junk.txt" not in host.list_files(REPO, branch) and FILE not in host.list_files(REPO, branch)


def test_cleanup_needs_its_inputs(host: LocalCodeHost) -> None:
    _merged_request(host)
    run = host.dispatch_workflow(REPO, "cleanup.yml", ref="main", inputs={"request_id": REQ})
    assert run is not None and run.conclusion == "failure"
    assert "environment inputs are required" in host.run_log(REPO, run.run_id)
    assert host.find_pull_request(REPO, f"cleanup/{REQ}") is None


def test_cost_json_is_never_available_locally(host: LocalCodeHost) -> None:
    _branch_with_file(host)
    run = host.dispatch_workflow(REPO, "plan.yml", ref=BRANCH, inputs={"request_id": REQ})
    assert run is not None
    assert host.get_cost_json(REPO, run.run_id, REQ) is None
    assert host.get_plan_json(REPO, run.run_id, "req_someoneelse1") is None
