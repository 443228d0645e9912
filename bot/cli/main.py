"""``tfpilot``: one parser, each command group registered by its own module.

A command line naming a command imports only that command's module: the others import what
they need at their top (the registry importer's HCL parser, the console, the GitHub App's JWT
for ``doctor``), which ``tfpilot serve`` should neither wait for nor keep in memory. Help, a
bare ``tfpilot`` and an unknown command build the whole parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

# Each module exposes ``register(subparsers)`` adding its command (the key); a command sets
# ``func(args) -> int`` on its parser. Help lists them in this order.
COMMANDS: dict[str, str] = {
    "check-settings": "bot.cli.settings_cmd",
    "plan-summary": "bot.cli.plan_cmd",
    "scaffold": "bot.cli.scaffold_cmd",
    "demo": "bot.cli.demo_cmd",
    "chat": "bot.cli.chat_cmd",
    "registry": "bot.cli.registry_cmd",
    "render": "bot.cli.render_cmd",
    "serve": "bot.cli.serve_cmd",
    "audit": "bot.cli.audit_cmd",
    "admin": "bot.cli.admin_cmd",
    "manifest": "bot.cli.manifest_cmd",
    "doctor": "bot.cli.doctor_cmd",
}
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS.values())


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


class _VersionAction(argparse.Action):
    """``--version``, looking the distribution up only when asked (a metadata scan)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        print(f"{parser.prog} {version()}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``only`` (a command's name): with that command's subparser alone."""
    parser = argparse.ArgumentParser(
        prog="tfpilot",
        description="Terraform self-service in Slack: guided intake, reviewed PRs, planned and applied by CI.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the installed version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command, module in COMMANDS.items():
        if only is None or command == only:
            importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(given[0] if given and given[0] in COMMANDS else None)
    args = parser.parse_args(given)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
