"""App Home: published on ``app_home_opened`` (home tab) with the user's requests, what waits
for their approval (approvers and admins), and the ops KPIs. Lists read index rows; each row
waiting for the viewer's approval (at most ``HOME_ROWS``) reads its request to offer the buttons
the viewer may use (``allowed_actions`` for them), with the card's action ids and values, so a
click from Home goes through the card's listener and is re-checked there. ``refresh_home``
republishes the tab after such a click."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.listeners.common import Kit, first_event, kit_of
from bot.views.card import action_buttons, card_actions
from bot.views.home import HOME_ROWS, home_view
from core.domain.index import IndexRow, ListFilter
from core.domain.policy import Actor, Role, allowed_actions
from core.domain.status import Status

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps

log = logging.getLogger(__name__)


def row_buttons(k: Kit, rows: list[IndexRow], actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """Request id -> the buttons ``actor`` may use on it now (the card's, filtered for them)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows[:HOME_ROWS]:
        try:
            request = k.deps.store.get(row.id)
        except Exception:
            log.warning("reading %s for the Home tab failed", row.id, exc_info=True)
            continue
        decisions = allowed_actions(request, actor, k.deps.policy)
        mine = [a for a in card_actions(request) if decisions[a].allowed]
        if mine:
            out[row.id] = action_buttons(request, mine)
    return out


def build_home(k: Kit, client: Any, team_id: str | None, user_id: str) -> dict[str, Any]:
    profile = k.identity.profile(client, team_id, user_id)
    actor = profile.actor()
    role = k.identity.role(actor)
    queries = k.deps.queries
    mine = queries.list(ListFilter(requester=user_id, slack_team=team_id), HOME_ROWS, None).rows
    awaiting = None
    buttons: dict[str, list[dict[str, Any]]] = {}
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
        buttons = row_buttons(k, awaiting, actor)
    try:
        metrics = queries.insights(team_id)
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
        buttons=buttons,
    )


def refresh_home(k: Kit, client: Any, team_id: str | None, user_id: str) -> None:
    """Republish ``user_id``'s Home tab (after a click there changed a request)."""
    try:
        client.views_publish(user_id=user_id, view=build_home(k, client, team_id, user_id))
    except Exception:
        log.warning("refreshing the Home tab of %s failed", user_id, exc_info=True)


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
