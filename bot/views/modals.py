"""The three modals: the intake form (a module's schema), the Edit form (the same schema,
prefilled with the request's config) and the prod destroy confirmation (type the request id).

Each carries what its submission needs in ``private_metadata`` (a small JSON document,
validated when it comes back).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.views.card import destroy_guard_note
from bot.views.forms import FormField, form_modal
from bot.views.ids import (
    DESTROY_CONFIRM_BLOCK,
    DESTROY_CONFIRM_CALLBACK,
    DESTROY_CONFIRM_INPUT,
    EDIT_FORM_CALLBACK,
    INTAKE_FORM_CALLBACK,
    ThreadRef,
    decode_json_object,
    is_ts,
)
from bot.views.limits import PLACEHOLDER, VIEW_CLOSE, VIEW_SUBMIT, VIEW_TITLE, clip, escape, mrkdwn, plain
from core.domain.ids import is_request_id
from core.domain.request import Request


def _compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


@dataclass(frozen=True)
class IntakeFormMeta:
    thread: ThreadRef
    module: str

    def encode(self) -> str:
        return _compact({"k": self.thread.as_list(), "m": self.module})

    @classmethod
    def decode(cls, raw: str | None) -> IntakeFormMeta | None:
        doc = decode_json_object(raw)
        if doc is None:
            return None
        thread = ThreadRef.from_list(doc.get("k"))
        module = doc.get("m")
        if thread is None or not isinstance(module, str) or not module or len(module) > 200:
            return None
        return cls(thread, module)


@dataclass(frozen=True)
class RequestMeta:
    """Which request (and card rendering) a modal acts on, and where to answer."""

    request_id: str
    version: int
    channel: str | None = None
    thread_ts: str | None = None

    def encode(self) -> str:
        return _compact({"r": self.request_id, "v": self.version, "c": self.channel, "t": self.thread_ts})

    @classmethod
    def decode(cls, raw: str | None) -> RequestMeta | None:
        doc = decode_json_object(raw)
        if doc is None:
            return None
        request_id, version = doc.get("r"), doc.get("v")
        channel, ts = doc.get("c"), doc.get("t")
        if not isinstance(request_id, str) or not is_request_id(request_id):
            return None
        if not isinstance(version, int) or isinstance(version, bool):
            return None
        if channel is not None and (not isinstance(channel, str) or len(channel) > 40):
            return None
        if ts is not None and not is_ts(ts):
            return None
        return cls(request_id, version, channel, ts)


def intake_form_modal(
    fields: list[FormField], *, meta: IntakeFormMeta, title: str, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    return form_modal(
        fields,
        title=title,
        callback_id=INTAKE_FORM_CALLBACK,
        private_metadata=meta.encode(),
        values=values,
        intro=f"Settings for *{escape(clip(meta.module, 100))}*. Every value is checked against the module's schema.",
        submit="Continue",
    )


def edit_modal(fields: list[FormField], *, request: Request, meta: RequestMeta) -> dict[str, Any]:
    return form_modal(
        fields,
        title=f"Edit {request.id}",
        callback_id=EDIT_FORM_CALLBACK,
        private_metadata=meta.encode(),
        values=request.config,
        intro=(
            f"Editing `{request.id}` ({escape(clip(request.module, 100))} in "
            f"{escape(clip(request.project, 100))}/{escape(clip(request.environment, 100))}). "
            "Saving commits the change to the pull request and plans again."
        ),
        submit="Save",
    )


def destroy_modal(request: Request, *, meta: RequestMeta) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": DESTROY_CONFIRM_CALLBACK,
        "title": plain("Destroy in prod", VIEW_TITLE),
        "submit": plain("Destroy", VIEW_SUBMIT),
        "close": plain("Cancel", VIEW_CLOSE),
        "private_metadata": meta.encode(),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(
                    f":warning: This destroys every resource `{request.id}` created in "
                    f"*{escape(clip(request.project, 200))}/{escape(clip(request.environment, 200))}* (prod). "
                    "It cannot be undone. " + destroy_guard_note(request)
                ),
            },
            {
                "type": "input",
                "block_id": DESTROY_CONFIRM_BLOCK,
                "label": plain("Type the request id to confirm", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": DESTROY_CONFIRM_INPUT,
                    "placeholder": plain(request.id, PLACEHOLDER),
                    "max_length": 64,
                },
            },
        ],
    }


def typed_confirmation(state_values: Mapping[str, Any]) -> str:
    block = state_values.get(DESTROY_CONFIRM_BLOCK)
    entry = block.get(DESTROY_CONFIRM_INPUT) if isinstance(block, Mapping) else None
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return value.strip() if isinstance(value, str) else ""
