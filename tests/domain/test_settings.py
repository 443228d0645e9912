from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


def test_embedded_defaults_need_nothing() -> None:
    settings = load_settings({})
    assert settings.missing_for("demo") == []
    assert settings.missing_for("chat") == []
    assert not settings.uses_s3 and not settings.uses_github
    assert settings.workflows().plan == "plan.yml"


def test_lists_are_comma_separated_ids_or_emails() -> None:
    settings = load_settings({"TFPILOT_APPROVERS": "U1, alice@example.com ,", "TFPILOT_ADMINS": "U9"})
    assert settings.approvers == ["U1", "alice@example.com"]
    assert settings.policy().approvers == {"u1", "alice@example.com"}


def test_one_message_names_every_missing_setting() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"GITHUB_APP_ID": "12"}).require("socket")
    message = str(info.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "GITHUB_APP_PRIVATE_KEY"):
        assert name in message


def test_http_mode_needs_webhook_secret_and_api_token_when_github_is_used() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "GITHUB_TOKEN": "t"}
    assert load_settings(env).missing_for("http") == ["GITHUB_WEBHOOK_SECRET", "TFPILOT_API_TOKEN"]


def test_malformed_values_are_named_by_their_environment_name() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"GITHUB_APP_ID": "abc", "TFPILOT_GITHUB_API_URL": "ftp://x", "TFPILOT_RECONCILE_MINUTES": "0"})
    message = str(info.value)
    assert "GITHUB_APP_ID" in message and "TFPILOT_GITHUB_API_URL" in message and "TFPILOT_RECONCILE_MINUTES" in message


def test_secrets_are_not_printed() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-very-secret"})
    assert "xoxb-very-secret" not in repr(settings)
