"""Which environments an infra repo scaffold gets: the ones the projects map names.

A workflow's ``environment`` input is a ``choice``: dispatching an environment it does not list
fails on GitHub. So the choices (and the ``envs/<env>/`` folders) come from the same projects map
TfPilot dispatches from, never from a hand-typed list; a filter may narrow them, and a filter
naming an environment the map lacks is refused rather than scaffolded.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from core.scaffold.generator import InvalidScaffold
from module_registry.errors import UnknownProject
from module_registry.projects import ProjectsMap


class ScaffoldEnvironments(BaseModel):
    """The chosen environments, and notes for the person scaffolding (not errors)."""

    model_config = ConfigDict(frozen=True)

    environments: list[str]
    notes: list[str] = []


def environments_from_map(
    projects: ProjectsMap, *, project: str | None = None, only: Sequence[str] | None = None
) -> ScaffoldEnvironments:
    """The environments of ``project`` (every project's when ``None``), in the map's order,
    narrowed to ``only`` when given. Raises ``InvalidScaffold`` naming what the map lacks."""
    if project is not None:
        try:
            named = projects.environments(project)
        except UnknownProject as exc:
            raise InvalidScaffold(f"{exc} (projects map {projects.source})") from None
        targets = [projects.target(project, env) for env in named]
        scope = f"project {project!r}"
    else:
        targets = projects.targets()
        named = list(dict.fromkeys(t.environment for t in targets))
        scope = "any project"
    chosen = named
    if only:
        missing = [env for env in dict.fromkeys(only) if env not in named]
        if missing:
            raise InvalidScaffold(
                f"--env {', '.join(repr(m) for m in missing)}: not an environment of {scope} in the projects map "
                f"{projects.source} (it has {', '.join(named)}); add it to the map first, or leave --env out"
            )
        chosen = [env for env in named if env in only]
    notes = [
        f"{t.project}/{t.environment}: env_path {t.env_path!r} in the projects map, but the workflows work in "
        f"'envs/{t.environment}'"
        for t in targets
        if t.environment in chosen and t.env_path.strip("/") != f"envs/{t.environment}"
    ]
    return ScaffoldEnvironments(environments=chosen, notes=notes)
