"""Socket Mode: ``run_socket_mode(deps)`` connects the Bolt app to Slack over a WebSocket with
``SLACK_APP_TOKEN`` (no public URL needed: development and firewalled installs). Blocks until
interrupted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import create_app
from bot.settings import SettingsError

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.deps import Deps


def socket_mode_handler(deps: Deps, *, app: App | None = None, app_token: str | None = None) -> SocketModeHandler:
    """The handler, not yet connected (``.start()`` blocks, ``.connect()`` returns)."""
    token = app_token
    if token is None and deps.settings.slack_app_token is not None:
        token = deps.settings.slack_app_token.get_secret_value()
    if not token:
        raise SettingsError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
    # Socket Mode acks over the socket as soon as ack() is called: no need to process first.
    bolt = app or create_app(deps, process_before_response=False)
    return SocketModeHandler(bolt, app_token=token)


def run_socket_mode(deps: Deps, *, app: App | None = None, app_token: str | None = None) -> None:
    handler: Any = socket_mode_handler(deps, app=app, app_token=app_token)
    handler.start()
