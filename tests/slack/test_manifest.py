"""manifest.json validates against Slack's manifest schema (loaded locally), and says what the
code uses: the same bot scopes as the OAuth install, the events and command the listeners serve.
``tfpilot manifest`` generates it for both modes from ``bot.slack_manifest``; the checked-in file
is the HTTP-mode manifest for the placeholder host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from bot.cli.main import main
from bot.slack_manifest import BOT_EVENTS, PLACEHOLDER_URL, SCOPE_REASONS, ManifestError, slack_manifest
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
        "app_uninstalled",
        "tokens_revoked",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    }
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/tfpilot"]
    assert (
        manifest["features"]["app_home"]["home_tab_enabled"]
        and manifest["features"]["app_home"]["messages_tab_enabled"]
    )
    # HTTP mode: Slack delivers to the request URLs, which Socket Mode would switch off.
    assert manifest["settings"]["interactivity"]["is_enabled"] and not manifest["settings"]["socket_mode_enabled"]
    urls = {
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        manifest["features"]["slash_commands"][0]["url"],
    }
    assert urls == {"https://tfpilot.example.com/slack/events"}
    assert manifest["oauth_config"]["redirect_urls"] == ["https://tfpilot.example.com/slack/oauth_redirect"]


def test_the_checked_in_manifest_is_the_generated_http_one(manifest: dict[str, Any]) -> None:
    assert manifest == slack_manifest("http", PLACEHOLDER_URL)


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_the_generated_manifest_is_valid_in_both_modes(shared_fixtures: Path, mode: str) -> None:
    generated = slack_manifest(mode, "https://bot.acme.dev/tfpilot/" if mode == "http" else None, name="Acme Infra")  # type: ignore[arg-type]
    errors = sorted(_validator(shared_fixtures / "slack" / "manifest").iter_errors(generated), key=str)
    assert errors == [], [e.message for e in errors]
    assert generated["display_information"]["name"] == generated["features"]["bot_user"]["display_name"] == "Acme Infra"
    assert generated["settings"]["socket_mode_enabled"] is (mode == "socket")
    assert sorted(generated["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert generated["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)


def test_http_mode_sends_everything_to_the_given_host() -> None:
    generated = slack_manifest("http", "https://bot.acme.dev/tfpilot/")
    events = "https://bot.acme.dev/tfpilot/slack/events"
    assert generated["settings"]["event_subscriptions"]["request_url"] == events
    assert generated["settings"]["interactivity"]["request_url"] == events
    assert generated["features"]["slash_commands"][0]["url"] == events
    assert generated["oauth_config"]["redirect_urls"] == ["https://bot.acme.dev/tfpilot/slack/oauth_redirect"]


def test_socket_mode_has_no_request_urls() -> None:
    text = json.dumps(slack_manifest("socket"))
    assert "https://" not in text and "request_url" not in text and "redirect_urls" not in text
    assert '"url"' not in text


@pytest.mark.parametrize(
    ("mode", "url", "name", "why"),
    [
        ("http", None, "TfPilot", "needs --url"),
        ("http", "http://tfpilot.acme.dev", "TfPilot", "https"),
        ("http", "tfpilot.acme.dev", "TfPilot", "https"),
        ("http", "https://", "TfPilot", "no host"),
        ("http", "https://tfpilot.acme.dev/?x=1", "TfPilot", "query"),
        ("socket", "https://tfpilot.acme.dev", "TfPilot", "no request URLs"),
        ("http", "https://tfpilot.acme.dev", "T" * 36, "--name"),
        ("socket", None, "  ", "--name"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(mode: Any, url: str | None, name: str, why: str) -> None:
    with pytest.raises(ManifestError, match=why):
        slack_manifest(mode, url, name=name)


def test_every_scope_has_a_reason_and_nothing_unused_is_asked_for() -> None:
    # A new scope needs a reason here; im:read had no caller (no conversations.info/list/history
    # on IMs: message.im needs im:history only) and is not asked for.
    assert all(len(reason) > 10 for reason in SCOPE_REASONS.values())
    assert set(BOT_SCOPES) == set(SCOPE_REASONS)
    assert "im:read" not in SCOPE_REASONS and "channels:history" not in SCOPE_REASONS


def test_the_manifest_command_prints_it(capsys: pytest.CaptureFixture[str], manifest: dict[str, Any]) -> None:
    assert main(["manifest", "--mode", "http", "--url", PLACEHOLDER_URL]) == 0
    assert json.loads(capsys.readouterr().out) == manifest
    assert main(["manifest", "--mode", "socket", "--name", "Infra Bot", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["socket_mode_enabled"] is True


def test_the_manifest_command_refuses_a_plain_http_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--mode", "http", "--url", "http://tfpilot.acme.dev"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "https" in captured.err and captured.err.startswith("error: ")
    assert main(["manifest", "--mode", "http", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "--url" in doc["error"]


def test_the_manifest_asks_for_the_assistant_surface() -> None:
    generated = slack_manifest("socket")
    view = generated["features"]["assistant_view"]
    assert view["assistant_description"]
    assert [p["title"] for p in view["suggested_prompts"]] == [
        "Request an S3 bucket",
        "What can you create?",
        "My requests",
    ]
    assert "assistant:write" in generated["oauth_config"]["scopes"]["bot"]
    events = generated["settings"]["event_subscriptions"]["bot_events"]
    assert {"assistant_thread_started", "assistant_thread_context_changed", "message.im"} <= set(events)
