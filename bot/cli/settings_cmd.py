"""``tfpilot check-settings [--mode M] [--json]``: validate the environment without starting anything.

Names, in one message, every setting the mode lacks and every malformed one (never a value),
and warns about names that look like a misspelt setting (``TFPILOT_REQUEST_BUCKET``), which
would otherwise be ignored silently, whether set in the environment or in the env file
(``.env`` or ``TFPILOT_ENV_FILE``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.settings import SettingsError, load_settings, misspelt_settings, process_environment


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check-settings", help="validate settings for a mode and exit")
    parser.add_argument("--mode", choices=["socket", "http", "demo", "chat", "cli"], default="http")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    warnings: list[str] = []
    try:
        warnings = misspelt_settings(process_environment())
        load_settings(mode=args.mode)
    except SettingsError as exc:
        if args.json:
            doc = {"ok": False, "mode": args.mode, "error": str(exc), "missing": exc.missing}
            print(json.dumps({**doc, "malformed": exc.malformed, "warnings": warnings}))
        else:
            print(str(exc), file=sys.stderr)
            for warning in warnings:
                print(f"warning: {warning}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"ok": True, "mode": args.mode, "warnings": warnings}))
    else:
        print(f"settings are complete for {args.mode} mode")
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0
