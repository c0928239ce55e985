"""The library's exceptions.

Every exception this library raises on purpose derives from
:class:`Auth0OryMigrateError`, so a caller can catch them all with one clause.
Problems with the *input* are also :class:`ValueError` subclasses.

No exception ever carries a password hash, a plaintext password, an API key
or a token: messages name records by line number and Auth0 user id only.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._core._redact import redact


__all__ = [
    "Auth0ApiError",
    "Auth0ExportError",
    "Auth0OryMigrateError",
    "ConfigurationError",
    "CustomHashError",
    "ExportDownloadError",
    "ExportJobFailedError",
    "ExportTimeoutError",
    "HashJoinError",
    "InputFileError",
    "InvalidRecordError",
    "LedgerError",
    "OryConsoleError",
    "OryError",
    "OutputFileError",
    "SchemaError",
]


class Auth0OryMigrateError(Exception):
    """Base class of every error raised by auth0-ory-migrate.

    .. versionadded:: 0.1.0
    """


class InputFileError(Auth0OryMigrateError, ValueError):
    """A whole input file cannot be read (encrypted, wrong kind, not JSON).

    Attributes:
        source: Which input it is (``"users"``, ``"password_hashes"``,
            ``"mfa_secrets"``, ``"identities"``).
        reason: What is wrong and what to do about it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class InvalidRecordError(Auth0OryMigrateError, ValueError):
    """One input record is malformed.

    Raised only in *strict* mode; otherwise the same facts are reported as an
    :class:`~auth0_ory_migrate.UnreadableRecord` and the run goes on.

    Attributes:
        source: Which input the record comes from.
        line: 1-based line number of the record in its file (for a JSON array,
            the line where the object starts).
        user_id: The Auth0 user id, when it could be read.
        reason: Why the record cannot be used.

    .. versionadded:: 0.1.0
    """

    def __init__(self, source: str, line: int, user_id: str | None, reason: str) -> None:
        who = f" ({user_id})" if user_id else ""
        super().__init__(f"{source} line {line}{who}: {reason}")
        self.source = source
        self.line = line
        self.user_id = user_id
        self.reason = reason


class ConfigurationError(Auth0OryMigrateError, ValueError):
    """An option or a combination of options cannot work.

    .. versionadded:: 0.1.0
    """


# -- reading and converting -----------------------------------------------------------------------


class CustomHashError(Auth0OryMigrateError, ValueError):
    """A ``custom_password_hash`` object is malformed.

    The message says which part is wrong; it never holds the hash, salt or key.

    .. versionadded:: 0.1.0
    """


class HashJoinError(Auth0OryMigrateError, ValueError):
    """A password-hash file reads fine but its records do not find their users.

    Raised by :func:`~auth0_ory_migrate.check_password_hash_join` (``convert``
    and ``migrate`` stop with it, exit 2, before writing anything, unless
    ``--allow-unmatched-hashes``). It names user ids, never a hash.

    Attributes:
        matched: Hash records that found their database user.
        total: Hash records (with a hash; duplicates once).
        min_share: The share that was needed.
        orphan_ids: Up to three user ids of records that found no user.
        unhashed_ids: Up to three database users without a hash record.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        matched: int,
        total: int,
        min_share: float,
        orphan_ids: tuple[str, ...],
        unhashed_ids: tuple[str, ...],
    ) -> None:
        need = "at least one must" if matched == 0 else f"at least {min_share:.0%} must"
        super().__init__(
            f"password hashes: only {matched:,} of {total:,} hash records found their user "
            f"({need}): is the hash file from this tenant and this export? "
            f"hash records without a user: {', '.join(orphan_ids) or '-'}; "
            f"database users without a hash record: {', '.join(unhashed_ids) or '-'}. "
            "To go on anyway (those users get the hook), pass --allow-unmatched-hashes"
        )
        self.matched = matched
        self.total = total
        self.min_share = min_share
        self.orphan_ids = orphan_ids
        self.unhashed_ids = unhashed_ids


class SchemaError(Auth0OryMigrateError, ValueError):
    """An identity schema cannot be built, read or applied as asked.

    .. versionadded:: 0.1.0
    """


# -- Auth0 ----------------------------------------------------------------------------------------


class Auth0ExportError(Auth0OryMigrateError):
    """Base class of the errors of an export from Auth0.

    .. versionadded:: 0.1.0
    """


class Auth0ApiError(Auth0ExportError):
    """Auth0 refused or failed a request (after the retries that were safe to make).

    Attributes:
        action: What was being done (``"creating the export job"``...).
        status: The HTTP status (None when no answer came: connection refused, timeout).
        error_code: Auth0's ``errorCode`` / OAuth ``error``, when it gave one.
        auth0_message: Auth0's ``message`` / ``error_description`` (never a token).
        scopes: The scopes the request needs, when the caller knows (for the message's hint
            after a 403 ``insufficient_scope``).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        action: str,
        status: int | None,
        error_code: str | None,
        auth0_message: str,
        *,
        scopes: str | None = None,
    ) -> None:
        code = f" ({error_code})" if error_code else ""
        if status is None:
            text = f"{action}: no answer from Auth0: {auth0_message}"
        else:
            text = f"{action}: Auth0 answered {status}: {auth0_message}{code}"
        super().__init__(text + _hint(status, error_code, scopes))
        self.action = action
        self.scopes = scopes
        self.status = status
        self.error_code = error_code
        self.auth0_message = auth0_message


class ExportJobFailedError(Auth0ExportError):
    """The export job ended ``failed`` or ``expired`` instead of ``completed``.

    Attributes:
        job_id: The job's id.
        status: ``"failed"`` or ``"expired"``.
        details: Auth0's ``status_details`` (or a summary of what it said), when any.

    .. versionadded:: 0.1.0
    """

    def __init__(self, job_id: str, status: str, details: str | None) -> None:
        if status == "expired":
            what = "expired (Auth0 keeps an export for 24 hours): start a new export"
        else:
            what = f"ended {status}"
        extra = f": {details}" if details else ""
        super().__init__(f"Auth0 export job {job_id} {what}{extra}")
        self.job_id = job_id
        self.status = status
        self.details = details


class ExportTimeoutError(Auth0ExportError, TimeoutError):
    """The job did not complete within the timeout. It may still complete: resume it by id.

    Attributes:
        job_id: The job's id (``auth0-ory-migrate export --job-id ...`` resumes it).
        waited: Seconds waited.
        status: The job's last known status.
        percentage_done: Its last known progress.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, job_id: str, waited: float, status: str, percentage_done: int | None
    ) -> None:
        done = f", {percentage_done}% done" if percentage_done is not None else ""
        super().__init__(
            f"Auth0 export job {job_id} did not complete within {waited:.0f} s (still {status}"
            f"{done}); it may still complete: resume it by its id (CLI: --job-id {job_id})"
        )
        self.job_id = job_id
        self.waited = waited
        self.status = status
        self.percentage_done = percentage_done


class ExportDownloadError(Auth0ExportError):
    """The export file could not be downloaded completely; nothing was written.

    Attributes:
        job_id: The job's id.
        reason: What went wrong (never the link itself: it is a credential while valid).

    .. versionadded:: 0.1.0
    """

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"downloading the export of job {job_id}: {reason}")
        self.job_id = job_id
        self.reason = reason


def _hint(status: int | None, error_code: str | None, scopes: str | None = None) -> str:
    if status == 401:
        return " - check the token or the client id/secret, and the domain"
    if status == 403 and error_code == "insufficient_scope" and scopes:
        return f" - the token needs the {scopes} scope(s)"
    if status == 403 and error_code == "insufficient_scope":
        return " - the token needs the read:users scope (and read:connections for --connection)"
    return ""


# -- Ory -----------------------------------------------------------------------------------------


class OryError(Auth0OryMigrateError):
    """A request to Ory failed.

    Attributes:
        status: The HTTP status, or ``None`` when no answer came (connection refused or
            lost, timeout).
        reason: What Ory said (its error ``reason`` or ``message``), or what went wrong on
            the way. Never holds the API key or a password hash.
        headers: Response headers (lower-case names), for ``Retry-After`` and
            ``x-ratelimit-*``.
        outcome_unknown: The request may have reached Ory and done its work, but no answer
            came back (read timeout, connection dropped after sending).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        status: int | None,
        reason: str,
        *,
        headers: Mapping[str, str] | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        self.status = status
        self.reason = redact(reason)
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.outcome_unknown = outcome_unknown
        prefix = f"Ory answered {status}" if status is not None else "no answer from Ory"
        super().__init__(f"{prefix}: {self.reason}")


class OryConsoleError(Auth0OryMigrateError):
    """The Ory console API refused or failed a call.

    Attributes:
        status: The HTTP status, or None when no answer came.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# -- output files ---------------------------------------------------------------------------------


class OutputFileError(Auth0OryMigrateError):
    """An output file could not be written whole (disk full, quota, read-only file system).

    Nothing is left under the file's name: files are written to a temporary name
    and renamed only when complete (:func:`~auth0_ory_migrate.private_file`).

    Attributes:
        path: The file that was being written.
        reason: What the operating system said (e.g. "No space left on device").

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}; nothing written under that name")
        self.path = path
        self.reason = reason


# -- state ---------------------------------------------------------------------------------------


class LedgerError(Auth0OryMigrateError):
    """The state directory cannot be used (another input's, in use, damaged).

    .. versionadded:: 0.1.0
    """
