"""Ory's password-migration hook, answered by checking the password against Auth0.

:func:`make_hook_app` builds a plain WSGI application (mount it in gunicorn, Flask, Django…)
that checks the password with Auth0's resource-owner password grant
(``auth0.authentication.GetToken.login`` with the database connection as realm):

* the shared secret Ory sends (header name and value configurable) is required and compared
  in constant time; bodies over a small limit and anything but that exact JSON shape are
  refused;
* only a token from Auth0 gives ``password_match``; only Auth0's ``invalid_grant`` gives 403;
  everything else (MFA required, blocked user, Auth0 rate-limited, down or unreachable, a
  misconfigured application) is an error status with a JSON ``{"error", "message"}`` body;
* the end user's IP, when a header carries it, is passed to Auth0 as ``auth0-forwarded-for``
  so that Auth0's brute-force protection keeps counting per user IP (Ory's own request
  carries only the identifier and the password): the right-most address that is not one of
  your trusted proxies, never the client-supplied left end of ``X-Forwarded-For``;
* Auth0's ``mfa_required`` (only ever after a right password) is a match by default;
* one JSON log line per request (outcome, status, latencies, Auth0's status, a keyed hash of
  the identifier); the password and the secrets are never logged, stored or echoed;
* Auth0 is reached over https only (plain http to a loopback test server aside).

:func:`make_hook_server` serves the application with waitress (the ``[hook]`` extra): a
pool of worker threads behind one event loop that buffers each request whole before a
worker sees it, a deep listen backlog, and a deadline for each request to arrive.

The decisions (checking and parsing the request, classifying Auth0's answer, choosing the
response) are the pure functions of :mod:`auth0_ory_migrate._core._hook`;
:class:`Auth0PasswordChecker` is the thin adapter over the SDK and :func:`make_hook_app` the
one over WSGI.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
from attrs import define, field
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error, RateLimitError

from .._core._auth0 import parse_domain
from .._core._hook import (
    DEFAULT_MAX_BODY,
    Auth0Outcome,
    HookAnswer,
    HookSettings,
    WSGIApp,
    answer_for,
    check_request,
    classify_auth0_error,
    classify_token_answer,
    client_ip_from,
    encode_answer,
    environ_key,
    identifier_tag,
    parse_migration_request,
    parse_trusted_proxies,
)
from ..exceptions import ConfigurationError
from ..typing import PasswordChecker


__all__ = [
    "Auth0PasswordChecker",
    "HookServer",
    "make_hook_app",
    "make_hook_server",
]

#: What to install when waitress is missing.
_INSTALL_HINT = "pip install 'auth0-ory-migrate[hook]'"

log = logging.getLogger("auth0_ory_migrate.hook")


@define
class Auth0PasswordChecker:
    """Checks passwords with Auth0's password-realm grant (``GetToken.login``).

    The Auth0 application needs the Password grant; for brute-force protection per user IP,
    also "Trust Token Endpoint IP Header" (the client secret is sent).

    .. versionadded:: 0.1.0
    """

    get_token: GetToken = field(repr=False)
    connection: str
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @classmethod
    def connect(
        cls,
        domain: str,
        client_id: str,
        client_secret: str,
        connection: str,
        *,
        timeout: float = 5.0,
    ) -> Auth0PasswordChecker:
        """Make a checker for the tenant *domain*.

        Args:
            domain: ``tenant.eu.auth0.com`` or an https URL; plain http only to a loopback
                address (a local test server): passwords and the client secret never
                travel unencrypted.
            client_id: The Auth0 application (with the Password grant).
            client_secret: Its secret.
            connection: The database connection (the grant's realm).
            timeout: Seconds to wait for Auth0.

        Raises:
            ConfigurationError: A domain that cannot be used, or missing credentials.

        .. versionadded:: 0.1.0
        """
        endpoint = parse_domain(domain)
        if not client_id or not client_secret:
            raise ConfigurationError("the hook needs the Auth0 application's id and secret")
        if not connection:
            raise ConfigurationError("the hook needs the Auth0 database connection name")
        get_token = GetToken(
            endpoint.netloc,
            client_id,
            client_secret=client_secret,
            timeout=timeout,
            protocol=endpoint.scheme,
        )
        return cls(get_token=get_token, connection=connection)

    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        """Try to log in at Auth0; classify what happened.

        .. versionadded:: 0.1.0
        """
        try:
            answer = self.get_token.login(
                identifier,
                password,
                realm=self.connection,
                scope="openid",
                forwarded_for=client_ip,
            )
        except RateLimitError as e:
            return classify_auth0_error(429, e.error_code, reset_at=e.reset_at, now=self.clock())
        except Auth0Error as e:
            outcome = classify_auth0_error(e.status_code, e.error_code)
            content = e.content if isinstance(e.content, dict) else {}
            if outcome.kind == "mfa_required" and not isinstance(content.get("mfa_token"), str):
                # Auth0's mfa_required always carries the token of the MFA grant.
                return Auth0Outcome("unexpected", outcome.status, outcome.error_code)
            return outcome
        except requests.Timeout:
            return Auth0Outcome("timeout")
        except requests.RequestException:
            return Auth0Outcome("unavailable")
        except ValueError:  # e.g. a malformed x-ratelimit-reset header
            return Auth0Outcome("unexpected")
        return classify_token_answer(answer)


def make_hook_app(settings: HookSettings, checker: PasswordChecker) -> WSGIApp:
    """Build the password-migration hook as a WSGI application.

    Each request is logged as one JSON line at INFO on the ``auth0_ory_migrate.hook`` logger
    (also attached to the record as ``hook_request``): ``outcome`` (``password_match`` or
    the answer's error code), ``status``, ``latency_ms`` (the hook's whole time),
    ``auth0_ms``, ``auth0_status`` and ``auth0_error`` (None when Auth0 was not asked),
    ``identifier`` (a keyed hash, see :attr:`HookSettings.log_identifiers`) and
    ``ip_forwarded``. Never the password, the secrets or Auth0's token.

    Args:
        settings: Shared secret, headers, body limit, trusted proxies, MFA verdict, logging.
        checker: Who checks passwords, usually :meth:`Auth0PasswordChecker.connect`.

    Returns:
        A WSGI callable answering ``POST`` on any path.

    .. versionadded:: 0.1.0
    """
    secret_key = environ_key(settings.secret_header)
    ip_key = environ_key(settings.client_ip_header) if settings.client_ip_header else None
    trusted = parse_trusted_proxies(settings.trusted_proxies)

    def decide(environ: dict[str, Any], entry: dict[str, Any]) -> HookAnswer:
        checked = check_request(
            settings,
            method=str(environ.get("REQUEST_METHOD", "GET")),
            secret=str(environ.get(secret_key, "")),
            content_length=str(environ.get("CONTENT_LENGTH") or ""),
        )
        if isinstance(checked, HookAnswer):
            return checked
        body = environ["wsgi.input"].read(checked) if checked else b""
        parsed = parse_migration_request(body)
        if isinstance(parsed, HookAnswer):
            return parsed
        entry["identifier"] = (
            parsed.identifier
            if settings.log_identifiers
            else identifier_tag(settings.secret, parsed.identifier)
        )
        client_ip = client_ip_from(environ.get(ip_key), trusted) if ip_key else None
        entry["ip_forwarded"] = client_ip is not None
        asked = time.perf_counter()
        outcome = checker.check(parsed.identifier, parsed.password, client_ip)
        entry["auth0_ms"] = round((time.perf_counter() - asked) * 1000, 1)
        entry["auth0_status"] = outcome.status
        entry["auth0_error"] = outcome.error_code
        entry["auth0_outcome"] = outcome.kind
        return answer_for(outcome, mfa_required_means=settings.mfa_required_means)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        entry: dict[str, Any] = {
            "event": "password_check",
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "outcome": None,
            "status": None,
            "latency_ms": None,
            "auth0_ms": None,
            "auth0_status": None,
            "auth0_error": None,
            "auth0_outcome": None,
            "identifier": None,
            "ip_forwarded": False,
        }
        try:
            answer = decide(environ, entry)
        except Exception as e:  # never password_match by accident; never the password in a log
            # The exception's type and place only: its message or traceback could hold a value.
            frame = e.__traceback__
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "unknown"
            log.error("password-migration hook failed: %s at %s", type(e).__name__, where)
            answer = HookAnswer.error(500, "internal_error", "the hook failed")
        entry["status"] = answer.status
        entry["outcome"] = "password_match" if answer.is_match else answer.body.get("error")
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        log.info(json.dumps(entry, separators=(",", ":")), extra={"hook_request": entry})
        status, headers, payload = encode_answer(answer)
        start_response(status, headers)
        return [payload]

    return app


def _waitress() -> Any:
    """Waitress's server module, or a ConfigurationError saying how to install it."""
    try:
        import waitress.server  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise ConfigurationError(
            "serving the hook needs the waitress WSGI server: " + _INSTALL_HINT
        ) from None
    return waitress.server


class HookServer:
    """The hook served by waitress: :func:`make_hook_server` makes one.

    ``serve_forever()`` serves until ``shutdown()`` (from another thread) or Ctrl-C;
    ``server_close()`` then releases the port and the worker threads (the names are those of
    :class:`socketserver.BaseServer`).

    Attributes:
        server_port: The TCP port bound.
        request_timeout: Seconds a request may take to arrive whole.

    .. versionadded:: 0.1.0
    """

    def __init__(self, server: Any, request_timeout: float) -> None:
        self._server = server
        self._map: dict[int, Any] = server._map
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self.server_port: int = int(server.effective_port)
        self.request_timeout = request_timeout

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown`.

        .. versionadded:: 0.1.0
        """
        from waitress import wasyncore  # noqa: PLC0415 - an optional extra

        self._stopped.clear()
        try:
            while not self._stop.is_set() and self._map:
                wasyncore.loop(timeout=poll_interval, use_poll=True, map=self._map, count=1)
        finally:
            self._stop.clear()
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait for it to return.

        .. versionadded:: 0.1.0
        """
        self._stop.set()
        self._server.pull_trigger()
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket, every connection and the worker threads.

        .. versionadded:: 0.1.0
        """
        from waitress import wasyncore  # noqa: PLC0415 - an optional extra

        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._map)


def _deadline_classes(server_module: Any, request_timeout: float) -> Any:
    """Waitress's TCP server and channel, with a deadline for each request to arrive whole.

    waitress's own ``channel_timeout`` counts from the last byte received, so a client that
    trickles a byte every second is never cut off; here a request (from the connection's
    accept, or from its first byte on a kept-alive connection) that is not whole after
    *request_timeout* seconds has its connection closed.
    """
    channel_base = server_module.TcpWSGIServer.channel_class

    class DeadlineChannel(channel_base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.request_started: float | None = time.monotonic()

        def received(self, data: bytes) -> bool:
            if self.request is None and self.request_started is None and data:
                self.request_started = time.monotonic()
            result: bool = super().received(data)
            if self.request is None:
                self.request_started = None  # nothing partial left: whole requests only
            return result

    class DeadlineServer(server_module.TcpWSGIServer):  # type: ignore[misc]
        channel_class = DeadlineChannel

        def maintenance(self, now: float) -> None:
            super().maintenance(now)
            cutoff = time.monotonic() - request_timeout
            for channel in list(self.active_channels.values()):
                started = getattr(channel, "request_started", None)
                if not channel.requests and started is not None and started < cutoff:
                    channel.will_close = True

    return DeadlineServer


def _adjustments(
    server_module: Any,
    *,
    host: str,
    port: int,
    threads: int,
    backlog: int,
    connection_limit: int,
    idle_timeout: float,
    max_body: int,
) -> Any:
    return server_module.Adjustments(
        host=host,
        port=port,
        threads=threads,
        backlog=backlog,
        connection_limit=connection_limit,
        channel_timeout=max(1, round(idle_timeout)),
        cleanup_interval=1,
        max_request_body_size=max_body,
        ident="",
        expose_tracebacks=False,
        log_socket_errors=False,
        asyncore_use_poll=True,
        # The hook reads its client-IP header itself (client_ip_from, trusted proxies).
        clear_untrusted_proxy_headers=False,
    )


def make_hook_server(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    threads: int = 32,
    backlog: int = 1024,
    request_timeout: float = 10.0,
    idle_timeout: float = 120.0,
    connection_limit: int = 500,
    max_body: int = DEFAULT_MAX_BODY,
) -> HookServer:
    """Serve *app* with waitress, a production WSGI server (the ``[hook]`` extra).

    Call ``serve_forever()`` on the result; ``server.server_port`` is the port bound.

    Args:
        app: The WSGI application (:func:`make_hook_app`).
        host: Address to listen on (an IPv4 or IPv6 address, or a name: its first address).
        port: TCP port (0: any free one).
        threads: Worker threads, i.e. password checks in flight at Auth0 at once. Each waits
            on Auth0 (~50-300 ms), so more threads than cores pay off; keep within what your
            Auth0 plan's Authentication API rate limit allows.
        backlog: Listen backlog: connections the kernel queues before they are accepted
            (capped by ``net.core.somaxconn``).
        request_timeout: Seconds a request may take to arrive whole (headers and body),
            from the connection's accept or, on a kept-alive connection, from the request's
            first byte. Slower clients are disconnected (checked about once a second).
        idle_timeout: Seconds an idle kept-alive connection stays open.
        connection_limit: Open connections at most; more wait in the backlog.
        max_body: Largest request body waitress buffers (larger: 413).

    Raises:
        ConfigurationError: waitress is not installed (the message says how to install it),
            or a value out of range.

    .. versionadded:: 0.1.0
    """
    if threads < 1 or backlog < 1 or connection_limit < 1:
        raise ConfigurationError("threads, backlog and connection limit must be at least 1")
    if request_timeout <= 0 or idle_timeout <= 0:
        raise ConfigurationError("the request and idle timeouts must be positive")
    server_module = _waitress()
    try:
        adjustments = _adjustments(
            server_module,
            host=host,
            port=port,
            threads=threads,
            backlog=backlog,
            connection_limit=connection_limit,
            idle_timeout=idle_timeout,
            max_body=max_body,
        )
    except (ValueError, OSError):
        raise ConfigurationError(f"cannot listen on {host!r} port {port}") from None
    listen = adjustments.listen  # a name with several addresses: the first is used
    dispatcher = server_module.ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    server_class = _deadline_classes(server_module, request_timeout)
    channels: dict[int, Any] = {}
    try:
        server = server_class(
            app, channels, True, None, dispatcher=dispatcher, adj=adjustments, sockinfo=listen[0]
        )
    except OSError as e:
        from waitress import wasyncore  # noqa: PLC0415 - an optional extra

        wasyncore.close_all(channels)  # the socket and the wake-up pipe made before bind
        dispatcher.shutdown()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return HookServer(server, request_timeout)
