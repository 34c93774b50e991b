"""Serve LocalScale: its HTTP API (a threaded stdlib WSGI server running only its URLconf),
its MySQL endpoint for branch connections (``front``), and a reaper of expired passwords.

The console's middleware (sessions, CSRF, host checks, TLS redirects) is left out on purpose:
the emulator is an API for machines, answering at the root of its own port.

Tests start it in a thread of the test process::

    with serve_in_thread() as url:   # http://127.0.0.1:<free port>
        ...

(with ``@pytest.mark.django_db(transaction=True)``, so the server threads see the test
database), or run ``manage.py localscale serve --port N`` as a process of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.http import HttpRequest, HttpResponseBase

from localscale import passwords
from localscale.front import FrontServer

URLCONF = "localscale.urls"
REAP_SECONDS = 1.0
logger = logging.getLogger(__name__)


class Reaper:
    """Drops expired branch passwords' accounts every second, API calls or not."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(REAP_SECONDS):
            try:
                passwords.expire_due()
            except Exception:  # keep reaping: one bad pass must not end expiry for good
                logger.exception("LocalScale could not drop expired passwords")
            finally:
                connections.close_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class LocalScaleApplication(WSGIHandler):
    """Django's WSGI handler with no middleware, resolving against LocalScale's URLconf."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._serve)

    def _serve(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = URLCONF  # type: ignore[attr-defined]
        return self._get_response(request)  # type: ignore[attr-defined]


class LocalScaleServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung call must not keep the process alive at shutdown
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    def handle(self) -> None:
        try:
            super().handle()
        finally:
            # One thread per call: give its database connections back when it ends.
            connections.close_all()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def make_localscale_server(host: str = "127.0.0.1", port: int = 0) -> LocalScaleServer:
    """A bound server (port 0: any free port; see ``server.server_port``), not yet serving."""
    server = make_server(
        host, port, LocalScaleApplication(), server_class=LocalScaleServer, handler_class=_Handler
    )
    assert isinstance(server, LocalScaleServer)
    return server


def server_url(server: WSGIServer) -> str:
    host, port = server.server_address[:2]
    name = host.decode() if isinstance(host, bytes) else host
    return f"http://{name}:{port}"


@contextmanager
def serve_in_thread(host: str = "127.0.0.1", port: int = 0, mysql_port: int = 0) -> Iterator[str]:
    """Serve LocalScale (API, MySQL endpoint, reaper) from background threads; yields the API's
    base URL, stops everything on exit."""
    server = make_localscale_server(host, port)
    # Join every call's thread on exit: a delayed call must not write into the next test.
    server.daemon_threads = False
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    front, reaper = FrontServer(host, mysql_port), Reaper()
    front.start()
    reaper.start()
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        reaper.stop()
        front.stop()
