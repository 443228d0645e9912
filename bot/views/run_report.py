"""What finished runs reported, as card sections and reply lines: the outputs of an applied
request, and the diagnostics of the failed run that explain a failure.

Pure. Values come from Terraform (already redacted by the core); they are escaped, clipped, and
the diagnostics' detail is quoted in a code block so Slack renders it as written.
"""

from __future__ import annotations

from bot.views import fmt
from bot.views.limits import SECTION_TEXT, clip, escape, join_lines
from core.domain.request import Request, RunRef

DIAGNOSTICS_SHOWN = 3
DETAIL_CHARS = 700
OUTPUT_VALUE_CHARS = 200


def outputs_lines(request: Request) -> list[str]:
    """``• `name` = value`` per output, sorted by name (empty when there are none)."""
    return [
        f"• `{escape(clip(name, 80))}` = `{escape(clip(fmt.config_value(value), OUTPUT_VALUE_CHARS))}`"
        for name, value in sorted(request.outputs.items())
    ]


def outputs_section(request: Request) -> str | None:
    if not request.outputs or request.destroyed_at is not None:
        return None
    return join_lines(["*Outputs*", *outputs_lines(request)], SECTION_TEXT)


def failed_run(request: Request) -> tuple[str, RunRef] | None:
    """The newest failed run that says why it failed: ``(kind, run)``."""
    for kind, run in (("destroy", request.destroy_run), ("apply", request.apply_run), ("plan", request.plan_run)):
        if run is not None and run.conclusion not in (None, "success") and run.diagnostics:
            return kind, run
    return None


def diagnostics_lines(request: Request) -> list[str]:
    """Terraform's first diagnostics of the failed run (summary, address, detail) and its link."""
    found = failed_run(request)
    if found is None:
        return []
    kind, run = found
    link = fmt.link(run.url, f"{kind} run")
    lines = [f"*Terraform said* ({link or f'{kind} run'}):"]
    for d in run.diagnostics[:DIAGNOSTICS_SHOWN]:
        where = f" — `{escape(clip(d.address, 120))}`" if d.address else ""
        lines.append(f"• *{escape(clip(d.summary, 300))}*{where}")
        if d.detail:
            lines.append("```" + escape(clip(d.detail, DETAIL_CHARS).replace("```", "'''")) + "```")
    return lines


def diagnostics_section(request: Request) -> str | None:
    lines = diagnostics_lines(request)
    return clip("\n".join(lines), SECTION_TEXT) if lines else None
