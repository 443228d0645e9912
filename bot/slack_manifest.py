"""The Slack app manifest, generated: ``slack_manifest(mode, url)`` is the one source of what
the app asks Slack for (scopes, events, the command, request URLs), for both ways of running.

- ``http`` (several ``tfpilot serve`` replicas behind a load balancer): Socket Mode off; the
  slash command, event subscriptions and interactivity go to ``<url>/slack/events`` and the
  OAuth redirect to ``<url>/slack/oauth_redirect``. ``url`` must be https (Slack refuses
  anything else for request URLs).
- ``socket`` (one instance, no public URL): Socket Mode on, no request URLs at all.

``manifest.json`` at the repository root is ``slack_manifest("http", PLACEHOLDER_URL)`` (a test
keeps them equal); ``tfpilot manifest`` prints it for a real host. Every bot scope carries the
reason the code needs it (``SCOPE_REASONS``): a scope without a caller is not asked for.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from bot.views.assistant import PROMPTS

ManifestMode = Literal["http", "socket"]

PLACEHOLDER_URL = "https://tfpilot.example.com"
DEFAULT_NAME = "TfPilot"
EVENTS_PATH = "/slack/events"
# Kept here (not imported from bot.slack_oauth) so that this module imports nothing of Bolt.
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_INSTALL_PATH = "/slack/install"
MAX_NAME_CHARS = 35  # Slack's limit on display_information.name

# Each scope the bot token needs -> the code that needs it. Slack's review and an installing
# admin both ask why; a scope the code no longer calls for is removed from here.
SCOPE_REASONS: dict[str, str] = {
    "app_mentions:read": "app_mention events: @TfPilot in a channel starts or continues an intake (bot/listeners)",
    "assistant:write": "assistant.threads.setStatus/setTitle/setSuggestedPrompts and the assistant_thread_* events: "
    "TfPilot in Slack's AI-app side panel (bot/listeners/assistant_threads.py)",
    "channels:join": "conversations.join: the bot joins a project's public approvals channel to post cards there",
    "chat:write": "chat.postMessage/chat.update/chat.postEphemeral: cards, thread replies, intake, refusals",
    "commands": "the /tfpilot slash command",
    "files:write": "files.getUploadURLExternal/completeUploadExternal: the confirm step's Terraform (once per "
    "version) and a plan too long to quote, as files in the conversation",
    "im:history": "message.im events: direct messages to the app, and messages in its assistant threads",
    "im:write": "conversations.open: /tfpilot new in a channel the app is not in continues in a DM; "
    "approvers get a request's card in a DM when no approvals channel is set",
    "users:read": "users.info: the clicking user's profile (roles, display)",
    "users:read.email": "users.info's email and users.lookupByEmail: roles may be granted to emails, "
    "and approvers listed by email get the card in a DM",
}
BOT_SCOPES: tuple[str, ...] = tuple(sorted(SCOPE_REASONS))

# Events the listeners serve (bot/listeners) and the two that keep installations current:
# ``tokens_revoked`` / ``app_uninstalled`` delete a workspace's tokens from the installation store.
# ``assistant_thread_started`` / ``assistant_thread_context_changed`` drive the AI-app threads.
BOT_EVENTS: tuple[str, ...] = (
    "app_home_opened",
    "app_mention",
    "app_uninstalled",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "message.im",
    "tokens_revoked",
)
ASSISTANT_DESCRIPTION = "Ask for infrastructure in plain words: I collect what the module needs and open a reviewed PR."

DESCRIPTION = "Terraform self-service: ask for infrastructure in plain words; reviewed PRs, planned and applied by CI."
LONG_DESCRIPTION = (
    "TfPilot turns a conversation into a reviewed Terraform change. Tell it what you need in a DM or by "
    "mentioning @TfPilot; it asks for the project, environment, module and settings, checks every value "
    "against the module's schema, and opens a pull request with a deterministic Terraform block. GitHub "
    "Actions plan it; approvers approve, merge, apply or destroy from the request's card, which updates "
    "itself in place while each step is posted in its thread."
)
COMMAND = {
    "command": "/tfpilot",
    "description": "Terraform self-service: new, list, status, modules, insights, link, unlink, help",
    "usage_hint": "new [what you need] | list [mine|pending|all] [status] | status <id> | modules | insights | link "
    "| unlink | help",
    "should_escape": False,
}


class ManifestError(ValueError):
    """The manifest cannot be made from these arguments; the message says which and why."""


def public_base_url(url: str) -> str:
    """``url`` as the base of request URLs: https, a host, no query or fragment, no trailing
    slash (a path prefix is kept, for a service behind a reverse proxy)."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme != "https":
        raise ManifestError(f"--url must be an https URL (Slack sends requests to https only), got {text!r}")
    if not parts.hostname:
        raise ManifestError(f"--url has no host: {text!r}")
    if parts.query or parts.fragment:
        raise ManifestError(f"--url must be the service's base URL, without a query or fragment: {text!r}")
    return text.rstrip("/")


def slack_manifest(mode: ManifestMode, url: str | None = None, *, name: str = DEFAULT_NAME) -> dict[str, Any]:
    """The app manifest for ``mode``; ``url`` (the service's public base URL) is required for
    ``http`` and refused for ``socket`` (which has no request URLs)."""
    if mode not in ("http", "socket"):
        raise ManifestError(f"mode must be http or socket, got {mode!r}")
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ManifestError(f"--name must be 1 to {MAX_NAME_CHARS} characters, got {len(name)}")
    command = dict(COMMAND)
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    oauth: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if mode == "http":
        if url is None:
            raise ManifestError("HTTP mode needs --url, the service's public https URL (TFPILOT_PUBLIC_URL)")
        base = public_base_url(url)
        command = {"command": COMMAND["command"], "url": base + EVENTS_PATH, **COMMAND}
        events = {"request_url": base + EVENTS_PATH, **events}
        interactivity["request_url"] = base + EVENTS_PATH
        oauth = {"redirect_urls": [base + OAUTH_REDIRECT_PATH], **oauth}
    elif url is not None:
        raise ManifestError("--url is for --mode http: a Socket Mode app has no request URLs")
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": DESCRIPTION,
            "background_color": "#3f51b5",
            "long_description": LONG_DESCRIPTION,
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "assistant_view": {
                "assistant_description": ASSISTANT_DESCRIPTION,
                "suggested_prompts": [dict(prompt) for prompt in PROMPTS],
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": mode == "socket",
            "token_rotation_enabled": False,
        },
    }
