"""Credential redaction: every kind in text and nested data; ordinary text left alone."""

from __future__ import annotations

import pytest

from core.domain.redaction import is_secret_key, redact, redact_value

# Built from pieces so no credential-shaped literal sits in the repository.
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SESSION_ID = "ASIA" + "ZZZZ1234567890AB"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GH = {
    "ghp": "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2,
    "gho": "gho_" + "Z9y8X7w6V5u4T3s2R1q0" * 2,
    "ghu": "ghu_" + "k" * 36,
    "ghs": "ghs_" + "0123456789" * 4,
    "ghr": "ghr_" + "abcDEF1234" * 4,
    "pat": "github_pat_" + "11ABCDEFG0" + "_" + "x1Y2z3" * 10,
}
SLACK = {
    "xoxb": "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "xoxp": "xoxp-" + "1234567890-1234567890-1234567890-abcdef0123456789",
    "xoxa": "xoxa-2-" + "abcdefghijklmnop123456",
    "xoxe": "xoxe.xoxp-1-" + "Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA",
    "xoxe-refresh": "xoxe-1-" + "My0xLTEyMzQ1Njc4OTAtMTIzNDU2",
    "xapp": "xapp-1-" + "A0123456789-1234567890123-abcdef0123456789",
}
OPENAI = "sk-" + "proj-" + "Abc123Def456Ghi789Jkl012Mno345"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ" + "a1b2c3d4e5f6g7h8i9j0k1l2"
JWT = "eyJhbGciOiJIUzI1NiJ9" + "." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0" + "." + "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc+/def==\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f"export AWS_ACCESS_KEY_ID={AWS_ID}", AWS_ID, "aws-access-key-id"),
        (f"temp creds {AWS_SESSION_ID} expire soon", AWS_SESSION_ID, "aws-access-key-id"),
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws-secret-key"),
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', AWS_SECRET, "aws-secret-key"),
        *[(f"token {value} here", value, "github-token") for value in GH.values()],
        *[(f"slack: {value}", value, "slack-token") for value in SLACK.values()],
        (f"OPENAI_API_KEY {OPENAI}", OPENAI, "openai-key"),
        (f"key={OPENAI_LEGACY}", OPENAI_LEGACY, "openai-key"),
        (f"session {JWT} ok", JWT, "jwt"),
        (f"here is my key:\n{PEM}\nthanks", "MIIEowIBAAKCAQEA7", "private-key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA (truncated",
            "b3BlbnNzaC1rZXktdjEAAAA",
            "private-key",
        ),
        ("password=hunter2", "hunter2", "password"),
        ("PGPASSWORD=s3cretpg psql -h db", "s3cretpg", "password"),
        ("export MYSQL_PWD=myp4ss", "myp4ss", "password"),
        ("db_pass: 'letmein'", "letmein", "password"),
        ("DB_PASSWORD: 'correct horse battery'", "correct horse battery", "password"),
        ('{"passwd": "pa55w0rd!"}', "pa55w0rd!", "password"),
        ("client_secret=abc123def456", "abc123def456", "secret"),
        ("secret: s3cr3tvalue", "s3cr3tvalue", "secret"),
        ("https://example.com/cb?state=1&token=tok_98765&x=2", "tok_98765", "token"),
        ("Authorization: Bearer abcdef1234567890abcdef1234567890", "abcdef1234567890abcdef1234567890", "auth-header"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA==", "auth-header"),
        ("use bearer 9f8e7d6c5b4a39281706f5e4 please", "9f8e7d6c5b4a39281706f5e4", "bearer-token"),
        ("postgres://admin:Sup3rS3cret@db.internal:5432/app", "Sup3rS3cret", "password"),
        ("hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXX", "slack-webhook"),
    ],
)
def test_each_credential_kind_is_redacted(text: str, secret: str, kind: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert f"[REDACTED:{kind}]" in redacted


def test_the_surrounding_text_is_kept() -> None:
    assert redact(f"create it with {GH['ghp']} please") == "create it with [REDACTED:github-token] please"
    assert redact("password=hunter2 and size=large") == "password=[REDACTED:password] and size=large"
    assert redact(f"before\n{PEM}\nafter") == "before\n[REDACTED:private-key]\nafter"


@pytest.mark.parametrize(
    "text",
    [
        "I need an S3 bucket called tfpilot-logs in dev with versioning",
        "the password policy needs 12 characters",
        "a token bucket rate limiter; max_tokens=4096",
        "secret_name = app/db and secrets manager rotation",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",
        "req_abcdef123456 on branch request/req_abcdef123456",
        "ask-me-anything and risk-assessment-for-production-workloads",
        "arn:aws:iam::123456789012:role/deploy",
        "the bearer of this note",
        "AKIA is a prefix, AKIA123 is too short",
        "https://github.com/acme/infra/pull/42",
        "set bypass=1 and compass: north, then cd $PWD",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    once = redact(f"password={GH['ghp']} token: {SLACK['xoxb']}")
    assert redact(once) == once
    assert "[REDACTED:" in once and GH["ghp"] not in once


def test_nested_values() -> None:
    data = {
        "config": {"bucket_name": "logs", "tags": {"owner": "alice"}},
        "messages": [f"my token is {GH['ghp']}", {"deeper": [f"AWS {AWS_ID}"]}],
        "password": "hunter2",
        "api_key": "plain-looking-value",
        "SLACK_BOT_TOKEN": "anything",
        "max_tokens": 100,
        "token_count": "12",
        "count": 3,
        "enabled": True,
        "nothing": None,
        "pair": (f"key {OPENAI}", 1),
    }
    assert redact_value(data) == {
        "config": {"bucket_name": "logs", "tags": {"owner": "alice"}},
        "messages": ["my token is [REDACTED:github-token]", {"deeper": ["AWS [REDACTED:aws-access-key-id]"]}],
        "password": "[REDACTED:password]",
        "api_key": "[REDACTED:api-key]",
        "SLACK_BOT_TOKEN": "[REDACTED:token]",
        "max_tokens": 100,
        "token_count": "12",
        "count": 3,
        "enabled": True,
        "nothing": None,
        "pair": ("key [REDACTED:openai-key]", 1),
    }
    assert data["password"] == "hunter2"  # the input is not modified


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("db_password", True),
        ("GITHUB_TOKEN", True),
        ("client_secret", True),
        ("private_key", True),
        ("apiKey", True),
        ("accessToken", True),
        ("clientSecret", True),
        ("api-key", True),
        ("PGPASSWORD", True),
        ("MYSQL_PWD", True),
        ("db_pass", True),
        ("bypass", False),
        ("passport", False),
        ("token_count", False),
        ("max_tokens", False),
        ("secret_name", False),
        ("bucket", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret
