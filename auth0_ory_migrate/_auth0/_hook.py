"""Ory's password-migration hook, answered by checking the password against Auth0.

Ory calls the hook on the first password login of an identity imported with
``use_password_migration_hook: true``: ``POST {"identifier": …, "password": …}``. It expects
``200 {"status": "password_match"}`` when the password is right and ``403`` when it is wrong;
anything else shows the user an error and leaves the identity as it was.

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
* the password is never logged, stored or echoed; log lines name the outcome only.

The decisions (parsing the request, classifying Auth0's answer, choosing the response) are
pure functions; :class:`Auth0PasswordChecker` is the thin adapter over the SDK.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from attrs import define, field, frozen
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error, RateLimitError

from ..exceptions import ConfigurationError


__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SECRET_HEADER",
    "Auth0Outcome",
    "Auth0PasswordChecker",
    "HookAnswer",
    "HookSettings",
    "MigrationRequest",
    "PasswordChecker",
    "answer_for",
    "classify_auth0_error",
    "client_ip_from",
    "make_hook_app",
    "make_hook_server",
    "ory_hook_config",
    "parse_migration_request",
    "split_auth0_domain",
]

log = logging.getLogger("auth0_ory_migrate.hook")

#: Largest request body accepted (Ory sends a few hundred bytes).
DEFAULT_MAX_BODY = 16 * 1024
#: Header carrying the shared secret, unless configured otherwise.
DEFAULT_SECRET_HEADER = "X-Migration-Hook-Secret"
#: Shortest shared secret accepted.
MIN_SECRET_LENGTH = 16
_MAX_IDENTIFIER = 512
_MAX_PASSWORD = 4096

OutcomeKind = Literal[
    "match",
    "wrong_password",
    "mfa_required",
    "blocked",
    "password_leaked",
    "rate_limited",
    "unavailable",
    "timeout",
    "misconfigured",
    "rejected",
    "unexpected",
]


# -- pure decisions ----------------------------------------------------------------------------


@frozen
class MigrationRequest:
    """Ory's hook request.

    Attributes:
        identifier: The login identifier (the email for ``preset://email``).
        password: The password typed (never in reprs).

    .. versionadded:: 0.1.0
    """

    identifier: str
    password: str = field(repr=False)


@frozen
class HookAnswer:
    """The HTTP answer of the hook.

    Attributes:
        status: HTTP status.
        body: JSON body.
        headers: Extra headers (``Retry-After``…).

    .. versionadded:: 0.1.0
    """

    status: int
    body: Mapping[str, str]
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def error(
        cls, status: int, error: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> HookAnswer:
        """An error answer ``{"error": …, "message": …}``.

        .. versionadded:: 0.1.0
        """
        return cls(status, {"error": error, "message": message}, headers)

    @property
    def is_match(self) -> bool:
        """Whether this answer tells Ory the password is right.

        .. versionadded:: 0.1.0
        """
        return self.status == 200 and self.body.get("status") == "password_match"


MATCH = HookAnswer(200, {"status": "password_match"})


def parse_migration_request(body: bytes) -> MigrationRequest | HookAnswer:
    """Read Ory's request body: exactly ``{"identifier": str, "password": str}``.

    Returns:
        The request, or a 400 :class:`HookAnswer` saying what is wrong (never echoing it).

    .. versionadded:: 0.1.0
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return HookAnswer.error(400, "invalid_request", "the body is not UTF-8 JSON")
    if not isinstance(data, dict):
        return HookAnswer.error(400, "invalid_request", "the body must be a JSON object")
    if set(data) != {"identifier", "password"}:
        return HookAnswer.error(
            400, "invalid_request", 'the body must hold exactly "identifier" and "password"'
        )
    identifier, password = data["identifier"], data["password"]
    if not isinstance(identifier, str) or not identifier.strip():
        return HookAnswer.error(400, "invalid_request", "identifier must be a non-empty string")
    if not isinstance(password, str) or not password:
        return HookAnswer.error(400, "invalid_request", "password must be a non-empty string")
    if len(identifier) > _MAX_IDENTIFIER or len(password) > _MAX_PASSWORD:
        return HookAnswer.error(400, "invalid_request", "identifier or password too long")
    return MigrationRequest(identifier=identifier.strip(), password=password)


def client_ip_from(header_value: str | None) -> str | None:
    """The end user's IP from a header value (the first of a comma-separated list), or None.

    Anything that is not an IP address gives None: nothing is forwarded rather than junk.

    .. versionadded:: 0.1.0
    """
    if not header_value:
        return None
    first = header_value.split(",", 1)[0].strip()
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return None


@frozen
class Auth0Outcome:
    """What Auth0 said about one password check.

    Attributes:
        kind: The classification (``match``, ``wrong_password``, ``mfa_required``…).
        status: Auth0's HTTP status, when it answered.
        error_code: Auth0's ``error`` code, when it gave one.
        retry_after: Seconds until Auth0's rate limit resets, when known.

    .. versionadded:: 0.1.0
    """

    kind: OutcomeKind
    status: int | None = None
    error_code: str | None = None
    retry_after: int | None = None


_MISCONFIGURED_CODES = frozenset(
    {
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_client",
        "invalid_request",
        "invalid_scope",
        "server_error_configuration",
    }
)


def classify_auth0_error(
    status: int | None,
    error_code: str | None,
    *,
    reset_at: int | None = None,
    now: float | None = None,
) -> Auth0Outcome:
    """Classify an Auth0 error answer of the password-realm grant.

    Only ``403 invalid_grant`` ("Wrong email or password.") is a wrong password.

    Args:
        status: The HTTP status (None when unknown).
        error_code: Auth0's ``error`` field.
        reset_at: ``x-ratelimit-reset`` (Unix seconds) for a 429.
        now: The current time (Unix seconds), for *reset_at*.

    .. versionadded:: 0.1.0
    """
    code = error_code or None
    if status == 403 and code == "invalid_grant":
        return Auth0Outcome("wrong_password", status, code)
    if code == "mfa_required":
        return Auth0Outcome("mfa_required", status, code)
    if code == "too_many_attempts" or (status == 401 and code == "unauthorized"):
        return Auth0Outcome("blocked", status, code)
    if code == "password_leaked":
        return Auth0Outcome("password_leaked", status, code)
    if status == 429:
        retry = None
        if reset_at is not None and reset_at > 0:
            current = time.time() if now is None else now
            retry = max(1, int(reset_at - current + 0.999))
        return Auth0Outcome("rate_limited", status, code, retry)
    if status is not None and status >= 500:
        return Auth0Outcome("unavailable", status, code)
    if code in _MISCONFIGURED_CODES or status in (400, 401):
        return Auth0Outcome("misconfigured", status, code)
    return Auth0Outcome("rejected", status, code)


def answer_for(outcome: Auth0Outcome) -> HookAnswer:
    """The hook's answer for an Auth0 outcome. Only ``match`` gives ``password_match``.

    .. versionadded:: 0.1.0
    """
    code = outcome.error_code or "none"
    kind = outcome.kind
    if kind == "match":
        return MATCH
    if kind == "wrong_password":
        return HookAnswer.error(403, "invalid_credentials", "wrong identifier or password")
    if kind == "mfa_required":
        return HookAnswer.error(
            409, "mfa_required", "the Auth0 user has MFA; migrate this user by password reset"
        )
    if kind == "blocked":
        return HookAnswer.error(423, "user_blocked", f"Auth0 blocks this login ({code})")
    if kind == "password_leaked":
        return HookAnswer.error(409, "password_leaked", "Auth0 flags this password as leaked")
    if kind == "rate_limited":
        headers = (("Retry-After", str(outcome.retry_after)),) if outcome.retry_after else ()
        return HookAnswer.error(503, "auth0_rate_limited", "Auth0 is rate-limiting", headers)
    if kind == "unavailable":
        return HookAnswer.error(
            502, "auth0_unavailable", f"Auth0 failed or could not be reached ({outcome.status})"
        )
    if kind == "timeout":
        return HookAnswer.error(504, "auth0_timeout", "Auth0 did not answer in time")
    if kind == "misconfigured":
        return HookAnswer.error(
            500,
            "hook_misconfigured",
            f"Auth0 refused the hook's application (HTTP {outcome.status}, {code}): check the "
            "client id/secret, the Password grant and the connection",
        )
    if kind == "rejected":
        return HookAnswer.error(
            502, "auth0_rejected", f"Auth0 refused the login (HTTP {outcome.status}, {code})"
        )
    return HookAnswer.error(502, "auth0_unexpected", "Auth0 gave an answer the hook cannot read")


def split_auth0_domain(value: str) -> tuple[str, str]:
    """``"tenant.eu.auth0.com"`` or ``"https://tenant…"`` → ``(protocol, host[:port])``.

    .. versionadded:: 0.1.0
    """
    text = value.strip().rstrip("/")
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigurationError(f"invalid Auth0 domain {value!r}")
        return parts.scheme, parts.netloc
    if not text or "/" in text:
        raise ConfigurationError(f"invalid Auth0 domain {value!r}")
    return "https", text


def ory_hook_config(
    url: str, *, secret_header: str = DEFAULT_SECRET_HEADER, secret: str | None = None
) -> dict[str, Any]:
    """The Ory configuration enabling the hook at *url* (without the secret unless given).

    ``selfservice.methods.password.config.migrate_hook``, as a nested dict.

    .. versionadded:: 0.1.0
    """
    return {
        "selfservice": {
            "methods": {
                "password": {
                    "config": {
                        "migrate_hook": {
                            "enabled": True,
                            "config": {
                                "url": url,
                                "method": "POST",
                                "headers": {"Content-Type": "application/json"},
                                "auth": {
                                    "type": "api_key",
                                    "config": {
                                        "name": secret_header,
                                        "value": secret if secret is not None else "<secret>",
                                        "in": "header",
                                    },
                                },
                            },
                        }
                    }
                }
            }
        }
    }


# -- the Auth0 adapter ------------------------------------------------------------------------


class PasswordChecker(Protocol):
    """Checks an identifier and password; what :func:`make_hook_app` calls.

    .. versionadded:: 0.1.0
    """

    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        """Ask the old system whether the password is right."""
        ...


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
        """Make a checker for the tenant *domain* (``tenant.auth0.com`` or a full URL).

        .. versionadded:: 0.1.0
        """
        if not client_id or not client_secret:
            raise ConfigurationError("the hook needs the Auth0 application's id and secret")
        if not connection:
            raise ConfigurationError("the hook needs the Auth0 database connection name")
        protocol, host = split_auth0_domain(domain)
        get_token = GetToken(
            host, client_id, client_secret=client_secret, timeout=timeout, protocol=protocol
        )
        return cls(get_token=get_token, connection=connection)

    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        """Try to log in at Auth0; classify what happened.

        .. versionadded:: 0.1.0
        """
        try:
            result = self.get_token.login(
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
        if (
            isinstance(result, Mapping)
            and isinstance(result.get("access_token"), str)
            and result["access_token"]
        ):
            return Auth0Outcome("match", 200)
        return Auth0Outcome("unexpected", 200)


# -- the WSGI application ---------------------------------------------------------------------


@frozen
class HookSettings:
    """How the hook authenticates Ory and reads requests.

    Attributes:
        secret: The shared secret Ory sends (at least 16 characters; never in reprs).
        secret_header: The header carrying it.
        client_ip_header: A header holding the end user's IP (set by a proxy in front of
            the hook, or by Ory when configured to), or None.
        max_body: Largest body accepted, in bytes.

    .. versionadded:: 0.1.0
    """

    secret: str = field(repr=False)
    secret_header: str = DEFAULT_SECRET_HEADER
    client_ip_header: str | None = None
    max_body: int = DEFAULT_MAX_BODY

    def __attrs_post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"the hook's shared secret must have at least {MIN_SECRET_LENGTH} characters"
            )
        if not self.secret_header.strip():
            raise ConfigurationError("the shared-secret header name is empty")


def _environ_key(header: str) -> str:
    name = header.strip().upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_hook_app(settings: HookSettings, checker: PasswordChecker) -> WSGIApp:
    """Build the password-migration hook as a WSGI application.

    Args:
        settings: Shared secret, headers, body limit.
        checker: Who checks passwords, usually :meth:`Auth0PasswordChecker.connect`.

    Returns:
        A WSGI callable answering ``POST`` on any path.

    .. versionadded:: 0.1.0
    """
    secret_key = _environ_key(settings.secret_header)
    ip_key = _environ_key(settings.client_ip_header) if settings.client_ip_header else None
    expected = settings.secret.encode("utf-8")

    def decide(environ: dict[str, Any]) -> HookAnswer:
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return HookAnswer.error(405, "method_not_allowed", "use POST", (("Allow", "POST"),))
        given = str(environ.get(secret_key, "")).encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            return HookAnswer.error(401, "unauthorized", "missing or wrong shared secret")
        raw_length = environ.get("CONTENT_LENGTH") or ""
        try:
            length = int(raw_length)
        except ValueError:
            return HookAnswer.error(411, "length_required", "a Content-Length is required")
        if length < 0:
            return HookAnswer.error(400, "invalid_request", "bad Content-Length")
        if length > settings.max_body:
            return HookAnswer.error(413, "too_large", f"the body exceeds {settings.max_body} bytes")
        body = environ["wsgi.input"].read(length) if length else b""
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
        payload = json.dumps(dict(answer.body), separators=(",", ":")).encode()
        reason = _REASONS.get(answer.status, "Error")
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            *answer.headers,
        ]
        start_response(f"{answer.status} {reason}", headers)
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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    423: "Locked",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
