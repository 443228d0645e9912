"""moto's S3 over real HTTP, one request at a time (as atomic as S3's conditional writes)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server


class AtomicMotoServer(ThreadedMotoServer):
    """moto's server, answering one request at a time.

    moto evaluates a put's If-Match/If-None-Match and then writes, in two steps; S3 applies a
    conditional write atomically. Serialising requests gives the emulator S3's atomicity, so the
    test exercises our compare-and-swap and retries rather than a gap in the emulator. Clients
    still interleave freely between their read and their conditional write."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(
            self._ip_address, self._port, one_at_a_time, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
