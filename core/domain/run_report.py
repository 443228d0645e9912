"""What a finished Terraform run reports beyond its conclusion: diagnostics and outputs.

A failed plan, apply or destroy carries Terraform's diagnostics (the first ones matter: they
say why); a successful apply carries the module's non-sensitive outputs (bucket ARN, queue URL,
...). The local runner fills these from ``terraform ... -json``; they travel on the run fact to
the request, where the card and the thread replies show them (redacted, clipped).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_DIAGNOSTICS = 5
MAX_DIAGNOSTIC_CHARS = 1500
MAX_OUTPUTS = 20
MAX_OUTPUT_CHARS = 500


class Diagnostic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    severity: str = "error"  # error | warning
    summary: str
    detail: str = ""
    address: str | None = None


class RunReport(BaseModel):
    """Diagnostics (errors first) and outputs of one run, bounded in size."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    diagnostics: tuple[Diagnostic, ...] = ()
    outputs: dict[str, Any] = Field(default_factory=dict)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


def bounded(diagnostics: list[Diagnostic], outputs: dict[str, Any] | None = None) -> RunReport:
    """A report keeping the first errors (then warnings) and the first outputs, each clipped."""
    ordered = [d for d in diagnostics if d.severity == "error"] + [d for d in diagnostics if d.severity != "error"]
    kept: list[Diagnostic] = []
    for d in ordered:
        if any(k.summary == d.summary and k.detail == d.detail and k.address == d.address for k in kept):
            continue
        kept.append(
            Diagnostic(
                severity=d.severity,
                summary=_clip(d.summary, 300),
                detail=_clip(d.detail, MAX_DIAGNOSTIC_CHARS),
                address=d.address,
            )
        )
        if len(kept) == MAX_DIAGNOSTICS:
            break
    clipped: dict[str, Any] = {}
    for name in sorted(outputs or {})[:MAX_OUTPUTS]:
        value = (outputs or {})[name]
        clipped[name] = _clip(value, MAX_OUTPUT_CHARS) if isinstance(value, str) else value
    return RunReport(diagnostics=tuple(kept), outputs=clipped)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
