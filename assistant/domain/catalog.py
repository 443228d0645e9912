"""What the assistant needs from the module registry and the projects map, as Protocols.

``module_registry.catalogue.Registry`` and ``module_registry.projects.ProjectsMap`` satisfy them
structurally; tests may pass small fakes. Keeping the flow typed against these (and not the
concrete classes) keeps ``assistant.domain`` pure and easy to drive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from core.services.registry_view import FieldErrorView, ValidationView
from module_registry.fields import ConfigField

__all__ = [
    "FieldErrorView",
    "ModuleView",
    "ProjectsView",
    "RegistryView",
    "RequestBrief",
    "TargetView",
    "ValidationView",
]


class ModuleView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def synonyms(self) -> Sequence[str]: ...
    @property
    def schema(self) -> Mapping[str, Any]: ...
    @property
    def presets(self) -> Mapping[str, Mapping[str, Any]]: ...
    def fields(self) -> Sequence[ConfigField]:
        """The config fields, built once by the registry from the schema and constraints."""
        ...


class RegistryView(Protocol):
    def modules(self) -> Sequence[ModuleView]: ...
    def get(self, module_id: str) -> ModuleView: ...
    def validate(
        self, module_id: str, config: dict[str, Any], environment: str, *, prod: bool, project: str | None = None
    ) -> ValidationView: ...
    def presets_for(self, module_id: str, environment: str, *, prod: bool) -> Sequence[str]:
        """The module's presets whose values meet the environment's constraints."""
        ...


class TargetView(Protocol):
    @property
    def prod(self) -> bool: ...
    @property
    def allowed_modules(self) -> Sequence[str] | None: ...


class ProjectsView(Protocol):
    def names(self) -> Sequence[str]: ...
    def environments(self, project: str) -> Sequence[str]: ...
    def target(self, project: str, environment: str) -> TargetView: ...


class RequestBrief(BaseModel):
    """A request as the assistant tells a person about it ("my requests", "status of req_...")."""

    id: str
    project: str
    environment: str
    module: str
    name: str | None = None  # the resource's name (config ``name``), when it has one
    status: str
    link: str | None = None  # the pull request
