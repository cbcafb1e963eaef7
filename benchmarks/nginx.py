"""Serve a folder on 127.0.0.1 with nginx (Debian's nginx-light, installed by ``make bench``).

nginx answers from its own process in C, so the server takes almost none of the CPU the
measured tools share; a Python server would be the bottleneck.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = """
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format stamps '$msec';
    {access_log}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp};
    types {{ image/jpeg jpg; image/png png; text/html html; application/x-parquet parquet; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")
    if not path:
        raise FileNotFoundError("nginx not found: `make bench` installs Debian's nginx-light")
    return path


@contextlib.contextmanager
def serve_folder(root: str | Path, access_log: str | Path | None = None):
    """Serve ``root`` on 127.0.0.1; yields the base URL (no trailing slash). With
    ``access_log``, nginx writes there the time of every request (Unix seconds, one a line)."""
    tmp = tempfile.mkdtemp(prefix="openwebli-nginx-")
    port = _free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read files root can read
    conf = Path(tmp) / "nginx.conf"
    log = f"access_log {Path(access_log).resolve()} stamps;" if access_log else "access_log off;"
    conf.write_text(CONFIG.format(user=user, tmp=tmp, port=port, root=Path(root).resolve(),
                                  access_log=log))
    proc = subprocess.Popen([nginx_binary(), "-p", tmp, "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {proc.stderr.read().decode(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on 127.0.0.1:{port} within {timeout} s")
