"""The rules of an Auth0 bulk user export, as pure functions on frozen records.

How long to wait before the next status check (:func:`next_check`), whether a download link
may be fetched (:func:`check_download_url`), what a refused download or a broken file means
(:func:`refused_download`, :class:`ExportFileCheck`), and what Auth0's error bodies say
(:func:`body_message`). :class:`~auth0_ory_migrate.Auth0Exporter` carries them out over
auth0-python; nothing here talks to the network.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from attrs import define, field, frozen

from ..exceptions import ExportJobFailedError, ExportTimeoutError, InputFileError
from ._auth0 import is_loopback_host
from ._read import GZIP_MAGIC
from ._retry import RetryPolicy


__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_RETRY",
    "EXPORT_TIMEOUT",
    "ApiFailure",
    "DownloadProblem",
    "ExportFileCheck",
    "ExportJob",
    "ExportProgress",
    "ExportResult",
    "ExportScope",
    "PollPolicy",
    "ProgressCallback",
    "body_message",
    "check_download_url",
    "export_scope_path",
    "job_failure",
    "next_check",
    "next_poll_delay",
    "refused_download",
]

#: The user fields an export asks for: everything a migration to Ory uses.
#:
#: In JSON format a top-level name brings the whole value (``identities`` is the full list of
#: linked identities with ``connection``, ``provider``, ``user_id``, ``isSocial`` and, for
#: secondary accounts, ``profileData``; ``app_metadata`` and ``user_metadata`` the whole
#: objects). A field a user lacks is left out of that user's line. Pass your own tuple to
#: :class:`~auth0_ory_migrate.Auth0Exporter` to ask for more (custom attributes of enterprise
#: connections are top-level names too) or fewer.
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

#: How long :meth:`~auth0_ory_migrate.Auth0Exporter.wait` waits for a job by default: 6 hours
#: (the export of a big tenant takes long; Auth0 keeps a finished job for 24 hours).
#:
#: .. versionadded:: 0.1.0
EXPORT_TIMEOUT = 6 * 60 * 60.0

#: The exporter's retries by default: its calls go one at a time, so without jitter, and no
#: single wait longer than a minute.
#:
#: .. versionadded:: 0.1.0
EXPORT_RETRY = RetryPolicy(
    wait_max=60.0, wait_jitter=0.0, rate_limit_jitter=0.0, max_rate_limit_wait=60.0
)

_S3_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,200})</Message>")


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
        """Build from the SDK's job model (or a dict with the same keys).

        .. versionadded:: 0.1.0
        """

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


@frozen
class ExportScope:
    """Which users an export holds: whether an absent user may be taken for a deleted one.

    ``export`` writes it next to the users file (:func:`export_scope_path`). Only a
    *complete* export (every connection, no limit, a job this tool started) can show that a
    user is gone; a connection's export or a trial (``--limit``) cannot.

    Attributes:
        connection_id: The exported connection (None: every connection).
        limit: The job's user limit (None: none).
        job_id: The export job.
        users: The user records in the file.
        known: False when the job was taken over (``export --job-id``): its connection and
            limit are then not known to this tool.

    .. versionadded:: 0.1.0
    """

    connection_id: str | None
    limit: int | None
    job_id: str
    users: int
    known: bool = True

    @property
    def complete(self) -> bool:
        """Whether the export holds every user of the tenant (every connection, no limit)."""
        return self.known and self.connection_id is None and self.limit is None

    def to_json(self) -> str:
        """The scope as the JSON text of its file."""
        return json.dumps(
            {
                "connection_id": self.connection_id,
                "limit": self.limit,
                "job_id": self.job_id,
                "users": self.users,
                "known": self.known,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, *, source: str = "export scope") -> ExportScope:
        """Read a scope file's text.

        Raises:
            InputFileError: Not a scope written by ``export``.
        """
        try:
            data = json.loads(text)
            connection_id, limit = data["connection_id"], data["limit"]
            job_id, users, known = data["job_id"], data["users"], data.get("known", True)
        except (ValueError, TypeError, KeyError) as e:
            why = f"not an export scope written by `auth0-ory-migrate export` ({e})"
            raise InputFileError(source, why) from None
        if not (
            (connection_id is None or isinstance(connection_id, str))
            and (limit is None or (isinstance(limit, int) and not isinstance(limit, bool)))
            and isinstance(job_id, str)
            and isinstance(users, int)
            and isinstance(known, bool)
        ):
            why = "not an export scope written by `auth0-ory-migrate export`"
            raise InputFileError(source, why)
        return cls(connection_id, limit, job_id, users, known)


def export_scope_path(users_path: Path) -> Path:
    """Where ``export`` puts the scope of the users file *users_path*: ``<name>.scope.json``.

    .. versionadded:: 0.1.0
    """
    return users_path.with_name(f"{users_path.name}.scope.json")


#: Called with an :class:`ExportProgress` at every status check and during the download.
#:
#: .. versionadded:: 0.1.0
ProgressCallback = Callable[[ExportProgress], None]


@frozen
class ApiFailure:
    """What a failed Auth0 call said, read from the SDK's exception by the adapter.

    Attributes:
        status: The HTTP status; None when no answer came (timeout, connection error).
        error_code: Auth0's ``errorCode`` / OAuth ``error``, when it gave one.
        message: Auth0's message (the adapter masks its own secrets out of it), or what
            happened to the connection.
        headers: The answer's headers, when any (for ``Retry-After`` / ``x-ratelimit-reset``).

    .. versionadded:: 0.1.0
    """

    status: int | None
    error_code: str | None
    message: str
    headers: Mapping[str, str] | None = field(default=None, repr=False)


@frozen
class DownloadProblem:
    """Why a download attempt did not give the export file.

    Attributes:
        reason: What went wrong (never the link: it is a credential while valid).
        retry: Whether another attempt, with a fresh link, may well succeed.

    .. versionadded:: 0.1.0
    """

    reason: str
    retry: bool


# -- decisions -------------------------------------------------------------------------------------


def body_message(body: Any) -> tuple[str | None, str]:
    """Auth0's error code and message from an error body (Management or Authentication API).

    .. versionadded:: 0.1.0
    """
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


def job_failure(job: ExportJob) -> ExportJobFailedError | None:
    """The error a job that ended ``failed`` or ``expired`` stands for; None for any other.

    .. versionadded:: 0.1.0
    """
    if job.status in ("failed", "expired"):
        return ExportJobFailedError(job.id, job.status, job.status_details)
    return None


def next_check(
    job: ExportJob, policy: PollPolicy, attempt: int, *, waited: float, time_left: float
) -> float | None:
    """Seconds to wait before checking *job* again; None once it is completed.

    Args:
        job: The job as the last status check saw it.
        policy: How often to check.
        attempt: Checks made so far, minus one (0 after the first).
        waited: Seconds since the wait began.
        time_left: Seconds until the wait's timeout (the wait never goes past it).

    Raises:
        ExportJobFailedError: The job ended ``failed`` or ``expired``.
        ExportTimeoutError: The job still runs and the time is up.

    .. versionadded:: 0.1.0
    """
    if job.status == "completed":
        return None
    failure = job_failure(job)
    if failure is not None:
        raise failure
    if time_left <= 0:
        raise ExportTimeoutError(job.id, waited, job.status, job.percentage_done)
    return min(time_left, next_poll_delay(policy, attempt, job.time_left_seconds))


def refused_download(status: int, body: str) -> DownloadProblem:
    """What a download answered with *status* (not 200) means.

    S3 answers 403 ``AccessDenied`` "Request has expired" once a link is stale: a 400, 403,
    429 or 5xx is tried again with a fresh link; anything else is final. The reason quotes
    S3's ``<Code>`` and ``<Message>`` when *body* has them.

    .. versionadded:: 0.1.0
    """
    code, message = _S3_CODE.search(body), _S3_MESSAGE.search(body)
    detail = ""
    if code or message:
        detail = ": " + " ".join(m.group(1) for m in (code, message) if m)
    if status in (400, 403, 429) or status >= 500:
        return DownloadProblem(f"the link was refused ({status}{detail})", retry=True)
    return DownloadProblem(f"the download was answered {status}{detail}", retry=False)


@define
class ExportFileCheck:
    """Checks an export file as it streams in: gzip, complete and intact; counts its users.

    Feed it every chunk as received (still compressed), then call :meth:`finish`.

    .. versionadded:: 0.1.0
    """

    size: int = field(default=0, init=False)
    _decompressor: Any = field(factory=lambda: zlib.decompressobj(wbits=31), init=False)
    _started: bool = field(default=False, init=False)
    _newlines: int = field(default=0, init=False)
    _last_byte: bytes = field(default=b"\n", init=False)

    @property
    def users(self) -> int:
        """User records (lines) seen so far.

        .. versionadded:: 0.1.0
        """
        return self._newlines + (0 if self._last_byte == b"\n" else 1)

    def feed(self, chunk: bytes) -> DownloadProblem | None:
        """Check the next chunk; the problem, or None while the file looks right.

        .. versionadded:: 0.1.0
        """
        if not chunk:
            return None
        if not self._started:
            self._started = True
            if not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                return DownloadProblem("the file is not gzip-compressed", retry=False)
        self.size += len(chunk)
        data = chunk
        while data:
            try:
                plain = self._decompressor.decompress(data)
            except zlib.error:
                return DownloadProblem("the gzip data is corrupt", retry=True)
            if plain:
                self._newlines += plain.count(b"\n")
                self._last_byte = plain[-1:]
            data = b""
            if self._decompressor.eof:
                rest = self._decompressor.unused_data
                if rest:
                    if not rest.startswith(GZIP_MAGIC[: len(rest)]):
                        return DownloadProblem("unexpected bytes after the gzip data", retry=True)
                    self._decompressor = zlib.decompressobj(wbits=31)
                    data = rest
        return None

    def finish(self, total: int | None) -> DownloadProblem | None:
        """Check the end of the file (*total*: the size the download announced, if any).

        .. versionadded:: 0.1.0
        """
        if not self._started or not self._decompressor.eof:
            return DownloadProblem(
                f"the file is incomplete ({self.size} bytes; the gzip stream ends early)",
                retry=True,
            )
        if total is not None and total != self.size:
            return DownloadProblem(f"got {self.size} of {total} bytes", retry=True)
        return None
