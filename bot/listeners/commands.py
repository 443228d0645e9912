"""``/tfpilot``: ``new [free text]``, ``list [mine|pending|all] [status]``, ``status <id>``,
``modules``, ``insights``, ``link``, ``help``.

Acknowledged at once; answers are ephemeral (through the command's ``response_url``). ``new``
starts an intake in a thread under a message the app posts in the channel (or in a DM with
the user when the app is not in the channel).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bot.identity import LinkedIdentities
from bot.listeners.common import Kit, converse, foreign_team, kit_of, team_of
from bot.views import home as home_views
from bot.views.card import request_card
from bot.views.ids import ThreadRef, is_ts
from bot.views.limits import BUTTON_TEXT, clip, escape, mrkdwn, plain
from core.domain.errors import RequestNotFound
from core.domain.ids import is_request_id
from core.domain.index import ListFilter
from core.domain.status import Status

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps

log = logging.getLogger(__name__)

PENDING = frozenset({Status.PLAN_READY.value, Status.APPROVED.value, Status.MERGED.value})
SCOPES = ("mine", "pending", "all")
LINK_STATE_TTL = timedelta(minutes=10)
LINK_PATH = "/github/link/start"

# (team_id, user_id) -> URL the user opens to link a GitHub account; None when not configured.
LinkUrl = Callable[[str | None, str], str | None]


def parse_list_args(words: list[str]) -> tuple[str, frozenset[str] | None, list[str]]:
    """``(scope, statuses, unknown words)`` of ``list [mine|pending|all] [status...]``."""
    scope = "mine"
    statuses: set[str] = set()
    unknown: list[str] = []
    for word in words:
        low = word.lower().replace("-", "_")
        if low in SCOPES:
            scope = low
        elif low in {s.value for s in Status}:
            statuses.add(low)
        else:
            unknown.append(word)
    if scope == "pending" and not statuses:
        statuses = set(PENDING)
    return scope, frozenset(statuses) or None, unknown


def default_link_url(deps: Deps) -> LinkUrl:
    """Mint a single-use, expiring state bound to the Slack user under ``oauth/states/`` and
    return the side service's link start URL carrying it."""

    def link_url(team_id: str | None, user_id: str) -> str | None:
        base = deps.settings.public_url
        if not base:
            return None
        state = secrets.token_urlsafe(24)
        now = deps.clock.now()
        doc = {
            "kind": "github_link",
            "team_id": team_id,
            "user_id": user_id,
            "created_at": now.isoformat(),
            "expires_at": (now + LINK_STATE_TTL).isoformat(),
        }
        deps.objects.put(f"oauth/states/{state}.json", json.dumps(doc).encode(), if_none_match=True)
        return f"{base}{LINK_PATH}?{urlencode({'state': state})}"

    return link_url


class CommandHandlers:
    """``/tfpilot`` and its subcommands, bound to one ``Kit``."""

    def __init__(self, kit: Kit, link_url: LinkUrl | None = None) -> None:
        self.k = kit
        self.make_link = link_url

    def ack_command(self, ack: Ack, body: dict[str, Any], client: Any, respond: Any) -> None:
        ack()
        self.k.later(self.handle_command, body, client, respond)

    def start_intake(self, client: Any, body: dict[str, Any], user: str, text: str) -> None:
        team = team_of(body)
        channel = str(body.get("channel_id") or "")
        opener = f"<@{user}> started a TfPilot request. I'll ask what I need in this thread."
        posted = None
        if channel:
            try:
                posted = client.chat_postMessage(channel=channel, text=opener)
            except Exception:
                log.info("cannot post in %s: continuing in a DM", channel)
        if posted is None:
            dm = client.conversations_open(users=user)
            channel = str(dm["channel"]["id"])
            posted = client.chat_postMessage(channel=channel, text=opener)
        ts = str(posted["ts"])
        if not is_ts(ts):
            raise ValueError("Slack returned no message ts")
        converse(
            self.k, client, ThreadRef(team, str(posted.get("channel") or channel), ts), user, text or "new request"
        )

    def list_requests(self, respond: Any, team: str | None, user: str, words: list[str]) -> None:
        scope, statuses, unknown = parse_list_args(words)
        if unknown:
            respond(
                response_type="ephemeral",
                text=f"Unknown filter(s): {escape(', '.join(unknown))}. "
                "Try `/tfpilot list [mine|pending|all] [status]`.",
            )
            return
        filters = ListFilter(requester=user if scope == "mine" else None, status=statuses, slack_team=team)
        page = self.k.deps.queries.list(filters, 25, None)
        title = {"mine": "My requests", "pending": "Waiting for an approver", "all": "All requests"}[scope]
        if statuses and scope != "pending":
            title += " — " + ", ".join(sorted(statuses))
        message = home_views.list_message(title, page.rows, more=page.cursor is not None)
        respond(response_type="ephemeral", replace_original=False, **message)

    def show_status(self, respond: Any, team: str | None, user: str, words: list[str]) -> None:
        if not words or not is_request_id(words[0]):
            respond(response_type="ephemeral", text="Usage: `/tfpilot status <request id>` (e.g. `req_ab12cd34ef56`).")
            return
        try:
            request = self.k.deps.queries.get(words[0])
        except RequestNotFound:
            request = None
        if request is None or foreign_team(self.k, request, team, "status", user):
            # Another workspace's request is answered like a missing one: ids are not a secret,
            # but what they hold is.
            respond(response_type="ephemeral", text=f"No request `{words[0]}`.")
            return
        respond(response_type="ephemeral", **request_card(request))

    def link(self, respond: Any, team: str | None, user: str) -> None:
        url = self.make_link(team, user) if self.make_link else None
        if not url:
            respond(response_type="ephemeral", text="GitHub account linking is not configured on this TfPilot.")
            return
        respond(
            response_type="ephemeral",
            text="Link your GitHub account",
            blocks=[
                {
                    "type": "section",
                    "text": mrkdwn("Link your GitHub account: your approvals are then posted as your own reviews."),
                    "accessory": {
                        "type": "button",
                        "action_id": "link:github",
                        "text": plain("Link GitHub", BUTTON_TEXT),
                        "url": url,
                        "style": "primary",
                    },
                }
            ],
        )

    def unlink(self, respond: Any, team: str | None, user: str) -> None:
        if LinkedIdentities(self.k.deps.objects).unlink(team, user):
            text = "Your GitHub account is unlinked and its token deleted: approvals are recorded by TfPilot again."
        else:
            text = "No GitHub account is linked to you; nothing to unlink."
        respond(response_type="ephemeral", text=text)

    def handle_command(self, body: dict[str, Any], client: Any, respond: Any) -> None:
        user = body.get("user_id")
        if not isinstance(user, str) or not user:
            respond(response_type="ephemeral", text="Sorry, Slack did not say who sent this command; nothing was done.")
            return
        text = " ".join(str(body.get("text") or "").split())
        verb, _, rest = text.partition(" ")
        verb = verb.lower()
        words = rest.split()
        try:
            if verb == "new":
                self.start_intake(client, body, user, rest)
            elif verb == "list":
                self.list_requests(respond, team_of(body), user, words)
            elif verb == "status":
                self.show_status(respond, team_of(body), user, words)
            elif verb == "modules":
                respond(response_type="ephemeral", **home_views.modules_message(self.k.deps.registry.modules()))
            elif verb == "insights":
                metrics = self.k.deps.queries.insights(team_of(body))
                respond(response_type="ephemeral", **home_views.insights_message(metrics))
            elif verb == "link":
                self.link(respond, team_of(body), user)
            elif verb == "unlink":
                self.unlink(respond, team_of(body), user)
            else:
                message = home_views.help_message()
                if verb and verb != "help":
                    message["text"] = f"Unknown command `{clip(escape(verb), 40)}`."
                    message["blocks"].insert(0, {"type": "section", "text": mrkdwn(message["text"])})
                respond(response_type="ephemeral", **message)
        except Exception as exc:
            log.exception("/tfpilot %s failed", verb)
            respond(
                response_type="ephemeral",
                text=f"Sorry, `/tfpilot {clip(escape(verb), 20)}` failed ({type(exc).__name__}).",
            )


def register(app: App, deps: Deps, *, kit: Kit | None = None, link_url: LinkUrl | None = None) -> None:
    handlers = CommandHandlers(kit_of(deps, kit), link_url or default_link_url(deps))
    app.command("/tfpilot")(handlers.ack_command)
