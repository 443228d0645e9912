"""What a finished run reports reaches the request and the thread: an apply's outputs (named as
the definition names them) on the request, the card and the "applied" reply; a failed run's
first Terraform diagnostics (redacted, clipped to Slack's limits) on the card and in the
"failed" reply with the run link. Pure: fold + views, no Terraform."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.views.card import request_card
from bot.views.limits import check_blocks
from bot.views.replies import transition_reply
from core.domain.facts import RunFact
from core.domain.folding import fold
from core.domain.request import Request
from core.domain.run_report import Diagnostic, RunReport, bounded
from core.ports.code_host import RunInfo
from core.ports.notifier import Transition
from tests.domain.builders import at_status

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET = "AKIAIOSFODNN7EXAMPLE"


def _finish(request: Request, kind: str, conclusion: str, report: RunReport) -> None:
    run = RunInfo(
        run_id=1, url="https://example.invalid/runs/1", status="completed", conclusion=conclusion, head_sha="sha1"
    )
    fold(request, RunFact(request_id=request.id, kind=kind, run=run, report=report), now=NOW)  # type: ignore[arg-type]


def test_an_applied_requests_outputs_are_recorded_and_shown() -> None:
    request = at_status("applying")
    prefix = f"s3_bucket_{request.id}_"
    outputs = {f"{prefix}arn": "arn:aws:s3:::core-dev-assets", f"{prefix}bucket": "core-dev-assets"}
    _finish(request, "apply", "success", bounded([], outputs))
    assert request.outputs == {"arn": "arn:aws:s3:::core-dev-assets", "bucket": "core-dev-assets"}

    card = request_card(request)
    text = json.dumps(card)
    assert "*Outputs*" in text and "arn:aws:s3:::core-dev-assets" in text
    assert check_blocks(card) == []
    reply = json.dumps(
        transition_reply(request, Transition(event="applied", previous_status="applying", status="applied"))
    )
    assert "Outputs:" in reply and "`bucket` = `core-dev-assets`" in reply


def test_a_failed_apply_quotes_terraforms_diagnostics_redacted_and_clipped() -> None:
    request = at_status("applying")
    diagnostics = [
        Diagnostic(
            summary="creating IAM Role (core-dev-api-task): operation error IAM: CreateRole",
            detail=f"InvalidInput: Duplicate tag keys found. key {SECRET} " + "x" * 5000,
            address="module.iam_role_x.aws_iam_role.this[0]",
        ),
        Diagnostic(severity="warning", summary="a warning, not why it failed"),
    ]
    _finish(request, "apply", "failure", bounded(diagnostics))
    stored = request.apply_run
    assert stored is not None and len(stored.diagnostics) == 1
    assert SECRET not in stored.diagnostics[0].detail and "[REDACTED:aws-access-key-id]" in stored.diagnostics[0].detail

    reply = transition_reply(request, Transition(event="failed", previous_status="applying", status="failed"))
    text = json.dumps(reply)
    assert "Duplicate tag keys found" in text and "operation error IAM: CreateRole" in text
    assert "https://example.invalid/runs/1" in text and "apply run" in text
    assert "a warning" not in text and SECRET not in text
    assert check_blocks(reply) == []
    card = request_card(request)
    assert "Terraform said" in json.dumps(card) and check_blocks(card) == []


def test_a_preview_says_why_it_is_one() -> None:
    from bot.views.card import plan_section
    from core.domain.request import PlanSummary

    text = plan_section(PlanSummary(add=1), preview=True, preview_reason="the AWS provider is not installed")
    assert text is not None and text.startswith("*Plan (local preview: the AWS provider is not installed):*")
