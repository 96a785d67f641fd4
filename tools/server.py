"""Start the server in a child process on a free port: for API tests, load test and benchmark."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx2


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(
    model_dir: Path | str,
    *options: str,
    timeout_s: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Run `python -m apparel_classifier.serving` until the block ends; yield its base URL.

    A real uvicorn in its own process, as `make serve` runs it, so clients in this
    process do not share its interpreter lock. `model_dir` is the prod model (a folder or
    registry:<stage>); `env` adds environment variables (an admin token, say).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "apparel_classifier.serving", "--model-dir", str(model_dir),
           "--port", str(port), *options]  # fmt: skip
    # Its log goes to a file, not a pipe: an unread pipe that fills up would block the server.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(proc, url, log, timeout_s)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_healthy(
    proc: subprocess.Popen[bytes], url: str, log: IO[str], timeout_s: float
) -> None:
    """Poll /health until it answers 200; fail with the server's log if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited at startup:\n{log.read()}")
        try:
            if httpx2.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /health within {timeout_s:.0f} s")
        time.sleep(0.1)
