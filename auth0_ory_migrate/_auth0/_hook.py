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
  carries only the identifier and the password);
* the password is never logged, stored or echoed; log lines name the outcome only;
* Auth0 is reached over https only (plain http to a loopback test server aside).

The decisions (checking and parsing the request, classifying Auth0's answer, choosing the
response) are the pure functions of :mod:`auth0_ory_migrate._core._hook`;
:class:`Auth0PasswordChecker` is the thin adapter over the SDK and :func:`make_hook_app` the
one over WSGI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from attrs import define, field
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error, RateLimitError

from .._core._auth0 import parse_domain
from .._core._hook import (
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
    parse_migration_request,
)
from ..exceptions import ConfigurationError
from ..typing import PasswordChecker


__all__ = [
    "Auth0PasswordChecker",
    "make_hook_app",
    "make_hook_server",
]

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
            return classify_auth0_error(e.status_code, e.error_code)
        except requests.Timeout:
            return Auth0Outcome("timeout")
        except requests.RequestException:
            return Auth0Outcome("unavailable")
        except ValueError:  # e.g. a malformed x-ratelimit-reset header
            return Auth0Outcome("unexpected")
        return classify_token_answer(answer)


def make_hook_app(settings: HookSettings, checker: PasswordChecker) -> WSGIApp:
    """Build the password-migration hook as a WSGI application.

    Args:
        settings: Shared secret, headers, body limit.
        checker: Who checks passwords, usually :meth:`Auth0PasswordChecker.connect`.

    Returns:
        A WSGI callable answering ``POST`` on any path.

    .. versionadded:: 0.1.0
    """
    secret_key = environ_key(settings.secret_header)
    ip_key = environ_key(settings.client_ip_header) if settings.client_ip_header else None

    def decide(environ: dict[str, Any]) -> HookAnswer:
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
        client_ip = client_ip_from(environ.get(ip_key)) if ip_key else None
        outcome = checker.check(parsed.identifier, parsed.password, client_ip)
        log.info(
            "password check: %s (Auth0 status %s, error %s, ip forwarded: %s)",
            outcome.kind,
            outcome.status,
            outcome.error_code,
            client_ip is not None,
        )
        return answer_for(outcome)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            answer = decide(environ)
        except Exception:  # never password_match by accident; never the password in a log
            log.exception("password-migration hook failed")
            answer = HookAnswer.error(500, "internal_error", "the hook failed")
        status, headers, payload = encode_answer(answer)
        start_response(status, headers)
        return [payload]

    return app


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs go to the hook's logger (request line and status only)."""
        log.debug("%s %s", self.address_string(), format % args)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def make_hook_server(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """A small threaded stdlib HTTP server for *app* (for small deployments and tests).

    Call ``serve_forever()`` on it; ``server.server_port`` is the port bound.

    .. versionadded:: 0.1.0
    """
    return make_server(
        host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
