"""A scriptable HTTP server on 127.0.0.1 for tests: path → (status, headers, body or callable),
or path → callable(handler) returning that triple per request (for stateful routes)."""
from __future__ import annotations

import http.server
import time

from pipelines.sample_site import serve_http


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        status, headers, body = route(self) if callable(route) else route
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if callable(body):
            body(self.wfile)
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def endless(wfile, chunk=b"x" * 65536, seconds=10.0):
    """A body that never ends (bounded in time so the test server always stops)."""
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass


def slow(wfile, seconds=3.0):
    time.sleep(seconds)
    try:
        wfile.write(b"late")
    except (BrokenPipeError, ConnectionResetError):
        pass


def serve(routes: dict):
    """Serve ``routes`` on 127.0.0.1; a context manager yielding the base URL."""
    return serve_http(type("Handler", (_Handler,), {"routes": routes}))


class FakeClock:
    """A ``pipelines.http.Clock`` whose time moves only when something sleeps (or a test calls
    ``advance``): waits are asserted exactly, and no test waits for real."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def clock(self):
        from pipelines.http import Clock

        return Clock(monotonic=self.monotonic, sleep=self.sleep)
