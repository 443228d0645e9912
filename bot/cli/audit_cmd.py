"""``tfpilot audit export <id> [--json]``: one request's whole trail, the same export as
``GET /api/requests/{id}/audit`` (``QueryService.audit_export``): the document, its lifecycle
events, the chat turns of the conversation that produced it, and its PR and run links."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="audit exports of requests")
    commands = parser.add_subparsers(dest="audit_command", metavar="COMMAND")
    export = commands.add_parser("export", help="print a request's audit export (events, chat, links)")
    export.add_argument("request_id", metavar="ID", help="the request id (req_...)")
    export.add_argument("--json", action="store_true", help="machine-readable output (the API's JSON)")
    export.set_defaults(func=run_export)
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])


def run_export(args: argparse.Namespace) -> int:
    from bot.bootstrap import build
    from bot.settings import SettingsError, load_settings
    from core.domain.errors import RequestNotFound
    from core.domain.ids import is_request_id

    if not is_request_id(args.request_id):
        return _fail(args, f"{args.request_id!r} is not a request id (req_ followed by 12 letters or digits)")
    try:
        deps = build(load_settings(mode="cli"))
        export = deps.queries.audit_export(args.request_id)
    except SettingsError as exc:
        return _fail(args, str(exc), code=2)
    except RequestNotFound:
        return _fail(args, f"request {args.request_id} not found")
    if args.json:
        print(export.model_dump_json(indent=2))
        return 0
    print(f"request {export.request_id}: {export.status}  (exported {export.exported_at.isoformat()})")
    doc = export.request
    print(f"  {doc.get('project')}/{doc.get('environment')}  module {doc.get('module')}")
    for link in export.links:
        print(f"  {link.kind}: {link.url}" + (f" ({link.label})" if link.label else ""))
    print(f"events ({len(export.events)}):")
    for event in export.events:
        who = f" by {event.actor}" if event.actor else ""
        print(f"  {event.timestamp.isoformat()}  {event.event}{who}  [{event.source}]")
    session = f" of {export.chat_session_id}" if export.chat_session_id else ""
    print(f"chat ({len(export.chat)} turns{session}):")
    for turn in export.chat:
        text = " ".join(turn.text.split())
        print(f"  {turn.timestamp.isoformat()}  {turn.role}: {text[:200]}")
    return 0


def _fail(args: argparse.Namespace, message: str, *, code: int = 1) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return code
