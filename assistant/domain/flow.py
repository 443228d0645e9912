"""The intake flow (pure): ``advance(session, message, candidates, ctx) -> (session, reply)``.

Steps: project -> environment -> module -> config -> confirm -> submitted | cancelled. Each
turn applies the extracted candidates, validates everything with the registry, and asks for
the one thing most needed next: an invalid value (explained, asked again), else the first
missing required field, else the confirm step (summary, optional settings and presets offered
once, and the exact Terraform that will be committed). Commands: back, cancel, start over,
show terraform, submit. A submit only goes through when the user confirms exactly what the
confirm step showed (a message that changes anything shows the confirm step again), so text
that smuggles in "submit" with new values can never create an unseen request.

No I/O here: rendering and creating go through ``FlowContext.preview`` / ``FlowContext.submit``,
callables the service provides.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from assistant.domain.catalog import ModuleView, ProjectsView, RegistryView, RequestBrief, TargetView
from assistant.domain.chat_model import Candidates, ExtractionContext, ModuleInfo
from assistant.domain.fields import (
    CoercionError,
    ConfigField,
    bare_title,
    coerce,
    describe_quantity,
    describe_value,
)
from assistant.domain.reply import Choice, FormField, FormSpec, Reply
from assistant.domain.rules import name_field, names_field
from assistant.domain.session import DEFAULT_TTL, ConversationKey, IntakeSession, Snapshot

MAX_CHOICES = 25
GREETING = (
    "Hi! I set up cloud resources through reviewed Terraform pull requests. Tell me what you need in plain "
    "words, e.g. _an S3 bucket called team-logs in payments dev_, and I'll ask for anything missing."
)
HELP = (
    "Tell me what you need in plain words, e.g. _an S3 bucket called team-logs in payments dev with versioning_. "
    "I ask for anything missing. You can say `change <field> to <value>`, `set <field> = <value>`, "
    "`use preset <name>`, `back`, `start over`, `show terraform`, `cancel`, and `submit` at the end."
)


@dataclass(frozen=True)
class Submitted:
    request_id: str
    link: str | None = None
    existing: bool = False  # the request already existed (a repeated submit)


class SubmitRefused(Exception):
    """The core refused the request; ``message`` is shown to the user as is."""

    def __init__(self, message: str, field_errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = dict(field_errors or {})


class PreviewFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Preview = Callable[[IntakeSession, dict[str, Any]], Mapping[str, str]]
Submit = Callable[[IntakeSession, dict[str, Any]], Submitted]


@dataclass
class FlowContext:
    registry: RegistryView
    projects: ProjectsView
    now: datetime
    new_request_id: Callable[[], str]
    new_session_id: Callable[[], str]
    preview: Preview | None = None  # (session with request id, validated config) -> {path: content}
    submit: Submit | None = None
    ttl: timedelta = DEFAULT_TTL
    notes: list[str] = field(default_factory=list)
    # Reasons explained on the previous turn for fields this message did not touch: the field is
    # asked for again without repeating the reason as if the user had just said something wrong.
    quiet_errors: dict[str, str] = field(default_factory=dict)
    applied_preset: str | None = None  # the preset this turn applied
    # Why this person may not open requests in production (the policy's words), or None when
    # they may: asked when a prod environment is chosen, not at submit.
    prod_refusal: Callable[[], str | None] | None = None
    my_requests: Callable[[], list[RequestBrief]] | None = None  # the person's recent requests
    find_request: Callable[[str], RequestBrief | None] | None = None  # by request id or resource name


@dataclass
class _Checked:
    """The registry's verdict on the session's current values."""

    ok: bool
    config: dict[str, Any]  # with defaults applied
    invalid: dict[str, str]  # given values that are wrong: field -> plain-words reason
    missing: list[str]  # required fields nobody gave yet (schema order)
    missing_reason: dict[str, str]
    general: list[str]  # errors not tied to one field


def start(key: ConversationKey, user_id: str, ctx: FlowContext) -> IntakeSession:
    return IntakeSession.start(key, user_id, session_id=ctx.new_session_id(), now=ctx.now, ttl=ctx.ttl)


def extraction_context(session: IntakeSession, registry: RegistryView, projects: ProjectsView) -> ExtractionContext:
    """What the extractors get to read a message against."""
    names = list(projects.names())
    if session.project and session.project in names:
        envs = list(projects.environments(session.project))
    else:
        envs = sorted({e for p in names for e in projects.environments(p)})
    modules = [_module_info(m) for m in registry.modules()]
    schema = None
    if session.module:
        try:
            schema = dict(registry.get(session.module).schema)
        except Exception:  # an unknown module id in an old session: the flow will ask again
            schema = None
    return ExtractionContext(
        projects=names,
        environments=envs,
        modules=modules,
        step=session.step,
        project=session.project,
        environment=session.environment,
        module=session.module if schema is not None else None,
        module_schema=schema,
        config=dict(session.config),
        pending_field=session.pending_field,
    )


def _module_info(module: ModuleView) -> ModuleInfo:
    return ModuleInfo(
        id=module.id,
        title=module.title,
        description=module.description or "",
        keywords=list(module.keywords or []),
        synonyms=list(module.synonyms or []),
        config_schema=dict(module.schema),
        presets=list((module.presets or {}).keys()),
    )


# --- the turn --------------------------------------------------------------------------------
def advance(
    session: IntakeSession, message: str, candidates: Candidates, ctx: FlowContext
) -> tuple[IntakeSession, Reply]:
    s = session.model_copy(deep=True)
    s.turns += 1
    s.touch(ctx.now, ctx.ttl)
    s.last_extractor = candidates.extractor
    intent = candidates.intent
    touched = set(candidates.config) | set(candidates.problems) | set(candidates.use_default)
    ctx.quiet_errors = {k: v for k, v in s.explained.items() if k not in touched}
    s.explained = {}

    if s.step == "submitted":
        if intent == "start_over":
            return _fresh(s, ctx, "Starting a new request.")
        text = f"This conversation already created request `{s.request_id}`."
        if intent != "submit":
            text += " Say `start over` to ask for something new."
        return s, _reply(s, text, request_id=s.request_id, link=s.request_link, done=True, submitted=True)
    if s.step == "cancelled":
        if intent == "back" and s.history:
            # A cancel by mistake: "back" picks the request up where it was.
            snap = s.history[-1]
            s.history = s.history[:-1]
            s.restore(snap)
            return s, _settle(s, ctx, ["Un-cancelled: here is where we were."])
        if intent in ("cancel", "back"):
            return s, _reply(s, "This request was cancelled. Tell me what you need to start a new one.", done=True)
        s = _restart(s, ctx)
        if intent == "start_over" or candidates.is_empty():
            return s, _settle(s, ctx, ["Starting a new request."])

    if intent == "cancel":
        s.remember()
        s.step = "cancelled"
        s.pending_field = None
        return s, _reply(s, "Cancelled: nothing was created. Tell me what you need to start again.", done=True)
    if intent == "start_over":
        return _fresh(s, ctx, "Starting over.")
    answer = _answer(s, candidates, ctx)
    if answer is not None:
        return s, _settle(s, ctx, [answer])
    if intent == "back":
        if not s.history:
            return s, _settle(s, ctx, ["There is nothing to go back to."])
        snap = s.history[-1]
        s.history = s.history[:-1]
        s.restore(snap)
        return s, _settle(s, ctx, ["Went back one step."])

    before = s.snapshot()
    notes = _apply(s, candidates, ctx)
    changed = s.snapshot() != before
    if changed:
        s.history = [*s.history, before][-30:]

    if intent == "show_terraform":
        return s, _acknowledged(_show_terraform(s, ctx, notes), before, s, ctx)
    if intent == "submit":
        if s.step == "confirm" and not changed:
            return s, _submit(s, ctx)
        if s.step == "confirm" and changed:
            notes.append("You changed something, so here it is again: please check it and confirm.")
        elif s.step != "confirm":
            notes.append("Not ready to submit yet.")
    if intent == "reject" and s.step == "confirm" and not changed:
        return s, _settle(s, ctx, ["OK, not submitting. What should I change? (e.g. `change <field> to <value>`)"])
    if not changed and not notes and intent == "none" and candidates.is_empty():
        fresh = before.step == "project" and not (s.project or s.environment or s.module)
        notes.append(GREETING if fresh else "Sorry, I didn't catch a value in that.")
    return s, _acknowledged(_settle(s, ctx, notes), before, s, ctx)


def _show_terraform(s: IntakeSession, ctx: FlowContext, notes: list[str]) -> Reply:
    reply = _settle(s, ctx, notes, show_terraform=True)
    if reply.terraform is None and reply.step != "confirm":
        reply.text = "There is no Terraform to show yet: I need a few more answers first.\n" + reply.text
    return reply


def _acknowledged(reply: Reply, before: Snapshot, s: IntakeSession, ctx: FlowContext) -> Reply:
    """The reply, opening with what this message changed ("Got it: an SQS queue in core/dev."),
    so the user sees what was understood before the next question. The first confirm step needs
    none: its summary lists everything."""
    preset = f"preset `{ctx.applied_preset}`" if ctx.applied_preset else None
    if reply.step == "confirm" and before.step != "confirm":
        if preset:
            reply.text = f"Applied {preset}.\n" + reply.text
        return reply
    parts: list[str] = []
    scope = f"{s.project}/{s.environment}" if s.project and s.environment else None
    scope_changed = scope is not None and (s.project, s.environment) != (before.project, before.environment)
    module = _module(ctx.registry, s.module)
    if module is not None and (s.module != before.module or (scope_changed and reply.step in ("config", "confirm"))):
        parts.append(_with_article(module.title) + (f" in {scope}" if scope else ""))
    elif scope_changed and reply.step in ("config", "confirm"):
        parts.append(scope or "")
    if module is not None:
        changed = []
        for info in list(module.fields()):
            if info.name in s.forced:
                continue  # stated as a fact by the settle step, not acknowledged as said
            if info.name in s.config and s.config[info.name] != before.config.get(info.name, _MISSING):
                changed.append(f"{_lower_title(info)} {_shown(s.config[info.name], info)}")
        if len(changed) > 4:
            changed = [*changed[:3], f"and {len(changed) - 3} more"]
        parts += changed
    if preset:
        head = f"Applied {preset}" + (": " + ", ".join(parts) if parts else "")
    elif parts:
        head = "Got it: " + ", ".join(parts)
    else:
        return reply
    reply.text = head + ".\n" + reply.text
    return reply


def _with_article(title: str) -> str:
    first = title.split(maxsplit=1)[0] if title.strip() else title
    # Initialisms are read letter by letter: "an S3 bucket", "an SQS queue", "a DynamoDB table".
    initialism = len(first) > 1 and (first[:2].isupper() or first[1].isdigit())
    vowel = first[:1].upper() in ("AEFHILMNORSX" if initialism else "AEIOU")
    return ("an " if vowel else "a ") + title


def _lower_title(info: ConfigField) -> str:
    title = bare_title(info)
    first = title.split(maxsplit=1)[0] if title.strip() else title
    # "PostgreSQL version", "TTL attribute": a word with inner capitals keeps them.
    return title if any(c.isupper() for c in first[1:]) else title[:1].lower() + title[1:]


def _shown(value: Any, info: ConfigField) -> str:
    if info.kind == "boolean" and isinstance(value, bool):
        return "on" if value else "off"
    if info.kind in ("integer", "number"):
        return describe_quantity(value, info.unit)
    return f"`{describe_value(value)}`" if info.kind in ("text", "select", "list") else describe_value(value)


def apply_form(session: IntakeSession, values: Mapping[str, Any], ctx: FlowContext) -> tuple[IntakeSession, Reply]:
    """The module's whole config from a form (modal); errors come back keyed by field and
    leave the session unchanged."""
    s = session.model_copy(deep=True)
    s.touch(ctx.now, ctx.ttl)
    if s.terminal:
        return advance(session, "", Candidates(), ctx)
    if not (s.project and s.environment and s.module):
        return s, _settle(s, ctx, ["Pick the project, environment and module before filling in the form."])
    module = ctx.registry.get(s.module)
    fields = {f.name: f for f in list(module.fields())}
    errors: dict[str, str] = {}
    config: dict[str, Any] = {}
    for key, raw in values.items():
        name = str(key)[:100]
        if name not in fields:
            errors[name] = f"{module.title} has no field {name!r}"
            continue
        if raw is None or raw in ("", []):
            continue  # left blank: the default applies
        try:
            config[name] = coerce(fields[name], raw)
        except CoercionError as exc:
            errors[name] = str(exc)
    target = _target(ctx.projects, s.project, s.environment)
    if not errors:
        result = ctx.registry.validate(
            s.module, dict(config), s.environment, prod=bool(target and target.prod), project=s.project
        )
        for err in result.errors:
            errors.setdefault(_top(err.field) or "_", _explain(err.message, err.allowed))
    if errors:
        text = "Some values need fixing:\n" + "\n".join(
            f"• {fields[n].heading if n in fields else n}: {m}" for n, m in errors.items()
        )
        reply = Reply(
            text=text,
            field_errors=errors,
            form=form_spec(module, {**s.config, **config}),
            step=s.step,
            request_id=s.request_id,
        )
        return session, reply
    s.remember()
    s.config = config
    s.errors = {}
    s.pending_field = None
    s.confirmed_digest = None
    return s, _settle(s, ctx, ["Got the form."])


def _explain_fields(registry: RegistryView, module_id: str | None, names: list[str]) -> list[str]:
    """What a question about fields ("what is fifo?") gets: each field in plain words."""
    module = _module(registry, module_id)
    if module is None or not names:
        return []
    out = []
    for info in list(module.fields()):
        if info.name not in names:
            continue
        parts = [f"*{bare_title(info)}* (`{info.name}`):"]
        if info.description:
            parts.append(info.description.rstrip(".") + ".")
        if info.enum:
            parts.append("Options: " + ", ".join(f"`{v}`" for v in info.enum[:MAX_CHOICES]) + ".")
        elif info.kind == "boolean":
            parts.append("Yes or no.")
        if info.unit:
            parts.append(f"In {info.unit}.")
        if info.has_default:
            parts.append(f"Default: {_shown(info.default, info)}.")
        out.append(" ".join(parts))
    return out


# --- discovery: the catalogue, a module, the person's requests -------------------------------
def _answer(s: IntakeSession, candidates: Candidates, ctx: FlowContext) -> str | None:
    """What a question or a request outside the catalogue gets (nothing changes), or None."""
    intent = candidates.intent
    if intent in ("describe_module", "help") and candidates.describe:
        return _describe_module(ctx, candidates.describe)
    if intent == "help":
        explained = _explain_fields(ctx.registry, s.module, candidates.about)
        if explained:
            return "\n".join(explained)
        scope = _scope_help(ctx, s) if {"project", "environment"} & set(candidates.about) else None
        return scope or _help(ctx, s)
    if intent == "list_modules":
        return _catalogue(ctx, s)
    if intent in ("my_requests", "status"):
        return _request_status(ctx, candidates.status_ref)
    if candidates.unavailable:
        what = candidates.unavailable
        return f"I can't create {_with_article(what)}: it is not in the catalogue.\n" + _catalogue(ctx, s)
    return None


def _help(ctx: FlowContext, s: IntakeSession) -> str:
    return HELP + " Ask `what can you create?` for the catalogue or `my requests` for what you asked for."


def _scope_help(ctx: FlowContext, s: IntakeSession) -> str | None:
    """A question while the project or environment is being asked: the projects with their
    descriptions (from the projects map), or the project's environments."""
    describe = getattr(ctx.projects, "description", None)
    if s.project is None:
        lines = []
        for name in ctx.projects.names():
            about = describe(name) if callable(describe) else None
            lines.append(f"• *{name}*" + (f": {about}" if about else ""))
        return "The projects:\n" + "\n".join(lines)
    if s.environment is None:
        envs = []
        for env in ctx.projects.environments(s.project):
            target = _target(ctx.projects, s.project, env)
            envs.append(f"`{env}`" + (" (production)" if target is not None and target.prod else ""))
        about = describe(s.project) if callable(describe) else None
        head = f"*{s.project}*" + (f": {about}." if about else ".")
        return f"{head} Its environments: {', '.join(envs)}."
    return None


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=[.!?])\s", (text or "").strip(), maxsplit=1)[0]
    return head.rstrip(".")


def where_available(ctx: FlowContext, module_id: str) -> list[str]:
    """The project/environment pairs whose allowlist takes ``module_id`` (all of them when the
    projects map lists none)."""
    out = []
    for project in ctx.projects.names():
        for env in ctx.projects.environments(project):
            target = _target(ctx.projects, project, env)
            if target is None or target.allowed_modules is None or module_id in target.allowed_modules:
                out.append(f"{project}/{env}")
    return out


def _catalogue(ctx: FlowContext, s: IntakeSession) -> str:
    """What can be created: every module in a line, and where the request goes if known."""
    target = _target(ctx.projects, s.project, s.environment)
    allowed = target.allowed_modules if target is not None else None
    here = f" in {s.project}/{s.environment}" if target is not None else ""
    lines, elsewhere = [], []
    for m in ctx.registry.modules():
        if allowed is not None and m.id not in allowed:
            elsewhere.append(m.title)
            continue
        lines.append(f"• *{m.title}* (`{m.id}`): {_first_sentence(m.description)}")
    text = f"I can create{here}:\n" + "\n".join(lines)
    if elsewhere:
        text += f"\nNot available{here}: " + ", ".join(elsewhere) + "."
    return text


def _describe_module(ctx: FlowContext, module_id: str) -> str:
    module = _module(ctx.registry, module_id)
    if module is None:
        return f"I don't know a module called `{module_id}`."
    fields = list(module.fields())
    required = [f"`{f.name}`" for f in fields if f.required and not f.has_default]
    optional = [f"`{f.name}`" for f in fields if not (f.required and not f.has_default)]
    parts = [f"*{module.title}* (`{module.id}`): {(module.description or '').strip().rstrip('.')}."]
    if required:
        parts.append("I need: " + ", ".join(required) + ".")
    if optional:
        parts.append("You can also set: " + ", ".join(optional[:12]) + ".")
    where = where_available(ctx, module.id)
    if where:
        parts.append("Available in: " + ", ".join(where) + ".")
    if module.presets:
        parts.append("Presets: " + ", ".join(f"`{p}`" for p in module.presets) + ".")
    return " ".join(parts)


def _brief_line(r: RequestBrief) -> str:
    name = f" `{r.name}`" if r.name else ""
    link = f" ({r.link})" if r.link else ""
    return f"• `{r.id}`: {r.module}{name} in {r.project}/{r.environment}: *{r.status}*{link}"


def _request_status(ctx: FlowContext, ref: str | None) -> str:
    if ref is not None:
        if ctx.find_request is None:
            return "I can't look requests up from here."
        found = ctx.find_request(ref)
        if found is None:
            return f"I found no request of yours matching `{ref}`. Say `my requests` to list them."
        return "Here it is:\n" + _brief_line(found)
    if ctx.my_requests is None:
        return "I can't look requests up from here."
    mine = ctx.my_requests()
    if not mine:
        return "You have no requests yet."
    return "Your recent requests:\n" + "\n".join(_brief_line(r) for r in mine[:10])


# --- applying candidates --------------------------------------------------------------------
def _apply(s: IntakeSession, cand: Candidates, ctx: FlowContext) -> list[str]:
    notes: list[str] = []
    names = list(ctx.projects.names())
    if cand.project is not None and cand.project != s.project:
        if cand.project in names:
            s.project = cand.project
        else:
            notes.append(f"I don't know a project called `{cand.project}`.")
    if cand.environment is not None and cand.environment != s.environment:
        s.environment = cand.environment  # checked against the project's environments in _settle
    if cand.module is not None and cand.module != s.module:
        try:
            new_module = ctx.registry.get(cand.module)
        except Exception:
            notes.append(f"I don't know a module called `{cand.module}`.")
        else:
            if s.module is not None:
                kept = set(_props(new_module))
                dropped = sorted(k for k in s.config if k not in kept)
                s.config = {k: v for k, v in s.config.items() if k in kept}
                if dropped:
                    notes.append(f"Switched to {new_module.title}; dropped {', '.join(dropped)} (not a field of it).")
            s.module = new_module.id
            s.pending_field = None
    notes += _apply_config(s, cand, ctx)
    if cand.about and cand.intent == "none":
        # A field named without a value ("change multi az"): explained and asked, not guessed.
        notes += _explain_fields(ctx.registry, s.module, cand.about)
    return notes


def _apply_config(s: IntakeSession, cand: Candidates, ctx: FlowContext) -> list[str]:
    notes: list[str] = []
    module = _module(ctx.registry, s.module)
    values = dict(cand.config)
    if cand.preset is not None:
        presets = _presets(ctx, s, module)
        if cand.preset in presets:
            for key, value in presets[cand.preset].items():
                values.setdefault(key, value)
            ctx.applied_preset = cand.preset  # said by _acknowledged, with the values it set
        else:
            known = ", ".join(sorted(presets)) or "none"
            notes.append(f"There is no preset `{cand.preset}` (presets: {known}).")
    props = _props(module) if module is not None else None
    unknown = list(cand.unknown_fields)
    for key, value in values.items():
        if props is not None and key not in props:
            unknown.append(key)
            continue
        if s.config.get(key, _MISSING) != value:
            s.config[key] = value
            s.errors.pop(key, None)
    for key, problem in cand.problems.items():
        if props is None or key in props:
            s.config.pop(key, None)
            s.errors[key] = _explain(problem, None)
    for key in cand.use_default:
        s.config.pop(key, None)
        s.errors.pop(key, None)
        if props is not None and key in props:
            s.config.pop(key, None)
    if unknown and module is not None:
        fields = ", ".join(f"`{f}`" for f in _props(module))
        notes.append(
            f"{module.title} has no field {', '.join(repr(u) for u in sorted(set(unknown)))}. Fields: {fields}."
        )
    return notes


_MISSING = object()


def _props(module: ModuleView | None) -> list[str]:
    if module is None:
        return []
    return list((module.schema.get("properties") or {}).keys())


def _module(registry: RegistryView, module_id: str | None) -> ModuleView | None:
    if module_id is None:
        return None
    try:
        return registry.get(module_id)
    except Exception:
        return None


def _presets(ctx: FlowContext, s: IntakeSession, module: ModuleView | None) -> dict[str, Mapping[str, Any]]:
    """The presets usable where this request goes: one whose values break the environment's
    constraints (``scratch`` with ``force_destroy`` in prod) is neither offered nor applied."""
    if module is None:
        return {}
    if s.environment is None:
        return dict(module.presets)
    target = _target(ctx.projects, s.project, s.environment)
    usable = set(ctx.registry.presets_for(module.id, s.environment, prod=bool(target and target.prod)))
    return {name: values for name, values in module.presets.items() if name in usable}


def _target(projects: ProjectsView, project: str | None, environment: str | None) -> TargetView | None:
    if project is None or environment is None:
        return None
    try:
        return projects.target(project, environment)
    except Exception:
        return None


def _top(path: str | None) -> str:
    if not path:
        return ""
    for part in re.split(r"[./\[\]]", path):
        if part:
            return part
    return ""


_LONG_RUN = re.compile(r"\S{61,}")


def _explain(message: str, allowed: str | None) -> str:
    """The registry's reason, with long echoed values shortened (replies stay readable)."""
    text = _LONG_RUN.sub(lambda m: m.group(0)[:40] + "…", message.strip()).rstrip(".")
    if allowed and allowed.lower() not in text.lower():
        text += f" (allowed: {allowed})"
    return text[:500]


# --- settling on the next question -----------------------------------------------------------
def _settle(
    s: IntakeSession,
    ctx: FlowContext,
    notes: list[str],
    *,
    show_terraform: bool = False,
) -> Reply:
    names = list(ctx.projects.names())
    if s.project is not None and s.project not in names:
        s.project = None
    if s.project is None and len(names) == 1:
        s.project = names[0]
    if s.project is None:
        return _ask_project(s, names, notes)
    envs = list(ctx.projects.environments(s.project))
    if s.environment is not None and s.environment not in envs:
        notes.append(f"Project `{s.project}` has no `{s.environment}` environment.")
        s.environment = None
    # Eligibility at the moment of choice: a prod environment this person may not use is said
    # now (the policy's reason), not after every question at submit.
    refusal = ctx.prod_refusal() if ctx.prod_refusal is not None else None
    refused_here = False  # the environment the user named was refused: never pick another silently
    if refusal:
        prod_envs = [e for e in envs if (t := _target(ctx.projects, s.project, e)) is not None and t.prod]
        if s.environment in prod_envs:
            notes.append(f"You can't request changes in {s.project}/{s.environment}: {refusal.rstrip('.')}.")
            s.environment = None
            refused_here = True
        envs = [e for e in envs if e not in prod_envs]
    # A module already named narrows the environments to those that take it.
    if s.module is not None and _module(ctx.registry, s.module) is not None:
        takes = [e for e in envs if f"{s.project}/{e}" in where_available(ctx, s.module)]
        if not takes:
            notes.append(_not_available(ctx, s.module, s.project))
            s.module = None
        elif s.environment is None or s.environment in envs:
            if s.environment is not None and s.environment not in takes:
                notes.append(_not_available(ctx, s.module, f"{s.project}/{s.environment}"))
                s.module = None
            else:
                envs = takes
    if not envs:
        other = [n for n in names if n != s.project]
        s.project = None
        s.environment = None
        return _ask_project(s, other or names, notes)
    if s.environment is None and len(envs) == 1 and not refused_here:
        s.environment = envs[0]
    if s.environment is None:
        return _ask_environment(s, envs, notes)
    target = _target(ctx.projects, s.project, s.environment)
    allowed = list(target.allowed_modules) if target is not None and target.allowed_modules is not None else None
    if s.module is not None and allowed is not None and s.module not in allowed:
        notes.append(_not_available(ctx, s.module, f"{s.project}/{s.environment}"))
        s.module = None
    module = _module(ctx.registry, s.module)
    if module is None:
        s.module = None
        return _ask_module(s, ctx, allowed, notes)
    prod = bool(target.prod) if target is not None else False
    return _settle_config(s, ctx, module, notes, prod=prod, show_terraform=show_terraform)


def _not_available(ctx: FlowContext, module_id: str, where: str) -> str:
    module = _module(ctx.registry, module_id)
    title = module.title if module is not None else module_id
    places = where_available(ctx, module_id)
    text = f"{_with_article(title)[:1].upper()}{_with_article(title)[1:]} (`{module_id}`) is not available in {where}"
    return text + (f"; it is available in {', '.join(places)}." if places else ".")


def _apply_forced(s: IntakeSession, fields: list[ConfigField], environment: str, prod: bool, notes: list[str]) -> None:
    """Values the environment's policy fixes (prod: multi-AZ on) are set and stated, never
    asked as a question whose other answer is refused."""
    forced: dict[str, tuple[Any, str]] = {}
    for f in fields:
        for fact in f.facts_for(environment, prod=prod):
            if "const" in fact.schema_:
                forced[f.name] = (fact.schema_["const"], fact.message)
    for name in [n for n in s.forced if n not in forced]:
        s.config.pop(name, None)  # the environment changed: the user never said it
    s.forced = [n for n in s.forced if n in forced]
    by_name = {f.name: f for f in fields}
    for name, (value, why) in forced.items():
        info = by_name[name]
        current = s.config.get(name, _MISSING)
        s.errors.pop(name, None)
        if current == value:
            continue
        where = "production" if prod else environment
        if current is not _MISSING:
            notes.append(f"{bare_title(info)} {why.rstrip('.')}, so it stays {_shown(value, info)}.")
        elif not (info.has_default and info.default == value):
            notes.append(f"{bare_title(info)} is {_shown(value, info)}: required in {where}.")
        s.config[name] = value
        if name not in s.forced:
            s.forced.append(name)


def _settle_config(
    s: IntakeSession, ctx: FlowContext, module: ModuleView, notes: list[str], *, prod: bool, show_terraform: bool
) -> Reply:
    fields = list(module.fields())
    _adopt_early_name(s, fields)
    assert s.environment is not None
    _apply_forced(s, fields, s.environment, prod, notes)
    checked = _check(ctx.registry, s, fields, prod)
    for name, why in checked.invalid.items():
        s.config.pop(name, None)
        s.errors[name] = why
    if checked.invalid:
        # Re-check without the rejected values: a required field may now be missing.
        checked = _check(ctx.registry, s, fields, prod)
    default_refused = set(checked.missing) | set(checked.missing_reason)
    # A rule across fields that names this one refuses its default too ("nobody could assume
    # this role" when the trusted services are left empty).
    default_refused |= {f.name for f in fields for problem in checked.general if names_field(problem, f)}
    by_name = {f.name: f for f in fields}
    # A value rejected earlier and not given again is asked for again, with the reason.
    s.errors = {n: m for n, m in s.errors.items() if n in by_name and n not in s.config}
    checked.invalid = {**s.errors, **checked.invalid}
    # The next question: a wrong value first, then the first missing required field.
    for name in [n for n in by_name if n in checked.invalid] + [n for n in checked.missing if n in by_name]:
        info = by_name[name]
        reason: str | None = checked.invalid.get(name) or checked.missing_reason.get(name)
        s.step = "config"
        s.pending_field = name
        s.confirmed_digest = None
        # A refused value of the user's: the default is still a fine answer. A refused default
        # (prod rules, cross-field rules): it is not.
        default_ok = name in checked.invalid and name not in default_refused
        return _ask_field(s, ctx, module, info, reason, notes, prod=prod, default_ok=default_ok)
    if checked.general:
        # A rule across fields ("nobody could assume this role: name a trusted service..."):
        # ask for the first field it names.
        problem = "; ".join(checked.general)
        for info in fields:
            if names_field(problem, info):
                s.step = "config"
                s.pending_field = info.name
                s.confirmed_digest = None
                return _ask_field(s, ctx, module, info, problem, notes, prod=prod, default_ok=False)
    if checked.general or not checked.ok:
        s.step = "config"
        s.pending_field = None
        s.confirmed_digest = None
        problems = checked.general or ["the registry rejected this configuration"]
        text = _join(notes, "This configuration is not valid yet: " + "; ".join(problems) + ".")
        text += " Change a value (`change <field> to <value>`) or say `start over`."
        return _reply(s, text, form=form_spec(module, s.config))
    s.errors = {}
    return _confirm(s, ctx, module, fields, checked.config, notes, show_terraform=show_terraform, prod=prod)


def _adopt_early_name(s: IntakeSession, fields: list[ConfigField]) -> None:
    # "called X" said before the module was known lands in "name": give it to the name field.
    if "name" in s.config and "name" not in {f.name for f in fields}:
        target = name_field(fields)
        value = s.config.pop("name")
        if target is not None and target.name not in s.config:
            s.config[target.name] = value
    known = {f.name for f in fields}
    for key in [k for k in s.config if k not in known]:
        s.config.pop(key)


def _check(registry: RegistryView, s: IntakeSession, fields: list[ConfigField], prod: bool) -> _Checked:
    assert s.module is not None and s.environment is not None
    result = registry.validate(s.module, dict(s.config), s.environment, prod=prod, project=s.project)
    invalid: dict[str, str] = {}
    missing: list[str] = []
    missing_reason: dict[str, str] = {}
    general: list[str] = []
    for err in result.errors:
        name = _top(err.field)
        reason = _explain(err.message, err.allowed)
        if not name:
            general.append(reason)
        elif name in s.config:
            invalid.setdefault(name, reason)
        elif name not in missing:
            missing.append(name)
            # A value nobody gave yet is a question, not an error: asking says it is needed.
            if not err.message.strip().lower().startswith("is required"):
                missing_reason[name] = reason
    order = [f.name for f in fields]
    for f in fields:
        if f.required and f.name not in s.config and not f.has_default and f.name not in missing:
            missing.append(f.name)
    missing.sort(key=lambda n: order.index(n) if n in order else len(order))
    return _Checked(
        ok=result.ok,
        config=dict(result.config),
        invalid=invalid,
        missing=missing,
        missing_reason=missing_reason,
        general=general,
    )


def _digest(s: IntakeSession, config: Mapping[str, Any]) -> str:
    body = json.dumps(
        [s.project, s.environment, s.module, s.request_id, config], sort_keys=True, default=str, ensure_ascii=True
    )
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def validated_config(s: IntakeSession, ctx: FlowContext) -> dict[str, Any] | None:
    """The config with defaults when the session is valid as it stands, else None."""
    if not (s.project and s.environment and s.module):
        return None
    target = _target(ctx.projects, s.project, s.environment)
    result = ctx.registry.validate(
        s.module, dict(s.config), s.environment, prod=bool(target and target.prod), project=s.project
    )
    return dict(result.config) if result.ok else None


def _confirm(
    s: IntakeSession,
    ctx: FlowContext,
    module: ModuleView,
    fields: list[ConfigField],
    config: dict[str, Any],
    notes: list[str],
    *,
    show_terraform: bool,
    prod: bool,
) -> Reply:
    s.step = "confirm"
    s.pending_field = None
    if s.request_id is None:
        s.request_id = ctx.new_request_id()
    terraform, preview_problem = _preview(s, ctx, config)
    shown_before = s.confirmed_digest
    s.confirmed_digest = _digest(s, config) if preview_problem is None else None
    # The whole summary and the Terraform are shown once (and on `show terraform`); later confirm
    # steps (an edit) open with what changed (see ``_acknowledged``) and stay short.
    full = show_terraform or not s.terraform_shown
    same = shown_before is not None and shown_before == s.confirmed_digest
    lines = _summary(s, module, fields, config, prod=prod)
    choices = [Choice(label="Submit", value="submit"), Choice(label="Cancel", value="cancel")]
    changes: str | None = None
    if full:
        head = "Here is the request" if not show_terraform else "This is the Terraform that will be committed"
        text = _join(notes, head + f" (`{s.request_id}`):\n" + "\n".join(lines))
        if terraform is not None:
            text += "\nTerraform attached."
        s.terraform_shown = s.terraform_shown or terraform is not None
    else:
        state = "is unchanged" if same else "updated; everything else is as before"
        text = _join(notes, f"Request `{s.request_id}` {state}.")
        if terraform is not None and not same:
            changes = terraform_diff(s.last_terraform, terraform)
    if terraform is not None:
        s.last_terraform = terraform
    if not full:
        terraform = None
    if not s.offered_optional:
        s.offered_optional = True
        # The summary lists every value already; what it cannot show is a setting left unset.
        optional = [f for f in fields if not f.required and f.name not in config]
        if optional:
            text += "\nOptional settings you can add: " + ", ".join(f"`{f.name}`" for f in optional[:12]) + "."
        presets = sorted(_presets(ctx, s, module))
        if presets:
            text += "\nPresets: " + ", ".join(f"`{p}`" for p in presets) + " (say `use preset <name>`)."
            choices += [Choice(label=f"Preset: {p}", value=f"use preset {p}") for p in presets[: MAX_CHOICES - 2]]
    if preview_problem:
        text += f"\nI could not render the Terraform: {preview_problem}. Change a value or say `start over`."
        choices = [Choice(label="Cancel", value="cancel")]
    else:
        text += "\nSay `submit` to create it, `change <field> to <value>` to edit, or `cancel`."
        if not full and not same:
            text += " (`show terraform` shows the updated files.)"
    reply = _reply(s, text, choices=choices, terraform=terraform, form=form_spec(module, s.config))
    reply.terraform_changes = changes
    return reply


def _preview(s: IntakeSession, ctx: FlowContext, config: dict[str, Any]) -> tuple[str | None, str | None]:
    """The Terraform the request would commit (its files joined), or why it cannot be rendered."""
    if ctx.preview is None:
        return None, None
    try:
        files = ctx.preview(s, config)
    except PreviewFailed as exc:
        return None, exc.message
    joined = "\n".join(f"# {path}\n{content}" if len(files) > 1 else content for path, content in sorted(files.items()))
    return joined, None


def terraform_diff(before: str | None, after: str) -> str | None:
    """The lines of ``after`` that differ from ``before``, as a unified diff without context
    (``-``/``+`` lines under ``@@`` hunk headers); None when there is nothing to compare."""
    if before is None or before == after:
        return None
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", n=0, lineterm="")
    return "\n".join(line for line in lines if not line.startswith(("---", "+++"))) or None


def _summary(
    s: IntakeSession, module: ModuleView, fields: list[ConfigField], config: dict[str, Any], *, prod: bool
) -> list[str]:
    """The confirm summary: what the user said (a line each), what policy fixed, the defaults on
    one line."""
    where = "production" if prod else s.environment
    given, fixed, defaults = [], [], []
    for f in fields:
        if f.name not in config:
            continue
        value = config[f.name]
        shown = describe_quantity(value, f.unit) if f.kind in ("integer", "number") else describe_value(value)
        if f.name in s.forced:
            fixed.append(f"• {bare_title(f)} (`{f.name}`): {shown} _(required in {where})_")
        elif f.name in s.config:
            given.append(f"• {bare_title(f)} (`{f.name}`): {shown}")
        else:
            defaults.append(f"{_lower_title(f)} {_shown(value, f)}")
    lines = [f"*{module.title}* (`{module.id}`) in *{s.project}/{s.environment}*{' (production)' if prod else ''}"]
    lines += given + fixed
    if defaults:
        lines.append("Defaults: " + ", ".join(defaults) + ".")
    return lines


def _submit(s: IntakeSession, ctx: FlowContext) -> Reply:
    config = validated_config(s, ctx)
    if config is None or s.confirmed_digest is None or s.confirmed_digest != _digest(s, config):
        s.confirmed_digest = None
        return _settle(s, ctx, ["Something changed since I showed you the request: please check it again."])
    if ctx.submit is None:
        return _reply(s, "Submitting is not available here.", request_id=s.request_id)
    try:
        done = ctx.submit(s, config)
    except SubmitRefused as exc:
        return _reply(
            s,
            f"I could not create the request: {exc.message}\nChange something (e.g. the environment) or `cancel`.",
            field_errors=exc.field_errors,
            choices=[Choice(label="Cancel", value="cancel")],
            request_id=s.request_id,
        )
    s.step = "submitted"
    s.pending_field = None
    s.request_id = done.request_id
    s.request_link = done.link
    text = f"Request `{done.request_id}` {'was already' if done.existing else 'is'} created"
    text += f", with pull request {done.link}." if done.link else "."
    text += " Its plan will be posted in the request's thread."
    return _reply(s, text, request_id=done.request_id, link=done.link, done=True, submitted=True)


def _restart(s: IntakeSession, ctx: FlowContext) -> IntakeSession:
    fresh = IntakeSession.start(s.key, s.user_id, session_id=ctx.new_session_id(), now=ctx.now, ttl=ctx.ttl)
    fresh.turns = s.turns
    fresh.version = s.version
    return fresh


def _fresh(s: IntakeSession, ctx: FlowContext, note: str) -> tuple[IntakeSession, Reply]:
    fresh = _restart(s, ctx)
    return fresh, _settle(fresh, ctx, [note])


# --- questions -------------------------------------------------------------------------------
def _ask_project(s: IntakeSession, names: list[str], notes: list[str]) -> Reply:
    s.step = "project"
    s.pending_field = None
    choices = [Choice(label=n, value=n) for n in names[:MAX_CHOICES]]
    return _reply(s, _join(notes, "Which project is this for?"), choices=choices, question="project")


def _ask_environment(s: IntakeSession, envs: list[str], notes: list[str]) -> Reply:
    s.step = "environment"
    s.pending_field = None
    choices = [Choice(label=e, value=e) for e in envs[:MAX_CHOICES]]
    return _reply(s, _join(notes, f"Which environment of `{s.project}`?"), choices=choices, question="environment")


def _ask_module(s: IntakeSession, ctx: FlowContext, allowed: list[str] | None, notes: list[str]) -> Reply:
    s.step = "module"
    s.pending_field = None
    modules = [m for m in ctx.registry.modules() if allowed is None or m.id in allowed]
    choices = [Choice(label=m.title, value=m.id) for m in modules[:MAX_CHOICES]]
    text = _join(notes, f"What should I create in {s.project}/{s.environment}?")
    return _reply(s, text, choices=choices, question="module")


def _ask_field(
    s: IntakeSession,
    ctx: FlowContext,
    module: ModuleView,
    info: ConfigField,
    reason: str | None,
    notes: list[str],
    *,
    prod: bool,
    default_ok: bool = True,
) -> Reply:
    title = bare_title(info)
    # Said on the last turn and untouched since: ask again without repeating the reason.
    quiet = reason is not None and ctx.quiet_errors.get(info.name) == reason
    if reason:
        s.explained = {info.name: reason}
    if reason and not quiet:
        notes = [*notes, f"{title}: {reason}."]
    kind = info.kind
    if kind == "boolean":
        question = f"Should *{title}* be on?"
    elif kind == "select":
        question = f"Which *{title}*?"
    else:
        question = f"What should *{title}* be{f' (in {info.unit})' if info.unit else ''}?"
    said = " ".join([*notes, reason or ""]).lower()
    extra = []
    if info.description:
        extra.append(info.description.rstrip(".") + ".")
        said += " " + info.description.lower()
    shape = info.schema.get("x-pattern-help")
    if isinstance(shape, str) and shape and kind == "text" and shape.lower().rstrip(".") not in said:
        extra.append(f"Use {shape.rstrip('.')}.")
        said += " " + shape.lower()
    if info.minimum is not None or info.maximum is not None:
        lo = "" if info.minimum is None else f"at least {describe_value(_num(info.minimum))}"
        hi = "" if info.maximum is None else f"at most {describe_value(_num(info.maximum))}"
        extra.append(" and ".join(p for p in (lo, hi) if p).capitalize() + ".")
    if info.examples and kind not in ("boolean", "select"):
        example = describe_value(info.examples[0])
        if example.lower() not in said:  # the shape's own example is enough
            extra.append(f"Example: `{example}`.")
    if info.has_default and default_ok:
        extra.append(f"Default: {_shown(info.default, info)}.")
    choices: list[Choice] = []
    if kind == "boolean":
        choices = [Choice(label="Yes", value="yes"), Choice(label="No", value="no")]
    elif info.enum:
        options = _named_first(list(info.enum), reason)
        choices = [Choice(label=str(v), value=str(v)) for v in options[:MAX_CHOICES]]
    if info.has_default and kind != "boolean" and default_ok:
        # After a refusal the default may be the very thing refused: offer it only on a plain ask.
        label = describe_quantity(info.default, info.unit) if info.unit else describe_value(info.default)
        choices.append(Choice(label=f"Default ({label})", value="default"))
    text = _join(notes, question + (" " + " ".join(extra) if extra else ""))
    reply = _reply(s, text, choices=choices[:MAX_CHOICES], question=info.name, form=form_spec(module, s.config))
    if reason and not quiet:
        reply.field_errors = {info.name: reason}
    return reply


def _named_first(options: list[Any], reason: str | None) -> list[Any]:
    """The options a refusal names first, in the order it names them: what it allows ("must be
    arm64 ...") or the option a near miss meant ("did you mean GLACIER?")."""
    if not reason:
        return options
    at: list[tuple[int, int]] = []  # (where the reason names it, option index)
    for index, v in enumerate(options):
        found = re.search(rf"(?<![\w.-]){re.escape(str(v))}(?![\w-])", reason)
        if found:
            at.append((found.start(), index))
    named = [options[index] for _, index in sorted(at)]
    return named + [v for v in options if v not in named]


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def form_spec(module: ModuleView, values: Mapping[str, Any]) -> FormSpec:
    fields = [FormField.of(f, values.get(f.name)) for f in list(module.fields())]
    return FormSpec(module=module.id, title=module.title, fields=fields)


def _join(notes: list[str], text: str) -> str:
    return "\n".join([*dict.fromkeys(n for n in notes if n), text])


def _reply(s: IntakeSession, text: str, **kwargs: Any) -> Reply:
    kwargs.setdefault("step", s.step)
    kwargs.setdefault("extractor", s.last_extractor)
    if "request_id" not in kwargs and s.step == "confirm":
        kwargs["request_id"] = s.request_id
    return Reply(text=text, **kwargs)
