"""The sentences of a notice's typed reasons (``core.domain.events.Reason``), and the one text a
transition says under its headline: its ``message`` (text from outside) or else what the folds of
facts did (``facts`` and ``failed``, said by ``bot.views.fact_text``), followed by its reasons'
sentences.

Pure, no Slack import: the Slack replies (``bot.views.replies``) and the console's plain
fallback (``bot.console.notifier``) both render through ``transition_text``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.views.fact_text import facts_text
from core.domain.events import Reason, ReasonCode, Transition

MESSAGE_LIMIT = 500  # what a reply quotes at most (longer text is cut)


def _pr_closed(data: dict[str, Any]) -> str:
    return (
        f"Pull request #{data.get('number', '?')} was closed without merging: re-open it on GitHub to approve, "
        "merge or update this request."
    )


def _pr_reopened(data: dict[str, Any]) -> str:
    return f"Pull request #{data.get('number', '?')} was re-opened."


def _destroy_stopped(data: dict[str, Any]) -> str:
    return f"Destroy stopped: {data.get('error', 'unknown error')}. Nothing was destroyed; Destroy again to retry."


def _cleanup_run_failed(data: dict[str, Any]) -> str:
    conclusion = str(data.get("conclusion") or "failure").replace("_", " ")
    return _destroy_stopped({"error": f"the cleanup workflow run {data.get('runId', '?')} concluded {conclusion}"})


def _cleanup_destroy_requested(data: dict[str, Any]) -> str:
    return (
        f"The cleanup workflow removes {_listed(data.get('files'))} on {data.get('branch', '?')} and opens a pull "
        "request; TfPilot merges it, then runs destroy."
    )


def _removal_destroy_requested(data: dict[str, Any]) -> str:
    return (
        f"Removal PR #{data.get('number', '?')} deletes {_listed(data.get('files'))}. Once it is approved, the "
        f"destroy runs on {data.get('base', 'main')} with the file still there; the PR is merged only after the "
        "destroy succeeded."
    )


def _destroy_prepare(data: dict[str, Any]) -> str:
    lifted = ", ".join(f"{field} → {_value(value)}" for field, value in data.get("lifted") or [])
    return (
        f"PR #{data.get('number', '?')} sets {lifted}. It is planned, approved, merged and applied like any "
        "change; Destroy is offered once it is applied."
    )


SENTENCES: dict[ReasonCode, Callable[[dict[str, Any]], str]] = {
    "pr_closed": _pr_closed,
    "pr_reopened": _pr_reopened,
    "destroy_stopped": _destroy_stopped,
    "cleanup_run_failed": _cleanup_run_failed,
    "cleanup_destroy_requested": _cleanup_destroy_requested,
    "removal_destroy_requested": _removal_destroy_requested,
    "destroy_prepare": _destroy_prepare,
}


def reason_text(reason: Reason) -> str:
    """The sentence of one reason."""
    return SENTENCES[reason.code](reason.data)


def transition_text(transition: Transition) -> str | None:
    """What ``transition`` says under its headline (None: nothing), at most ``MESSAGE_LIMIT``
    characters (cut as the reply quotes it)."""
    said = transition.message or facts_text(transition.facts, transition.failed)
    parts = [said[:MESSAGE_LIMIT], *(reason_text(r) for r in transition.reasons)]
    text = " ".join(p for p in parts if p)[:MESSAGE_LIMIT]
    return text or None


def _listed(files: Sequence[str] | str | None) -> str:
    if isinstance(files, str):
        return files
    return ", ".join(files or []) or "the request's file"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
