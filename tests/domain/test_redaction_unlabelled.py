"""Credentials pasted without a label ("secret wJalr…", a bare key, an unknown service's API
key) are redacted too, and ``secrets_found`` names what a message held; ids, hashes and
ordinary words stay."""

from __future__ import annotations

import pytest

from core.domain.redaction import redact, redact_value, secrets_found

# AWS's documented example secret key (not a real credential), built from pieces.
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
# A made-up 40-character key of the same alphabet, and an unknown service's 40-char API key.
OTHER_SECRET = "Q7mZp2Lx9/VbN4kR8tYw" + "+3HcJ6sFd1GqE5uA0oTi"
API_KEY = "pk_live_" + "4eC39HqLyjWDarjtT1zdp7dcXyZ0Ab9Q"


@pytest.mark.parametrize(
    "text",
    [
        f"secret {AWS_SECRET}",
        f"my secret is {AWS_SECRET} thanks",
        f"AWS key: {AWS_SECRET}",
        f"here's the access key `{AWS_SECRET}`",
        f"use {AWS_SECRET} for the deploy",  # alone, but random-looking
        f"{OTHER_SECRET}",
    ],
)
def test_aws_secret_keys_in_prose_are_redacted(text: str) -> None:
    out = redact(text)
    assert AWS_SECRET not in out and OTHER_SECRET not in out
    assert "[REDACTED:aws-secret-key]" in out
    assert secrets_found(text) == ["aws-secret-key"]


def test_the_words_around_a_secret_are_kept() -> None:
    assert redact(f"my secret is {AWS_SECRET} thanks") == "my secret is [REDACTED:aws-secret-key] thanks"


def test_an_unknown_services_random_token_is_redacted() -> None:
    out = redact(f"the payments api uses {API_KEY} in prod")
    assert API_KEY not in out and out == "the payments api uses [REDACTED:token] in prod"


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",  # a sha: one case
        "key 3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request 2b1c4e1e-8d3a-4f7e-9a61-0c5d2f1e7b3a",
        "terraform-aws-modules/s3-bucket/aws version 4.1.2",
        "bucket acme-core-dev-application-logs-archive-2024",
        "SomeVeryLongCamelCaseIdentifierWithoutRandomness",
        "arn:aws:s3:::acme-core-dev-application-logs/AWSLogs/123456789012",
        "ses_0123456789abcdef and req_abcdef123456",
    ],
)
def test_ids_hashes_and_names_are_left_alone(text: str) -> None:
    assert redact(text) == text and secrets_found(text) == []


def test_nested_values_and_idempotence() -> None:
    doc = {"turn": {"text": f"secret {AWS_SECRET}"}, "list": [OTHER_SECRET]}
    once = redact_value(doc)
    assert once == {"turn": {"text": "secret [REDACTED:aws-secret-key]"}, "list": ["[REDACTED:aws-secret-key]"]}
    assert redact_value(once) == once
    assert secrets_found(once["turn"]["text"]) == []  # already redacted: nothing new
