"""``tfpilot doctor [--json]``: is everything TfPilot relies on in place?

With GitHub settings, checks every infra repository of the projects map (``doctor_checks``);
without, the local forge's needs. Prints each check as ok / warn / fail with how to fix it;
the exit code is 1 when any check fails, 0 otherwise (warnings do not fail).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.doctor_checks import Check, github_checks, local_checks
from bot.settings import SettingsError, load_settings

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("doctor", help="check the infra repos, the app's access and the local setup")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect() -> tuple[str, list[Check]]:
    """The mode ("github" or "local") and its checks, on the settings and graph of bootstrap."""
    from bot.bootstrap import build_code_host
    from core.adapters.github.code_host import GitHubCodeHost
    from core.ports.clock import SystemClock
    from module_registry.catalogue import load_registry
    from module_registry.projects import load_projects

    settings = load_settings(mode="cli")
    if not settings.uses_github:
        return "local", local_checks(settings.data_dir)
    registry = load_registry(settings.modules_dir)
    projects = load_projects(settings.projects_file, known_modules=registry.ids())
    host = build_code_host(settings, SystemClock(), projects)
    assert isinstance(host, GitHubCodeHost)  # uses_github builds the GitHub host
    return "github", github_checks(host, projects, settings.workflows())


def run(args: argparse.Namespace) -> int:
    try:
        mode, checks = collect()
    except (SettingsError, ValueError) as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc), "checks": []}))
        else:
            print(f"doctor: {exc}", file=sys.stderr)
        return 1
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "mode": mode, "checks": [c.model_dump() for c in checks]}, indent=2))
        return 1 if failed else 0
    if mode == "local":
        print("No GitHub settings: checking what the local forge and runner need on this machine.")
    for check in checks:
        print(f"[{_MARK[check.status]}] {check.scope}: {check.name}: {check.detail}")
        if check.fix:
            print(f"         fix: {check.fix}")
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "warn", "fail")}
    print(f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s)")
    return 1 if failed else 0
