"""``tfpilot serve [--host H] [--port P] [--socket]``: run TfPilot as a service.

HTTP mode (default) serves one FastAPI app with uvicorn: Slack events at ``/slack/events`` (and
the OAuth install routes when configured), GitHub and drift webhooks, account linking, the read
API, health and metrics. ``--socket`` connects the Bolt app over Socket Mode instead and still
serves the web app for webhooks, linking and the API. Both build the graph with
``bot.bootstrap.build(load_settings(mode=mode))``, so a missing setting stops start-up with
one message naming it; so does anything else that cannot be built (a broken projects file, an
unreadable GitHub App key, a bot token Slack refuses at ``auth.test``, a bad option):
``error: ...`` on stderr and exit code 2, never a traceback. Logs are JSON lines on stderr;
uvicorn's access log is off (the app logs each request without its query string, where OAuth
codes travel). ``--port 0`` binds any free port; the bound address is printed on stdout before
serving.

``--workers N`` (HTTP mode) runs N server processes on the one bound socket (uvicorn's
supervisor; each worker builds its own graph through
``bot.cli.serve_worker:create_worker_app``). Clicks stay exactly-once across workers as across
replicas (the ``Once`` markers in the bucket); the reconciler runs in one worker per host
(whichever holds the host's reconciler lock file; another takes over if it dies).
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Mode, Settings

DEFAULT_PORT = 8080
# gc's third threshold while building: a million young-generation collections before a full one.
FULL_COLLECTIONS_PAUSED = 1_000_000


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0: any free port)")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the service: Slack (HTTP or --socket), GitHub and drift webhooks, linking, API, metrics"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 in a container)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument(
        "--socket", action="store_true", help="Slack over Socket Mode (SLACK_APP_TOKEN) plus the web app"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--no-reconciler", action="store_true", help="do not run the background reconciler")
    parser.add_argument(
        "--reconcile-interval",
        type=_positive_seconds,
        default=60.0,
        help="seconds between reconciler passes (default 60)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the port (HTTP mode; default 1: one per core helps under bursts)",
    )
    parser.add_argument(
        "--webhook-workers", type=_positive_int, default=4, help="threads syncing webhook deliveries (default 4)"
    )
    parser.set_defaults(func=run)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def skip_httpx_cli() -> None:
    """httpx imports its command-line client (click, rich, pygments: about 3 MB and a tenth of a
    second) whenever those happen to be installed; the service never runs it. A None entry in
    ``sys.modules`` makes that one import fail, which httpx expects (``httpx.main`` then says
    the CLI is not installed)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector's full collections paused while the service is built.

    Start-up creates about 170,000 objects that live as long as the process (modules, classes,
    pydantic's validators, the registry). Each full collection rescans every one made so far;
    start-up triggered three. Young collections still run (start-up's short-lived garbage is
    freed as it goes, which keeps the RSS where it was); ``settle_heap`` makes the one full
    collection when the service is built. The thresholds are restored whatever happened."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_PAUSED)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def settle_heap() -> None:
    """Once the service is built: free start-up's garbage in one collection, then freeze what
    survived (``gc.freeze``: the objects of a long-lived process's start-up), so that the
    collections while serving no longer rescan them (shorter pauses between acks)."""
    gc.collect()
    gc.freeze()


def run(args: argparse.Namespace) -> int:
    skip_httpx_cli()
    with gc_paused():
        from bot.settings import SettingsError, load_settings
        from bot.web.logging import configure_logging
        from module_registry.errors import ModuleRegistryError

        mode: Mode = "socket" if args.socket else "http"
        try:
            settings = load_settings(mode=mode)
        except SettingsError as exc:
            return _refuse(str(exc))
        configure_logging(args.log_level.upper())
        built: tuple[Any, Any] | None = None
        if args.workers > 1:
            if args.socket:
                return _refuse("--workers needs HTTP mode: Socket Mode is one connection per app (drop --socket)")
        else:
            try:
                built = build_service(settings, args)
            except (SettingsError, ModuleRegistryError, ValueError, OSError) as exc:
                # An operator's mistake (a broken projects file, an unreadable key): say which, no traceback.
                return _refuse(f"tfpilot cannot start in {mode} mode: {exc}")
            settle_heap()
    if built is None:
        return run_workers(settings, args)  # each worker builds (and settles) its own service
    web, socket_handler = built
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        return _refuse(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    host, port = sock.getsockname()[:2]
    if socket_handler is not None:
        socket_handler.connect()
    print(f"tfpilot serve: {mode} mode, listening on http://{host}:{port}", flush=True)
    try:
        serve(web, sock)
    finally:
        if socket_handler is not None:
            socket_handler.close()
    return 0


def run_workers(settings: Settings, args: argparse.Namespace) -> int:
    """``--workers N``: bind once, then uvicorn's supervisor spawns N workers on the socket,
    each building its own service (``bot.cli.serve_worker``). Settings were checked above; a
    worker that cannot build the service stops them all (exit 2, its ``error:`` on stderr)."""
    from bot.cli import serve_worker

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        return _refuse(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    host, port = sock.getsockname()[:2]
    with serve_worker.worker_environment(args):
        print(f"tfpilot serve: http mode, {args.workers} workers, listening on http://{host}:{port}", flush=True)
        return serve_worker.supervise(args.workers, sock)


def build_service(
    settings: Settings, args: argparse.Namespace, *, reconciler_lock: str | None = None
) -> tuple[Any, Any]:
    """The web app and, with ``--socket``, the Socket Mode handler (not yet connected).
    ``reconciler_lock`` (a worker of ``--workers N``): the reconciler runs only in the worker
    holding that file's lock."""
    from bot.after_acks import AckGate
    from bot.app import create_app, fastapi_handler
    from bot.bootstrap import build
    from bot.web.app import create_web_app
    from bot.web.identities import fernet_from_setting
    from bot.web.linking import link_url_for
    from bot.web.logging import bolt_correlation_middleware
    from bot.web.metrics import bolt_ack_counter

    if settings.encryption_key is not None:
        fernet_from_setting(settings.encryption_key.get_secret_value())  # an unusable key fails now, not at link time
    deps = build(settings)
    link_url = link_url_for(deps)
    reconcile_interval = None if args.no_reconciler else args.reconcile_interval
    if args.socket:
        from bot.socket_mode import socket_mode_handler

        bolt = create_app(deps, process_before_response=False, link_url=link_url, token_verification_enabled=True)
        bolt.use(bolt_correlation_middleware)
        bolt.use(bolt_ack_counter)
        handler = socket_mode_handler(deps, app=bolt)
        web = create_web_app(deps, max_workers=args.webhook_workers, reconcile_interval=reconcile_interval)
        return web, handler
    # The bot token is verified here (auth.test, once), not on the first request's ack path.
    # The gate holds the work of clicks until a burst's acks are written (bot.after_acks).
    gate = AckGate()
    bolt = create_app(
        deps, process_before_response=True, link_url=link_url, token_verification_enabled=True, ack_gate=gate
    )
    bolt.use(bolt_correlation_middleware)
    web = create_web_app(
        deps,
        slack_handler=fastapi_handler(bolt),
        max_workers=args.webhook_workers,
        reconcile_interval=reconcile_interval,
        ack_gate=gate,
        reconciler_lock=reconciler_lock,
    )
    return web, None


def _refuse(message: str) -> int:
    from core.domain.redaction import redact

    print(f"error: {redact(message)}", file=sys.stderr)
    return 2


def serve(web: Any, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        web,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])
