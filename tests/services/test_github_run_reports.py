"""GitHub mode shows what a run reported, as the local runner does: an applied request's outputs
(``tfoutputs-<id>``/outputs.json) and a failed run's Terraform diagnostics
(``tfdiag-<id>``/diagnostics.json), read from the run's artifacts when its completion arrives.

The artifacts are zips served by the GitHub simulator behind the OpenAPI contract checker; their
JSON is made by the generated ``tfpilot_ci.py``'s own functions (the code the workflows run).
Missing, malformed and oversized artifacts are a note, never a crash: the run's status lands.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bot.views.card import request_card
from bot.views.reasons import transition_text
from bot.views.replies import transition_reply
from core.ports.notifier import Transition
from tests.github.conftest import make_openapi_checker, openapi_checker, openapi_spec  # noqa: F401 - fixtures
from tests.github.openapi_contract import OpenApiChecker
from tests.scaffold.conftest import ci_helper_module
from tests.services.conftest import APPROVER, World, create_cmd
from tests.services.test_github_lifecycle import REPO, Stack

LIST = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"
DOWNLOAD = "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}"


@pytest.fixture
def stack(world: World, openapi_checker: OpenApiChecker, shared_fixtures: Path) -> Iterator[Stack]:  # noqa: F811
    plan = json.loads((shared_fixtures / "terraform" / "plans" / "tf-plan-format__create.tfplan.json").read_text())
    built = Stack(world, openapi_checker, plan)
    yield built
    built.client.close()


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return ci_helper_module(tmp_path_factory.mktemp("ci"))


def outputs_json(ci: ModuleType, stack: Stack, rid: str) -> bytes:
    """outputs.json as the apply workflow writes it: `terraform output -json` of the environment
    (a sensitive output and another request's included) through the helper, keeping the outputs
    the request's file declares (named ``<module>_<request id>_<name>`` by the renderer)."""
    module = stack.world.get(rid).module.replace("-", "_")
    names = [f"{module}_{rid}_password", f"{module}_{rid}_arn", f"{module}_{rid}_bucket"]
    tf_output = {
        names[0]: {"sensitive": True, "type": "string", "value": "do-not-upload"},
        names[1]: {"sensitive": False, "type": "string", "value": "arn:aws:s3:::core-dev-logs"},
        names[2]: {"sensitive": False, "type": "string", "value": "core-dev-logs"},
        f"{module}_req_someoneelse1_arn": {"sensitive": False, "type": "string", "value": "arn:other"},
    }
    report = ci.outputs_report(tf_output, names)
    report["request_id"] = rid  # the workflow's REQUEST_ID
    return json.dumps(report).encode()


def diagnostics_json(ci: ModuleType, rid: str) -> bytes:
    """diagnostics.json as a failed run writes it from terraform's -json log."""
    log = "\n".join(
        json.dumps(line)
        for line in (
            {"@message": "Terraform 1.11.4", "type": "version"},
            {
                "@level": "error",
                "@message": "Error: creating S3 Bucket (core-dev-data): BucketAlreadyExists",
                "type": "diagnostic",
                "diagnostic": {
                    "severity": "error",
                    "summary": "creating S3 Bucket (core-dev-data): operation error S3: CreateBucket",
                    "detail": "BucketAlreadyExists: the requested bucket name is not available "
                    "(request signed by AKIAABCDEFGHIJKLMNOP)",
                    "address": f"module.s3_bucket_{rid}.aws_s3_bucket.this[0]",
                },
            },
        )
    )
    report = ci.diagnostics_report(ci.diagnostics_in(log))
    report["request_id"] = rid
    return json.dumps(report).encode()


def merged(stack: Stack) -> str:
    request = stack.requests.create(create_cmd())
    stack.run_to_end(request.plan_run.run_id, request.id, kind="plan")
    review = stack.sim.add_review(REPO, request.pr.number, "carol")
    stack.deliver(*stack.sim.review_delivery(REPO, request.pr.number, review))
    assert stack.requests.merge(request.id, APPROVER).status == "merged"
    return request.id


def finish(stack: Stack, run_id: int, conclusion: str, artifacts: dict[str, dict[str, bytes]]) -> Any:
    """The run completes with its artifacts uploaded; GitHub delivers the completion."""
    for name, members in artifacts.items():
        stack.sim.add_artifact_files(REPO, run_id, name, members)
    stack.sim.set_run(REPO, run_id, "completed", conclusion)
    return stack.deliver(*stack.sim.workflow_run_delivery(REPO, run_id))


def told(stack: Stack, rid: str, event: str) -> Transition:
    found = [t for r, t in stack.world.notifier.sent if r == rid and t.event == event]
    assert found, stack.world.notifier.events(rid)
    return found[-1]


def reply_text(stack: Stack, rid: str, transition: Transition) -> str:
    reply = transition_reply(stack.world.get(rid), transition)
    return "\n".join(block["text"]["text"] for block in reply["blocks"] if "text" in block)


def card_text(stack: Stack, rid: str) -> str:
    card = request_card(stack.world.get(rid))
    return json.dumps(card["blocks"])


def test_an_applied_request_shows_its_outputs(stack: Stack, ci: ModuleType) -> None:
    rid = merged(stack)
    run_id = stack.requests.apply(rid, APPROVER).apply_run.run_id
    members = {"outputs.json": outputs_json(ci, stack, rid)}
    before = Counter(stack.client.stats.by_operation)
    outcome = finish(stack, run_id, "success", {f"tfoutputs-{rid}": members})
    assert outcome.status == "applied"
    assert stack.spent(before) == {LIST: 1, DOWNLOAD: 1}
    stored = stack.world.get(rid)
    # Named as the definition names them; the sensitive one and another request's never arrive.
    assert stored.outputs == {"arn": "arn:aws:s3:::core-dev-logs", "bucket": "core-dev-logs"}
    assert "do-not-upload" not in stored.model_dump_json() and "arn:other" not in stored.model_dump_json()
    text = reply_text(stack, rid, told(stack, rid, "applied"))
    assert "Outputs:" in text and "`arn` = `arn:aws:s3:::core-dev-logs`" in text and "`bucket`" in text
    assert "*Outputs*" in card_text(stack, rid)
    # GitHub redelivers the completion: nothing is read again.
    again = Counter(stack.client.stats.by_operation)
    assert not stack.deliver(*stack.sim.workflow_run_delivery(REPO, run_id)).changed
    assert stack.spent(again) == {}


def test_a_failed_plan_quotes_terraforms_diagnostics(stack: Stack, ci: ModuleType) -> None:
    request = stack.requests.create(create_cmd())
    rid, run_id = request.id, request.plan_run.run_id
    stack.sim.set_run(REPO, run_id, "in_progress")
    stack.deliver(*stack.sim.workflow_run_delivery(REPO, run_id))
    outcome = finish(stack, run_id, "failure", {f"tfdiag-{rid}": {"diagnostics.json": diagnostics_json(ci, rid)}})
    assert outcome.status == "failed" and outcome.notified
    (diagnostic,) = stack.world.get(rid).plan_run.diagnostics
    assert diagnostic.summary.startswith("creating S3 Bucket (core-dev-data)")
    assert diagnostic.address == f"module.s3_bucket_{rid}.aws_s3_bucket.this[0]"
    assert "AKIA" not in diagnostic.detail  # redacted in the workflow, and again on reading
    text = reply_text(stack, rid, told(stack, rid, "failed"))
    assert "*Terraform said*" in text and "BucketAlreadyExists" in text
    assert f"/actions/runs/{run_id}" in text  # the run's link beside the diagnostics
    assert "Terraform said" in card_text(stack, rid)


def test_a_failed_apply_without_diagnostics_still_fails_and_says_where(stack: Stack) -> None:
    rid = merged(stack)
    run_id = stack.requests.apply(rid, APPROVER).apply_run.run_id
    outcome = finish(stack, run_id, "failure", {})  # failed before terraform ran: no artifact
    assert outcome.status == "failed" and outcome.notified
    assert stack.world.get(rid).apply_run.diagnostics == []
    transition = told(stack, rid, "failed")
    assert str(transition_text(transition)).startswith(f"apply run {run_id} failure: job 'apply' failed")
    assert not [e for e in stack.world.audit.events(rid) if e.event == "run_report_unavailable"]


def zip_bomb() -> dict[str, bytes]:
    return {"diagnostics.json": b'{"format": 1, "diagnostics": [' + b" " * (3 << 20) + b"]}"}


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ({"diagnostics.json": b"{not json"}, "is not valid JSON"),
        ({"other.json": b"{}"}, "has no diagnostics.json"),
        ({"diagnostics.json": b'{"format": 2, "diagnostics": []}'}, "has format '2', not 1"),
        ({"diagnostics.json": b'{"format": 1, "diagnostics": [{"detail": "x"}]}'}, "a diagnostic without a summary"),
        (
            {"diagnostics.json": b'{"format": 1, "request_id": "req_someoneelse1", "diagnostics": []}'},
            "is about 'req_someoneelse1'",
        ),
        (zip_bomb(), "over the"),
    ],
)
def test_an_unreadable_diagnostics_artifact_is_a_note(stack: Stack, members: dict[str, bytes], error: str) -> None:
    request = stack.requests.create(create_cmd())
    rid, run_id = request.id, request.plan_run.run_id
    stack.host.max_json_bytes = 1 << 20
    outcome = finish(stack, run_id, "failure", {f"tfdiag-{rid}": members})
    assert outcome.status == "failed" and outcome.notified  # the status lands
    (note,) = stack.world.get(rid).plan_run.diagnostics
    assert note.summary == "TfPilot could not read this run's Terraform diagnostics" and error in note.detail
    (event,) = [e for e in stack.world.audit.events(rid) if e.event == "run_report_unavailable"]
    assert event.data["report"] == "diagnostics" and error in event.data["error"]


def test_unreadable_outputs_leave_the_apply_applied(stack: Stack) -> None:
    rid = merged(stack)
    run_id = stack.requests.apply(rid, APPROVER).apply_run.run_id
    stack.sim.add_artifact_bytes(REPO, run_id, f"tfoutputs-{rid}", b"this is not a zip archive")
    outcome = finish(stack, run_id, "success", {})
    assert outcome.status == "applied" and outcome.notified
    assert stack.world.get(rid).outputs == {}
    (event,) = [e for e in stack.world.audit.events(rid) if e.event == "run_report_unavailable"]
    assert event.data == {
        "runId": run_id,
        "kind": "apply",
        "report": "outputs",
        "error": f"artifact tfoutputs-{rid} is not a valid zip archive",
    }


def test_the_reconciler_reads_the_outputs_of_a_lost_completion(stack: Stack, ci: ModuleType) -> None:
    rid = merged(stack)
    run_id = stack.requests.apply(rid, APPROVER).apply_run.run_id
    stack.sim.add_artifact_files(REPO, run_id, f"tfoutputs-{rid}", {"outputs.json": outputs_json(ci, stack, rid)})
    stack.sim.set_run(REPO, run_id, "completed", "success")  # its webhook never arrives
    synced = stack.sync.sync(rid)
    assert synced.status == "applied" and synced.outputs["bucket"] == "core-dev-logs"
