"""``tfpilot check-settings [--mode M]``: validate the environment without starting anything."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.settings import SettingsError, load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check-settings", help="validate settings for a mode and exit")
    parser.add_argument("--mode", choices=["socket", "http", "demo", "chat", "cli"], default="http")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        load_settings().require(args.mode)
    except SettingsError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps({"ok": True, "mode": args.mode}) if args.json else f"settings are complete for {args.mode} mode")
    return 0
