"""Modal submissions: the intake form, the Edit form and the prod destroy confirmation.

What can be checked without I/O is checked before acknowledging, so mistakes come back as
inline errors (``response_action: errors``, keyed by block id) while the modal is still open:
unreadable values, schema validation (the intake through ``IntakeService.submit_form``, the
Edit form through the registry), a mistyped request id. The slow part (a commit and a plan,
a destroy, the reply in the intake thread) runs after the ack on the listener pool
(``Kit.later``), with what the ack already read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from assistant.domain.session import ConversationKey
from bot.listeners.common import (
    OTHER_TEAM_TEXT,
    Kit,
    ephemeral,
    foreign_team,
    kit_of,
    post_intake_reply,
    team_of,
    user_of,
)
from bot.views.forms import FormField, errors_by_block, parse_submission, schema_fields
from bot.views.ids import DESTROY_CONFIRM_BLOCK, DESTROY_CONFIRM_CALLBACK, EDIT_FORM_CALLBACK, INTAKE_FORM_CALLBACK
from bot.views.limits import clip, escape, join_lines
from bot.views.modals import IntakeFormMeta, RequestMeta, typed_confirmation
from bot.views.refusals import refused_reply
from core.domain.errors import PermissionDenied, RequestArchived, RequestNotFound, TfPilotError
from core.domain.policy import Action
from module_registry.errors import ConfigRejected

if TYPE_CHECKING:
    from slack_bolt import Ack, App

    from bot.deps import Deps
    from core.domain.request import Request

log = logging.getLogger(__name__)


def _state(view: dict[str, Any]) -> dict[str, Any]:
    values = (view.get("state") or {}).get("values")
    return values if isinstance(values, dict) else {}


class ModalHandlers:
    """Modal submissions, bound to one ``Kit``."""

    def __init__(self, kit: Kit) -> None:
        self.k = kit

    def tell(self, client: Any, meta: RequestMeta, user: str, text: str) -> None:
        ephemeral(client, channel=meta.channel, user=user, text=text, thread_ts=meta.thread_ts)

    # --- intake form ---------------------------------------------------------------------------

    def submit_intake_form(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        meta = IntakeFormMeta.decode(view.get("private_metadata"))
        user = user_of(body)
        if meta is None or user is None:
            ack()
            return
        try:
            fields = schema_fields(self.k.deps.registry.get(meta.module).schema)
        except Exception:
            ack()
            return
        values, errors = parse_submission(fields, _state(view))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        profile = self.k.identity.profile(client, meta.thread.team_id or team_of(body), user)
        key = ConversationKey(team_id=meta.thread.team_id, channel=meta.thread.channel, thread_ts=meta.thread.thread_ts)
        reply = self.k.deps.intake.submit_form(key, profile.requester(), values)
        field_errors = dict(getattr(reply, "field_errors", None) or {})
        if field_errors:
            ack(response_action="errors", errors=errors_by_block(fields, field_errors))
            return
        ack()
        # After the ack: in HTTP mode the modal closes when this function returns.
        self.k.later(self.post_form_reply, client, meta, reply)

    def post_form_reply(self, client: Any, meta: IntakeFormMeta, reply: Any) -> None:
        try:
            post_intake_reply(client, meta.thread, reply, objects=self.k.deps.objects)
        except Exception:
            log.exception("posting the form's reply in %s failed", meta.thread.channel)

    # --- Edit form -------------------------------------------------------------------------------

    def edit_submission(
        self,
        view: dict[str, Any],
    ) -> tuple[RequestMeta, Request, list[FormField], dict[str, Any], dict[str, str]] | None:
        """``(meta, request, fields, values, inline errors)``; None when the modal is not ours."""
        meta = RequestMeta.decode(view.get("private_metadata"))
        if meta is None:
            return None
        request = self.k.deps.store.get(meta.request_id)
        fields = schema_fields(self.k.deps.registry.get(request.module).schema)
        values, errors = parse_submission(fields, _state(view), keep=request.config)
        if not errors:
            result = self.k.deps.registry.validate(
                request.module, values, request.environment, prod=request.is_prod, project=request.project
            )
            if not result.ok:
                errors = errors_by_block(fields, {e.field: e.message for e in result.errors})
        return meta, request, fields, values, errors

    def ack_edit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        problem = None
        try:
            parsed = self.edit_submission(view)
        except (RequestNotFound, RequestArchived) as gone:
            parsed, problem = None, f"Nothing was saved: {escape(clip(str(gone), 300))}."
        except Exception as exc:
            log.exception("reading an Edit submission failed")
            parsed, problem = None, f":warning: Saving failed ({type(exc).__name__}). Try again shortly."
        if parsed is not None and parsed[4]:
            ack(response_action="errors", errors=parsed[4])
            return
        ack()
        if parsed is not None:
            self.k.later(self.save_edit, body, client, parsed[0], parsed[1], parsed[3])
            return
        meta, user = RequestMeta.decode(view.get("private_metadata")), user_of(body)
        if problem is not None and meta is not None and user is not None:
            self.k.later(self.tell, client, meta, user, problem)

    def save_edit(
        self, body: dict[str, Any], client: Any, meta: RequestMeta, request: Request, values: dict[str, Any]
    ) -> None:
        user = user_of(body)
        if user is None:
            return
        if foreign_team(self.k, request, team_of(body), Action.UPDATE.value, user):
            self.tell(client, meta, user, OTHER_TEAM_TEXT)
            return
        try:
            actor = self.k.identity.actor(client, team_of(body), user)
            self.k.deps.requests.update_config(request.id, values, actor, source="slack")
        except PermissionDenied as denied:
            self.tell(client, meta, user, refused_reply(Action.UPDATE, denied.reason))
        except ConfigRejected as rejected:
            lines = [f"• {escape(clip(e.describe(), 300))}" for e in rejected.errors]
            self.tell(client, meta, user, join_lines(["The new settings were rejected:", *lines], 2900))
        except TfPilotError as failed:
            self.tell(client, meta, user, f":warning: Saving failed: {escape(clip(str(failed), 500))}")
        except Exception as exc:
            log.exception("update of %s failed", request.id)
            self.tell(client, meta, user, f":warning: Saving failed ({type(exc).__name__}). Try again shortly.")

    # --- destroy in prod ---------------------------------------------------------------------------

    def ack_destroy(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        meta = RequestMeta.decode(view.get("private_metadata"))
        if meta is not None and typed_confirmation(_state(view)) != meta.request_id:
            ack(
                response_action="errors",
                errors={DESTROY_CONFIRM_BLOCK: f"Type {meta.request_id} exactly to confirm the destroy."},
            )
            return
        ack()
        if meta is not None:
            self.k.later(self.run_destroy, body, client, meta)

    def run_destroy(self, body: dict[str, Any], client: Any, meta: RequestMeta) -> None:
        user = user_of(body)
        if user is None:
            return
        try:
            request = self.k.deps.store.get(meta.request_id)
            if foreign_team(self.k, request, team_of(body), Action.DESTROY.value, user):
                self.tell(client, meta, user, OTHER_TEAM_TEXT)
                return
            actor = self.k.identity.actor(client, team_of(body), user)
            token = self.k.github_token(team_of(body), actor.id)
            self.k.deps.requests.destroy(meta.request_id, actor, source="slack", user_token=token)
        except PermissionDenied as denied:
            self.tell(client, meta, user, refused_reply(Action.DESTROY, denied.reason))
        except TfPilotError as failed:
            self.tell(client, meta, user, f":warning: Destroy failed: {escape(clip(str(failed), 500))}")
        except Exception as exc:
            log.exception("destroy of %s failed", meta.request_id)
            self.tell(client, meta, user, f":warning: Destroy failed ({type(exc).__name__}). Try again shortly.")


def register(app: App, deps: Deps, *, kit: Kit | None = None) -> None:
    handlers = ModalHandlers(kit_of(deps, kit))
    app.view(INTAKE_FORM_CALLBACK)(handlers.submit_intake_form)
    app.view(EDIT_FORM_CALLBACK)(handlers.ack_edit)
    app.view(DESTROY_CONFIRM_CALLBACK)(handlers.ack_destroy)
