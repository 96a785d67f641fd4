"""A throwaway HTTP mirror on 127.0.0.1: serves given bytes, or breaks a transfer half-way."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: "_MirrorServer"

    def do_GET(self) -> None:  # the name http.server dispatches GET requests to
        name = self.path.rsplit("/", 1)[-1]
        self.server.requests.append(name)
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.server.broken:
            # Promise the whole file, send half of it, hang up: a dropped connection.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean


class _MirrorServer(ThreadingHTTPServer):
    def __init__(self, files: dict[str, bytes], broken: set[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free one
        self.files = files
        self.broken = broken
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/fashion/"


@contextmanager
def serve(files: dict[str, bytes], broken: frozenset[str] = frozenset()) -> Iterator[_MirrorServer]:
    """Serve `files` (name -> bytes) until the block ends; names in `broken` break half-way."""
    server = _MirrorServer(dict(files), set(broken))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just released by the OS)."""
    server = _MirrorServer({}, set())
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/fashion/"
