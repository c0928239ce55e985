"""A small, generic HTTP server base for the API test servers.

A test server is a plain function from :class:`HttpRequest` to :class:`HttpResponse`, served by
the standard library's :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` (an ephemeral port)
in a daemon thread. HTTP/1.1 keep-alive is supported (every response carries ``Content-Length``),
access logs are silent, and a handler may answer :meth:`HttpResponse.drop` to close the connection
without sending anything (to simulate a connection lost after the server did its work).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from attrs import field, frozen


__all__ = ["BackgroundHTTPServer", "HttpRequest", "HttpResponse", "Handler"]


@frozen
class HttpRequest:
    """One decoded HTTP request, as handed to a :data:`Handler`.

    Attributes:
        method: Upper-case HTTP method.
        path: The percent-decoded path, without query string.
        raw_path: The path as sent (still percent-encoded), without query string.
        query: Query parameters; each name maps to every value given, in order.
        headers: Request headers with lower-case names (the last value wins).
        body: The raw request body.

    .. versionadded:: 0.1.0
    """

    method: str
    path: str
    raw_path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def query_one(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None when absent.

        .. versionadded:: 0.1.0
        """
        values = self.query.get(name)
        return values[0] if values else None


@frozen
class HttpResponse:
    """What a :data:`Handler` answers.

    Attributes:
        status: HTTP status code.
        body: Response body bytes.
        headers: Extra headers (``Content-Length`` is added automatically).
        dropped: When true, nothing is sent and the connection is closed.

    .. versionadded:: 0.1.0
    """

    status: int
    body: bytes = field(default=b"", repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    dropped: bool = False

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """A JSON response (``Content-Type: application/json; charset=utf-8``).

        .. versionadded:: 0.1.0
        """
        extra = tuple((headers or {}).items())
        return cls(
            status=status,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            headers=(("Content-Type", "application/json; charset=utf-8"), *extra),
        )

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """A response without a body (e.g. 204).

        .. versionadded:: 0.1.0
        """
        return cls(status=status, headers=tuple((headers or {}).items()))

    @classmethod
    def drop(cls) -> HttpResponse:
        """Close the connection without answering.

        .. versionadded:: 0.1.0
        """
        return cls(status=0, dropped=True)


Handler = Callable[[HttpRequest], HttpResponse]
"""A test server's request handler.

.. versionadded:: 0.1.0
"""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive responses would otherwise wait ~40 ms
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence access logs."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        request = HttpRequest(
            method=self.command.upper(),
            path=unquote(split.path),
            raw_path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception:  # pragma: no cover - a bug in a test server
            response = HttpResponse.json(
                500, {"error": {"code": 500, "status": "Internal Server Error", "message": "bug"}}
            )
        if response.dropped:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch
    do_DELETE = _dispatch
    do_HEAD = _dispatch
    do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # concurrent clients must not see refused connections

    def __init__(self, app: Handler) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent when a client goes away mid-request."""


class BackgroundHTTPServer:
    """Serve a :data:`Handler` on ``127.0.0.1`` from a daemon thread.

    Usable as a context manager; :attr:`url` is valid once started.

    .. versionadded:: 0.1.0
    """

    _scheme = "http"

    def __init__(self, app: Handler) -> None:
        self._app = app
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _bind(self) -> _Server:
        """A server bound to an ephemeral port, not yet serving (a subclass may wrap it)."""
        return _Server(self._app)

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections.

        .. versionadded:: 0.1.0
        """
        return self._server is not None

    def start(self) -> None:
        """Bind an ephemeral port and start serving (no-op when already running).

        .. versionadded:: 0.1.0
        """
        if self._server is not None:
            return
        server = self._bind()
        host, port = server.server_address[:2]
        self.url = f"{self._scheme}://{host!s}:{port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port (no-op when not running).

        .. versionadded:: 0.1.0
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> BackgroundHTTPServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
