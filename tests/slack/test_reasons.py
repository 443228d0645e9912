"""The sentences of typed reasons are written in the views, once, for Slack and the console."""

from __future__ import annotations

from typing import get_args

from bot.console.notifier import fallback_reply
from bot.views.reasons import SENTENCES, reason_text, transition_text
from core.domain.events import Reason, ReasonCode, Transition


def test_every_reason_code_has_its_sentence() -> None:
    assert set(SENTENCES) == set(get_args(ReasonCode))


def test_the_sentences_people_read() -> None:
    assert reason_text(Reason(code="pr_reopened", data={"number": 7})) == "Pull request #7 was re-opened."
    assert reason_text(Reason(code="destroy_stopped", data={"error": "cleanup PR #9 was closed without merging"})) == (
        "Destroy stopped: cleanup PR #9 was closed without merging. Nothing was destroyed; Destroy again to retry."
    )
    prepare = Reason(code="destroy_prepare", data={"number": 12, "lifted": [["deletion_protection", False]]})
    assert reason_text(prepare).startswith("PR #12 sets deletion_protection → false. It is planned")
    removal = Reason(code="removal_destroy_requested", data={"number": 3, "files": ["a.tf", "b.tf"], "base": "main"})
    assert reason_text(removal).startswith(
        "Removal PR #3 deletes a.tf, b.tf. Once it is approved, the destroy runs on main"
    )


def test_a_transition_says_its_message_then_its_reasons_in_both_renderings() -> None:
    closed = Reason(code="pr_closed", data={"number": 5})
    told = Transition(event="plan_ready", previous_status="planning", status="plan_ready", message="plan run 1 success")
    told = told.model_copy(update={"reasons": (closed,)})
    said = transition_text(told)
    assert said is not None and said.startswith("plan run 1 success Pull request #5 was closed without merging")
    assert transition_text(Transition(event="x", previous_status=None, status="applied")) is None
    assert transition_text(told.model_copy(update={"message": "m" * 600})) == "m" * 500  # cut as quoted
    # The console's plain rendering says the same text as the Slack reply.
    assert f"> {said}" in fallback_reply(None, told)["text"]  # type: ignore[arg-type]
