"""Settings: names from DESIGN.md, one message naming every missing or malformed setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.settings import SettingsError, env_file_path, load_settings, misspelt_settings
from tests.conftest import clear_settings


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


def test_empty_values_count_as_unset() -> None:
    settings = load_settings({"TFPILOT_REQUESTS_BUCKET": "", "SLACK_BOT_TOKEN": "  ", "GITHUB_APP_ID": ""})
    assert settings.requests_bucket is None and not settings.uses_s3
    assert settings.github_app_id is None
    assert "SLACK_BOT_TOKEN" in settings.missing_for("http")


def test_the_process_environment_is_read_by_name_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("tfpilot_admins", "U1,U2")
    monkeypatch.setenv("TFPILOT_CHAT_LOGS_BUCKET", "")
    monkeypatch.setenv("UNRELATED_SETTING", "x")
    settings = load_settings()
    assert settings.admins == ["U1", "U2"]
    assert settings.chat_logs_bucket is None


def test_a_given_mapping_is_the_only_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo and tests pass their own mapping: the caller's shell must not leak in.
    monkeypatch.setenv("TFPILOT_REQUESTS_BUCKET", "shell-bucket")
    monkeypatch.setenv("TFPILOT_ADMINS", "U_SHELL")
    settings = load_settings({"TFPILOT_DATA_DIR": "/tmp/x"})
    assert settings.requests_bucket is None and settings.admins == []
    assert load_settings().requests_bucket == "shell-bucket"


def test_with_a_mode_one_message_names_missing_and_malformed_together() -> None:
    env = {"GITHUB_APP_ID": "twelve", "TFPILOT_REQUESTS_BUCKET": "s3://my-bucket", "SLACK_APP_TOKEN": "xapp-1"}
    with pytest.raises(SettingsError) as info:
        load_settings(env, mode="socket")
    error = info.value
    assert error.missing == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    assert [entry.split(" ", 1)[0] for entry in error.malformed] == ["GITHUB_APP_ID", "TFPILOT_REQUESTS_BUCKET"]
    message = str(error)
    assert message.startswith("tfpilot cannot start in socket mode: missing setting(s): SLACK_BOT_TOKEN, ")
    assert "malformed setting(s): GITHUB_APP_ID (" in message
    assert "s3://my-bucket" not in message and "twelve" not in message  # values are never echoed


def test_without_a_mode_only_malformed_values_are_refused() -> None:
    assert load_settings({}).missing_for("http")  # parse succeeds; the mode check is separate
    with pytest.raises(SettingsError) as info:
        load_settings({"TFPILOT_DEFAULT_REGION": "US East"})
    assert str(info.value) == (
        "tfpilot cannot start: malformed setting(s): TFPILOT_DEFAULT_REGION (must be an AWS region such as us-east-1)"
    )
    assert info.value.missing == []


@pytest.mark.parametrize(
    "bucket", ["s3://tfpilot", "arn:aws:s3:::tfpilot", "TfPilot-Requests", "tf_pilot", "ab", "a..b", "192.168.1.10"]
)
def test_bucket_names_follow_s3_rules(bucket: str) -> None:
    with pytest.raises(SettingsError, match="TFPILOT_CHAT_LOGS_BUCKET"):
        load_settings({"TFPILOT_CHAT_LOGS_BUCKET": bucket})


def test_valid_bucket_names_and_regions_are_accepted() -> None:
    settings = load_settings(
        {
            "TFPILOT_REQUESTS_BUCKET": "acme.tfpilot-requests-1",
            "TFPILOT_CHAT_LOGS_BUCKET": "acme-chat-logs",
            "TFPILOT_DEFAULT_REGION": "us-gov-west-1",
        }
    )
    assert (settings.requests_bucket, settings.default_region) == ("acme.tfpilot-requests-1", "us-gov-west-1")


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-1-2-abc", True),
        ("SLACK_BOT_TOKEN", "xoxe.xoxb-1-abc", True),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", False),
        ("SLACK_BOT_TOKEN", "8f14e45fceea167a5a36dedd4bea2543", False),  # the signing secret pasted here
        ("SLACK_APP_TOKEN", "xapp-1-A1-abc", True),
        ("SLACK_APP_TOKEN", "xoxb-1-2-abc", False),
    ],
)
def test_slack_tokens_of_the_wrong_kind_are_named(name: str, value: str, ok: bool) -> None:
    if ok:
        assert load_settings({name: value}) is not None
        return
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert name in str(info.value) and value not in str(info.value)


def test_half_of_a_pair_names_the_other_half() -> None:
    assert load_settings({"SLACK_CLIENT_ID": "111.222"}).missing_for("demo") == ["SLACK_CLIENT_SECRET"]
    assert load_settings({"SLACK_CLIENT_SECRET": "s"}).missing_for("chat") == ["SLACK_CLIENT_ID"]
    assert load_settings({"GITHUB_APP_PRIVATE_KEY": "k"}).missing_for("cli") == ["GITHUB_APP_ID"]
    assert load_settings({"GITHUB_APP_INSTALLATION_ID": "7"}).missing_for("cli") == ["GITHUB_APP_ID"]
    assert load_settings({"GITHUB_CLIENT_SECRET": "s"}).missing_for("cli") == ["GITHUB_CLIENT_ID"]


def test_an_unreadable_github_app_key_is_malformed_for_modes_that_sign_with_it() -> None:
    env = {"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": "not-a-pem-secret-value"}
    settings = load_settings(env)  # parsing alone does not read the key
    assert settings.malformed_for("demo") == []
    with pytest.raises(SettingsError) as info:
        settings.require("cli")
    message = str(info.value)
    assert "GITHUB_APP_PRIVATE_KEY is not a readable PEM private key" in message
    assert "not-a-pem-secret-value" not in message
    assert info.value.malformed[0].startswith("GITHUB_APP_PRIVATE_KEY (")


def test_a_readable_github_app_key_passes() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = load_settings({"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": pem}, mode="cli")
    assert settings.github_app_id == 12
    escaped = pem.strip().replace("\n", "\\n")  # as pasted into a one-line env file
    assert load_settings({"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": escaped}).malformed_for("http") == []


def test_a_github_app_key_that_is_not_rsa_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(SettingsError, match="GITHUB_APP_PRIVATE_KEY must be an RSA key"):
        load_settings({"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": pem}, mode="socket")


def test_misspelt_setting_names_are_pointed_out() -> None:
    env = {
        "TFPILOT_REQUEST_BUCKET": "x",
        "TFPILOT_ADMIN": "U1",
        "TFPILOT_AWS_ROLE_ARN": "arn",  # the infra repo's own variable: not close to a setting
        "TFPILOT_REQUESTS_BUCKET": "fine",
        "HOME": "/root",
    }
    assert misspelt_settings(env) == [
        "TFPILOT_ADMIN is not a setting (did you mean TFPILOT_ADMINS?)",
        "TFPILOT_REQUEST_BUCKET is not a setting (did you mean TFPILOT_REQUESTS_BUCKET?)",
    ]


_clear_settings = clear_settings


def test_check_settings_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main

    _clear_settings(monkeypatch)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-bot-token")
    monkeypatch.setenv("TFPILOT_ADMIN", "U1")
    assert main(["check-settings", "--mode", "socket", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["mode"] == "socket"
    assert doc["missing"] == ["SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"]
    assert [entry.split(" ", 1)[0] for entry in doc["malformed"]] == ["SLACK_BOT_TOKEN"]
    assert doc["warnings"] == ["TFPILOT_ADMIN is not a setting (did you mean TFPILOT_ADMINS?)"]
    assert "not-a-bot-token" not in json.dumps(doc)

    assert main(["check-settings", "--mode", "socket"]) == 1
    err = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET, SLACK_APP_TOKEN" in err and "warning: TFPILOT_ADMIN" in err

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    assert main(["check-settings", "--mode", "socket"]) == 0
    assert capsys.readouterr().out == "settings are complete for socket mode\n"
    assert main(["check-settings", "--mode", "demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


# Every name DESIGN.md's "Configuration" section lists (AWS_ENDPOINT_URL_S3 is boto3's own).
DESIGN_NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_API_URL",
    "GITHUB_TOKEN",
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_APP_INSTALLATION_ID",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_WEBHOOK_SECRET",
    "TFPILOT_GITHUB_API_URL",
    "TFPILOT_PLAN_WORKFLOW",
    "TFPILOT_APPLY_WORKFLOW",
    "TFPILOT_DESTROY_WORKFLOW",
    "TFPILOT_CLEANUP_WORKFLOW",
    "TFPILOT_REQUESTS_BUCKET",
    "TFPILOT_CHAT_LOGS_BUCKET",
    "TFPILOT_DEFAULT_REGION",
    "TFPILOT_DATA_DIR",
    "OPENAI_API_KEY",
    "TFPILOT_OPENAI_MODEL",
    "TFPILOT_ADMINS",
    "TFPILOT_APPROVERS",
    "TFPILOT_DEVELOPERS",
    "TFPILOT_PROD_ALLOWED_USERS",
    "TFPILOT_DESTROY_PROD_ALLOWED_USERS",
    "TFPILOT_WEBHOOK_SECRET",
    "TFPILOT_ENCRYPTION_KEY",
    "TFPILOT_PROJECTS_FILE",
    "TFPILOT_MODULES_DIR",
]


def test_every_name_of_the_design_is_a_setting() -> None:
    from bot.settings import Settings

    declared = {info.alias for info in Settings.model_fields.values()}
    assert set(DESIGN_NAMES) - declared == set()
    assert load_settings({}).data_dir.as_posix() == ".tfpilot"  # DESIGN's default
    secrets = [n for n in DESIGN_NAMES if n.endswith(("TOKEN", "SECRET", "PRIVATE_KEY", "API_KEY", "ENCRYPTION_KEY"))]
    for name in secrets:  # secrets are SecretStr: never printed by a repr or a log of the settings
        field = next(info for info in Settings.model_fields.values() if info.alias == name)
        assert "SecretStr" in str(field.annotation), name


# --- the env file ---------------------------------------------------------------------------


def test_a_dot_env_in_the_current_directory_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _clear_settings(monkeypatch, env_file=True)
    (tmp_path / ".env").write_text(
        "# TfPilot\n"
        "TFPILOT_ADMINS=U_FILE1,U_FILE2\n"
        "export TFPILOT_REQUESTS_BUCKET=file-bucket\n"
        "slack_signing_secret='from the file'\n"
        "TFPILOT_APPROVERS=U_FILE_APPROVER\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFPILOT_APPROVERS", "U_ENV_APPROVER")
    settings = load_settings()
    assert settings.admins == ["U_FILE1", "U_FILE2"]
    assert settings.requests_bucket == "file-bucket"
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "from the file"
    assert settings.approvers == ["U_ENV_APPROVER"]  # the environment wins
    # An empty variable in the environment still wins: it unsets the file's value.
    monkeypatch.setenv("TFPILOT_REQUESTS_BUCKET", "")
    assert load_settings().requests_bucket is None


def test_tfpilot_env_file_points_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _clear_settings(monkeypatch, env_file=True)
    (tmp_path / ".env").write_text("TFPILOT_ADMINS=U_CWD\n")
    elsewhere = tmp_path / "conf" / "tfpilot.env"
    elsewhere.parent.mkdir()
    elsewhere.write_text("TFPILOT_ADMINS=U_ELSEWHERE\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(elsewhere))
    assert load_settings().admins == ["U_ELSEWHERE"]  # instead of ./.env, not as well
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(SettingsError, match=r"TFPILOT_ENV_FILE names .*missing\.env, which is not a readable file"):
        load_settings()


def test_without_an_env_file_only_the_environment_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _clear_settings(monkeypatch, env_file=True)
    monkeypatch.setenv("TFPILOT_ADMINS", "U_ENV")
    assert env_file_path() is None
    assert load_settings().admins == ["U_ENV"]


def test_a_given_mapping_ignores_the_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _clear_settings(monkeypatch, env_file=True)
    (tmp_path / ".env").write_text("TFPILOT_REQUESTS_BUCKET=file-bucket\n")
    assert load_settings({}).requests_bucket is None


def test_tests_never_read_the_developers_env_file() -> None:
    # tests/conftest.py points TFPILOT_ENV_FILE at an empty file for every test.
    path = env_file_path()
    assert path is not None and path.read_text() == "" and path.name == "isolated.env"


def test_env_file_values_are_never_echoed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.main import main

    _clear_settings(monkeypatch)
    env_file = tmp_path / "bad.env"
    env_file.write_text("SLACK_BOT_TOKEN=xoxp-user-token-secret\nTFPILOT_ADMIN=U1\n")
    monkeypatch.setenv("TFPILOT_ENV_FILE", str(env_file))
    assert main(["check-settings", "--mode", "socket", "--json"]) == 1
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert [entry.split(" ", 1)[0] for entry in doc["malformed"]] == ["SLACK_BOT_TOKEN"]
    assert doc["warnings"] == ["TFPILOT_ADMIN is not a setting (did you mean TFPILOT_ADMINS?)"]
    assert "xoxp-user-token-secret" not in out
