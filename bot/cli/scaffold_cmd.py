"""``tfpilot scaffold infra-repo DIR``: write the files of a project's infra repo.

Refuses (and writes nothing) when any file exists already, unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.domain.scaffold import HELPER_PATH, InvalidScaffold, ScaffoldOptions, scaffold_files


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
        help="an environment (repeat; default: dev and prod)",
    )
    infra.add_argument("--tfpilot-url", help="TfPilot's base URL, for the drift reports")
    infra.add_argument("--project", help="the TfPilot project this repo holds (drift reports filter on it)")
    infra.add_argument("--aws-region", help="AWS region of the provider and state (default us-east-1)")
    infra.add_argument("--terraform-version", help="exact Terraform version for the workflows")
    infra.add_argument("--force", action="store_true", help="overwrite files that exist")
    infra.add_argument("--json", action="store_true", help="machine-readable output")
    infra.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    try:
        options = ScaffoldOptions.of(
            environments=args.environments,
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
                    "environments": options.environments,
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
        print("Next: commit and push, then set the repository's variables and secrets (see README.md).")
    return 0


def _fail(args: argparse.Namespace, message: str, paths: list[str] | None = None) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message, "paths": paths or []}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return 1
