"""What the services need from the module registry, as narrow structural types.

``module_registry.catalogue.Registry``, ``module_registry.projects.ProjectsMap`` and
``module_registry.render`` satisfy these as they are; tests can hand in small fakes. Rendering
and the registry's errors are reached through ``module_registry`` itself (imported where used,
so this module stays importable on its own).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol


class FieldErrorView(Protocol):
    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def allowed(self) -> str | None: ...


class ValidationView(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def errors(self) -> Sequence[FieldErrorView]: ...


class RegistryView(Protocol):
    def validate(
        self,
        module_id: str,
        config: dict[str, Any],
        environment: str,
        *,
        prod: bool,
        project: str | None = None,
        lifting: Collection[str] = (),
    ) -> Any:
        """``lifting``: destroy-guard fields a prepare-destroy change sets to their safe value."""
        ...


class TargetView(Protocol):
    @property
    def owner(self) -> str: ...

    @property
    def repo(self) -> str: ...

    @property
    def base_branch(self) -> str: ...

    @property
    def env_path(self) -> str: ...

    @property
    def prod(self) -> bool: ...

    @property
    def allowed_modules(self) -> list[str] | None: ...


class ProjectsView(Protocol):
    def target(self, project: str, environment: str) -> Any: ...


class Renderer(Protocol):
    """Renders a request's file(s): ``{path: content}``; deterministic."""

    def __call__(
        self,
        *,
        request_id: str,
        project: str,
        environment: str,
        module: str,
        config: dict[str, Any],
        env_path: str,
        requester: str,
        prod: bool,
        lifting: Sequence[str] = (),
    ) -> dict[str, str]: ...
