"""manifest.json validates against Slack's manifest schema (loaded locally), and says what the
code uses: the same bot scopes as the OAuth install, the events and command the listeners serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from bot.slack_oauth import BOT_SCOPES
from tests.conftest import REPO_ROOT

SCHEMA_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.{v}.json"


def _validator(folder: Path) -> jsonschema.Draft7Validator:
    # The dispatcher schema refers to the versioned schemas by URL: serve them from disk.
    resources = []
    for version in ("1.0.0", "2.0.0"):
        doc = json.loads((folder / f"manifest.schema.{version}.json").read_text())
        resources.append((SCHEMA_URL.format(v=version), Resource.from_contents(doc, default_specification=_draft7())))
    registry: Registry = Registry().with_resources(resources)
    schema = json.loads((folder / "manifest.schema.json").read_text())
    return jsonschema.Draft7Validator(schema, registry=registry)


def _draft7() -> Any:
    from referencing.jsonschema import DRAFT7

    return DRAFT7


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "manifest.json").read_text())


def test_manifest_is_valid(shared_fixtures: Path, manifest: dict[str, Any]) -> None:
    validator = _validator(shared_fixtures / "slack" / "manifest")
    errors = sorted(validator.iter_errors(manifest), key=str)
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("name", ["example_manifest.v1.invalid.json", "example_manifest.v2.invalid.json"])
def test_the_validator_rejects_the_shipped_invalid_examples(shared_fixtures: Path, name: str) -> None:
    folder = shared_fixtures / "slack" / "manifest"
    invalid = json.loads((folder / name).read_text())
    assert list(_validator(folder).iter_errors(invalid))


@pytest.mark.parametrize("name", ["example_manifest.v1.valid.json", "example_manifest.v2.valid.json"])
def test_the_validator_accepts_the_shipped_valid_examples(shared_fixtures: Path, name: str) -> None:
    folder = shared_fixtures / "slack" / "manifest"
    assert not list(_validator(folder).iter_errors(json.loads((folder / name).read_text())))


def test_a_broken_manifest_is_rejected(shared_fixtures: Path, manifest: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "tfpilot"  # must start with "/"
    assert list(_validator(shared_fixtures / "slack" / "manifest").iter_errors(broken))


def test_manifest_declares_what_the_app_uses(manifest: dict[str, Any]) -> None:
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "app_home_opened",
    }
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/tfpilot"]
    assert (
        manifest["features"]["app_home"]["home_tab_enabled"]
        and manifest["features"]["app_home"]["messages_tab_enabled"]
    )
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["settings"]["socket_mode_enabled"]
    urls = {
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        manifest["features"]["slash_commands"][0]["url"],
    }
    assert urls == {"https://tfpilot.example.com/slack/events"}
