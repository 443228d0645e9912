"""What a new local-forge repository starts with: the files ``tfpilot scaffold infra-repo``
writes for the repository's environments and the configured workflow names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from core.domain.workflows import WorkflowNames
from core.ports.code_host import RepoRef

log = logging.getLogger(__name__)

SeedFiles = Callable[[RepoRef], Mapping[str, str]]

DEFAULT_ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")


def default_seed(
    repo: RepoRef, environments: Sequence[str] = DEFAULT_ENVIRONMENTS, workflows: WorkflowNames | None = None
) -> dict[str, str]:
    """The files of a new infra repository: what ``tfpilot scaffold infra-repo`` writes for
    these environments and workflow file names."""
    from core.scaffold.generator import ScaffoldOptions, scaffold_files
    from module_registry import infra_modules

    try:
        files = scaffold_files(
            ScaffoldOptions.of(
                environments=list(environments) or list(DEFAULT_ENVIRONMENTS),
                workflows=workflows or WorkflowNames(),
            )
        )
        # The local forge's repositories carry TfPilot's own modules: nothing to download.
        files.update(infra_modules.all_files())
        return files
    except Exception:
        # A minimal layout keeps the forge usable when the scaffold refuses the options.
        log.exception("infra repo scaffold failed for %s; seeding a minimal layout", repo.full_name)
    files = {"README.md": f"# {repo.name}\n\nInfrastructure repository managed by TfPilot (local forge).\n"}
    for env in environments:
        files[f"envs/{env}/versions.tf"] = 'terraform {\n  required_version = ">= 1.5.0"\n}\n'
    return files


def scaffold_seed(
    workflows: WorkflowNames, environments_of: Callable[[RepoRef], Sequence[str]] | None = None
) -> SeedFiles:
    """The seed of a repository scaffolded for the environments the projects map gives it
    (``environments_of``), with the configured workflow file names."""

    def seed(repo: RepoRef) -> dict[str, str]:
        environments: Sequence[str] = DEFAULT_ENVIRONMENTS
        if environments_of is not None:
            try:
                environments = list(environments_of(repo)) or DEFAULT_ENVIRONMENTS
            except Exception:
                log.exception("environments of %s unknown; scaffolding the default ones", repo.full_name)
        return default_seed(repo, environments, workflows)

    return seed
