"""Auth0 users from the bulk export job: the validated model and its reader (pure)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from typing import IO, Any, NewType

from attrs import field, frozen

from ._read import iter_raw_records
from ._records import UnreadableRecord


__all__ = [
    "Auth0Identity",
    "Auth0User",
    "NormalizedEmail",
    "normalize_email",
    "parse_user",
    "read_users",
]

#: An email address as Ory compares identifiers: trimmed, Unicode NFKC, lower-case.
NormalizedEmail = NewType("NormalizedEmail", str)

#: Auth0 providers whose users hold a password in an Auth0 database connection.
DATABASE_PROVIDER = "auth0"
#: Passwordless providers: no password, no social subject.
PASSWORDLESS_PROVIDERS = frozenset({"email", "sms"})


def normalize_email(email: str) -> NormalizedEmail:
    """Normalise *email* the way Ory normalises identifiers (trim, NFKC, lower-case).

    .. versionadded:: 0.1.0
    """
    if email.isascii():
        return NormalizedEmail(email.strip().lower())
    return NormalizedEmail(unicodedata.normalize("NFKC", email.strip()).lower())


@frozen
class Auth0Identity:
    """One entry of an Auth0 user's ``identities`` (the primary one or a linked account).

    Attributes:
        provider: ``auth0``, ``google-oauth2``, ``samlp``, ...
        user_id: The id within the provider (always a string; GitHub's numbers are converted).
        connection: The Auth0 connection name.
        is_social: Auth0's ``isSocial`` flag.

    .. versionadded:: 0.1.0
    """

    provider: str
    user_id: str
    connection: str | None = None
    is_social: bool = False

    @property
    def is_database(self) -> bool:
        """Whether this identity lives in an Auth0 database connection (has a password)."""
        return self.provider == DATABASE_PROVIDER


@frozen
class Auth0User:
    """A validated Auth0 user from the export job.

    Only ``user_id`` is required; every other field may be missing, since the
    export job exports only the fields it was asked for.

    Attributes:
        user_id: ``provider|id``, e.g. ``auth0|60425dc43519d90068f82973``.
        line: Where the record is in its file (1-based).
        provider: The part of ``user_id`` before the first ``|``.
        identities: Primary and linked identities (the primary first when
            the export has none, it is derived from ``user_id``).
        raw: The record exactly as exported, so that nothing is lost.

    .. versionadded:: 0.1.0
    """

    user_id: str
    line: int
    provider: str
    email: str | None = None
    email_verified: bool = False
    blocked: bool = False
    created_at: str | None = None
    last_password_reset: str | None = None
    identities: tuple[Auth0Identity, ...] = ()
    raw: Mapping[str, Any] = field(factory=dict, repr=False, eq=False, hash=False)

    @property
    def local_id(self) -> str:
        """The part of ``user_id`` after the first ``|`` (``samlp|conn|id`` → ``conn|id``)."""
        return self.user_id.partition("|")[2]

    @property
    def connections(self) -> tuple[str, ...]:
        """The names of every connection the user has an identity in, primary first."""
        return tuple(dict.fromkeys(i.connection for i in self.identities if i.connection))

    @property
    def database_ids(self) -> tuple[str, ...]:
        """The ids of the user's database identities, the keys of the password-hash join."""
        ids = [self.local_id] if self.provider == DATABASE_PROVIDER else []
        ids.extend(i.user_id for i in self.identities if i.is_database)
        return tuple(dict.fromkeys(ids))

    @property
    def normalized_email(self) -> NormalizedEmail | None:
        """The email as Ory compares it, or ``None``."""
        return normalize_email(self.email) if self.email else None


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


def _bool(value: Any) -> bool:
    return value is True or value == "true"


def parse_user(raw: Mapping[str, Any], line: int = 0) -> Auth0User | UnreadableRecord:
    """Validate one exported Auth0 user.

    Args:
        raw: The record as exported (JSON object).
        line: Its line number, for error reports.

    Returns:
        The user, or an :class:`UnreadableRecord` saying why it cannot be used.

    .. versionadded:: 0.1.0
    """
    user_id = raw.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        return UnreadableRecord("users", line, None, "no user_id")
    user_id = user_id.strip()
    provider, sep, local = user_id.partition("|")
    if not sep or not provider or not local:
        return UnreadableRecord("users", line, user_id, "user_id is not of the form provider|id")

    email = raw.get("email")
    if email is not None and not isinstance(email, str):
        return UnreadableRecord("users", line, user_id, "email is not a string")

    identities: list[Auth0Identity] = []
    raw_identities = raw.get("identities")
    if raw_identities is not None and not isinstance(raw_identities, list):
        return UnreadableRecord("users", line, user_id, "identities is not a list")
    for entry in raw_identities or ():
        if not isinstance(entry, Mapping):
            return UnreadableRecord("users", line, user_id, "an identities entry is not an object")
        i_provider, i_user_id = _str(entry.get("provider")), _str(entry.get("user_id"))
        if i_provider is None or i_user_id is None:
            return UnreadableRecord(
                "users", line, user_id, "an identities entry lacks provider or user_id"
            )
        identities.append(
            Auth0Identity(
                provider=i_provider,
                user_id=i_user_id,
                connection=_str(entry.get("connection")),
                is_social=_bool(entry.get("isSocial")),
            )
        )
    if not any(i.provider == provider and i.user_id == local for i in identities):
        # The export job may leave identities out: the user id still names the primary one.
        identities.insert(0, Auth0Identity(provider=provider, user_id=local))

    return Auth0User(
        user_id=user_id,
        line=line,
        provider=provider,
        email=email.strip() or None if email else None,
        email_verified=_bool(raw.get("email_verified")),
        blocked=_bool(raw.get("blocked")),
        created_at=_str(raw.get("created_at")),
        last_password_reset=_str(raw.get("last_password_reset")),
        identities=tuple(identities),
        raw=raw,
    )


def read_users(f: IO[bytes], *, strict: bool = False) -> Iterator[Auth0User | UnreadableRecord]:
    """Read an Auth0 user export, record by record.

    Accepts what the export job produces (gzipped or plain NDJSON, or its CSV
    flavour) and a JSON array; memory stays bounded whatever the file size.

    Args:
        f: The export, opened in binary mode.
        strict: Raise :class:`~auth0_ory_migrate.InvalidRecordError` on the
            first malformed record instead of yielding it as an
            :class:`UnreadableRecord`.

    Raises:
        InputFileError: The file as a whole cannot be read.

    .. versionadded:: 0.1.0
    """
    for item in iter_raw_records(f, "users", allow_csv=True):
        result = item if isinstance(item, UnreadableRecord) else parse_user(item[1], item[0])
        if strict and isinstance(result, UnreadableRecord):
            raise result.to_error()
        yield result
