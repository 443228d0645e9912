"""``tfpilot plan-summary PLAN_JSON [--json] [--full]``: summarise a ``terraform show -json`` plan."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.domain.plan_summary import (
    DEFAULT_PLAN_CHARS,
    DEFAULT_SUMMARY_CHARS,
    InvalidPlan,
    load_plan,
    render_plan_text,
    summarize_plan,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan-summary",
        help="summarise a Terraform plan (terraform show -json tfplan > plan.json); sensitive values hidden",
    )
    parser.add_argument("plan_json", metavar="PLAN_JSON", help="path to the plan JSON, or - for stdin")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--full", action="store_true", help="also show attribute changes (sensitive values hidden)")
    parser.add_argument(
        "--max-chars", type=_positive, default=None, help="bound on the text (summary or full plan), at least 1"
    )
    parser.set_defaults(func=run)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not at least 1")
    return number


def run(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.plan_json == "-" else Path(args.plan_json).read_bytes()
        plan = load_plan(raw)
    except (OSError, InvalidPlan) as exc:
        message = f"{args.plan_json}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        if args.json:
            print(json.dumps({"ok": False, "error": message}))
        else:
            print(f"error: {message}", file=sys.stderr)
        return 1
    summary = summarize_plan(plan, max_chars=args.max_chars or DEFAULT_SUMMARY_CHARS)
    full = render_plan_text(plan, args.max_chars or DEFAULT_PLAN_CHARS) if args.full else None
    if args.json:
        doc: dict[str, Any] = {"ok": True, "summary": summary.to_doc()}
        if full is not None:
            doc["output"] = full
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(full if full is not None else summary.text)
    return 0
