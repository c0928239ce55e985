"""The rules of the password-migration hook, as pure functions on frozen records.

Ory calls the hook on the first password login of an identity imported with
``use_password_migration_hook: true``: ``POST {"identifier": …, "password": …}``. It expects
``200 {"status": "password_match"}`` when the password is right and ``403`` when it is wrong;
anything else shows the user an error and leaves the identity as it was.

What a request may be (:func:`check_request`, :func:`parse_migration_request`), what
Auth0's answer means (:func:`classify_auth0_error`, :func:`classify_token_answer`) and what
the hook answers Ory (:func:`answer_for`, :func:`encode_answer`) are decided here;
:mod:`auth0_ory_migrate._auth0._hook` carries the decisions out over auth0-python and WSGI.
Only a token from Auth0 ever gives ``password_match``, and no answer, reason or log line
repeats the password.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

from attrs import field, frozen

from ..exceptions import ConfigurationError


__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_SECRET_HEADER",
    "MATCH",
    "MIN_SECRET_LENGTH",
    "Auth0Outcome",
    "HookAnswer",
    "HookSettings",
    "MigrationRequest",
    "OutcomeKind",
    "WSGIApp",
    "answer_for",
    "check_request",
    "classify_auth0_error",
    "classify_token_answer",
    "client_ip_from",
    "encode_answer",
    "environ_key",
    "identifier_tag",
    "ory_hook_config",
    "parse_migration_request",
    "parse_trusted_proxies",
]

#: A WSGI application (what :func:`~auth0_ory_migrate.make_hook_app` returns).
WSGIApp: TypeAlias = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Largest request body accepted (Ory sends a few hundred bytes).
DEFAULT_MAX_BODY = 16 * 1024
#: Header carrying the shared secret, unless configured otherwise.
DEFAULT_SECRET_HEADER = "X-Migration-Hook-Secret"
#: Shortest shared secret accepted.
MIN_SECRET_LENGTH = 16
_MAX_IDENTIFIER = 512
_MAX_PASSWORD = 4096
_MFA_VERDICTS = ("password_match", "error")

IPNetwork: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"

#: What an Auth0 password check can come to.
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


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


# -- records ---------------------------------------------------------------------------------


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


#: The one answer that tells Ory the password is right.
MATCH = HookAnswer(200, {"status": "password_match"})


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


@frozen
class HookSettings:
    """How the hook authenticates Ory and reads requests.

    Attributes:
        secret: The shared secret Ory sends (at least 16 characters; never in reprs).
        secret_header: The header carrying it.
        client_ip_header: A header holding the end user's IP (set by a proxy in front of
            the hook, or by Ory when configured to), or None. A comma-separated list (as
            ``X-Forwarded-For``) is read from the right: see :func:`client_ip_from`.
        max_body: Largest body accepted, in bytes.
        trusted_proxies: Addresses or CIDR networks of your own proxies (``10.0.0.0/8``),
            skipped when reading *client_ip_header* from the right.
        mfa_required_means: What Auth0's ``mfa_required`` (which only follows a right
            password) tells Ory: ``"password_match"`` (the default: the user migrates, and
            Ory's own second factor then applies) or ``"error"`` (409: such users cannot
            log in through the hook).
        log_identifiers: Log login identifiers in clear; otherwise a short keyed hash
            (:func:`identifier_tag`).

    .. versionadded:: 0.1.0
    """

    secret: str = field(repr=False)
    secret_header: str = DEFAULT_SECRET_HEADER
    client_ip_header: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    trusted_proxies: tuple[str, ...] = field(default=(), converter=_strings)
    mfa_required_means: Literal["password_match", "error"] = "password_match"
    log_identifiers: bool = False

    def __attrs_post_init__(self) -> None:
        parse_trusted_proxies(self.trusted_proxies)
        if self.mfa_required_means not in _MFA_VERDICTS:
            raise ConfigurationError(
                "mfa_required_means must be one of " + ", ".join(_MFA_VERDICTS)
            )
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"the hook's shared secret must have at least {MIN_SECRET_LENGTH} characters"
            )
        if not self.secret_header.strip():
            raise ConfigurationError("the shared-secret header name is empty")


# -- the request ---------------------------------------------------------------------------------


def environ_key(header: str) -> str:
    """The WSGI environ key of an HTTP request header (``X-A-B`` → ``HTTP_X_A_B``).

    .. versionadded:: 0.1.0
    """
    name = header.strip().upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


def check_request(
    settings: HookSettings, *, method: str, secret: str, content_length: str
) -> HookAnswer | int:
    """Check a request before its body is read: the bytes to read, or the answer to give.

    Only ``POST`` with the shared secret (compared in constant time) and a
    ``Content-Length`` within ``settings.max_body`` is read.

    Args:
        settings: The hook's settings.
        method: The HTTP method.
        secret: The shared-secret header's value ("" when absent).
        content_length: The ``Content-Length`` header's value ("" when absent).

    .. versionadded:: 0.1.0
    """
    if method.upper() != "POST":
        return HookAnswer.error(405, "method_not_allowed", "use POST", (("Allow", "POST"),))
    given = secret.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, settings.secret.encode("utf-8")):
        return HookAnswer.error(401, "unauthorized", "missing or wrong shared secret")
    try:
        length = int(content_length)
    except ValueError:
        return HookAnswer.error(411, "length_required", "a Content-Length is required")
    if length < 0:
        return HookAnswer.error(400, "invalid_request", "bad Content-Length")
    if length > settings.max_body:
        return HookAnswer.error(413, "too_large", f"the body exceeds {settings.max_body} bytes")
    return length


def parse_migration_request(body: bytes) -> MigrationRequest | HookAnswer:
    """Read Ory's request body: exactly ``{"identifier": str, "password": str}``.

    Returns:
        The request, or a 400 :class:`HookAnswer` saying what is wrong (never echoing it).

    .. versionadded:: 0.1.0
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nesting deeper than the interpreter's stack ("[[[[..."); ValueError
        # also covers integers of more digits than Python converts.
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


def parse_trusted_proxies(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The networks of *values* (``10.0.0.0/8``, ``fd00::/8``, or single addresses).

    Raises:
        ConfigurationError: A value that is neither an address nor a CIDR network (host bits
            set, as ``10.0.0.1/8``, are refused too: the intent is unclear).

    .. versionadded:: 0.1.0
    """
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=True))
        except ValueError:
            raise ConfigurationError(
                f"not a trusted proxy address or CIDR network: {value!r}"
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip_from(
    header_value: str | None, trusted_proxies: Sequence[IPNetwork] = ()
) -> str | None:
    """The end user's IP from a proxy header (``X-Forwarded-For``), or None.

    Each proxy appends the address it received the request from, so only the right end of the
    list is trustworthy: the left is whatever the client sent. The end user is the right-most
    address that is not one of *trusted_proxies* (when every address is trusted, the
    left-most). An entry that is not an IP address where the walk stops gives None: nothing is
    forwarded rather than junk or a client's pick.

    Args:
        header_value: The header's value (a comma-separated list).
        trusted_proxies: Your own proxies (:func:`parse_trusted_proxies`).

    .. versionadded:: 0.1.0
    """
    if not header_value:
        return None
    entries = [x.strip() for x in header_value.split(",")]
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            return None
        if not any(address in network for network in trusted_proxies):
            return str(address)
    first = _address(entries[0])
    return str(first) if first is not None else None


def identifier_tag(key: str, identifier: str) -> str:
    """A short keyed hash of a login identifier, for logs (``id:`` and 16 hex digits).

    The same identifier (case and surrounding spaces aside) gives the same tag under the same
    *key* (the hook uses its shared secret), so one user's attempts can be followed without the
    identifier in the logs, and the tag cannot be reversed by hashing a list of emails
    without the key.

    .. versionadded:: 0.1.0
    """
    derived = hmac.new(key.encode(), b"auth0-ory-migrate identifier tag", hashlib.sha256)
    digest = hmac.new(derived.digest(), identifier.strip().lower().encode(), hashlib.sha256)
    return "id:" + digest.hexdigest()[:16]


# -- Auth0's answer --------------------------------------------------------------------------------


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


def classify_token_answer(answer: object) -> Auth0Outcome:
    """Classify a 2xx answer of the password-realm grant: a match only if it holds a token.

    .. versionadded:: 0.1.0
    """
    token = answer.get("access_token") if isinstance(answer, Mapping) else None
    if isinstance(token, str) and token:
        return Auth0Outcome("match", 200)
    return Auth0Outcome("unexpected", 200)


# -- the answer to Ory -----------------------------------------------------------------------------


def answer_for(
    outcome: Auth0Outcome,
    *,
    mfa_required_means: Literal["password_match", "error"] = "password_match",
) -> HookAnswer:
    """The hook's answer for an Auth0 outcome.

    Only ``match`` gives ``password_match``, and ``mfa_required`` when *mfa_required_means*
    says so and Auth0 answered it as it does: 403 after a right password (the MFA grant
    issues tokens from the ``mfa_token`` and a one-time code alone, so Auth0 checks the
    password first; a wrong one is ``invalid_grant``).

    .. versionadded:: 0.1.0
    """
    code = outcome.error_code or "none"
    kind = outcome.kind
    if kind == "match":
        return MATCH
    if (
        kind == "mfa_required"
        and mfa_required_means == "password_match"
        and outcome.status == 403
        and outcome.error_code == "mfa_required"
    ):
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


def encode_answer(answer: HookAnswer) -> tuple[str, list[tuple[str, str]], bytes]:
    """The HTTP status line, headers and body of *answer* (JSON, never cached).

    .. versionadded:: 0.1.0
    """
    payload = json.dumps(dict(answer.body), separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", "no-store"),
        *answer.headers,
    ]
    return f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers, payload


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
