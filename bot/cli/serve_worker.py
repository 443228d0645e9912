"""The workers of ``tfpilot serve --workers N``: uvicorn's supervisor spawns N processes on the
socket the parent bound, and each builds its own service through ``create_worker_app`` (an
import string, as spawned processes need). The parent hands the options over in one
environment variable; the reconciler's host lock is a file in a directory the parent made and
removes when it stops.

Each worker's JSON log lines carry ``"worker": <pid>``. A worker that cannot build the service
(a setting, the projects file, the bot token) prints ``error: ...`` and exits with uvicorn's
start-up failure code; the supervisor then stops and ``tfpilot serve`` exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

OPTIONS_VAR = "TFPILOT_SERVE_WORKER"
FACTORY = "bot.cli.serve_worker:create_worker_app"


@contextmanager
def worker_environment(args: argparse.Namespace) -> Iterator[str]:
    """Publish the options the workers need (in the environment spawned processes inherit)
    and a fresh directory for the reconciler's host lock; both are gone afterwards."""
    lock_dir = tempfile.mkdtemp(prefix="tfpilot-serve-")
    options = {
        "log_level": args.log_level,
        "no_reconciler": bool(args.no_reconciler),
        "reconcile_interval": args.reconcile_interval,
        "webhook_workers": args.webhook_workers,
        "reconciler_lock": os.path.join(lock_dir, "reconciler.lock"),
    }
    os.environ[OPTIONS_VAR] = json.dumps(options)
    try:
        yield lock_dir
    finally:
        os.environ.pop(OPTIONS_VAR, None)
        shutil.rmtree(lock_dir, ignore_errors=True)


def supervise(workers: int, sock: socket.socket) -> int:
    """Run ``workers`` processes on ``sock`` until SIGTERM/SIGINT; 2 when one failed to start."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        FACTORY,
        factory=True,
        workers=workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    return 2 if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0


def _stamp_worker(record: logging.LogRecord) -> bool:
    # Every JSON log line of a worker says which one wrote it ("worker": its pid).
    record.worker = os.getpid()
    return True


def create_worker_app() -> Any:
    """The side service of one worker (uvicorn calls this in each spawned process)."""
    from bot.cli.serve_cmd import build_service, gc_paused, settle_heap, skip_httpx_cli

    skip_httpx_cli()
    from uvicorn.config import STARTUP_FAILURE

    from bot.settings import SettingsError, load_settings
    from bot.web.logging import configure_logging
    from core.domain.redaction import redact
    from module_registry.errors import ModuleRegistryError

    raw = os.environ.get(OPTIONS_VAR)
    if not raw:
        print(f"error: {FACTORY} is started by `tfpilot serve --workers N` ({OPTIONS_VAR} is unset)", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    options = json.loads(raw)
    handler = configure_logging(str(options["log_level"]).upper())
    handler.addFilter(_stamp_worker)
    args = argparse.Namespace(
        socket=False,
        no_reconciler=options["no_reconciler"],
        reconcile_interval=options["reconcile_interval"],
        webhook_workers=options["webhook_workers"],
    )
    with gc_paused():
        try:
            web, _ = build_service(load_settings(mode="http"), args, reconciler_lock=options["reconciler_lock"])
        except (SettingsError, ModuleRegistryError, ValueError, OSError) as exc:
            print(f"error: {redact(f'tfpilot cannot start in http mode: {exc}')}", file=sys.stderr, flush=True)
            sys.exit(STARTUP_FAILURE)
        settle_heap()
    return web
