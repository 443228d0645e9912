"""``register_revocation_listeners``: Slack's ``tokens_revoked`` and ``app_uninstalled`` events.

Kept apart from ``bot.slack_oauth`` (the installation and state stores), which only OAuth mode
imports; every app registers these listeners.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.context.context import BoltContext

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.slack_oauth import CachedAuthorize

log = logging.getLogger("bot.slack_oauth")


def register_revocation_listeners(app: App, authorize: CachedAuthorize | None) -> None:
    """``tokens_revoked`` and ``app_uninstalled`` (the manifest subscribes to both).

    Multi-workspace (``authorize`` given): Bolt's own listeners delete the workspace's bot
    (``tokens_revoked``) or everything it stored for it (``app_uninstalled``) from the
    installation store, and the cached token is forgotten at once, so the next request from
    that workspace is refused rather than served with a dead token for up to the cache's TTL.
    Single workspace: there is nothing to delete; the operator is told that SLACK_BOT_TOKEN
    no longer works."""
    if authorize is None:

        @app.event("app_uninstalled")
        def uninstalled_single(context: BoltContext) -> None:
            log.warning(
                "TfPilot was uninstalled from Slack workspace %s: SLACK_BOT_TOKEN no longer works", context.team_id
            )

        @app.event("tokens_revoked")
        def revoked_single(event: dict[str, Any], context: BoltContext) -> None:
            if event.get("tokens", {}).get("bot"):
                log.warning(
                    "the bot token of Slack workspace %s was revoked: SLACK_BOT_TOKEN no longer works", context.team_id
                )

        return
    delete_revoked = app.default_tokens_revoked_event_listener()
    delete_all = app.default_app_uninstalled_event_listener()

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        delete_revoked(event=event, context=context)
        authorize.forget(context.enterprise_id, context.team_id)
        log.info("Slack tokens revoked in workspace %s: removed from the installation store", context.team_id)

    @app.event("app_uninstalled")
    def app_uninstalled(context: BoltContext) -> None:
        delete_all(context=context)
        authorize.forget(context.enterprise_id, context.team_id)
        log.info("TfPilot uninstalled from Slack workspace %s: its installation is deleted", context.team_id)
