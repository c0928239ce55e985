"""Export every user of an Auth0 tenant with the Management API's bulk export job.

Paging through ``GET /api/v2/users`` stops at 1,000 users, so the export goes through the job
Auth0 provides for it: ``POST /api/v2/jobs/users-exports`` creates it, ``GET /api/v2/jobs/{id}``
reports its progress, and once it is ``completed`` its ``location`` is a short-lived link (60
seconds) to the gzip-compressed, newline-delimited JSON file. :class:`Auth0Exporter` drives the
whole thing through ``auth0-python`` 6.x and writes the file exactly as Auth0 serves it.

The decisions (where a domain points, how long to wait before the next status check, whether
a failed call is made again, whether a download link may be used and what a broken download
means) are the pure functions of :mod:`auth0_ory_migrate._core._export`,
:mod:`~auth0_ory_migrate._core._auth0` and :mod:`~auth0_ory_migrate._core._retry`;
:class:`Auth0Exporter` is the thin adapter that talks to the SDK, turns its errors into plain
facts and this library's exceptions at the boundary, and carries the decisions out (retries
through :func:`~auth0_ory_migrate._runtime._retrying.call_with_retries`). No message, repr,
log line or exception ever carries the token, the client secret or the pre-signed download
link.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import attrs
import httpx
import requests
import urllib3.exceptions
from attrs import define, field
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management.client import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.core.parse_error import ParsingError
from auth0.management.management_client import ManagementClient

from .._core._auth0 import ManagementEndpoint, parse_domain
from .._core._export import (
    EXPORT_FIELDS,
    EXPORT_RETRY,
    EXPORT_TIMEOUT,
    ApiFailure,
    DownloadProblem,
    ExportFileCheck,
    ExportJob,
    ExportProgress,
    ExportResult,
    PollPolicy,
    ProgressCallback,
    body_message,
    check_download_url,
    job_failure,
    next_check,
    refused_download,
)
from .._core._redact import Redactor
from .._core._retry import RetryPolicy, retry_wait
from .._runtime._files import private_file
from .._runtime._retrying import OutOfTime, call_with_retries
from ..exceptions import Auth0ApiError, ConfigurationError, ExportDownloadError


if TYPE_CHECKING:
    from auth0.management.core.request_options import RequestOptions

__all__ = ["Auth0Exporter"]

T = TypeVar("T")

_CHUNK = 256 * 1024


# Loggers of the download's HTTP stack that write request URLs (urllib3 writes the request
# line at DEBUG and the URL in retry and redirect warnings).
_URL_LOGGERS = (
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)
_HIDDEN_LINK = "[download link]"


class _HideLink(logging.Filter):
    """Masks a pre-signed download link (its path and query, whole or in parts) in records."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        forms = {url, target, parts.query, unquote(parts.query), unquote(target)}
        forms |= {value for item in parts.query.split("&") for value in item.split("=")[1:]}
        self._forms = sorted((f for f in forms if len(f) > 1), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        masked = message
        for form in self._forms:
            masked = masked.replace(form, _HIDDEN_LINK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


@contextlib.contextmanager
def _link_hidden_from_logs(url: str) -> Iterator[None]:
    """While inside, the HTTP stack's log records never carry *url* (a credential)."""
    hide = _HideLink(url)
    loggers = [logging.getLogger(name) for name in _URL_LOGGERS]
    for logger in loggers:
        logger.addFilter(hide)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(hide)


# -- the SDK boundary ------------------------------------------------------------------------------


def _failure(exc: BaseException) -> ApiFailure | None:
    """The facts of an SDK or HTTP client exception; None when it is not ours to convert."""
    if isinstance(exc, ApiError):
        code, message = body_message(exc.body)
        return ApiFailure(exc.status_code, code, message, exc.headers)
    if isinstance(exc, ParsingError):
        return ApiFailure(exc.status_code, None, "Auth0 answered something unexpected", exc.headers)
    if isinstance(exc, Auth0Error):  # the Authentication API (our client-credentials token)
        headers = dict(exc.headers) if isinstance(exc.headers, Mapping) else None
        return ApiFailure(exc.status_code, exc.error_code or None, str(exc.message), headers)
    if isinstance(exc, httpx.HTTPStatusError):  # ManagementClient's own token provider
        try:
            body: Any = exc.response.json()
        except ValueError:
            body = exc.response.text
        code, message = body_message(body)
        return ApiFailure(exc.response.status_code, code, message, dict(exc.response.headers))
    if isinstance(exc, (httpx.TransportError, requests.RequestException)):
        return ApiFailure(None, None, f"{type(exc).__name__} (network)")
    return None


class _Failed(Exception):
    """An SDK call failed: its facts (secrets masked), all the retry runner and logs see."""

    def __init__(self, failure: ApiFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _RetryDownload(Exception):
    """A download attempt failed in a way a fresh link may fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _problem(job: ExportJob, problem: DownloadProblem) -> Exception:
    if problem.retry:
        return _RetryDownload(problem.reason)
    return ExportDownloadError(job.id, problem.reason)


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
        timeout: Seconds to wait for the job to complete (:data:`EXPORT_TIMEOUT`).
        poll: How often to check the job's status.
        retry: Retries of status checks, lookups and downloads (by default without jitter
            and no wait over a minute).
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
    timeout: float = EXPORT_TIMEOUT
    poll: PollPolicy = field(factory=PollPolicy)
    retry: RetryPolicy = EXPORT_RETRY
    download_attempts: int = 5
    request_timeout: float = 60.0
    secrets: tuple[str, ...] = field(default=(), repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)
    session: requests.Session | None = field(default=None, repr=False)
    _owned_clients: list[httpx.Client] = field(factory=list, init=False, repr=False)
    _owned_session: requests.Session | None = field(default=None, init=False, repr=False)
    _redactor: Redactor | None = field(default=None, init=False, repr=False)

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
            domain: ``acme.eu.auth0.com`` or an https URL; plain http only to a loopback
                address (see :func:`~auth0_ory_migrate._core._auth0.parse_domain`).
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
        """*text* without the secrets, in any spelling (JSON-escaped, URL-encoded, ...)."""
        redactor = self._redactor
        if redactor is None or redactor.secrets != frozenset(self.secrets):
            redactor = self._redactor = Redactor(frozenset(self.secrets))
        return redactor.text(text)

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

        def attempt() -> T:
            try:
                return call({"max_retries": 0})
            except Exception as e:
                failure = _failure(e)
                if failure is None:
                    raise
                masked = attrs.evolve(failure, message=self._scrub(failure.message))
                raise _Failed(masked) from None

        def on(error: Exception) -> bool | float:
            if not isinstance(error, _Failed):
                return False
            return retry_wait(
                error.failure,
                self.retry,
                now=self.wall_clock(),
                jitter=random.random(),  # noqa: S311 - not crypto
                idempotent=idempotent,
            )

        def time_left() -> float:
            assert deadline is not None
            return deadline - self.clock()

        try:
            return call_with_retries(
                attempt,
                self.retry,
                on,
                sleep=self.sleep,
                time_left=None if deadline is None else time_left,
            )
        except OutOfTime as e:
            failed = e.error
            gave_up = f" (gave up: the timeout for job {job_id} is reached)" if job_id else ""
        except _Failed as e:
            failed, gave_up = e, ""
        if not isinstance(failed, _Failed):  # pragma: no cover - only _Failed is retried
            raise failed
        f = failed.failure
        raise Auth0ApiError(action, f.status, f.error_code, f.message + gave_up) from None

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
            now = self.clock()
            delay = next_check(
                job, self.poll, attempt, waited=now - started, time_left=deadline - now
            )
            if delay is None:
                return job
            self.sleep(delay)
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

        def attempt() -> ExportResult:
            nonlocal current
            if reasons:  # a retry: the link may have expired, ask for a fresh one
                current = self.job(job.id)
                failure = job_failure(current)
                if failure is not None:
                    raise failure
            if current.location is None:
                raise ExportDownloadError(job.id, "the job has no download link")
            problem = check_download_url(current.location)
            if problem is not None:
                raise ExportDownloadError(job.id, problem)
            try:
                users, size = self._fetch(current, target, progress)
            except _RetryDownload as e:
                reasons.append(e.reason)
                raise
            return ExportResult(target, job.id, job.connection_id, users, size)

        policy = attrs.evolve(self.retry, attempts=self.download_attempts)
        try:
            result = call_with_retries(
                attempt, policy, lambda e: isinstance(e, _RetryDownload), sleep=self.sleep
            )
        except _RetryDownload:
            raise ExportDownloadError(
                job.id, f"gave up after {len(reasons)} attempts: " + "; ".join(reasons)
            ) from None
        if progress is not None:
            size = result.size
            progress(ExportProgress(job.id, "done", current.status, 100, 0, size, size))
        return result

    def _fetch(
        self, job: ExportJob, target: Path, progress: ProgressCallback | None
    ) -> tuple[int, int]:
        """One download attempt into *target*; the number of users and the size."""
        assert job.location is not None
        with _link_hidden_from_logs(job.location):
            return self._fetch_quietly(job, target, progress)

    def _fetch_quietly(
        self, job: ExportJob, target: Path, progress: ProgressCallback | None
    ) -> tuple[int, int]:
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
                body = response.text[:2000] if response.content else ""
                raise _problem(job, refused_download(response.status_code, body))
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            try:
                with private_file(target) as f:
                    check = self._stream(job, response, f, total, progress)
            except (
                requests.RequestException,
                urllib3.exceptions.HTTPError,
                ConnectionError,
            ) as e:
                raise _RetryDownload(f"the connection broke ({type(e).__name__})") from None
            except OSError as e:
                raise ExportDownloadError(job.id, f"cannot write {target}: {e}") from None
        return check.users, check.size

    def _stream(
        self,
        job: ExportJob,
        response: requests.Response,
        sink: IO[bytes],
        total: int | None,
        progress: ProgressCallback | None,
    ) -> ExportFileCheck:
        """Copy the raw (still gzip) bytes to *sink* while the core checks them."""
        check = ExportFileCheck()
        reported = 0
        for chunk in response.raw.stream(_CHUNK, decode_content=False):
            problem = check.feed(chunk)
            if problem is not None:
                raise _problem(job, problem)
            sink.write(chunk)
            if progress is not None and check.size - reported >= _CHUNK * 4:
                reported = check.size
                progress(
                    ExportProgress(job.id, "downloading", job.status, 100, 0, check.size, total)
                )
        problem = check.finish(total)
        if problem is not None:
            raise _problem(job, problem)
        return check

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
