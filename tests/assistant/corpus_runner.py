"""Runs the utterance corpus (``corpus.yaml``, and the held-out ``corpus_holdout.yaml`` and ``corpus_holdout_2.yaml``) against
the real module registry and the example projects map: extraction accuracy of the first message
(field level and request level), the number of turns to a submitted request, answering follow-up
questions like a user would, and SILENT MISREADS: a value that reaches the confirm step without
the user having said it (the line's own values, the runner's answers to questions, and values
the environment's policy fixes and states are the only ones allowed there).

A line with ``expect`` is a dialogue check instead: ``text`` then each of ``then`` is sent (as
``user`` if given) and the last reply must contain each of ``contains``, none of
``not_contains``, be at one of ``step`` (and none of ``not_step``), leave every ``unset`` field
unset, never select ``not_module``, and be ``done`` when asked.
Shared by ``test_corpus.py`` (which asserts floors) and ``bench/bench_assistant.py`` (which
prints the numbers)."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.domain.chat_model import Candidates, ChatModel
from assistant.domain.fields import describe_value, field_map
from assistant.domain.flow import extraction_context
from assistant.domain.reply import Reply
from assistant.domain.rules import RuleExtractor
from assistant.domain.session import ConversationKey, IntakeSession
from assistant.service import IntakeService
from bot.views.refusals import reason_text
from core.domain.request import Requester
from tests.assistant.fakes import FakeQueries, FakeRequestService
from tests.fakes import InMemoryChatLog, InMemoryObjectStore, ManualClock

CORPUS = Path(__file__).with_name("corpus.yaml")
HOLDOUT = Path(__file__).with_name("corpus_holdout.yaml")
# Held-out lines added later (each part written before it was first run, never tuned on).
HOLDOUTS = (HOLDOUT, Path(__file__).with_name("corpus_holdout_2.yaml"))
USER = Requester(id="U_CORPUS", name="corpus")
MAX_TURNS = 15


@dataclass
class Utterance:
    text: str
    project: str | None
    environment: str | None
    module: str | None
    preset: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    holdout: bool = False  # added after the extractor was tuned; never tuned on
    then: list[str] = field(default_factory=list)  # dialogue lines: the messages after ``text``
    expect: dict[str, Any] | None = None  # dialogue lines: what the last reply must show
    user: str | None = None  # who says it (default: a person on the prod allowlist)

    @property
    def dialogue(self) -> bool:
        return self.expect is not None


@dataclass
class Outcome:
    utterance: Utterance
    candidates: Candidates
    fields_total: int
    fields_correct: int
    wrong: list[str]  # "field: got X, expected Y"
    complete: bool  # the line states every value a valid request needs
    turns: int | None  # user messages until submitted (None: never got there)
    transcript: list[str]
    misreads: list[str] = field(default_factory=list)  # values at confirm nobody said

    @property
    def exact(self) -> bool:
        return self.fields_correct == self.fields_total


@dataclass
class Report:
    outcomes: list[Outcome]

    def part(self, *, holdout: bool) -> Report:
        return Report([o for o in self.outcomes if o.utterance.holdout == holdout])

    @property
    def request_accuracy(self) -> float:
        return sum(o.exact for o in self.outcomes) / len(self.outcomes)

    @property
    def field_accuracy(self) -> float:
        return sum(o.fields_correct for o in self.outcomes) / sum(o.fields_total for o in self.outcomes)

    def turns(self, *, complete_only: bool = False) -> list[int]:
        return [o.turns for o in self.outcomes if o.turns is not None and (o.complete or not complete_only)]

    @property
    def unfinished(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.turns is None and not o.utterance.dialogue]

    @property
    def silent_misreads(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.misreads]

    def summary(self) -> dict[str, Any]:
        all_turns = self.turns()
        complete = self.turns(complete_only=True)
        return {
            "utterances": len(self.outcomes),
            "modules": len({o.utterance.module for o in self.outcomes}),
            "request_exact": round(self.request_accuracy, 3),
            "silent_misreads": len(self.silent_misreads),
            "dialogue_lines": sum(o.utterance.dialogue for o in self.outcomes),
            "field_accuracy": round(self.field_accuracy, 3),
            "submitted": len(all_turns),
            "median_turns": statistics.median(all_turns) if all_turns else None,
            "p95_turns": _p95(all_turns),
            "complete_requests": len(complete),
            "median_turns_complete": statistics.median(complete) if complete else None,
            "p95_turns_complete": _p95(complete),
        }


def _p95(values: list[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(0.95 * len(ordered)) - 1)  # nearest rank
    return float(ordered[index])


def load_corpus(path: Path | None = None) -> list[Utterance]:
    """Every part (``corpus.yaml`` tuned, the ``corpus_holdout*.yaml`` held out), or one file."""
    if path is None:
        return load_corpus(CORPUS) + [_held_out(u) for part in HOLDOUTS for u in load_corpus(part)]
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Utterance(
            text=item["text"],
            project=item.get("project"),
            environment=item.get("environment"),
            module=item.get("module"),
            preset=item.get("preset"),
            config=dict(item.get("config") or {}),
            answers=dict(item.get("answers") or {}),
            holdout=bool(item.get("holdout", False)),
            then=[str(t) for t in item.get("then") or []],
            expect=dict(item["expect"]) if item.get("expect") is not None else None,
            user=item.get("user"),
        )
        for item in raw
    ]


def _held_out(u: Utterance) -> Utterance:
    u.holdout = True
    return u


def _fresh_session() -> IntakeSession:
    return IntakeSession.start(
        ConversationKey(team_id="T", channel="C", thread_ts="0"), USER.id, session_id="ses_x", now=ManualClock().now()
    )


def score(u: Utterance, cand: Candidates) -> tuple[int, int, list[str]]:
    expected: dict[str, Any] = {"project": u.project, "environment": u.environment, "module": u.module}
    got: dict[str, Any] = {"project": cand.project, "environment": cand.environment, "module": cand.module}
    if u.preset is not None or cand.preset is not None:
        expected["preset"], got["preset"] = u.preset, cand.preset
    for key in set(u.config) | set(cand.config):
        expected[f"config.{key}"] = u.config.get(key)
        got[f"config.{key}"] = cand.config.get(key)
    wrong = [f"{k}: got {got[k]!r}, expected {expected[k]!r}" for k in sorted(expected) if got[k] != expected[k]]
    return len(expected), len(expected) - len(wrong), wrong


def is_complete(u: Utterance, registry: Any, projects: Any) -> bool:
    if not (u.project and u.environment and u.module):
        return False
    target = projects.target(u.project, u.environment)
    if target.allowed_modules is not None and u.module not in target.allowed_modules:
        return False
    config = dict(registry.get(u.module).presets.get(u.preset, {})) if u.preset else {}
    config.update(u.config)
    result = registry.validate(u.module, config, u.environment, prod=target.prod, project=u.project)
    return bool(result.ok)


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def answer_for(u: Utterance, session: IntakeSession, reply: Reply, registry: Any) -> str:
    """What the user types next: the value they meant, or a sensible one for what is asked."""
    if session.step == "project":
        return str(u.answers.get("project") or u.project)
    if session.step == "environment":
        return str(u.answers.get("environment") or u.environment)
    if session.step == "module":
        return str(u.answers.get("module") or u.module)
    name = session.pending_field
    if name is None:
        return "start over"
    if name in u.answers:
        return _as_text(u.answers[name])
    reason = (reply.field_errors.get(name) or "").lower()
    info = field_map(registry.get(session.module).schema).get(name)
    if info is not None and info.kind == "boolean":
        if any(w in reason for w in ("must be on", "must be true", "(allowed: true)")):
            return "yes"
        if any(w in reason for w in ("cannot be enabled", "must be off", "(allowed: false)")):
            return "no"
    if name in u.config and name not in session.errors:
        return _as_text(u.config[name])
    if info is not None and info.kind in ("integer", "number"):
        # A bound the explanation states ("more than allocated_storage (100)") is read and met.
        bound = re.search(r"\b(more than|greater than|above|at least)\b[^0-9]*?(\d+)", reason)
        if bound:
            value = int(bound.group(2)) * (2 if bound.group(1) != "at least" else 1)
            return str(min(value, int(info.maximum)) if info.maximum is not None else value)
    choices = [c.value for c in reply.choices if c.value != "default"]
    if choices:
        return choices[0]
    if info is not None and info.examples:
        return _as_text(info.examples[0])
    if info is not None and info.minimum is not None:
        return describe_value(int(info.minimum))
    return "default"


def _service(model: ChatModel | None, registry: Any, projects: Any) -> IntakeService:
    clock = ManualClock()
    requests = FakeRequestService(clock, prod_allowed={USER.id})
    counter = itertools.count(1)
    return IntakeService(
        InMemoryObjectStore(),
        InMemoryChatLog(),
        registry,
        projects,
        requests,
        model,
        clock,
        new_session_id=lambda: f"ses_{next(counter):012d}",
        new_request_id_fn=lambda: f"req_{next(counter):012d}",
        queries=FakeQueries(requests),
        refusal_text=reason_text,
    )


def misreads_at_confirm(u: Utterance, session: IntakeSession, answered: set[str], registry: Any) -> list[str]:
    """Values in the confirm step that the user did not say: not in the line, not answered
    to a question, not a preset's, not fixed (and stated) by the environment's policy."""
    out = []
    for part in ("project", "environment", "module"):
        expected, got = getattr(u, part), getattr(session, part)
        if expected is not None and got != expected and part not in answered:
            out.append(f"{part}: {got!r} (said {expected!r})")
    module = registry.get(session.module) if session.module else None
    preset = dict(module.presets.get(u.preset, {})) if u.preset and module is not None else {}
    defaults = {f.name: f.default for f in module.fields() if f.has_default} if module is not None else {}
    for key, value in session.config.items():
        if key in session.forced or key in answered:
            continue
        if key in u.config:
            if value != u.config[key]:
                out.append(f"config.{key}: {value!r} (said {u.config[key]!r})")
        elif key in u.answers:
            if value != u.answers[key]:
                out.append(f"config.{key}: {value!r} (meant {u.answers[key]!r})")
        elif key not in preset and not (key in defaults and value == defaults[key]):
            # A value equal to the default changes nothing in the request: not a misread.
            out.append(f"config.{key}: {value!r} (never said)")
    return out


def run_one(u: Utterance, registry: Any, projects: Any, model: ChatModel | None = None) -> Outcome:
    if u.dialogue:
        return run_dialogue(u, registry, projects, model)
    service = _service(model, registry, projects)
    key = ConversationKey(team_id="T", channel="C", thread_ts="1")
    extractor = model or RuleExtractor()
    cand = extractor.extract(u.text, extraction_context(_fresh_session(), registry, projects))
    total, correct, wrong = score(u, cand)
    transcript: list[str] = []
    misreads: list[str] = []
    answered: set[str] = set()
    text = u.text
    turns: int | None = None
    for turn in range(1, MAX_TURNS + 1):
        reply = service.handle(key, USER, text)
        transcript.append(f"> {text}")
        transcript.append("< " + reply.text.split("\n")[-1][:160])
        if reply.submitted:
            turns = turn
            break
        session = service.session(key)
        assert session is not None
        if session.step == "confirm":
            misreads += [m for m in misreads_at_confirm(u, session, answered, registry) if m not in misreads]
        answered.add(session.pending_field or session.step)
        text = "submit" if session.step == "confirm" else answer_for(u, session, reply, registry)
    outcome = Outcome(u, cand, total, correct, wrong, is_complete(u, registry, projects), turns, transcript)
    outcome.misreads = misreads
    return outcome


def run_dialogue(u: Utterance, registry: Any, projects: Any, model: ChatModel | None = None) -> Outcome:
    """A dialogue line: the messages are sent and the last reply checked against ``expect``."""
    assert u.expect is not None
    service = _service(model, registry, projects)
    key = ConversationKey(team_id="T", channel="C", thread_ts="1")
    user = Requester(id=u.user, name=u.user) if u.user else USER
    extractor = model or RuleExtractor()
    cand = extractor.extract(u.text, extraction_context(_fresh_session(), registry, projects))
    transcript: list[str] = []
    reply = None
    for text in [u.text, *u.then]:
        reply = service.handle(key, user, text)
        transcript += [f"> {text}", "< " + reply.text.replace("\n", " / ")[:300]]
    assert reply is not None
    session = service.session(key)
    step = session.step if session is not None else None
    config = dict(session.config) if session is not None else {}
    low = reply.text.lower()
    want = u.expect
    wrong = [f"reply lacks {c!r}" for c in want.get("contains", []) if c.lower() not in low]
    wrong += [f"reply has {c!r}" for c in want.get("not_contains", []) if c.lower() in low]
    if want.get("step") and step not in want["step"]:
        wrong.append(f"step {step!r}, expected one of {want['step']}")
    if step in want.get("not_step", []):
        wrong.append(f"step {step!r}")
    if "done" in want and bool(reply.done) != bool(want["done"]):
        wrong.append(f"done {reply.done}")
    misreads = [
        f"config.{name}: {config[name]!r} (a question, stored)" for name in want.get("unset", []) if name in config
    ]
    if want.get("not_module") and session is not None and session.module == want["not_module"]:
        misreads.append(f"module: {session.module!r} (not asked for)")
    wrong += misreads
    outcome = Outcome(u, cand, 1, 0 if wrong else 1, wrong, False, None, transcript)
    outcome.misreads = misreads
    return outcome


def run_corpus(registry: Any = None, projects: Any = None, model: ChatModel | None = None) -> Report:
    from module_registry import catalogue
    from module_registry import projects as projects_module

    registry = registry or catalogue.load_registry()
    projects = projects or projects_module.load_projects()
    return Report([run_one(u, registry, projects, model) for u in load_corpus()])
