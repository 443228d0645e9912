"""TfPilot's own Terraform modules, shipped into infra repos as ``modules/<module id>/``.

Each folder implements the inputs and outputs that the registry definition of the same id
renders for its registry module, with the same naming, tagging and constraints (those are the
definition's, checked before anything is rendered). The local forge's infra repositories carry
them, so the local runner needs no download; a request renders ``source = "../../modules/<id>"``
there, and the registry module (source and version) for repositories on GitHub.
"""

from __future__ import annotations

from importlib import resources

REPO_DIR = "modules"


def available() -> frozenset[str]:
    """Ids of the modules implemented here."""
    root = resources.files(__name__)
    return frozenset(p.name for p in root.iterdir() if p.is_dir() and p.joinpath("main.tf").is_file())


def files(module_id: str) -> dict[str, str]:
    """``{"modules/<id>/<file>.tf": text}`` of one module (``KeyError`` when there is none)."""
    if module_id not in available():
        raise KeyError(module_id)
    folder = resources.files(__name__).joinpath(module_id)
    return {
        f"{REPO_DIR}/{module_id}/{p.name}": p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".tf")
    }


def all_files() -> dict[str, str]:
    """The files of every module, for seeding an infra repository."""
    out: dict[str, str] = {}
    for module_id in sorted(available()):
        out.update(files(module_id))
    return out


def source_for(module_id: str, env_path: str) -> str:
    """The module ``source`` as seen from ``env_path`` (``envs/dev`` -> ``../../modules/<id>``)."""
    return relative_to(env_path, f"{REPO_DIR}/{module_id}")


def relative_to(env_path: str, repo_path: str) -> str:
    """``repo_path`` (from the repository root) as seen from the directory ``env_path``."""
    depth = len([part for part in env_path.split("/") if part])
    return "../" * depth + repo_path
