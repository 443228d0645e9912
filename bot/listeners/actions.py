"""Button clicks: the request card's actions, the intake's choices and "Open form".

Every click is acknowledged at once and worked on afterwards (``Kit.later``). Card actions are
checked for the person who clicked by the services (their one ``Gate``); a refusal is answered
ephemerally with the reason the service returns (the service records ``<action>_blocked``).
Edit opens the module's schema form prefilled with the request's config; Destroy in prod opens
a modal where the request id must be typed (both ask ``RequestService.authorize`` first). A
redelivered click is dropped (``first_action``); double clicks reach the core, whose
idempotency keys and leases make them one effect.

The same buttons on App Home's "waiting for my approval" rows and on the card's copies (an
approvals channel, an approver's DM) come here too: they act on the request they name. From
Home, refusals go by DM and the Home tab is republished after the action.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.listeners.common import (
    OTHER_TEAM_TEXT,
    TOP_LEVEL,
    Kit,
    channel_of,
    converse,
    ephemeral,
    first_action,
    foreign_team,
    kit_of,
    owner_elsewhere,
    refuse_foreign_turn,
    team_of,
    user_of,
)
from bot.listeners.home import refresh_home
from bot.views.forms import schema_fields
from bot.views.ids import (
    CARD_ACTION_RE,
    CHOICE_ACTION_RE,
    FORM_ACTION,
    LINK_ACTION_RE,
    SELECT_ACTION,
    CardRef,
    ThreadRef,
    action_of,
    decode_json_object,
    is_ts,
)
from bot.views.intake import answered_message, thread_of_block
from bot.views.limits import clip, escape
from bot.views.modals import IntakeFormMeta, RequestMeta, destroy_modal, edit_modal, intake_form_modal
from bot.views.refusals import VERBS, refused_reply
from core.domain.errors import PermissionDenied, RequestArchived, RequestNotFound, TfPilotError
from core.domain.policy import Action, Actor
from core.domain.refusals import Denial
from core.ports.code_host import CodeHostError

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps
    from core.domain.request import Request

log = logging.getLogger(__name__)


def _first(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or []
    return actions[0] if actions and isinstance(actions[0], dict) else {}


def _message_ts(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return ts if is_ts(ts) else None


def _thread_ts(body: dict[str, Any], action: dict[str, Any]) -> str | None:
    for candidate in (
        thread_of_block(action.get("block_id")),
        (body.get("message") or {}).get("thread_ts"),
        (body.get("container") or {}).get("thread_ts"),
    ):
        if is_ts(candidate):
            return str(candidate)
    return None


class ClickHandlers:
    """The click listeners, bound to one ``Kit``."""

    def __init__(self, kit: Kit) -> None:
        self.k = kit

    def ack_click(self, ack: Ack) -> None:
        ack()

    def ack_card_action(self, ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        # Edit opens a form and Destroy may open the prod confirmation: both need the trigger.
        action = action_of(str(_first(body).get("action_id") or ""))
        self.k.later(self.handle_card_action, body, client, opens_modal=action in (Action.UPDATE, Action.DESTROY))

    def ack_choice(self, ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        self.k.later(self.handle_choice, body, client)

    def ack_open_form(self, ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        self.k.later(self.handle_open_form, body, client, opens_modal=True)

    # --- request card ------------------------------------------------------------------------

    def refuse(
        self, client: Any, where: tuple[str | None, str | None], user: str, action: Action, reason: Denial
    ) -> None:
        ephemeral(client, channel=where[0], user=user, text=refused_reply(action, reason), thread_ts=where[1])

    def open_edit(
        self, client: Any, body: dict[str, Any], request: Request, where: tuple[str | None, str | None]
    ) -> None:
        definition = self.k.deps.registry.get(request.module)
        meta = RequestMeta(request.id, request.version, where[0], where[1])
        view = edit_modal(schema_fields(definition.schema), request=request, meta=meta)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def open_destroy(
        self, client: Any, body: dict[str, Any], request: Request, where: tuple[str | None, str | None]
    ) -> None:
        meta = RequestMeta(request.id, request.version, where[0], where[1])
        client.views_open(trigger_id=body["trigger_id"], view=destroy_modal(request, meta=meta))

    def perform(self, action: Action, request_id: str, actor: Actor, team_id: str | None) -> None:
        requests = self.k.deps.requests
        if action is Action.APPROVE:
            token = self.k.github_token(team_id, actor.id)
            requests.approve(request_id, actor, source="slack", user_token=token)
        elif action is Action.MERGE:
            requests.merge(request_id, actor, source="slack")
        elif action is Action.APPLY:
            requests.apply(request_id, actor, source="slack")
        elif action is Action.DESTROY:
            # A linked admin's click reviews the removal PR as them (a review the protection counts).
            requests.destroy(request_id, actor, source="slack", user_token=self.k.github_token(team_id, actor.id))
        elif action is Action.REPLAN:
            requests.replan(request_id, actor, source="slack")
        elif action is Action.PREPARE_DESTROY:
            requests.prepare_destroy(request_id, actor, source="slack")

    def handle_card_action(self, body: dict[str, Any], client: Any) -> None:
        action_payload = _first(body)
        if not first_action(self.k, body, action_payload):
            return
        user = user_of(body)
        action = action_of(str(action_payload.get("action_id") or ""))
        ref = CardRef.decode(action_payload.get("value"))
        where = (channel_of(body), _message_ts(body))
        if user is None or action is None:
            return
        if ref is None:
            ephemeral(client, channel=where[0], user=user, text="That button is malformed; nothing was done.")
            return
        try:
            if foreign_team(self.k, self.k.deps.store.get(ref.request_id), team_of(body), action.value, user):
                ephemeral(client, channel=where[0], user=user, text=OTHER_TEAM_TEXT, thread_ts=where[1])
                return
            actor = self.k.identity.actor(client, team_of(body), user)
            # Edit and a prod Destroy open a form first: the service is asked before it opens (a
            # refusal raises PermissionDenied, below) and checks again when it is submitted.
            if action is Action.UPDATE:
                request = self.k.deps.requests.authorize(ref.request_id, action, actor, source="slack")
                self.open_edit(client, body, request, where)
                return
            if action is Action.DESTROY and self.k.deps.store.get(ref.request_id).is_prod:
                request = self.k.deps.requests.authorize(ref.request_id, action, actor, source="slack")
                self.open_destroy(client, body, request, where)
                return
            self.perform(action, ref.request_id, actor, team_of(body))
            if (body.get("container") or {}).get("type") == "view":
                # Clicked on App Home: the row shows the request's new state and buttons.
                refresh_home(self.k, client, team_of(body), user)
        except PermissionDenied as denied:
            self.refuse(client, where, user, action, denied.reason)
        except (RequestNotFound, RequestArchived) as gone:
            ephemeral(client, channel=where[0], user=user, text=f"{escape(str(gone))}.", thread_ts=where[1])
        except (CodeHostError, TfPilotError) as failed:
            log.warning("%s of %s failed: %s", action.value, ref.request_id, failed)
            ephemeral(
                client,
                channel=where[0],
                user=user,
                text=f":warning: {VERBS[action].capitalize()} failed: {escape(clip(str(failed), 500))}",
                thread_ts=where[1],
            )
        except Exception as exc:
            log.exception("%s of %s failed", action.value, ref.request_id)
            ephemeral(
                client,
                channel=where[0],
                user=user,
                text=f":warning: {VERBS[action].capitalize()} failed ({type(exc).__name__}). Try again shortly.",
                thread_ts=where[1],
            )

    # --- intake choices ----------------------------------------------------------------------

    def handle_choice(self, body: dict[str, Any], client: Any) -> None:
        action_payload = _first(body)
        if not first_action(self.k, body, action_payload):
            return
        user, channel = user_of(body), channel_of(body)
        message_ts, thread_ts = _message_ts(body), _thread_ts(body, action_payload)
        if user is None or channel is None or message_ts is None or thread_ts is None:
            return
        if action_payload.get("type") == "static_select":
            option = action_payload.get("selected_option") or {}
            value, label = option.get("value"), (option.get("text") or {}).get("text")
        else:
            value, label = action_payload.get("value"), (action_payload.get("text") or {}).get("text")
        if not isinstance(value, str) or not value:
            return
        thread = ThreadRef(team_of(body), channel, thread_ts)
        owner = owner_elsewhere(self.k, thread, user)
        if owner is not None:
            refuse_foreign_turn(client, thread, user, owner)
            return
        # One answer per question, whoever clicks first and however often.
        if not self.k.once.first(f"choice:{channel}:{message_ts}", at=self.k.deps.clock.now()):
            ephemeral(
                client, channel=channel, user=user, text="That question was already answered.", thread_ts=thread_ts
            )
            return
        message = body.get("message") or {}
        try:
            client.chat_update(
                channel=channel,
                ts=message_ts,
                text=str(message.get("text") or "TfPilot"),
                blocks=answered_message(list(message.get("blocks") or []), user=user, answer=str(label or value)),
            )
        except Exception:
            log.warning("could not mark the choice in %s as answered", channel, exc_info=True)
        # A question asked at the top level of a DM is answered there too.
        top = channel.startswith("D") and not is_ts(message.get("thread_ts"))
        converse(self.k, client, thread, user, value, checked=True, answer_in=TOP_LEVEL if top else None)

    # --- "Open form" -------------------------------------------------------------------------

    def handle_open_form(self, body: dict[str, Any], client: Any) -> None:
        action_payload = _first(body)
        user, channel = user_of(body), channel_of(body)
        doc = decode_json_object(action_payload.get("value"))
        if user is None or channel is None or doc is None:
            return
        module, thread_ts, values = doc.get("m"), doc.get("t"), doc.get("x")
        if not isinstance(module, str) or not is_ts(thread_ts):
            return
        try:
            definition = self.k.deps.registry.get(module)
        except Exception:
            ephemeral(client, channel=channel, user=user, text=f"Unknown module `{escape(clip(module, 64))}`.")
            return
        thread = ThreadRef(team_of(body), channel, str(thread_ts))
        owner = owner_elsewhere(self.k, thread, user)
        if owner is not None:
            refuse_foreign_turn(client, thread, user, owner)
            return
        meta = IntakeFormMeta(thread, module)
        view = intake_form_modal(
            schema_fields(definition.schema),
            meta=meta,
            title=definition.title,
            values=values if isinstance(values, dict) else None,
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    handlers = ClickHandlers(kit_of(deps, kit))
    app.action(CARD_ACTION_RE)(handlers.ack_card_action)
    app.action(CHOICE_ACTION_RE)(handlers.ack_choice)
    app.action(SELECT_ACTION)(handlers.ack_choice)
    app.action(FORM_ACTION)(handlers.ack_open_form)
    # URL buttons (GitHub link) still send a payload: acknowledge it, nothing to do.
    app.action(LINK_ACTION_RE)(handlers.ack_click)
