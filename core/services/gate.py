"""``Gate``: the one permission check every action on a request goes through.

The decision itself is the pure ``core.domain.policy.check`` (role, prod allowlists,
self-approval, the request's state); the gate adds what a refusal must do everywhere: record a
``<action>_blocked`` lifecycle event with the reason (once per request version read, action and
actor, through the ``MessageBus``: a refusal writes no document, so a replayed click records
nothing new), then raise ``PermissionDenied`` carrying that reason (a typed ``Denial``: code and
data, kept whole in the record), which the caller (a Slack listener, the console, the API)
renders for the person refused through ``bot.views.refusals``. ``RequestService`` asks it for
every action, and listeners that must decide before opening a modal ask the same service
(``RequestService.authorize``), so no caller re-implements the check or the audit record.
"""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

from core.domain.errors import PermissionDenied
from core.domain.events import NewEvent
from core.domain.policy import Action, Actor, Decision, Policy, check, check_create
from core.domain.refusals import NOT_ALLOWED, Denial
from core.domain.request import Request
from core.services.messagebus import MessageBus

__all__ = ["NOT_ALLOWED", "Gate"]


class Gate:
    def __init__(self, policy: Policy, bus: MessageBus) -> None:
        self._policy = policy
        self._bus = bus

    def decide(self, action: Action, request: Request, actor: Actor) -> Decision:
        """The decision alone, recording nothing (for checks repeated inside a write)."""
        return check(action, request, actor, self._policy)

    def require(self, action: Action, request: Request, actor: Actor, source: str) -> None:
        """Return when ``actor`` may do ``action`` on ``request`` now; else record and refuse."""
        decision = self.decide(action, request, actor)
        if not decision.allowed:
            reason = decision.reason or NOT_ALLOWED
            self.refuse(request.id, action.value, actor, reason, source, version=request.version)

    def decide_create(self, prod: bool, actor: Actor) -> Decision:
        """May ``actor`` open a request (prod or not)? The decision alone, recording nothing: for
        a caller that asks before collecting the request (the assistant, when prod is chosen)."""
        return check_create(prod, actor, self._policy)

    def require_create(self, request_id: str, prod: bool, actor: Actor, source: str, data: dict[str, Any]) -> None:
        """Return when ``actor`` may open a request (prod or not); else record and refuse."""
        decision = check_create(prod, actor, self._policy)
        if not decision.allowed:
            self.refuse(request_id, "create", actor, decision.reason or NOT_ALLOWED, source, data)

    def refuse(
        self,
        request_id: str,
        action: str,
        actor: Actor,
        reason: Denial,
        source: str,
        data: dict[str, Any] | None = None,
        *,
        version: int = 0,
    ) -> NoReturn:
        """Record ``<action>_blocked`` with the reason (once for the document ``version`` read;
        0: a request not yet created), then raise ``PermissionDenied``."""
        blocked = NewEvent(
            name=f"{action}_blocked",
            actor=actor.id,
            source=source,
            data={"reason": reason.model_dump(mode="json"), **(data or {})},
        )
        # The same refusal (version, action, actor, reason) is one record; another reason is another.
        said = hashlib.sha256(reason.key().encode()).hexdigest()[:12]
        self._bus.record(request_id, blocked, version=version, key=f"{action}-{actor.id}-{said}")
        raise PermissionDenied(action, reason)
