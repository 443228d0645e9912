"""The registry's exceptions: what callers catch and what they tell the user.

``RegistryError`` is an operator problem (a broken module definition or projects map) and names
the file and the JSON pointer of the bad value; the others are refusals of user input whose
messages are written to be shown as-is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from module_registry.result import FieldError


class ModuleRegistryError(Exception):
    """Base of every error this package raises."""


class RegistryError(ModuleRegistryError):
    """A module definition or projects map is broken; start-up is refused."""

    def __init__(self, message: str, *, file: str | None = None, pointer: str | None = None) -> None:
        self.file = file
        self.pointer = pointer
        self.reason = message
        where = ""
        if file is not None:
            where = f"{file}"
            if pointer is not None:
                where += f" at {pointer or '/'}"
            where += ": "
        super().__init__(where + message)


class UnknownModule(ModuleRegistryError, LookupError):
    """No module with this id (the message lists the known ones)."""

    def __init__(self, module_id: str, known: Iterable[str] = ()) -> None:
        self.module_id = module_id
        self.known = sorted(known)
        hint = f"; known modules: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown module {module_id!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownProject(ModuleRegistryError, LookupError):
    """No such project, or no such environment in the project."""

    def __init__(self, project: str, environment: str | None = None, known: Iterable[str] = ()) -> None:
        self.project = project
        self.environment = environment
        self.known = sorted(known)
        if environment is None:
            what = f"unknown project {project!r}"
            hint = f"; known projects: {', '.join(self.known)}" if self.known else ""
        else:
            what = f"project {project!r} has no environment {environment!r}"
            hint = f"; its environments: {', '.join(self.known)}" if self.known else ""
        super().__init__(what + hint)

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidName(ModuleRegistryError, ValueError):
    """An identifier or resource name was refused (before any path or name was built from it)."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {kind} {value!r}: {reason}")


class ConfigRejected(ModuleRegistryError, ValueError):
    """A module config failed validation; ``errors`` holds one entry per bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        lines = [error.describe() for error in self.errors] or ["the config was rejected"]
        super().__init__("; ".join(lines))
