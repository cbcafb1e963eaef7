"""A scriptable HTTP server on 127.0.0.1 for tests: path → (status, headers, body or callable)."""
from __future__ import annotations

import contextlib
import http.server
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        status, headers, body = route
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


@contextlib.contextmanager
def serve(routes: dict):
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
