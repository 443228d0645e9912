"""``tfpilot``: one parser, each command group registered by its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes ``register(subparsers)`` adding its commands; a command sets
# ``func(args) -> int`` on its parser.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.settings_cmd",
    "bot.cli.plan_cmd",
    "bot.cli.scaffold_cmd",
    "bot.cli.demo_cmd",
    "bot.cli.chat_cmd",
    "bot.cli.registry_cmd",
    "bot.cli.render_cmd",
    "bot.cli.serve_cmd",
    "bot.cli.audit_cmd",
    "bot.cli.admin_cmd",
    "bot.cli.manifest_cmd",
    "bot.cli.doctor_cmd",
)


DISTRIBUTION = "tfpilot"


def version() -> str:
    """The installed distribution's version; a source tree that was never installed says so
    instead of guessing."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed as a package: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfpilot",
        description="Terraform self-service in Slack: guided intake, reviewed PRs, planned and applied by CI.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
