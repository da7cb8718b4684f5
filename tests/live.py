"""A real server for tests that need one: ``landcycle serve`` (Granian) in a child process.

Clients that no one here wrote (GDAL, load generators, browsers) talk HTTP to a socket, so
they need the server exactly as it runs in production, not FastAPI's in-process test client::

    with live_server(db.url) as base:          # "http://127.0.0.1:PORT"
        urllib.request.urlopen(f"{base}/healthz")

The child gets the database URL through ``LANDCYCLE_DATABASE_URL`` (as in production), listens
on a free loopback port, and is stopped — by its own process id — when the block ends. Its
output goes to a log file whose tail is shown if it fails to start.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: How long the server may take to answer /healthz.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
            return json.loads(r.read()).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextmanager
def live_server(database_url: str, env: dict[str, str] | None = None,
                log_dir: Path | None = None) -> Iterator[str]:
    """Run ``landcycle serve`` over ``database_url`` on a free loopback port; yield its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="landcycle-live-"))
    log_path = log_dir / f"server-{port}.log"
    child_env = {**os.environ, "LANDCYCLE_DATABASE_URL": database_url, **(env or {})}
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen([sys.executable, "-m", "landcycle", "serve", "--host", "127.0.0.1",
                                   "--port", str(port)], env=child_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"landcycle serve did not start on {base}:\n{tail}")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
