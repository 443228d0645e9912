"""``tfpilot admin reindex [--json]``: rebuild the list index from the request documents.

The list index (``index/shard-*.json``) is derived from the documents under ``requests/`` and
``history/``. This command builds the graph through the composition root, so it works on the
storage the service uses (S3 when ``TFPILOT_REQUESTS_BUCKET`` is set, ``TFPILOT_DATA_DIR``
otherwise), reads every document, names each corrupted or foreign object it skips by its key,
and rewrites every shard with compare-and-swap: safe while the service runs. Exit status: 0 when
the index was rebuilt (skipped objects are reported, not fatal), 1 when a shard stayed contended
or the storage failed (run it again), 2 when the settings or the graph cannot be built.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("admin", help="operator commands (index repair)")
    commands = parser.add_subparsers(dest="admin_command", metavar="COMMAND")
    reindex = commands.add_parser(
        "reindex", help="rebuild the list index from the request documents, reporting unreadable ones"
    )
    reindex.add_argument("--json", action="store_true", help="machine-readable output")
    reindex.set_defaults(func=run_reindex)
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])


def run_reindex(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from bot.bootstrap import build
    from bot.settings import SettingsError, load_settings
    from core.adapters.request_store import ObjectRequestStore
    from module_registry.errors import ModuleRegistryError

    try:
        deps = build(load_settings(mode="cli"))
    except SettingsError as exc:
        return _fail(args, str(exc), code=2)
    except (ModuleRegistryError, ValueError, OSError) as exc:  # a projects file or registry that cannot be read
        return _fail(args, f"tfpilot cannot start: {exc}", code=2)
    store = deps.store
    if not isinstance(store, ObjectRequestStore):
        return _fail(args, f"the configured store ({type(store).__name__}) keeps no list index", code=2)
    where = f"s3://{deps.settings.requests_bucket}" if deps.settings.requests_bucket else str(deps.settings.data_dir)
    try:
        report = store.reindex()
    except (ClientError, BotoCoreError, OSError) as exc:
        return _fail(args, f"reindex of {where} failed: {exc}")
    if args.json:
        doc = {
            "ok": report.complete,
            "storage": where,
            "rows": report.rows,
            "complete": report.complete,
            "problems": [{"key": p.key, "reason": p.reason, "rowId": p.row_id} for p in report.problems],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"index of {where} rebuilt: {report.rows} request(s)")
        if report.problems:
            print(f"skipped {len(report.problems)} object(s) that are not readable request documents:")
            for problem in report.problems:
                print(f"  {problem.key}: {problem.reason}")
        if not report.complete:
            print("the index could not be completed: run the command again", file=sys.stderr)
    return 0 if report.complete else 1


def _fail(args: argparse.Namespace, message: str, *, code: int = 1) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return code
