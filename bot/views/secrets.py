"""The warning posted when someone pastes a credential into a conversation.

The chat log and the audit export only ever hold the redacted text (``core.domain.redaction``),
but the message itself stays in Slack and was seen by Slack: the person is asked to rotate it.
Pure: returns the message's text and blocks.
"""

from __future__ import annotations

from typing import Any

from bot.views.limits import mrkdwn

_LABELS = {
    "aws-access-key-id": "an AWS access key id",
    "aws-secret-key": "an AWS secret access key",
    "github-token": "a GitHub token",
    "slack-token": "a Slack token",
    "slack-webhook": "a Slack webhook URL",
    "openai-key": "an OpenAI API key",
    "private-key": "a private key",
    "jwt": "a JSON Web Token",
    "password": "a password",
}


def pasted_secret_message(kinds: list[str]) -> dict[str, Any]:
    what = ", ".join(_LABELS.get(kind, "a credential") for kind in kinds[:5]) or "a credential"
    text = (
        f":warning: Your message looks like it holds {what}. I did not store it (my logs keep a "
        "redacted copy), but it is now in this Slack conversation: *rotate it now*, then delete "
        "your message. Never paste credentials here: TfPilot never needs them."
    )
    return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}
