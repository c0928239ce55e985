"""An Auth0 test server: the Management API v2 user-export job and the token endpoint.

:class:`Auth0ManagementServer` answers on ``127.0.0.1`` the way an Auth0 tenant does, for what a
migration touches:

Management API v2 (bearer token, ``Authorization: Bearer ...``)
    - ``POST /api/v2/jobs/users-exports`` (scope ``read:users``): validates the body like Auth0
      (unknown keys, ``null`` values, a ``connection_id`` that is not ``con_`` + 16 characters or
      that does not exist, more than 30 CSV fields → 400 ``invalid_body``/``inexistent_connection``)
      and answers the job: ``{"type": "users_export", "status": "pending", "connection_id",
      "connection", "format", "limit", "fields", "created_at", "id": "job_..."}``.
    - ``GET /api/v2/jobs/{id}`` (``read:users`` or ``create:users``): each call moves the job one
      step, ``pending`` → ``processing`` (``percentage_done``, ``time_left_seconds``) →
      :attr:`Auth0ManagementServer.job_outcome` (``completed`` with a fresh ``location`` on every
      call, or ``failed`` with ``status_details``, or ``expired``).
    - ``GET /api/v2/connections`` (``read:connections``): ``name`` / ``strategy`` filters,
      checkpoint pagination (``take``/``from`` → ``{"connections": [...], "next": ...}``),
      offset pagination with ``include_totals``, or a plain array.
    - Roles and organizations, when the server is given an
      :class:`~auth0_ory_migrate.testing.AuthzGraph` (``authz=``): ``GET /api/v2/roles``,
      ``/roles/{id}/permissions``, ``/roles/{id}/users``, ``/organizations``,
      ``/organizations/{id}/members`` and ``/organizations/{id}/enabled_connections`` (see
      :func:`~auth0_ory_migrate.testing.authz_graph` for their paging and scopes).
    - Errors carry Auth0's body ``{"statusCode", "error", "message", "errorCode"}``: 401 for a
      missing or unknown token, 403 ``insufficient_scope``, 404 ``inexistent_job``, and the
      switchable faults (429 with ``x-ratelimit-limit`` / ``-remaining`` / ``-reset``, 5xx).

The export file
    ``location`` is a pre-signed-looking URL on this same server (``/exports/...?X-Amz-...``),
    valid :attr:`Auth0ManagementServer.link_ttl` seconds (60 by default, like Auth0's). An expired
    link is answered the way S3 answers an expired pre-signed URL: 403 with an XML ``<Error>`` body
    (``AccessDenied`` / ``Request has expired``). The file is the gzip-compressed export, built
    when the job is created from the user dicts handed to the server: newline-delimited JSON
    (``format: json``) or CSV, with the requested ``fields`` (dotted paths and ``[i]`` indexes;
    ``export_as`` renames; a field the user lacks is left out), only the users whose primary
    identity (``identities[0].connection``) is the requested connection (every user when
    ``connection_id`` is omitted), at most ``limit`` users.

Authentication API ``POST /oauth/token`` (JSON or form-encoded; client secret in the body or HTTP
Basic)
    - ``client_credentials`` for the audience ``https://{domain}/api/v2/`` (what
      ``auth0.management.ManagementClient(client_id=..., client_secret=...)`` and
      ``auth0.authentication.GetToken.client_credentials`` send): a Management API token with the
      client's scopes.
    - ``http://auth0.com/oauth/grant-type/password-realm`` (``GetToken.login``) against the users
      added with :meth:`Auth0ManagementServer.add_password_user`: right password → token; wrong
      password or unknown user → 403 ``invalid_grant`` ("Wrong email or password."); an MFA
      user → 403 ``mfa_required`` with an ``mfa_token``; a blocked user → 401 ``unauthorized``. The
      ``auth0-forwarded-for`` header is recorded (:attr:`Auth0ManagementServer.token_requests`).

Everything else of Auth0 is out of scope. Error codes and messages marked *unverified* in the
code follow Auth0's usual shape but were not checked against a live tenant.

Example::

    from auth0.management.client import Auth0

    users = [{"user_id": "auth0|1", "email": "a@example.com",
              "identities": [{"connection": "Username-Password-Authentication",
                              "provider": "auth0", "user_id": "1", "isSocial": False}]}]
    with Auth0ManagementServer(users) as server:
        api = Auth0(base_url=server.management_url, token=server.token)
        job = api.jobs.users_exports.create(format="json", fields=[{"name": "email"}])

The server is thread-safe; faults are set with :meth:`Auth0ManagementServer.add_fault` and friends.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode

from attrs import define, field, frozen

from . import _http
from ._http import BackgroundHTTPServer, HttpRequest, HttpResponse


if TYPE_CHECKING:
    from ._authz_graph import AuthzApi, AuthzGraph


__all__ = [
    "DEFAULT_SERVER_EXPORT_FIELDS",
    "PASSWORD_REALM_GRANT",
    "Auth0ManagementServer",
    "ClientApp",
    "Fault",
    "PasswordUser",
    "TokenRequest",
]

#: The ``grant_type`` of Auth0's resource-owner password grant with a realm.
PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"

#: What the server exports when the job request has no ``fields`` (Auth0 uses "a predefined set of
#: fields"; this list is *unverified*).
DEFAULT_SERVER_EXPORT_FIELDS: tuple[str, ...] = (
    "user_id",
    "email",
    "email_verified",
    "name",
    "nickname",
    "picture",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
)

JobOutcome = Literal["completed", "failed", "expired"]

_ALL_SCOPES = (
    "read:users",
    "create:users",
    "read:connections",
    "read:roles",
    "read:organizations",
    "read:organization_members",
    "read:organization_member_roles",
    "read:organization_connections",
)
_CONNECTION_ID = re.compile(r"^con_[A-Za-z0-9]{16}$")
_JOB_PATH = re.compile(r"^/api/v2/jobs/([^/]+)$")
_EXPORT_PATH = re.compile(r"^/exports/(job_[A-Za-z0-9]+)/[^/]+$")
_FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MAX_CSV_FIELDS = 30
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@frozen
class ClientApp:
    """An Auth0 application allowed to call ``/oauth/token``.

    Attributes:
        client_id: The application's client id.
        client_secret: Its secret (never shown in reprs).
        scopes: Management API scopes its ``client_credentials`` tokens carry.
        grant_types: Grants it may use (``client_credentials``, :data:`PASSWORD_REALM_GRANT`).
        trust_forwarded_for: Auth0's "Trust Token Endpoint IP Header" setting: whether an
            ``auth0-forwarded-for`` header sent with the client secret counts as the end
            user's IP (recorded as :attr:`TokenRequest.forwarded_for_trusted`).

    .. versionadded:: 0.1.0
    """

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = _ALL_SCOPES
    grant_types: tuple[str, ...] = ("client_credentials", PASSWORD_REALM_GRANT)
    trust_forwarded_for: bool = True


@frozen
class PasswordUser:
    """A database user the password-realm grant can log in.

    Attributes:
        username: Email or username (matched case-insensitively).
        password: The right password (never shown in reprs).
        realm: The database connection's name.
        mfa: Whether the user must pass MFA (the grant answers ``mfa_required``).
        blocked: Whether the user is blocked (the grant answers 401 ``unauthorized``).

    .. versionadded:: 0.1.0
    """

    username: str
    password: str = field(repr=False)
    realm: str = "Username-Password-Authentication"
    mfa: bool = False
    blocked: bool = False


@frozen
class TokenRequest:
    """What one ``POST /oauth/token`` asked for, and what it got (passwords are not kept).

    Attributes:
        grant_type: The ``grant_type`` sent.
        client_id: The client id sent (None when missing).
        client_authenticated: Whether a correct client secret came with it.
        username: For the password grants, the username sent.
        realm: For the password-realm grant, the realm sent.
        audience: The ``audience`` sent.
        forwarded_for: The ``auth0-forwarded-for`` header, when present.
        forwarded_for_trusted: Whether Auth0 would use that header as the end user's IP (the
            client secret was sent and the application trusts the header).
        status: The HTTP status answered.
        error: The OAuth ``error`` answered (None on success).

    .. versionadded:: 0.1.0
    """

    grant_type: str | None
    client_id: str | None
    client_authenticated: bool
    username: str | None
    realm: str | None
    audience: str | None
    forwarded_for: str | None
    forwarded_for_trusted: bool
    status: int
    error: str | None


@frozen
class Fault:
    """A switchable failure: the next ``times`` requests whose path starts with ``path_prefix``.

    Attributes:
        path_prefix: Which requests it hits (``/api/v2/`` = the Management API,
            ``/oauth/token``, ``/exports/`` = the file downloads).
        status: The status answered: 429 (with ``x-ratelimit-*`` headers) or any 4xx/5xx.
        times: How many requests it hits.
        reset_in: For 429: ``x-ratelimit-reset`` is "now" plus this many seconds.
        retry_after: For 429: also send ``Retry-After`` (seconds) when set.
        method: Only requests with this method (None = any).

    .. versionadded:: 0.1.0
    """

    path_prefix: str
    status: int
    times: int = 1
    reset_in: int = 1
    retry_after: int | None = None
    method: str | None = None


@define
class _ActiveFault:
    fault: Fault
    left: int


@define
class _Job:
    id: str
    connection_id: str | None
    connection: str | None
    format: str
    limit: int | None
    fields: list[dict[str, str]] | None
    created_at: str
    outcome: JobOutcome
    data: bytes
    polls: int = 0
    expired: bool = False


@define
class _Link:
    job_id: str
    expires_at: float


class _TLSServer(_http._Server):
    """The shared base's server with TLS on every accepted connection."""

    def __init__(self, app: _http.Handler, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(app)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        # The handshake happens on the first read, in the request's own thread.
        return self._context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), addr


class _TLSBackgroundServer(BackgroundHTTPServer):
    """:class:`BackgroundHTTPServer` speaking HTTPS with a throw-away self-signed certificate."""

    _scheme = "https"

    def __init__(self, app: _http.Handler, context: ssl.SSLContext) -> None:
        super().__init__(app)
        self._context = context

    def _bind(self) -> _http._Server:
        return _TLSServer(self._app, self._context)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a certificate for 127.0.0.1/localhost and its key; return their paths."""
    # Only HTTPS needs cryptography (installed with auth0-python): import it when asked.
    import ipaddress  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth0-test-server")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _text(value: Any) -> str | None:
    """*value* when it is a string (a request parameter as sent), else None."""
    return value if isinstance(value, str) else None


def _isoformat(ts: float) -> str:
    when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _connection_id_for(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "con_" + "".join(alphabet[int(digest[i : i + 2], 16) % 62] for i in range(0, 32, 2))


def _primary_connection(user: Mapping[str, Any]) -> str | None:
    identities = user.get("identities")
    if isinstance(identities, list) and identities and isinstance(identities[0], Mapping):
        connection = identities[0].get("connection")
        return connection if isinstance(connection, str) else None
    return None


_MISSING = object()


def _lookup(user: Mapping[str, Any], path: str) -> Any:
    """The value at a field path (``a.b``, ``identities[0].connection``), or ``_MISSING``."""
    value: Any = user
    for key, index in _FIELD_PART.findall(path):
        if key:
            if not isinstance(value, Mapping) or key not in value:
                return _MISSING
            value = value[key]
        else:
            i = int(index)
            if not isinstance(value, list) or i >= len(value):
                return _MISSING
            value = value[i]
    return value


def _csv_cell(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    text = str(value)
    # Auth0 guards against CSV injection by prefixing strings with a quote.
    return "'" + text if isinstance(value, str) else text


def _build_export(
    users: Iterable[Mapping[str, Any]], fields: Sequence[Mapping[str, str]], file_format: str
) -> bytes:
    """The uncompressed export file."""
    if file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f.get("export_as") or f["name"] for f in fields])
        for user in users:
            writer.writerow([_csv_cell(_lookup(user, f["name"])) for f in fields])
        return out.getvalue().encode()
    lines = []
    for user in users:
        record: dict[str, Any] = {}
        for f in fields:
            value = _lookup(user, f["name"])
            if value is not _MISSING:
                record[f.get("export_as") or f["name"]] = value
        lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    return "".join(line + "\n" for line in lines).encode()


def _management_error(
    status: int,
    message: str,
    error_code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "statusCode": status,
        "error": _REASONS.get(status, "Error"),
        "message": message,
    }
    if error_code is not None:
        body["errorCode"] = error_code
    return HttpResponse.json(status, body, headers)


def _oauth_error(
    status: int,
    error: str,
    description: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    return HttpResponse.json(
        status, {"error": error, "error_description": description, **extra}, headers
    )


def _s3_error(code: str, message: str, extra: Mapping[str, str] | None = None) -> HttpResponse:
    parts = [f"<Code>{code}</Code>", f"<Message>{message}</Message>"]
    parts += [f"<{k}>{v}</{k}>" for k, v in (extra or {}).items()]
    parts += [
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId>",
        f"<HostId>{base64.b64encode(secrets.token_bytes(24)).decode()}</HostId>",
    ]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    return HttpResponse(
        status=403, body=body.encode(), headers=(("Content-Type", "application/xml"),)
    )


class Auth0ManagementServer:
    """An Auth0 tenant on ``127.0.0.1``: export jobs, connections and the token endpoint.

    Args:
        users: The tenant's users as Auth0 stores them (dicts with ``user_id``, ``email``,
            ``identities`` ...); what export jobs export.
        connections: The tenant's connections (``{"id", "name", "strategy"}``). By default one
            per distinct ``identities[0].connection`` of the users, with a stable id.
        token: A Management API token accepted with every scope (None: only tokens issued by
            ``/oauth/token``).
        clients: Applications allowed on ``/oauth/token``; by default one,
            ``test-client-id`` / ``test-client-secret`` with every scope and grant.
        password_users: Users the password-realm grant logs in.
        job_steps: How many ``GET /api/v2/jobs/{id}`` calls see the job pending or processing
            before its outcome (0: the first call sees the outcome).
        seconds_per_step: Scales ``time_left_seconds`` (steps left times this).
        job_outcome: What new jobs end as: ``completed``, ``failed`` or ``expired``.
        link_ttl: Seconds a ``location`` link stays valid.
        clock: Wall clock in Unix seconds (link expiry, ``x-ratelimit-reset``, timestamps);
            inject a fake one to expire links without waiting.
        tenant: The tenant name (in the export file's name).
        tls: Serve HTTPS with a throw-away self-signed certificate for ``127.0.0.1`` (its path
            is :attr:`ca_file`; point ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` at it). Needs
            the ``cryptography`` package. This lets clients that only speak https, such as
            ``auth0.management.ManagementClient(domain=...)``, talk to the server.
        token_latency: Seconds added before each ``/oauth/token`` answer (Auth0's own time,
            typically tens to hundreds of milliseconds), for load tests; other requests are
            not slowed, and concurrent requests wait in parallel.
        authz: Roles, permissions and organizations to serve
            (:func:`~auth0_ory_migrate.testing.authz_graph`); :attr:`authz` may be replaced
            later.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`). In pytest, the
    ``auth0_server`` fixture is a running one holding the users of the ``auth0_export`` fixture.

    Set ``echo_request = True`` (at any time) to have its JSON error answers quote the request
    (its ``Authorization`` header and body, e.g. a client secret, appended to ``message`` or
    ``error_description``), as error texts built from a request's values can: a client must
    never pass such a text on as it came.

    .. versionadded:: 0.1.0
    """

    #: Scopes of the static :attr:`token`.
    token_scopes: tuple[str, ...] = _ALL_SCOPES

    def __init__(
        self,
        users: Iterable[Mapping[str, Any]] = (),
        *,
        connections: Iterable[Mapping[str, Any]] | None = None,
        token: str | None = "test-management-token",  # noqa: S107 - a test value
        clients: Iterable[ClientApp] | None = None,
        password_users: Iterable[PasswordUser] = (),
        job_steps: int = 2,
        seconds_per_step: int = 5,
        job_outcome: JobOutcome = "completed",
        link_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        tenant: str = "test-tenant",
        tls: bool = False,
        token_latency: float = 0.0,
        authz: AuthzGraph | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.token_latency = token_latency
        self._users: list[dict[str, Any]] = [dict(u) for u in users]
        self._explicit_connections = (
            [dict(c) for c in connections] if connections is not None else None
        )
        self.token = token
        self._clients = {
            c.client_id: c
            for c in (
                clients
                if clients is not None
                else [ClientApp("test-client-id", "test-client-secret")]
            )
        }
        self._password_users: dict[tuple[str, str], PasswordUser] = {}
        for user in password_users:
            self.add_password_user(user)
        self.job_steps = job_steps
        self.seconds_per_step = seconds_per_step
        self.job_outcome: JobOutcome = job_outcome
        self.link_ttl = link_ttl
        self.clock = clock
        self.tenant = tenant
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._jobs: dict[str, _Job] = {}
        self._links: dict[str, _Link] = {}
        self._faults: list[_ActiveFault] = []
        self._configured_faults: list[Fault] = []  # (what reset(keep_faults=True) re-arms)
        self._expire_next_links = 0
        self._truncate_next_downloads = 0
        self.download_content_encoding = False
        self.echo_request = False
        self._requests: list[HttpRequest] = []
        self._token_requests: list[TokenRequest] = []
        self._tls = tls
        self._tmpdir: Path | None = None
        self.ca_file: Path | None = None
        self._http: BackgroundHTTPServer | None = None
        self.authz = authz
        self._authz_api: AuthzApi | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving on an ephemeral port (no-op when running).

        .. versionadded:: 0.1.0
        """
        if self._http is not None:
            return
        if self._tls:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="auth0-test-server-"))
            cert, key = _self_signed_certificate(self._tmpdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.ca_file = cert
            self._http = _TLSBackgroundServer(self._handle, context)
        else:
            self._http = BackgroundHTTPServer(self._handle)
        self._http.start()

    def stop(self) -> None:
        """Stop serving and release the port.

        .. versionadded:: 0.1.0
        """
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Auth0ManagementServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:41234`` (``https://`` with ``tls``).

        .. versionadded:: 0.1.0
        """
        if self._http is None:
            raise RuntimeError("the server is not running")
        return self._http.url

    @property
    def domain(self) -> str:
        """``127.0.0.1:<port>``: what Auth0's SDKs call the tenant domain.

        Use it with ``auth0.authentication.GetToken(domain, ..., protocol="http")`` (or without
        ``protocol`` and with ``tls=True``) and ``ManagementClient(domain=...)`` (``tls=True``).

        .. versionadded:: 0.1.0
        """
        return self.url.split("://", 1)[1]

    @property
    def management_url(self) -> str:
        """The Management API base URL (``{url}/api/v2``), for ``auth0.management.client.Auth0``.

        .. versionadded:: 0.1.0
        """
        return f"{self.url}/api/v2"

    @property
    def audience(self) -> str:
        """The Management API audience ``https://{domain}/api/v2/`` that tokens are issued for.

        .. versionadded:: 0.1.0
        """
        return f"https://{self.domain}/api/v2/"

    # -- data ----------------------------------------------------------------------------------

    @property
    def users(self) -> list[dict[str, Any]]:
        """A copy of the tenant's users.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return [dict(u) for u in self._users]

    def set_users(self, users: Iterable[Mapping[str, Any]]) -> None:
        """Replace the tenant's users (jobs created later export these).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._users = [dict(u) for u in users]

    @property
    def connections(self) -> list[dict[str, Any]]:
        """The tenant's connections (given, or derived from the users).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            if self._explicit_connections is not None:
                return [dict(c) for c in self._explicit_connections]
            seen: dict[str, dict[str, Any]] = {}
            for user in self._users:
                name = _primary_connection(user)
                if name is None or name in seen:
                    continue
                identity = user["identities"][0]
                provider = identity.get("provider") if isinstance(identity, Mapping) else None
                seen[name] = {
                    "id": _connection_id_for(name),
                    "name": name,
                    "strategy": provider if isinstance(provider, str) else "auth0",
                }
            return list(seen.values())

    def connection_id(self, name: str) -> str:
        """The id of the connection called *name* (KeyError when there is none).

        .. versionadded:: 0.1.0
        """
        for connection in self.connections:
            if connection.get("name") == name:
                return str(connection["id"])
        raise KeyError(name)

    def add_password_user(self, user: PasswordUser) -> None:
        """Let the password-realm grant log *user* in (replaces a user of the same name).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._password_users[(user.realm, user.username.lower())] = user

    def add_client(self, client: ClientApp) -> None:
        """Allow another application on ``/oauth/token``.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._clients[client.client_id] = client

    def add_token(self, token: str, scopes: Iterable[str] = _ALL_SCOPES) -> None:
        """Accept another Management API token, with these scopes.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._tokens[token] = tuple(scopes)

    # -- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Fail the next requests matching *fault* (faults are checked in the order added).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._faults.append(_ActiveFault(fault, fault.times))
            self._configured_faults.append(fault)

    def reset(
        self, users: Iterable[Mapping[str, Any]] | None = None, *, keep_faults: bool = False
    ) -> None:
        """Forget every export job, link and recorded request; serve *users* from now on.

        Cheap (no restart): a module- or session-scoped server reset at the start of each
        Hypothesis example is as good as a new one. Tokens, clients, password users and the
        roles and organizations graph stay.

        Args:
            users: The tenant's users from now on (None: the same ones).
            keep_faults: Arm every fault added with :meth:`add_fault` (:meth:`fail`,
                :meth:`rate_limit`) again, as many times as it was added for; without it,
                every fault is switched off (and so are :meth:`expire_next_links` and
                :meth:`truncate_next_downloads`).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            if users is not None:
                self.set_users(users)
            self._jobs.clear()
            self._links.clear()
            self._requests.clear()
            self._token_requests.clear()
            if keep_faults:
                self._faults = [_ActiveFault(f, f.times) for f in self._configured_faults]
            else:
                self._faults, self._configured_faults = [], []
                self._expire_next_links = self._truncate_next_downloads = 0

    def rate_limit(
        self,
        times: int = 1,
        *,
        path_prefix: str = "/api/v2/",
        reset_in: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next *times* matching requests with 429 and ``x-ratelimit-*`` headers.

        .. versionadded:: 0.1.0
        """
        self.add_fault(Fault(path_prefix, 429, times, reset_in, retry_after, method))

    def fail(
        self,
        status: int = 503,
        times: int = 1,
        *,
        path_prefix: str = "/api/v2/",
        method: str | None = None,
    ) -> None:
        """Answer the next *times* matching requests with *status* (an Auth0 error body).

        .. versionadded:: 0.1.0
        """
        self.add_fault(Fault(path_prefix, status, times, method=method))

    def expire_next_links(self, count: int = 1) -> None:
        """Make the next *count* ``location`` links born expired.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._expire_next_links += count

    def truncate_next_downloads(self, count: int = 1) -> None:
        """Serve only the first half of the gzip file on the next *count* downloads.

        The HTTP response itself is well formed (its ``Content-Length`` matches): only a client
        that checks the gzip stream notices.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._truncate_next_downloads += count

    def expire_job(self, job_id: str) -> None:
        """Turn a job into ``expired`` (what Auth0 does 24 hours after completion).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._jobs[job_id].expired = True

    # -- inspection ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[HttpRequest]:
        """Every request received, in order.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_prefix: str) -> list[HttpRequest]:
        """The requests received with *method* whose path starts with *path_prefix*.

        .. versionadded:: 0.1.0
        """
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    @property
    def token_requests(self) -> list[TokenRequest]:
        """Every ``POST /oauth/token``, in order (with the ``auth0-forwarded-for`` header).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return list(self._token_requests)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The export jobs created so far, as their creation was answered, plus ``polls``.

        ``polls`` counts the ``GET /api/v2/jobs/{id}`` calls the job has seen.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return [{**self._job_view(job), "polls": job.polls} for job in self._jobs.values()]

    def export_file(self, job_id: str) -> bytes:
        """The gzip-compressed export file of a job.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return self._jobs[job_id].data

    # -- dispatch ------------------------------------------------------------------------------

    def _handle(self, request: HttpRequest) -> HttpResponse:
        response = self._answer(request)
        if not self.echo_request or response.status < 400:
            return response
        try:
            payload = json.loads(response.body)
        except ValueError:
            return response
        if not isinstance(payload, dict):
            return response
        auth = request.headers.get("authorization", "")
        quoted = f" (request: Authorization: {auth}; {request.body.decode('utf-8', 'replace')})"
        for key in ("message", "error_description"):
            if isinstance(payload.get(key), str):
                payload[key] += quoted
        kept = {k: v for k, v in response.headers if k.lower() != "content-type"}
        return HttpResponse.json(response.status, payload, kept)

    def _answer(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self._requests.append(request)
            fault = self._take_fault(request)
        if fault is not None:
            return fault
        path = request.path
        if path == "/oauth/token" and request.method == "POST":
            if self.token_latency > 0:
                time.sleep(self.token_latency)  # outside the lock: answers overlap
            return self._oauth_token(request)
        if path.startswith("/api/v2/"):
            return self._management(request)
        match = _EXPORT_PATH.match(path)
        if match and request.method == "GET":
            return self._download(request, match.group(1))
        return _management_error(404, "Not Found", "not_found")

    def _take_fault(self, request: HttpRequest) -> HttpResponse | None:
        for active in self._faults:
            f = active.fault
            if active.left <= 0 or not request.path.startswith(f.path_prefix):
                continue
            if f.method is not None and f.method.upper() != request.method:
                continue
            active.left -= 1
            self._faults = [a for a in self._faults if a.left > 0]
            return self._fault_response(f, request)
        return None

    def _fault_response(self, fault: Fault, request: HttpRequest) -> HttpResponse:
        headers: dict[str, str] = {}
        if fault.status == 429:
            headers = {
                "x-ratelimit-limit": "50",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(self.clock()) + fault.reset_in),
            }
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        if request.path == "/oauth/token":
            if fault.status == 429:
                return _oauth_error(
                    429, "too_many_requests", "Global limit has been reached", headers
                )
            if fault.status >= 500:
                return _oauth_error(fault.status, "server_error", "Internal error", headers)
            return _oauth_error(fault.status, "invalid_request", "Injected fault", headers)
        if request.path.startswith("/exports/"):
            return HttpResponse(status=fault.status, body=b"", headers=tuple(headers.items()))
        if fault.status == 429:
            return _management_error(
                429, "Global limit has been reached", "too_many_requests", headers
            )
        return _management_error(fault.status, _REASONS.get(fault.status, "Error"), None, headers)

    # -- Management API ------------------------------------------------------------------------

    def _scopes_of(self, request: HttpRequest) -> tuple[str, ...] | HttpResponse:
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            # unverified errorCode
            return _management_error(401, "Missing authentication", "missing_authentication")
        token = credentials.strip()
        with self._lock:
            if self.token is not None and secrets.compare_digest(
                token.encode(), self.token.encode()
            ):
                return self.token_scopes
            scopes = self._tokens.get(token)
        if scopes is None:
            return _management_error(401, "Invalid token", "invalid_token")  # unverified code
        return scopes

    def _management(self, request: HttpRequest) -> HttpResponse:
        scopes = self._scopes_of(request)
        if isinstance(scopes, HttpResponse):
            return scopes
        path, method = request.path, request.method
        if path == "/api/v2/jobs/users-exports" and method == "POST":
            return self._needs(scopes, ("read:users",)) or self._create_export(request)
        match = _JOB_PATH.match(path)
        if match and method == "GET":
            return self._needs(scopes, ("create:users", "read:users")) or self._get_job(
                match.group(1)
            )
        if path == "/api/v2/connections" and method == "GET":
            return self._needs(scopes, ("read:connections",)) or self._list_connections(request)
        graph = self.authz  # (read once: it may be replaced at any time)
        if graph is not None:
            answer = self._authz_answer(request, scopes, graph)
            if answer is not None:
                return answer
        return _management_error(404, "Not Found", "not_found")

    def _authz_answer(
        self, request: HttpRequest, scopes: Sequence[str], graph: AuthzGraph
    ) -> HttpResponse | None:
        from ._authz_graph import AuthzApi  # noqa: PLC0415 - it imports this module

        with self._lock:
            api = self._authz_api
            if api is None or api.graph is not graph:
                api = self._authz_api = AuthzApi(graph, self.clock)
            users = self._users
        return api.answer(request, scopes, users)

    @staticmethod
    def _needs(scopes: Sequence[str], any_of: Sequence[str]) -> HttpResponse | None:
        if any(s in scopes for s in any_of):
            return None
        return _management_error(
            403, f"Insufficient scope, expected any of: {','.join(any_of)}", "insufficient_scope"
        )

    @staticmethod
    def _invalid_body(message: str) -> HttpResponse:
        return _management_error(400, f"Payload validation error: {message}", "invalid_body")

    def _create_export(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _management_error(400, "Invalid request payload JSON format", "invalid_body")
        if not isinstance(body, dict):
            return self._invalid_body("'Expected type object but found type array'.")
        unknown = sorted(set(body) - {"connection_id", "format", "limit", "fields"})
        if unknown:
            return self._invalid_body(f"'Additional properties not allowed: {','.join(unknown)}'.")
        for key, kind in (("connection_id", str), ("format", str), ("limit", int)):
            if key in body and (not isinstance(body[key], kind) or isinstance(body[key], bool)):
                found = "null" if body[key] is None else type(body[key]).__name__
                expected = "integer" if kind is int else "string"
                return self._invalid_body(
                    f"'Expected type {expected} but found type {found}' on property {key}."
                )
        file_format = body.get("format", "json")
        if file_format not in ("json", "csv"):
            return self._invalid_body(f"'No enum match for: \"{file_format}\"' on property format.")
        limit = body.get("limit")
        if limit is not None and limit < 1:
            return self._invalid_body(
                "'Value " + str(limit) + " is less than minimum 1' on property limit."
            )
        fields = body.get("fields")
        if fields is not None:
            problem = self._check_fields(fields, file_format)
            if problem is not None:
                return problem
        connection_id = body.get("connection_id")
        connection_name: str | None = None
        if connection_id is not None:
            if not _CONNECTION_ID.match(connection_id):
                return self._invalid_body(
                    f"'String does not match pattern ^con_[A-Za-z0-9]{{16}}$: {connection_id}'"
                    " on property connection_id."
                )
            for connection in self.connections:
                if connection.get("id") == connection_id:
                    connection_name = str(connection.get("name"))
            if connection_name is None:
                return _management_error(
                    400, "The connection does not exist.", "inexistent_connection"
                )
        export_fields = fields or [{"name": name} for name in DEFAULT_SERVER_EXPORT_FIELDS]
        with self._lock:
            selected = [
                u
                for u in self._users
                if connection_name is None or _primary_connection(u) == connection_name
            ]
            if limit is not None:
                selected = selected[:limit]
            data = gzip.compress(_build_export(selected, export_fields, file_format), mtime=0)
            job = _Job(
                id="job_" + secrets.token_hex(8),
                connection_id=connection_id,
                connection=connection_name,
                format=file_format,
                limit=limit,
                fields=fields,
                created_at=_isoformat(self.clock()),
                outcome=self.job_outcome,
                data=data,
            )
            self._jobs[job.id] = job
            view = self._job_view(job)
        return HttpResponse.json(201, view)

    def _check_fields(self, fields: Any, file_format: str) -> HttpResponse | None:
        if not isinstance(fields, list):
            found = "null" if fields is None else type(fields).__name__
            return self._invalid_body(
                f"'Expected type array but found type {found}' on property fields."
            )
        for i, item in enumerate(fields):
            if not isinstance(item, dict):
                return self._invalid_body(
                    f"'Expected type object but found type {type(item).__name__}'"
                    f" on property fields[{i}]."
                )
            extra = sorted(set(item) - {"name", "export_as"})
            if extra:
                return self._invalid_body(
                    f"'Additional properties not allowed: {','.join(extra)}'"
                    f" on property fields[{i}]."
                )
            if not isinstance(item.get("name"), str) or not item["name"]:
                return self._invalid_body(
                    f"'Missing required property: name' on property fields[{i}]."
                )
            if "export_as" in item and not isinstance(item["export_as"], str):
                return self._invalid_body(
                    f"'Expected type string but found type null' on property fields[{i}].export_as."
                )
        if file_format == "csv" and len(fields) > _MAX_CSV_FIELDS:
            return _management_error(
                400, f"Too many fields, maximum allowed is {_MAX_CSV_FIELDS}.", "invalid_body"
            )
        return None

    def _job_view(self, job: _Job) -> dict[str, Any]:
        view: dict[str, Any] = {
            "type": "users_export",
            "status": "pending",
            "format": job.format,
            "created_at": job.created_at,
            "id": job.id,
        }
        if job.connection_id is not None:
            view["connection_id"] = job.connection_id
            view["connection"] = job.connection
        if job.limit is not None:
            view["limit"] = job.limit
        if job.fields is not None:
            view["fields"] = job.fields
        return view

    def _get_job(self, job_id: str) -> HttpResponse:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                if not job_id.startswith("job_"):
                    return self._invalid_body(
                        f"'String does not match pattern ^job_[A-Za-z0-9]+$: {job_id}'"
                        " on property id."
                    )
                return _management_error(404, "The job does not exist.", "inexistent_job")
            step = job.polls
            job.polls += 1
            view = self._job_view(job)
            if job.expired:
                view["status"] = "expired"
            elif step < self.job_steps:
                if step > 0:
                    view["status"] = "processing"
                    view["percentage_done"] = int(100 * step / self.job_steps)
                    view["time_left_seconds"] = (self.job_steps - step) * self.seconds_per_step
            elif job.outcome == "completed":
                view["status"] = "completed"
                view["percentage_done"] = 100
                view["time_left_seconds"] = 0
                view["location"] = self._new_link(job)
            elif job.outcome == "failed":
                view["status"] = "failed"
                view["status_details"] = "Export failed: an internal error occurred (test fault)."
            else:
                view["status"] = "expired"
        return HttpResponse.json(200, view)

    def _new_link(self, job: _Job) -> str:
        now = self.clock()
        expires_at = now + self.link_ttl
        if self._expire_next_links > 0:
            self._expire_next_links -= 1
            expires_at = now - 1
        signature = secrets.token_hex(32)
        self._links[signature] = _Link(job.id, expires_at)
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        query = urlencode(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": f"TESTKEY/{stamp[:8]}/us-west-2/s3/aws4_request",
                "X-Amz-Date": stamp,
                "X-Amz-Expires": str(max(0, int(self.link_ttl))),
                "X-Amz-SignedHeaders": "host",
                "X-Amz-Signature": signature,
            }
        )
        return f"{self.url}/exports/{job.id}/{self.tenant}.{job.format}.gz?{query}"

    def _list_connections(self, request: HttpRequest) -> HttpResponse:
        connections = self.connections
        name = request.query_one("name")
        if name is not None:
            connections = [c for c in connections if c.get("name") == name]
        strategies = request.query.get("strategy")
        if strategies:
            connections = [c for c in connections if c.get("strategy") in strategies]
        views = [
            {
                "id": c["id"],
                "name": c["name"],
                "display_name": c.get("display_name", c["name"]),
                "strategy": c.get("strategy", "auth0"),
                "realms": c.get("realms", [c["name"]]),
                "is_domain_connection": c.get("is_domain_connection", False),
                "options": c.get("options", {}),
            }
            for c in connections
        ]
        take_raw, start_raw = request.query_one("take"), request.query_one("from")
        if take_raw is not None or start_raw is not None:
            take = int(take_raw or 50)
            start = int(start_raw or 0)
            page: dict[str, Any] = {"connections": views[start : start + take]}
            if start + take < len(views):
                page["next"] = str(start + take)
            return HttpResponse.json(200, page)
        per_page = int(request.query_one("per_page") or 50)
        page_no = int(request.query_one("page") or 0)
        chunk = views[page_no * per_page : (page_no + 1) * per_page]
        if request.query_one("include_totals") == "true":
            return HttpResponse.json(
                200,
                {
                    "start": page_no * per_page,
                    "limit": per_page,
                    "total": len(views),
                    "connections": chunk,
                },
            )
        return HttpResponse.json(200, chunk)

    # -- the export file -----------------------------------------------------------------------

    def _download(self, request: HttpRequest, job_id: str) -> HttpResponse:
        signature = request.query_one("X-Amz-Signature")
        with self._lock:
            link = self._links.get(signature or "")
            if link is None or link.job_id != job_id:
                return _s3_error("AccessDenied", "Access Denied")
            now = self.clock()
            if now >= link.expires_at:
                fmt = "%Y-%m-%dT%H:%M:%SZ"
                utc = dt.timezone.utc
                return _s3_error(
                    "AccessDenied",
                    "Request has expired",
                    {
                        "X-Amz-Expires": str(max(0, int(self.link_ttl))),
                        "Expires": dt.datetime.fromtimestamp(link.expires_at, utc).strftime(fmt),
                        "ServerTime": dt.datetime.fromtimestamp(now, utc).strftime(fmt),
                    },
                )
            data = self._jobs[job_id].data
            if self._truncate_next_downloads > 0:
                self._truncate_next_downloads -= 1
                data = data[: len(data) // 2]
            headers = [
                ("Content-Type", "application/gzip"),
                ("ETag", '"' + hashlib.md5(data).hexdigest() + '"'),  # noqa: S324 - like S3
            ]
            if self.download_content_encoding:
                headers.append(("Content-Encoding", "gzip"))
        return HttpResponse(status=200, body=data, headers=tuple(headers))

    # -- Authentication API --------------------------------------------------------------------

    def _oauth_token(self, request: HttpRequest) -> HttpResponse:
        content_type = request.headers.get("content-type", "")
        params: dict[str, Any]
        try:
            if "application/json" in content_type:
                loaded = json.loads(request.body or b"{}")
                params = loaded if isinstance(loaded, dict) else {}
            else:
                params = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        except (ValueError, UnicodeDecodeError):
            return _oauth_error(400, "invalid_request", "Invalid request body")
        client_id = params.get("client_id")
        client_secret = params.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            # client_secret_basic
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                decoded = base64.b64decode(basic[6:].strip()).decode()
                client_id, _, client_secret = decoded.partition(":")
        grant_type = params.get("grant_type")
        forwarded_for = request.headers.get("auth0-forwarded-for")
        with self._lock:
            client = self._clients.get(client_id) if isinstance(client_id, str) else None
        authenticated = bool(
            client is not None
            and isinstance(client_secret, str)
            and secrets.compare_digest(client_secret.encode(), client.client_secret.encode())
        )
        response = self._grant(params, client, authenticated, grant_type)
        try:
            error = json.loads(response.body).get("error") if response.status >= 400 else None
        except ValueError:  # pragma: no cover - every answer here is JSON
            error = None
        record = TokenRequest(
            grant_type=_text(grant_type),
            client_id=_text(client_id),
            client_authenticated=authenticated,
            username=_text(params.get("username")),
            realm=_text(params.get("realm")),
            audience=_text(params.get("audience")),
            forwarded_for=forwarded_for,
            forwarded_for_trusted=bool(
                forwarded_for and authenticated and client and client.trust_forwarded_for
            ),
            status=response.status,
            error=error,
        )
        with self._lock:
            self._token_requests.append(record)
        return response

    def _grant(
        self,
        params: Mapping[str, Any],
        client: ClientApp | None,
        authenticated: bool,
        grant_type: Any,
    ) -> HttpResponse:
        if not isinstance(grant_type, str) or not grant_type:
            return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        if client is None:
            return _oauth_error(401, "access_denied", "Unauthorized")
        if grant_type not in ("client_credentials", PASSWORD_REALM_GRANT, "password"):
            return _oauth_error(
                403, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
            )
        if grant_type not in client.grant_types:
            return _oauth_error(
                403,
                "unauthorized_client",
                f"Grant type '{grant_type}' not allowed for the client.",
            )
        if grant_type == "client_credentials":
            if not authenticated:
                return _oauth_error(401, "access_denied", "Unauthorized")
            audience = params.get("audience")
            if audience != self.audience:
                return _oauth_error(
                    403, "access_denied", f"Service not enabled within domain: {audience}"
                )
            token = "mgmt_" + secrets.token_urlsafe(24)
            self.add_token(token, client.scopes)
            return HttpResponse.json(
                200,
                {
                    "access_token": token,
                    "scope": " ".join(client.scopes),
                    "expires_in": 86400,
                    "token_type": "Bearer",
                },
            )
        return self._password_grant(params, client, authenticated, grant_type)

    def _password_grant(
        self, params: Mapping[str, Any], client: ClientApp, authenticated: bool, grant_type: str
    ) -> HttpResponse:
        if params.get("client_secret") is not None and not authenticated:
            return _oauth_error(401, "access_denied", "Unauthorized")
        username, password = params.get("username"), params.get("password")
        if not isinstance(username, str) or not username:
            return _oauth_error(400, "invalid_request", "Missing required parameter: username")
        if not isinstance(password, str) or not password:
            return _oauth_error(400, "invalid_request", "Missing required parameter: password")
        realm = params.get("realm")
        if grant_type == PASSWORD_REALM_GRANT and (not isinstance(realm, str) or not realm):
            # unverified wording
            return _oauth_error(400, "invalid_request", "Missing required parameter: realm")
        if grant_type == "password":
            # Needs the tenant's "Default Directory" setting, which this server does not have.
            return _oauth_error(
                500,
                "server_error",
                "Authorization server not configured with default connection.",
            )
        with self._lock:
            user = self._password_users.get((str(realm), username.lower()))
        if user is None or not secrets.compare_digest(password.encode(), user.password.encode()):
            return _oauth_error(403, "invalid_grant", "Wrong email or password.")
        if user.blocked:
            return _oauth_error(401, "unauthorized", "user is blocked")
        if user.mfa:
            return _oauth_error(
                403,
                "mfa_required",
                "Multifactor authentication required",
                mfa_token="mfa_" + secrets.token_urlsafe(16),
            )
        scope = params.get("scope")
        return HttpResponse.json(
            200,
            {
                "access_token": "user_" + secrets.token_urlsafe(24),
                "scope": scope if isinstance(scope, str) else "openid profile email",
                "expires_in": 86400,
                "token_type": "Bearer",
            },
        )
