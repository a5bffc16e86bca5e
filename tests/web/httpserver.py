"""A scripted HTTP server on a loopback address for fetcher tests (no internet).

Routes map a path to a ``Reply``, a list of replies (served in turn, the last one repeated) or
a function of the request. Every request is logged with its arrival time and headers, so tests
can prove what was (and was not) requested and how far apart.
"""

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        status: HTTP status.
        body: the body.
        headers: extra headers (Content-Length is added unless ``close_delimited``).
        delay: seconds to wait before answering.
        drip: seconds between body chunks of ``drip_chunk`` bytes (a slow body).
        close_delimited: send no Content-Length and close the connection after the body.
    """

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drip: float = 0.0
    drip_chunk: int = 1
    close_delimited: bool = False


def html(text: str, status: int = 200, **kwargs: Any) -> Reply:
    """An HTML reply."""
    headers = [("Content-Type", "text/html; charset=utf-8"), *kwargs.pop("headers", [])]
    return Reply(status=status, body=text.encode("utf-8"), headers=headers, **kwargs)


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect reply."""
    return Reply(status=status, headers=[("Location", location)])


@dataclass
class Logged:
    """A request the server received."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(Logged(time.monotonic(), self.path, dict(self.headers.items())))
        reply = owner.reply_for(self.path, self)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            if reply.close_delimited:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.drip:
                for i in range(0, len(reply.body), reply.drip_chunk):
                    self.wfile.write(reply.body[i : i + reply.drip_chunk])
                    self.wfile.flush()
                    time.sleep(reply.drip)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: "TestServer"


class TestServer:
    """A threaded HTTP server on ``host`` (a loopback address) and a free port.

    Use as a context manager; ``url(path)`` gives addresses on it, ``routes`` the script and
    ``log`` (or ``paths()``) what was requested.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", name: str | None = None):
        self.routes: dict[str, Reply | list[Reply] | Callable[[BaseHTTPRequestHandler], Reply]]
        self.routes = {}
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.host = host
        self.name = name or host  # the host name used in URLs (e.g. localhost)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "TestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wrap_tls(self, context: ssl.SSLContext) -> None:
        """Serves HTTPS with ``context`` (call before the first request)."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def url(self, path: str, name: str | None = None) -> str:
        """``http://<name>:<port><path>``."""
        return f"http://{name or self.name}:{self.port}{path}"

    def record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def reply_for(self, path: str, handler: BaseHTTPRequestHandler) -> Reply:
        with self._lock:
            route = self.routes.get(path)
            if isinstance(route, list):
                reply = route.pop(0) if len(route) > 1 else route[0]
            elif callable(route):
                reply = route(handler)
            else:
                reply = route
        if reply is None:
            return Reply(404, b"not found", [("Content-Type", "text/plain")])
        return reply

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        with self._lock:
            return [e.path for e in self.log]

    def times(self, path_prefix: str = "/") -> list[float]:
        """Arrival times of requests whose path starts with ``path_prefix``."""
        with self._lock:
            return [e.at for e in self.log if e.path.startswith(path_prefix)]
