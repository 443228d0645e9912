"""``tfpilot render --project P --env E --module M --config JSON``: print the exact Terraform file a
request would commit, without creating anything.

The target (env path, prod flag, allowed modules) comes from the projects map; the config is JSON
text or ``@file``. Invalid input exits 1 printing every error (``--json``: ``{"ok": false,
"errors": [{field, message, allowed}]}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import SettingsError, load_settings
from core.domain.ids import new_request_id
from module_registry import catalogue, identifiers, limits, projects, render
from module_registry.errors import ConfigRejected, InvalidName, ModuleRegistryError
from module_registry.result import FieldError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("render", help="render the Terraform a request would commit")
    parser.add_argument("--project", required=True)
    parser.add_argument("--env", dest="environment", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--config", required=True, help="the module config as JSON, or @FILE")
    parser.add_argument("--request-id", help="request id (default: a new one)")
    parser.add_argument("--requester", default="cli", help="who asks (goes into the requester tag)")
    parser.add_argument("--modules-dir", type=Path, help="module definitions (default: TFPILOT_MODULES_DIR)")
    parser.add_argument("--projects-file", type=Path, help="projects map (default: TFPILOT_PROJECTS_FILE)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _errors_out(args: argparse.Namespace, errors: list[FieldError]) -> int:
    if args.json:
        print(json.dumps({"ok": False, "errors": [e.model_dump() for e in errors]}))
    else:
        for error in errors:
            print(f"error: {error.describe()}", file=sys.stderr)
    return 1


def _read_config(text: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            # Read one byte past the limit rather than trusting the size: a pipe or a device
            # (@/dev/stdin, @/dev/zero) has none.
            with path.open("rb") as handle:
                raw = handle.read(limits.MAX_CONFIG_BYTES + 1)
            if len(raw) > limits.MAX_CONFIG_BYTES:
                return None, [
                    FieldError(field="", message=f"{path} is over the {limits.MAX_CONFIG_BYTES // 1024} KiB limit")
                ]
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [FieldError(field="", message=f"cannot read {path}: {exc}")]
    return limits.parse_config_json(text)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        registry = catalogue.load_registry(args.modules_dir or settings.modules_dir)
        projs = projects.load_projects(args.projects_file or settings.projects_file, known_modules=registry.ids())
    except (ModuleRegistryError, SettingsError) as exc:
        return _errors_out(args, [FieldError(field="", message=str(exc))])
    config, errors = _read_config(args.config)
    if config is None:
        return _errors_out(args, errors)
    request_id = args.request_id or new_request_id()
    try:
        # Identifiers first: nothing is looked up or built from a name that is not one.
        identifiers.check_project(args.project)
        identifiers.check_environment(args.environment)
        identifiers.check_module_id(args.module)
        identifiers.check_request_id(request_id)
        target = projs.target(args.project, args.environment)
        if not target.allows(args.module):
            allowed = ", ".join(target.allowed_modules or [])
            return _errors_out(
                args,
                [
                    FieldError(
                        field="module",
                        message=f"{args.module!r} is not allowed in {args.project}/{args.environment}",
                        allowed=allowed,
                    )
                ],
            )
        files = render.render(
            render.RenderInput(
                request_id=request_id,
                project=args.project,
                environment=args.environment,
                module=args.module,
                config=config,
                env_path=target.env_path,
                requester=args.requester,
                prod=target.prod,
            ),
            registry,
        )
    except ConfigRejected as exc:
        return _errors_out(args, exc.errors)
    except InvalidName as exc:
        return _errors_out(args, [FieldError(field=exc.kind, message=exc.reason)])
    except ModuleRegistryError as exc:
        return _errors_out(args, [FieldError(field="", message=str(exc))])
    if args.json:
        print(json.dumps({"ok": True, "request_id": request_id, "prod": target.prod, "files": files}))
    else:
        for path, content in files.items():
            print(f"# file: {path}")
            sys.stdout.write(content)
    return 0
