"""Export every user of an Auth0 tenant with the Management API's bulk export job.

Paging through ``GET /api/v2/users`` stops at 1,000 users, so the export goes through the job
Auth0 provides for it: ``POST /api/v2/jobs/users-exports`` creates it, ``GET /api/v2/jobs/{id}``
reports its progress, and once it is ``completed`` its ``location`` is a short-lived link (60
seconds) to the gzip-compressed, newline-delimited JSON file. :class:`Auth0Exporter` drives the
whole thing through ``auth0-python`` 6.x and writes the file exactly as Auth0 serves it.

The decisions (where a domain points, how long to wait before the next status check or after a
429, whether a download link may be used) are pure functions on frozen records at the top of this
module; :class:`Auth0Exporter` is the thin adapter that talks to the SDK and turns its errors into
this library's exceptions at the boundary. No message, repr or exception ever carries the token,
the client secret or the pre-signed download link.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import requests
import urllib3.exceptions
from attrs import define, field, frozen
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management.client import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.core.parse_error import ParsingError
from auth0.management.management_client import ManagementClient

from .._core._read import GZIP_MAGIC
from .._core._retry import rate_limit_wait
from .._runtime._files import private_file
from ..exceptions import (
    Auth0ApiError,
    ConfigurationError,
    ExportDownloadError,
    ExportJobFailedError,
    ExportTimeoutError,
)


if TYPE_CHECKING:
    from auth0.management.core.request_options import RequestOptions

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXPORT_FIELDS",
    "Auth0Exporter",
    "ExportJob",
    "ExportProgress",
    "ExportResult",
    "ManagementEndpoint",
    "PollPolicy",
    "RetryPolicy",
    "check_download_url",
    "is_loopback_host",
    "next_poll_delay",
    "parse_domain",
    "retry_wait",
]

T = TypeVar("T")

#: The user fields an export asks for: everything a migration to Ory uses.
#:
#: In JSON format a top-level name brings the whole value (``identities`` is the full list of
#: linked identities with ``connection``, ``provider``, ``user_id``, ``isSocial`` and, for
#: secondary accounts, ``profileData``; ``app_metadata`` and ``user_metadata`` the whole
#: objects). A field a user lacks is left out of that user's line. Pass your own tuple to
#: :class:`Auth0Exporter` to ask for more (custom attributes of enterprise connections are
#: top-level names too) or fewer.
#:
#: .. versionadded:: 0.1.0
EXPORT_FIELDS: tuple[str, ...] = (
    "user_id",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "identities",
    "app_metadata",
    "user_metadata",
    "blocked",
    "created_at",
    "updated_at",
    "last_login",
    "last_ip",
    "logins_count",
    "last_password_reset",
    "multifactor",
)

#: How long :meth:`Auth0Exporter.wait` waits for a job by default: 6 hours (the export of a big
#: tenant takes long; Auth0 keeps a finished job for 24 hours).
#:
#: .. versionadded:: 0.1.0
DEFAULT_TIMEOUT = 6 * 60 * 60.0

_CHUNK = 256 * 1024
_S3_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,200})</Message>")
_RUNNING = ("pending", "processing")


# -- errors ----------------------------------------------------------------------------------------


# -- pure decisions --------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """Whether *host* is this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    .. versionadded:: 0.1.0
    """
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@frozen
class ManagementEndpoint:
    """Where the Management API of a tenant answers.

    Attributes:
        scheme: ``https`` (``http`` only for a loopback host, e.g. a local test server).
        netloc: Host and optional port, e.g. ``acme.eu.auth0.com``.

    .. versionadded:: 0.1.0
    """

    scheme: Literal["http", "https"]
    netloc: str

    @property
    def host(self) -> str:
        """The host name without the port."""
        return urlsplit(f"//{self.netloc}").hostname or self.netloc

    @property
    def base_url(self) -> str:
        """The Management API v2 base URL, ``{scheme}://{netloc}/api/v2``."""
        return f"{self.scheme}://{self.netloc}/api/v2"

    @property
    def audience(self) -> str:
        """The Management API audience a client-credentials token is asked for."""
        return f"https://{self.netloc}/api/v2/"


def parse_domain(domain: str) -> ManagementEndpoint:
    """Read ``--domain``: a bare tenant domain (https) or a full URL (http only on loopback).

    ``acme.eu.auth0.com``, ``https://acme.eu.auth0.com``, ``https://acme.eu.auth0.com/`` and
    ``http://127.0.0.1:8080`` are accepted; a path other than ``/`` or ``/api/v2``, a query,
    credentials in the URL and plain http to another host are refused.

    Raises:
        ConfigurationError: The domain cannot be used.

    .. versionadded:: 0.1.0
    """
    text = domain.strip()
    if not text:
        raise ConfigurationError("the Auth0 domain is empty (e.g. acme.eu.auth0.com)")
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"https://{text}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"the Auth0 domain must be https, not {scheme}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("the Auth0 domain must not carry credentials")
    if parts.query or parts.fragment or parts.path.rstrip("/") not in ("", "/api/v2"):
        raise ConfigurationError(
            "the Auth0 domain must be a host name (acme.eu.auth0.com) or a URL without a path"
        )
    host = parts.hostname
    if not host:
        raise ConfigurationError(f"no host name in the Auth0 domain {text!r}")
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigurationError(f"bad port in the Auth0 domain {text!r}") from e
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"refusing plain http to {host}: the token would travel unencrypted "
            "(http is only allowed for a loopback address such as 127.0.0.1)"
        )
    shown_host = f"[{host}]" if ":" in host else host
    netloc = f"{shown_host}:{port}" if port is not None else shown_host
    return ManagementEndpoint("http" if scheme == "http" else "https", netloc)


def check_download_url(url: str) -> str | None:
    """Why the export's ``location`` must not be fetched, or None when it may.

    It must be https (the link is a credential while valid); plain http is accepted only for a
    loopback host (a local test server).

    .. versionadded:: 0.1.0
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "the download link is not a valid URL"
    if not host:
        return "the download link has no host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None
    return f"the download link is not https ({parts.scheme or 'no scheme'}://{host}); refusing it"


@frozen
class PollPolicy:
    """How often to ask Auth0 about a running job.

    Attributes:
        initial: First wait, in seconds, when Auth0 gives no estimate.
        multiplier: Growth of the wait from one check to the next without an estimate.
        min_interval: Never check more often than this.
        max_interval: Never wait longer than this between two checks (estimates change).

    .. versionadded:: 0.1.0
    """

    initial: float = 1.0
    multiplier: float = 1.5
    min_interval: float = 1.0
    max_interval: float = 30.0


def next_poll_delay(policy: PollPolicy, attempt: int, time_left_seconds: int | None) -> float:
    """Seconds to wait before the next job status check.

    With Auth0's estimate (``time_left_seconds`` > 0) the wait is that estimate, kept between
    ``min_interval`` and ``max_interval``; without one it backs off exponentially from
    ``initial`` (attempt 0) up to ``max_interval``.

    .. versionadded:: 0.1.0
    """
    if time_left_seconds is not None and time_left_seconds > 0:
        wait = float(time_left_seconds)
    else:
        wait = policy.initial * policy.multiplier ** max(0, attempt)
    return max(policy.min_interval, min(policy.max_interval, wait))


@frozen
class RetryPolicy:
    """Retries of a Management API call that failed in a way that is safe to retry.

    Attributes:
        attempts: Tries in all (the first one included).
        initial: First backoff, in seconds, when the answer does not say how long to wait.
        multiplier: Growth of the backoff.
        max_wait: Longest single wait, whatever the answer says.

    .. versionadded:: 0.1.0
    """

    attempts: int = 8
    initial: float = 0.5
    multiplier: float = 2.0
    max_wait: float = 60.0


def retry_wait(
    policy: RetryPolicy, attempt: int, headers: Mapping[str, str] | None, now: float
) -> float:
    """Seconds to wait before retry number *attempt* (0-based) of a failed call.

    ``Retry-After`` (seconds or an HTTP date) wins, then ``x-ratelimit-reset`` (Unix seconds,
    what Auth0 sends with a 429), then exponential backoff. Capped at ``policy.max_wait``.

    .. versionadded:: 0.1.0
    """
    wait = rate_limit_wait(headers or {}, now=now)
    if wait is None:
        wait = policy.initial * policy.multiplier ** max(0, attempt)
    if math.isnan(wait):
        wait = policy.initial
    return max(0.0, min(policy.max_wait, wait))


# -- records ---------------------------------------------------------------------------------------


@frozen
class ExportJob:
    """An Auth0 export job as last seen.

    Attributes:
        id: ``job_...``.
        status: ``pending``, ``processing``, ``completed``, ``failed`` or ``expired``.
        connection_id: The exported connection (None: every connection).
        connection: Its name, when Auth0 said.
        format: ``json`` or ``csv``.
        percentage_done: Progress, when Auth0 said.
        time_left_seconds: Auth0's estimate of the time left, when it gave one.
        location: The download link of a completed job (valid 60 s; kept out of reprs).
        status_details: Auth0's explanation of a failure, when any.
        created_at: When the job was created (Auth0's timestamp).

    .. versionadded:: 0.1.0
    """

    id: str
    status: str
    connection_id: str | None = None
    connection: str | None = None
    format: str | None = None
    percentage_done: int | None = None
    time_left_seconds: int | None = None
    location: str | None = field(default=None, repr=False)
    status_details: str | None = None
    created_at: str | None = None

    @classmethod
    def from_api(cls, job: Any) -> ExportJob:
        """Build from the SDK's job model (or a dict with the same keys)."""

        def get(name: str) -> Any:
            if isinstance(job, Mapping):
                return job.get(name)
            return getattr(job, name, None)

        def text(name: str) -> str | None:
            value = get(name)
            return value if isinstance(value, str) else None

        def number(name: str) -> int | None:
            value = get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            return int(value)

        return cls(
            id=str(get("id")),
            status=str(get("status") or "unknown"),
            connection_id=text("connection_id"),
            connection=text("connection"),
            format=text("format"),
            percentage_done=number("percentage_done"),
            time_left_seconds=number("time_left_seconds"),
            location=text("location"),
            status_details=text("status_details"),
            created_at=text("created_at"),
        )


@frozen
class ExportProgress:
    """What a progress callback is told.

    Attributes:
        job_id: The job's id.
        phase: ``"waiting"`` (the job runs), ``"downloading"`` or ``"done"``.
        status: The job's last status.
        percentage_done: The job's progress, when Auth0 said.
        time_left_seconds: Auth0's estimate, when it gave one.
        bytes_downloaded: Bytes of the file received so far (downloading/done).
        bytes_total: The file's size, when the download said.

    .. versionadded:: 0.1.0
    """

    job_id: str
    phase: Literal["waiting", "downloading", "done"]
    status: str
    percentage_done: int | None = None
    time_left_seconds: int | None = None
    bytes_downloaded: int = 0
    bytes_total: int | None = None


@frozen
class ExportResult:
    """A finished export.

    Attributes:
        path: Where the file was written (gzip-compressed NDJSON, as Auth0 serves it; mode 0600).
        job_id: The job that produced it.
        connection_id: The exported connection (None: every connection).
        users: Number of user records in the file.
        size: Size of the file in bytes.

    .. versionadded:: 0.1.0
    """

    path: Path
    job_id: str
    connection_id: str | None
    users: int
    size: int


ProgressCallback = Callable[[ExportProgress], None]


# -- the SDK boundary ------------------------------------------------------------------------------


@frozen
class _Failure:
    status: int | None
    error_code: str | None
    message: str
    headers: Mapping[str, str] | None
    transport: bool = False


def _body_message(body: Any) -> tuple[str | None, str]:
    """Auth0's error code and message from an error body (Management or Authentication API)."""
    if isinstance(body, Mapping):
        code = body.get("errorCode") or body.get("error")
        message = body.get("message") or body.get("error_description") or body.get("error")
        return (
            code if isinstance(code, str) else None,
            message if isinstance(message, str) else "no message",
        )
    if isinstance(body, str) and body.strip():
        return None, body.strip()[:300]
    return None, "no message"


def _describe(exc: BaseException) -> _Failure | None:
    """What an SDK or HTTP client exception means; None when it is not ours to convert."""
    if isinstance(exc, ApiError):
        code, message = _body_message(exc.body)
        return _Failure(exc.status_code, code, message, exc.headers)
    if isinstance(exc, ParsingError):
        return _Failure(exc.status_code, None, "Auth0 answered something unexpected", exc.headers)
    if isinstance(exc, Auth0Error):  # the Authentication API (our client-credentials token)
        headers = dict(exc.headers) if isinstance(exc.headers, Mapping) else None
        return _Failure(exc.status_code, exc.error_code or None, str(exc.message), headers)
    if isinstance(exc, httpx.HTTPStatusError):  # ManagementClient's own token provider
        try:
            body: Any = exc.response.json()
        except ValueError:
            body = exc.response.text
        code, message = _body_message(body)
        return _Failure(exc.response.status_code, code, message, dict(exc.response.headers))
    if isinstance(exc, (httpx.TransportError, requests.RequestException)):
        return _Failure(None, None, f"{type(exc).__name__} (network)", None, transport=True)
    return None


@define
class _ClientCredentialsToken:
    """A cached client-credentials token from ``/oauth/token`` (any scheme, unlike the SDK's)."""

    endpoint: ManagementEndpoint
    client_id: str
    client_secret: str = field(repr=False)
    clock: Callable[[], float] = time.time
    _token: str | None = field(default=None, repr=False, init=False)
    _expires_at: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False)

    def __call__(self) -> str:
        with self._lock:
            if self._token is not None and self.clock() < self._expires_at - 10:
                return self._token
            answer = GetToken(
                self.endpoint.netloc,
                self.client_id,
                client_secret=self.client_secret,
                protocol=self.endpoint.scheme,
            ).client_credentials(audience=self.endpoint.audience)
            self._token = str(answer["access_token"])
            self._expires_at = self.clock() + float(answer.get("expires_in", 86400))
            return self._token


class _RetryDownload(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@define
class Auth0Exporter:
    """Runs an Auth0 bulk user export and downloads its file.

    Build it with :meth:`connect` (from a domain and credentials) or hand in your own
    ``auth0.management.ManagementClient`` (or the lower-level ``auth0.management.client.Auth0``).
    Every SDK call is made with ``max_retries=0``: the retries are this class's, so the job is
    created once (a 429 is retried - Auth0 did not create anything - but a 5xx or a lost
    connection is not, since a second job could start) and the status checks honour
    ``x-ratelimit-reset`` / ``Retry-After``.

    Attributes:
        client: The Management API client.
        fields: The user fields to export (:data:`EXPORT_FIELDS` by default).
        timeout: Seconds to wait for the job to complete (:data:`DEFAULT_TIMEOUT`).
        poll: How often to check the job's status.
        retry: Retries of status checks, lookups and downloads.
        download_attempts: Downloads tried (each with a fresh link) before giving up.
        request_timeout: Seconds before one HTTP request gives up (the download's, and the
            Management API's when built by :meth:`connect`).
        secrets: Strings never to show in a message (the token and client secret given to
            :meth:`connect` are added).
        sleep: Waits that many seconds (inject a fake one in tests).
        clock: A monotonic clock in seconds (for the timeout).
        wall_clock: Unix time in seconds (for ``x-ratelimit-reset``).
        session: The ``requests`` session for the download (by default one of its own).

    Close it (or use it as a context manager) to release the connections it opened itself; a
    client or session you handed in is left open.

    .. versionadded:: 0.1.0
    """

    client: ManagementClient | Auth0 = field(repr=False)
    fields: tuple[str, ...] = EXPORT_FIELDS
    timeout: float = DEFAULT_TIMEOUT
    poll: PollPolicy = PollPolicy()
    retry: RetryPolicy = RetryPolicy()
    download_attempts: int = 5
    request_timeout: float = 60.0
    secrets: tuple[str, ...] = field(default=(), repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)
    session: requests.Session | None = field(default=None, repr=False)
    _owned_clients: list[httpx.Client] = field(factory=list, init=False, repr=False)
    _owned_session: requests.Session | None = field(default=None, init=False, repr=False)

    def close(self) -> None:
        """Close the HTTP connections this exporter opened itself.

        .. versionadded:: 0.1.0
        """
        for client in self._owned_clients:
            client.close()
        self._owned_clients.clear()
        if self._owned_session is not None:
            self._owned_session.close()
            self._owned_session = None

    def __enter__(self) -> Auth0Exporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _download_session(self) -> requests.Session:
        if self.session is not None:
            return self.session
        if self._owned_session is None:
            self._owned_session = requests.Session()
        return self._owned_session

    @classmethod
    def connect(
        cls,
        domain: str,
        *,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        **options: Any,
    ) -> Auth0Exporter:
        """An exporter for the tenant at *domain*, with a token or client credentials.

        Args:
            domain: ``acme.eu.auth0.com`` or a URL (see :func:`parse_domain`).
            token: A Management API token with ``read:users`` (and ``read:connections`` to
                find a connection by name).
            client_id: With *client_secret*, instead of *token*: an application authorised for
                the Management API (client-credentials grant); the token is fetched and renewed.
            client_secret: The application's secret.
            **options: Any other attribute of :class:`Auth0Exporter`.

        Raises:
            ConfigurationError: Bad domain, or not exactly one kind of credentials.

        .. versionadded:: 0.1.0
        """
        endpoint = parse_domain(domain)
        has_credentials = bool(client_id) or bool(client_secret)
        if token and has_credentials:
            raise ConfigurationError("give a token or a client id and secret, not both")
        if not token and not (client_id and client_secret):
            raise ConfigurationError(
                "Auth0 credentials missing: a Management API token, or a client id and secret"
            )
        request_timeout = float(options.get("request_timeout", 60.0))
        secrets = tuple(options.pop("secrets", ()))
        http = httpx.Client(timeout=request_timeout, follow_redirects=True)
        client: ManagementClient | Auth0
        if endpoint.scheme == "https" and token:
            client = ManagementClient(domain=endpoint.netloc, token=token, httpx_client=http)
        elif endpoint.scheme == "https":
            client = ManagementClient(
                domain=endpoint.netloc,
                client_id=client_id,
                client_secret=client_secret,
                httpx_client=http,
            )
        else:  # plain http: a loopback test server (parse_domain refused anything else)
            supplier: str | Callable[[], str]
            if token:
                supplier = token
            else:
                assert client_id is not None
                assert client_secret is not None
                supplier = _ClientCredentialsToken(endpoint, client_id, client_secret)
            client = Auth0(base_url=endpoint.base_url, token=supplier, httpx_client=http)
        hidden = tuple(s for s in (token, client_secret) if s) + secrets
        exporter = cls(client, secrets=hidden, **options)
        exporter._owned_clients.append(http)
        return exporter

    # -- calls with retries ------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def _call(
        self,
        action: str,
        call: Callable[[RequestOptions], T],
        *,
        idempotent: bool,
        deadline: float | None = None,
        job_id: str | None = None,
    ) -> T:
        """Make one SDK call, retrying what is safe to retry; convert SDK errors."""
        attempt = 0
        while True:
            try:
                return call({"max_retries": 0})
            except Exception as e:
                failure = _describe(e)
                if failure is None:
                    raise
                # A 429 was refused before anything happened: always safe to retry. The rest
                # only for calls that change nothing (a second POST could start a second job).
                retryable = failure.status == 429 or (
                    idempotent
                    and (failure.transport or failure.status == 408 or (failure.status or 0) >= 500)
                )
                attempt += 1
                gave_up = ""
                if retryable and attempt < self.retry.attempts:
                    wait = retry_wait(self.retry, attempt - 1, failure.headers, self.wall_clock())
                    if deadline is None or self.clock() + wait <= deadline:
                        self.sleep(wait)
                        continue
                    if job_id:
                        gave_up = f" (gave up: the timeout for job {job_id} is reached)"
                message = self._scrub(failure.message) + gave_up
                raise Auth0ApiError(action, failure.status, failure.error_code, message) from None

    # -- the steps ---------------------------------------------------------------------------

    def connection_id(self, name: str) -> str:
        """The id (``con_...``) of the connection called *name*.

        Raises:
            ConfigurationError: The tenant has no connection of that name.
            Auth0ApiError: Auth0 refused (the token needs ``read:connections``).

        .. versionadded:: 0.1.0
        """

        def lookup(options: RequestOptions) -> list[Any]:
            return list(self.client.connections.list(name=name, request_options=options))

        found = self._call(f"looking up the connection {name!r}", lookup, idempotent=True)
        for connection in found:
            if getattr(connection, "name", None) == name and getattr(connection, "id", None):
                return str(connection.id)
        raise ConfigurationError(f"the Auth0 tenant has no connection named {name!r}")

    def start(self, connection_id: str | None = None, *, limit: int | None = None) -> ExportJob:
        """Create the export job (once: it is not retried, except after a 429).

        Args:
            connection_id: The connection to export; None exports every connection (social
                and enterprise users too).
            limit: Export at most this many users (for a trial run).

        .. versionadded:: 0.1.0
        """
        arguments: dict[str, Any] = {
            "format": "json",
            "fields": [{"name": name} for name in self.fields],
        }
        if connection_id is not None:
            arguments["connection_id"] = connection_id
        if limit is not None:
            arguments["limit"] = limit

        def create(options: RequestOptions) -> Any:
            return self.client.jobs.users_exports.create(**arguments, request_options=options)

        created = self._call("creating the export job", create, idempotent=False)
        return ExportJob.from_api(created)

    def job(self, job_id: str, *, deadline: float | None = None) -> ExportJob:
        """The job's current state (``GET /api/v2/jobs/{id}``).

        .. versionadded:: 0.1.0
        """

        def get(options: RequestOptions) -> Any:
            return self.client.jobs.get(job_id, request_options=options)

        found = self._call(
            f"checking export job {job_id}", get, idempotent=True, deadline=deadline, job_id=job_id
        )
        return ExportJob.from_api(found)

    def wait(self, job_id: str, *, progress: ProgressCallback | None = None) -> ExportJob:
        """Wait until the job is completed; return it (with a fresh ``location``).

        Raises:
            ExportJobFailedError: The job ended ``failed`` or ``expired``.
            ExportTimeoutError: It did not complete within :attr:`timeout`.
            Auth0ApiError: Auth0 refused a status check.

        .. versionadded:: 0.1.0
        """
        started = self.clock()
        deadline = started + self.timeout
        attempt = 0
        while True:
            job = self.job(job_id, deadline=deadline)
            if progress is not None:
                progress(
                    ExportProgress(
                        job.id, "waiting", job.status, job.percentage_done, job.time_left_seconds
                    )
                )
            if job.status == "completed":
                return job
            if job.status in ("failed", "expired"):
                raise ExportJobFailedError(job.id, job.status, job.status_details)
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise ExportTimeoutError(
                    job.id, self.clock() - started, job.status, job.percentage_done
                )
            self.sleep(min(remaining, next_poll_delay(self.poll, attempt, job.time_left_seconds)))
            attempt += 1

    def download(
        self,
        job: ExportJob,
        out: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Download a completed job's file to *out* (atomically, mode 0600).

        The bytes are written as served (gzip) while a decompressor checks that the gzip
        stream is complete and intact. A refused link (expired after 60 s), a dropped
        connection, a 5xx or an incomplete file is retried with a fresh link from the job,
        up to :attr:`download_attempts` times.

        Raises:
            ExportDownloadError: The file could not be downloaded completely.
            ExportJobFailedError: The job expired meanwhile.

        .. versionadded:: 0.1.0
        """
        target = Path(out)
        reasons: list[str] = []
        current = job
        for attempt in range(self.download_attempts):
            if attempt > 0:
                self.sleep(retry_wait(self.retry, attempt - 1, None, self.wall_clock()))
                current = self.job(job.id)
                if current.status in ("failed", "expired"):
                    raise ExportJobFailedError(current.id, current.status, current.status_details)
            if current.location is None:
                raise ExportDownloadError(job.id, "the job has no download link")
            problem = check_download_url(current.location)
            if problem is not None:
                raise ExportDownloadError(job.id, problem)
            try:
                users, size = self._fetch(current, target, progress)
            except _RetryDownload as e:
                reasons.append(e.reason)
                continue
            result = ExportResult(target, job.id, job.connection_id, users, size)
            if progress is not None:
                progress(ExportProgress(job.id, "done", current.status, 100, 0, size, size))
            return result
        raise ExportDownloadError(
            job.id, f"gave up after {self.download_attempts} attempts: " + "; ".join(reasons)
        )

    def _fetch(
        self, job: ExportJob, target: Path, progress: ProgressCallback | None
    ) -> tuple[int, int]:
        """One download attempt into *target*; the number of users and the size."""
        assert job.location is not None
        try:
            response = self._download_session().get(
                job.location,
                stream=True,
                timeout=(min(30.0, self.request_timeout), self.request_timeout),
                headers={"Accept-Encoding": "identity"},
                allow_redirects=False,
            )
        except requests.RequestException as e:
            raise _RetryDownload(f"{type(e).__name__} (network)") from None
        with response:
            if response.status_code != 200:
                raise self._refused(job, response)
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            try:
                with private_file(target) as f:
                    size, users = self._stream(job, response, f, total, progress)
            except (
                requests.RequestException,
                urllib3.exceptions.HTTPError,
                ConnectionError,
            ) as e:
                raise _RetryDownload(f"the connection broke ({type(e).__name__})") from None
            except OSError as e:
                raise ExportDownloadError(job.id, f"cannot write {target}: {e}") from None
        return users, size

    def _refused(self, job: ExportJob, response: requests.Response) -> Exception:
        status = response.status_code
        detail = ""
        text = response.text[:2000] if response.content else ""
        code, message = _S3_CODE.search(text), _S3_MESSAGE.search(text)
        if code or message:
            detail = ": " + " ".join(m.group(1) for m in (code, message) if m)
        if status in (403, 400) or status >= 500 or status == 429:
            # S3 answers 403 AccessDenied "Request has expired" once the link is stale.
            return _RetryDownload(f"the link was refused ({status}{detail})")
        return ExportDownloadError(job.id, f"the download was answered {status}{detail}")

    def _stream(
        self,
        job: ExportJob,
        response: requests.Response,
        sink: Any,
        total: int | None,
        progress: ProgressCallback | None,
    ) -> tuple[int, int]:
        """Copy the raw (still gzip) bytes to *sink*, checking the gzip stream; (size, users)."""
        decompressor = zlib.decompressobj(wbits=31)
        size = newlines = 0
        last_byte = b"\n"
        reported = 0
        started = False
        for chunk in response.raw.stream(_CHUNK, decode_content=False):
            if not chunk:
                continue
            if not started:
                started = True
                if not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                    raise ExportDownloadError(job.id, "the file is not gzip-compressed")
            sink.write(chunk)
            size += len(chunk)
            data = chunk
            while data:
                try:
                    plain = decompressor.decompress(data)
                except zlib.error:
                    raise _RetryDownload("the gzip data is corrupt") from None
                if plain:
                    newlines += plain.count(b"\n")
                    last_byte = plain[-1:]
                data = b""
                if decompressor.eof:
                    rest = decompressor.unused_data
                    if rest:
                        if not rest.startswith(GZIP_MAGIC[: len(rest)]):
                            raise _RetryDownload("unexpected bytes after the gzip data")
                        decompressor = zlib.decompressobj(wbits=31)
                        data = rest
            if progress is not None and size - reported >= _CHUNK * 4:
                reported = size
                progress(ExportProgress(job.id, "downloading", job.status, 100, 0, size, total))
        if not started or not decompressor.eof:
            raise _RetryDownload(
                f"the file is incomplete ({size} bytes; the gzip stream ends early)"
            )
        if total is not None and total != size:
            raise _RetryDownload(f"got {size} of {total} bytes")
        users = newlines + (0 if last_byte == b"\n" else 1)
        return size, users

    def export(
        self,
        out: str | os.PathLike[str],
        *,
        connection_id: str | None = None,
        connection: str | None = None,
        limit: int | None = None,
        job_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Export users to *out*: create the job, wait for it, download its file.

        Args:
            out: The file to write (gzip-compressed NDJSON, mode 0600, replaced atomically).
            connection_id: Export this connection only.
            connection: Export the connection with this name (looked up first).
            limit: Export at most this many users.
            job_id: Resume an export job created earlier instead of creating one.
            progress: Called with an :class:`ExportProgress` at every status check and
                during the download.

        Without *connection_id* and *connection*, every connection is exported.

        .. versionadded:: 0.1.0
        """
        if connection_id is not None and connection is not None:
            raise ConfigurationError("give a connection id or a connection name, not both")
        if job_id is None:
            if connection is not None:
                connection_id = self.connection_id(connection)
            started = self.start(connection_id, limit=limit)
            job_id = started.id
        done = self.wait(job_id, progress=progress)
        return self.download(done, out, progress=progress)
