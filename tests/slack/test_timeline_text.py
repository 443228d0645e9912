"""The timeline's words (bot/views/timeline_text.py): the core records a code and its data per
line; every code has its words, with or without its data, and lines written before the codes
show the words they carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.views.card import request_card
from bot.views.timeline_text import timeline_label
from core.domain.request import Request, TimelineStep
from core.domain.timeline import Line, TimelineCode, step_of

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("code", list(TimelineCode))
def test_every_code_has_words_with_or_without_its_data(code: TimelineCode) -> None:
    bare = timeline_label(step_of(code, T0))
    full = timeline_label(
        step_of(Line(code, {"by": "octo", "revision": 3, "kind": "plan", "conclusion": "success"}), T0)
    )
    for text in (bare, full):
        assert text and "{" not in text and "_" not in text, (code, text)


@pytest.mark.parametrize(
    ("said", "words"),
    [
        (TimelineCode.REQUEST_CREATED, "Request created"),
        (Line(TimelineCode.APPROVED, {"by": "Abe Approver"}), "Approved by Abe Approver"),
        (Line(TimelineCode.APPROVED_ON_GITHUB, {"by": "octo"}), "Approved by octo on GitHub"),
        (Line(TimelineCode.APPROVAL_DISMISSED, {"by": "octo"}), "Approval by octo dismissed"),
        (Line(TimelineCode.CONFIG_UPDATED, {"revision": 2}), "Config updated (revision 2)"),
        (Line(TimelineCode.RUN_CONCLUDED, {"kind": "plan", "conclusion": "success"}), "Plan succeeded"),
        (Line(TimelineCode.RUN_CONCLUDED, {"kind": "apply", "conclusion": "failure"}), "Apply failed"),
        (Line(TimelineCode.RUN_CONCLUDED, {"kind": "destroy", "conclusion": "timed_out"}), "Destroy timed out"),
        (Line(TimelineCode.REMOVAL_PR_APPROVED, {"by": "octo"}), "Removal PR approved by octo"),
        (TimelineCode.REMOVAL_PR_APPROVED, "Removal PR approved"),
        (TimelineCode.REMOVAL_PR_OPENED, "Destroy requested: removal PR opened"),
    ],
)
def test_the_words_users_saw_before_the_codes(said: TimelineCode | Line, words: str) -> None:
    assert timeline_label(step_of(said, T0)) == words


def _request(**fields: object) -> Request:
    return Request.from_doc(
        {
            "id": "req_abcdef123456",
            "project": "core",
            "environment": "dev",
            "module": "s3-bucket",
            "receivedAt": "2026-01-05T09:00:00Z",
            "updatedAt": "2026-01-05T09:30:00Z",
            **fields,
        }
    )


def test_a_line_written_before_the_codes_and_an_unknown_code_read_as_they_are() -> None:
    legacy = _request(timeline=[{"step": "Plan succeeded", "status": "success", "at": "2026-01-05T09:30:00Z"}])
    assert timeline_label(legacy.timeline[0]) == "Plan succeeded"
    assert timeline_label(TimelineStep(code="from_a_newer_version", at=T0)) == "from_a_newer_version"
    assert timeline_label(TimelineStep(code="from_a_newer_version", step="Its words", at=T0)) == "Its words"


def test_the_document_stores_the_code_and_data_and_the_card_shows_the_words() -> None:
    request = _request()
    request.timeline = [step_of(Line(TimelineCode.APPROVED_ON_GITHUB, {"by": "octo"}), T0, actor="octo")]
    stored = request.to_doc()["timeline"][0]  # what the store writes (to_json dumps the same)
    assert stored["code"] == "approved_on_github" and stored["data"] == {"by": "octo"} and stored["step"] is None
    text = str(request_card(Request.from_json(request.to_json())))
    assert "Approved by octo on GitHub" in text
