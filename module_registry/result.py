"""Validation outcomes: ``FieldError`` (which field, what was wrong, what is allowed) and
``ValidationResult`` (the config with defaults applied, plus every error found)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One refusal, in plain words. ``field`` is a dotted path (``lifecycle_rules[0].days``);
    an empty field means the config as a whole."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str
    allowed: str | None = None

    @classmethod
    def module_not_allowed(cls, module: str, allowed: list[str]) -> FieldError:
        """The project's target does not allow ``module`` (its ``allowed_modules``): refused like
        any other field, in the words of every validation refusal (this family's are here)."""
        return cls(
            field="module", message=f"module {module!r} is not allowed here", allowed=", ".join(allowed) or "none"
        )

    def describe(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text


class ValidationResult(BaseModel):
    """``config`` has the schema defaults applied; it is only meaningful when ``ok``."""

    ok: bool
    config: dict[str, Any] = Field(default_factory=dict)
    errors: list[FieldError] = Field(default_factory=list)

    def by_field(self) -> dict[str, str]:
        """``{field: message}`` for forms (the first error of each field)."""
        out: dict[str, str] = {}
        for error in self.errors:
            out.setdefault(error.field, error.describe() if not error.field else _tail(error))
        return out


def _tail(error: FieldError) -> str:
    return error.message + (f" (allowed: {error.allowed})" if error.allowed else "")
