"""The module catalogue: ``load_registry`` reads and meta-validates every definition once at
start (a built-in definition the test suite checked is trusted by its digest:
``module_registry.checked``); ``Registry`` answers lookups (by id, or by a word such as
"bucket") and validates configs with validators compiled once per module, at its first use."""

from __future__ import annotations

import re
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from module_registry import checked, meta, validation
from module_registry.definition import ModuleDefinition
from module_registry.errors import RegistryError, UnknownModule
from module_registry.result import ValidationResult

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

DEFINITION_SUFFIXES = (".json", ".yaml", ".yml")
_NON_WORD = re.compile(r"[^a-z0-9+ ]+")
_MAX_NGRAM = 4


def builtin_modules_dir() -> Path:
    return Path(str(resources.files("module_registry") / "modules"))


def normalize(text: str) -> str:
    """Lowercase words separated by single spaces (hyphens and punctuation become spaces)."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def _singular(phrase: str) -> str:
    words = phrase.split(" ")
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ses", "xes")) and len(last) > 4:
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join([*words[:-1], last])


class Registry:
    """Validated module definitions, looked up by id or by the words people use for them."""

    def __init__(self, definitions: list[ModuleDefinition], *, source: str = "built-in") -> None:
        self.source = source
        self._by_id: dict[str, ModuleDefinition] = {}
        for definition in definitions:
            if definition.id in self._by_id:
                raise RegistryError(f"module id {definition.id!r} is defined twice", file=source)
            self._by_id[definition.id] = definition
        # Compiled at a module's first validation (jsonschema is imported then, not at start);
        # two threads racing compile the same validator twice and keep one.
        self._validators: dict[str, Draft202012Validator] = {}
        self._phrases: dict[str, set[str]] = {}
        for definition in self._by_id.values():
            for phrase in self._phrases_of(definition):
                self._phrases.setdefault(phrase, set()).add(definition.id)

    @staticmethod
    def _phrases_of(definition: ModuleDefinition) -> set[str]:
        raw = [definition.id, definition.title, *definition.keywords, *definition.synonyms]
        phrases = {normalize(text) for text in raw}
        phrases |= {_singular(p) for p in phrases if p}
        return {p for p in phrases if p}

    # --- lookups -----------------------------------------------------------------------------
    def modules(self) -> list[ModuleDefinition]:
        return [self._by_id[module_id] for module_id in sorted(self._by_id)]

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def has(self, module_id: str) -> bool:
        return module_id in self._by_id

    def get(self, module_id: str) -> ModuleDefinition:
        try:
            return self._by_id[module_id]
        except (KeyError, TypeError):
            raise UnknownModule(str(module_id), self._by_id) from None

    def __contains__(self, module_id: object) -> bool:
        return module_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def match(self, word: str) -> ModuleDefinition | None:
        """The module ``word`` names ("bucket", "container registry", "postgres"), or None.

        An exact phrase wins; otherwise the longest phrase found inside ``word`` wins, and a tie
        between different modules is ambiguous (None) rather than a guess."""
        ranked = self.search(word)
        if not ranked:
            return None
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None
        return self._by_id[ranked[0][0]]

    def search(self, text: str) -> list[tuple[str, int]]:
        """``[(module_id, score)]`` best first: every module a phrase in ``text`` names."""
        norm = normalize(text)
        if not norm:
            return []
        for candidate in (norm, _singular(norm)):
            ids = self._phrases.get(candidate)
            if ids and len(ids) == 1:
                return [(next(iter(ids)), 1000)]
        words = norm.split(" ")
        scores: dict[str, int] = {}
        for size in range(min(_MAX_NGRAM, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                for candidate in {phrase, _singular(phrase)}:
                    for module_id in self._phrases.get(candidate, ()):
                        # Longer phrases are more specific: score by words, so "container
                        # registry" beats "registry" but "role" ties with "bucket".
                        scores[module_id] = max(scores.get(module_id, 0), size)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def presets_for(self, module_id: str, environment: str, *, prod: bool) -> list[str]:
        """The module's presets that can be offered in ``environment``: those whose own values
        meet every constraint applying there (``scratch``, with ``force_destroy``, is not
        offered in production). File order."""
        definition = self.get(module_id)
        usable = []
        for name, preset in definition.presets.items():
            broken = any(
                constraint.field in preset
                and not validation.compile_validator(constraint.schema_).is_valid(preset[constraint.field])
                for constraint in definition.constraints
                if constraint.applies(environment, prod=prod)
            )
            if not broken:
                usable.append(name)
        return usable

    # --- validation --------------------------------------------------------------------------
    def validate(
        self,
        module_id: str,
        config: dict[str, Any],
        environment: str,
        *,
        prod: bool,
        project: str | None = None,
        lifting: Collection[str] = (),
    ) -> ValidationResult:
        """Defaults applied, field errors in plain words. ``project`` (optional) also checks the
        full resource name against its length limit; ``lifting`` names destroy-guard fields a
        prepare-destroy change sets to their safe value (allowed even where prod forbids it)."""
        definition = self.get(module_id)
        return validation.validate(
            definition,
            config,
            environment,
            prod=prod,
            project=project,
            validator=self._validator(module_id, definition),
            lifting=lifting,
        )

    def _validator(self, module_id: str, definition: ModuleDefinition) -> Draft202012Validator:
        validator = self._validators.get(module_id)
        if validator is None:
            validator = self._validators.setdefault(module_id, validation.compile_validator(definition.schema_))
        return validator


def definition_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in DEFINITION_SUFFIXES)


def load_definition(path: Path, *, trust_checked: bool = True) -> ModuleDefinition:
    """One definition file, fully checked (``RegistryError`` naming file and pointer); with
    ``trust_checked``, a file whose bytes are a built-in definition's as the test suite checked
    them is not meta-checked again (``module_registry.checked``)."""
    text = meta.read_definition_text(path)
    doc = meta.parse_document(text, path)
    known_good = trust_checked and checked.is_checked(text)
    return meta.check_document(doc, str(path), expected_id=path.stem, meta_checked=known_good)


def load_registry(modules_dir: Path | None = None, *, trust_checked: bool = True) -> Registry:
    """Every definition in ``modules_dir`` (None: the built-in modules), meta-validated
    (``trust_checked=False``: even the built-in definitions the test suite checked)."""
    directory = Path(modules_dir) if modules_dir is not None else builtin_modules_dir()
    if not directory.is_dir():
        raise RegistryError("modules directory does not exist", file=str(directory))
    files = definition_files(directory)
    if not files:
        raise RegistryError("no module definitions (*.json, *.yaml) found", file=str(directory))
    seen: dict[str, Path] = {}
    definitions = []
    for path in files:
        if path.stem in seen:
            raise RegistryError(f"module {path.stem!r} is also defined in {seen[path.stem].name}", file=str(path))
        seen[path.stem] = path
        definitions.append(load_definition(path, trust_checked=trust_checked))
    return Registry(definitions, source=str(directory))
