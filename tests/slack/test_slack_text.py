"""Slack's markup is read back by the Slack listeners: the assistant only ever sees plain text."""

from __future__ import annotations

from assistant.domain.session import ConversationKey
from bot.slack_text import plain_text
from tests.slack.harness import DEV, TEAM, Harness
from tests.slack.helpers import eventually


def test_links_mentions_and_escapes_read_as_typed() -> None:
    assert plain_text("<http://lambda.amazonaws.com|lambda.amazonaws.com> &amp; <mailto:a@b.co|a@b.co>") == (
        "lambda.amazonaws.com & a@b.co"
    )
    assert plain_text("<#C123|ops> <!here> <https://x.io/a> a &lt; b <not markup>") == (
        "#ops @here https://x.io/a a < b <not markup>"
    )
    assert plain_text("<@U123> <@U456|dana> <!subteam^S123> <tel:+15551234>") == "@U123 @dana @subteam +15551234"
    assert plain_text("plain words, no markup") == "plain words, no markup"


def test_a_typed_domain_reaches_the_assistant_as_typed(harness: Harness) -> None:
    h, thread = harness, "1700000000.000200"
    h.dm(DEV, "iam role deployer in core dev", ts=thread)
    eventually(lambda: [e for e in h.deps.chat_log.entries if e.role == "assistant"], what="the first reply")
    # Slack turns the typed domain into a link before the bot sees it.
    h.dm(DEV, "<http://lambda.amazonaws.com|lambda.amazonaws.com>", ts="1700000000.000201", thread_ts=thread)
    eventually(lambda: len([e for e in h.deps.chat_log.entries if e.role == "assistant"]) == 2, what="the reply")
    said = [e.text for e in h.deps.chat_log.entries if e.role == "user"]
    assert said == ["iam role deployer in core dev", "lambda.amazonaws.com"]
    session = h.deps.intake.session(ConversationKey(team_id=TEAM, channel=f"D{DEV[1:]}", thread_ts=thread))
    assert session is not None and session.step == "confirm"
    assert session.config["trusted_services"] == ["lambda.amazonaws.com"]
