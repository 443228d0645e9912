"""``tfpilot manifest --mode http|socket [--url URL] [--name NAME] [--json]``: print the Slack
app manifest to paste at api.slack.com (*Create New App* → *From an app manifest*).

The manifest is JSON either way (``--json`` is accepted like every command's and changes only
how an error is reported). A bad argument (an ``http`` mode URL that is not https, a name too
long for Slack) exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.slack_manifest import DEFAULT_NAME, ManifestError, slack_manifest


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manifest",
        help="print the Slack app manifest for HTTP mode (--url, your public https URL) or Socket Mode",
    )
    parser.add_argument(
        "--mode",
        choices=["http", "socket"],
        required=True,
        help="http: Slack sends requests to --url (replicas behind a load balancer); socket: Socket Mode",
    )
    parser.add_argument("--url", help="the service's public base URL (https; required for --mode http)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"the app's and bot's name (default {DEFAULT_NAME})")
    parser.add_argument("--json", action="store_true", help="errors as JSON too (the manifest is always JSON)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        manifest = slack_manifest(args.mode, args.url, name=args.name)
    except ManifestError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return 0
