"""The ``ChatModel`` port: turn one user message into ``Candidates`` (project, environment,
module, config values, a command intent) given what the conversation knows so far.

Candidates are only proposals: the flow checks names against the projects map and registry,
and the registry validates every config value. ``FallbackChatModel`` puts a model (OpenAI) in
front of the deterministic ``RuleExtractor`` and falls back on any failure, recording which
extractor produced the candidates.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from core.domain.redaction import redact

log = logging.getLogger(__name__)

Intent = Literal[
    "none",
    "submit",
    "cancel",
    "back",
    "start_over",
    "show_terraform",
    "help",
    "reject",
    "list_modules",
    "describe_module",
    "my_requests",
    "status",
]
# The intents a language model may return. Discovery and status questions are recognized by the
# rules alone (they are whole-message phrasings, and the rules' intent outranks the model's).
INTENTS: tuple[str, ...] = ("none", "submit", "cancel", "back", "start_over", "show_terraform", "help", "reject")
DISCOVERY_INTENTS: frozenset[str] = frozenset({"list_modules", "describe_module", "my_requests", "status"})


class Candidates(BaseModel):
    project: str | None = None
    environment: str | None = None
    module: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    preset: str | None = None
    intent: Intent = "none"
    use_default: list[str] = Field(default_factory=list)  # fields the user wants left at default
    unknown_fields: list[str] = Field(default_factory=list)  # keys the user named that the module lacks
    problems: dict[str, str] = Field(default_factory=dict)  # field -> why the text is not a value of it
    about: list[str] = Field(default_factory=list)  # fields a question ("what is fifo?") asks about
    describe: str | None = None  # the module a question ("tell me about the ecr module") asks about
    status_ref: str | None = None  # the request a status question names: an id or a resource name
    unavailable: str | None = None  # a thing asked for that no module creates ("kubernetes cluster")
    extractor: str = "rules"
    fallback_reason: str | None = None  # why the primary model was not used

    def is_empty(self) -> bool:
        return (
            self.project is None
            and self.environment is None
            and self.module is None
            and not self.config
            and self.preset is None
            and self.intent == "none"
            and not self.use_default
            and not self.unknown_fields
            and not self.problems
            and not self.about
            and self.describe is None
            and self.status_ref is None
            and self.unavailable is None
        )


class ModuleInfo(BaseModel):
    """A module as the extractors see it."""

    id: str
    title: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    config_schema: dict[str, Any] = Field(default_factory=dict)
    presets: list[str] = Field(default_factory=list)


class ExtractionContext(BaseModel):
    projects: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)  # of the chosen project, else all known
    modules: list[ModuleInfo] = Field(default_factory=list)
    step: str = "project"
    project: str | None = None
    environment: str | None = None
    module: str | None = None  # the selected module (its schema is ``module_schema``)
    module_schema: dict[str, Any] | None = None
    config: dict[str, Any] = Field(default_factory=dict)  # current values
    pending_field: str | None = None  # the field the last question asked for

    def module_info(self, module_id: str | None) -> ModuleInfo | None:
        for info in self.modules:
            if info.id == module_id:
                return info
        return None


class ChatModel(Protocol):
    name: str

    def extract(self, message: str, context: ExtractionContext) -> Candidates:
        """Candidates read from ``message``; may raise (callers fall back)."""
        ...


class FallbackChatModel:
    """``primary`` (a language model) with ``fallback`` (the rules) on any error.

    The rules also run when the primary succeeds, to recognize commands ("back", "cancel") the
    deterministic way and to fill what the model left out; the model's values win."""

    def __init__(self, primary: ChatModel, fallback: ChatModel) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}+{fallback.name}"

    def extract(self, message: str, context: ExtractionContext) -> Candidates:
        ruled = self.fallback.extract(message, context)
        if ruled.intent != "none" and not ruled.config and ruled.module is None:
            # A bare command ("submit", "back", "cancel") needs no model call.
            return ruled
        try:
            found = self.primary.extract(message, context)
        except Exception as exc:  # any model failure: timeouts, HTTP errors, bad output
            reason = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
            log.warning("chat model %s failed (%s): using %s", self.primary.name, reason, ruled.extractor)
            return ruled.model_copy(update={"fallback_reason": reason})
        return merge_candidates(found, ruled)


def merge_candidates(primary: Candidates, secondary: Candidates) -> Candidates:
    """``primary``'s values, completed by ``secondary``'s where primary has none."""
    config = {**secondary.config, **primary.config}
    intent = primary.intent if primary.intent != "none" else secondary.intent
    # A deterministic command word outranks the model's reading of intent.
    if secondary.intent != "none":
        intent = secondary.intent
    return primary.model_copy(
        update={
            "project": primary.project or secondary.project,
            "environment": primary.environment or secondary.environment,
            "config": config,
            "preset": primary.preset or secondary.preset,
            "intent": intent,
            "use_default": sorted(set(primary.use_default) | set(secondary.use_default)),
            "unknown_fields": sorted(set(primary.unknown_fields) | set(secondary.unknown_fields)),
            "about": primary.about or secondary.about,
            "describe": primary.describe or secondary.describe,
            "status_ref": primary.status_ref or secondary.status_ref,
            # The rules know the catalogue's gaps: a "redis server" is not an EC2 instance.
            "module": secondary.module if secondary.unavailable else primary.module or secondary.module,
            "unavailable": secondary.unavailable,
            "problems": {k: v for k, v in {**secondary.problems, **primary.problems}.items() if k not in config},
        }
    )
