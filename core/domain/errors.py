"""Domain errors. Each carries a message fit to show a user, except ``PermissionDenied``, whose
typed reason (``core.domain.refusals.Denial``) the views render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from core.domain.refusals import Denial


class TfPilotError(Exception):
    """Base of every error TfPilot raises on purpose."""


class RequestNotFound(TfPilotError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} not found")
        self.request_id = request_id


class RequestAlreadyExists(TfPilotError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} already exists")
        self.request_id = request_id


class VersionConflict(TfPilotError):
    """A compare-and-swap lost: someone else wrote the object since it was read."""

    def __init__(self, key: str) -> None:
        super().__init__(f"concurrent update of {key!r}: retry with a fresh read")
        self.key = key


class TooManyConflicts(TfPilotError):
    def __init__(self, key: str, attempts: int) -> None:
        super().__init__(f"gave up updating {key!r} after {attempts} conflicting attempts")
        self.key = key
        self.attempts = attempts


class RequestArchived(TfPilotError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} is archived (destroyed) and read-only")
        self.request_id = request_id


@dataclass(frozen=True)
class FieldProblem:
    """One field that is wrong: ``loc`` is a dotted path, ``message`` plain words."""

    loc: str
    message: str


@dataclass
class InvalidDocument(TfPilotError):
    """A stored or submitted document does not match its model."""

    problems: list[FieldProblem] = field(default_factory=list)
    key: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.key}: " if self.key else ""
        detail = "; ".join(f"{p.loc}: {p.message}" for p in self.problems) or "invalid document"
        return f"{where}{detail}"

    @classmethod
    def from_validation(cls, exc: ValidationError, *, key: str | None = None) -> InvalidDocument:
        problems = [
            FieldProblem(".".join(str(part) for part in err["loc"]) or "(document)", err["msg"]) for err in exc.errors()
        ]
        return cls(problems=problems, key=key)


class PermissionDenied(TfPilotError):
    """An actor may not do an action; ``reason`` (a code and its data) is recorded, and rendered
    for them by ``bot.views.refusals``."""

    def __init__(self, action: str, reason: Denial) -> None:
        super().__init__(f"{action} not allowed: {reason}")
        self.action = action
        self.reason = reason
