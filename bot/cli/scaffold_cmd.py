"""``tfpilot scaffold infra-repo DIR``: write the files of a project's infra repo.

The environments (workflow ``choice`` options and ``envs/<env>/`` folders) are those the projects
map names (``--projects-file``, else ``TFPILOT_PROJECTS_FILE``, else the shipped example): of
``--project`` when given, else of every project; ``--env`` only narrows them. Refuses (and writes
nothing) when any file exists already, unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import SettingsError, load_settings
from core.scaffold.envs import environments_from_map
from core.scaffold.generator import HELPER_PATH, InvalidScaffold, ScaffoldOptions, scaffold_files
from module_registry.errors import ModuleRegistryError
from module_registry.projects import load_projects


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scaffold", help="write starter files")
    commands = parser.add_subparsers(dest="scaffold_command", metavar="WHAT", required=True)
    infra = commands.add_parser(
        "infra-repo",
        help="an infra repo for TfPilot: envs/<env>/ stubs and the plan/apply/destroy/cleanup/drift workflows",
    )
    infra.add_argument("dir", metavar="DIR", help="the repository's root (created when missing)")
    infra.add_argument(
        "--env",
        dest="environments",
        action="append",
        metavar="ENV",
        help="only this environment of the projects map (repeat; default: every environment the map names)",
    )
    infra.add_argument(
        "--projects-file", type=Path, help="projects map (default: TFPILOT_PROJECTS_FILE, else the shipped example)"
    )
    infra.add_argument("--tfpilot-url", help="TfPilot's base URL, for the drift reports")
    infra.add_argument(
        "--project",
        help="the TfPilot project this repo holds: its environments in the map (drift reports filter on it too)",
    )
    infra.add_argument("--aws-region", help="AWS region of the provider and state (default us-east-1)")
    infra.add_argument("--terraform-version", help="exact Terraform version for the workflows")
    infra.add_argument("--force", action="store_true", help="overwrite files that exist")
    infra.add_argument("--json", action="store_true", help="machine-readable output")
    infra.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    try:
        projects = load_projects(args.projects_file or load_settings().projects_file)
    except (ModuleRegistryError, SettingsError) as exc:
        return _fail(args, f"projects map: {exc}")
    try:
        chosen = environments_from_map(projects, project=args.project, only=args.environments)
        options = ScaffoldOptions.of(
            environments=chosen.environments,
            tfpilot_url=args.tfpilot_url,
            project=args.project,
            aws_region=args.aws_region,
            terraform_version=args.terraform_version,
        )
    except InvalidScaffold as exc:
        return _fail(args, f"invalid option: {exc}")
    files = scaffold_files(options)
    if root.exists() and not root.is_dir():
        return _fail(args, f"{root} exists and is not a directory")
    blocked = sorted(p for p in files if (root / p).exists() and not (root / p).is_file())
    if blocked:
        return _fail(args, f"not files, cannot write: {', '.join(blocked)}", paths=blocked)
    existing = sorted(p for p in files if (root / p).is_file())
    if existing and not args.force:
        return _fail(
            args, f"{len(existing)} file(s) exist already (use --force to overwrite): {', '.join(existing)}", existing
        )
    written, overwritten, unchanged = [], [], []
    for rel, content in files.items():
        path = root / rel
        if path.is_file():
            if path.read_text(encoding="utf-8") == content:
                unchanged.append(rel)
                continue
            overwritten.append(rel)
        else:
            written.append(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        if rel == HELPER_PATH:
            path.chmod(0o755)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "dir": str(root),
                    "projects_file": projects.source,
                    "environments": options.environments,
                    "notes": chosen.notes,
                    "written": sorted(written),
                    "overwritten": sorted(overwritten),
                    "unchanged": sorted(unchanged),
                }
            )
        )
    else:
        print(f"{root}: {len(written)} written, {len(overwritten)} overwritten, {len(unchanged)} unchanged")
        for rel in sorted(written + overwritten):
            print(f"  {rel}")
        print(f"Environments (from {projects.source}): {', '.join(options.environments)}")
        for note in chosen.notes:
            print(f"note: {note}")
        print("Next: commit and push, then set the repository's variables and secrets (see README.md).")
    return 0


def _fail(args: argparse.Namespace, message: str, paths: list[str] | None = None) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message, "paths": paths or []}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return 1
