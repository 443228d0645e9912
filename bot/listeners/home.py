"""App Home: published on ``app_home_opened`` (home tab) with the user's requests, what waits
for their approval (approvers and admins), and the ops KPIs. Reads index rows only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.listeners.common import Kit, first_event, kit_of
from bot.views.home import HOME_ROWS, home_view
from core.domain.index import ListFilter
from core.domain.policy import Role
from core.domain.status import Status

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps

log = logging.getLogger(__name__)


def build_home(k: Kit, client: Any, team_id: str | None, user_id: str) -> dict[str, Any]:
    profile = k.identity.profile(client, team_id, user_id)
    actor = profile.actor()
    role = k.identity.role(actor)
    queries = k.deps.queries
    mine = queries.list(ListFilter(requester=user_id, slack_team=team_id), HOME_ROWS, None).rows
    awaiting = None
    if role >= Role.APPROVER:
        waiting = queries.list(
            ListFilter(status=frozenset({Status.PLAN_READY.value}), slack_team=team_id), 100, None
        ).rows
        own = actor.identities()
        awaiting = [
            r
            for r in waiting
            if (r.requester or "").lower() not in own and (r.requester_email or "").lower() not in own
        ]
    try:
        metrics = queries.insights()
    except Exception:
        log.warning("ops metrics unavailable for the Home tab", exc_info=True)
        metrics = None
    return home_view(
        user_id=user_id,
        role_label=role.label,
        mine=mine,
        awaiting=awaiting,
        metrics=metrics,
        github_login=profile.github_login,
    )


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    k = kit_of(deps, kit)

    def publish_home(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("tab") != "home" or not isinstance(event.get("user"), str):
            return
        if not first_event(k, body):
            return
        user = str(event["user"])
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else None
        try:
            view = build_home(k, client, team, user)
        except Exception:
            log.exception("building the Home tab of %s failed", user)
            return
        client.views_publish(user_id=user, view=view)

    def ack_home(ack: Ack, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        ack()
        k.later(publish_home, body, event, client)

    app.event("app_home_opened")(ack_home)
