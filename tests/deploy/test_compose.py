"""deploy/docker-compose.yml (``make deploy-lint`` validates it against the compose
specification's schema): the image built from this repository, settings from a git-ignored
``.env``, the data volume where the image keeps its data, the image's own health check."""

from __future__ import annotations

import subprocess

import pytest

from bot.settings import SettingsError, load_settings
from tests.conftest import REPO_ROOT
from tests.deploy.files import DEPLOY, SETTING_NAMES, dockerfile_stages, exec_form, yaml_documents

(COMPOSE,) = yaml_documents(DEPLOY / "docker-compose.yml")
SERVICE = COMPOSE["services"]["tfpilot"]
FINAL = dockerfile_stages()[-1]


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_builds_this_repository_and_reads_a_git_ignored_env_file() -> None:
    assert (DEPLOY / SERVICE["build"]["context"]).resolve() == REPO_ROOT
    assert SERVICE["env_file"] == [{"path": ".env", "required": True}]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=REPO_ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "deploy/.env (real secrets) must be git-ignored"


def test_keeps_data_on_a_volume_at_the_images_data_dir() -> None:
    (data_dir,) = exec_form(FINAL.last("VOLUME"))
    volumes = [v.split(":") for v in SERVICE["volumes"]]
    assert [volume for volume, target in volumes if target == data_dir] == ["tfpilot-data"]
    assert "tfpilot-data" in COMPOSE["volumes"]
    assert SERVICE["read_only"] is True and SERVICE["tmpfs"] == ["/tmp"]
    assert SERVICE["cap_drop"] == ["ALL"]


def test_healthcheck_is_the_images() -> None:
    options, _, command = FINAL.last("HEALTHCHECK").partition("CMD ")
    assert SERVICE["healthcheck"]["test"] == ["CMD", *exec_form(command)]
    assert f"--interval={SERVICE['healthcheck']['interval']}" in options


def test_env_example_names_settings_and_its_placeholders_refuse_to_start() -> None:
    example = _env_example()
    assert set(example) <= SETTING_NAMES, set(example) - SETTING_NAMES
    with pytest.raises(SettingsError) as refused:
        load_settings(example, mode="http")
    assert "SLACK_BOT_TOKEN" in str(refused.value)
