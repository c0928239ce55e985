"""Auth0 users from the bulk export job: the validated model and its reader (pure)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import IO, Any, NewType

from attrs import field, frozen

from ._ory import normalize_identifier
from ._read import iter_raw_records, iter_records, ndjson_blocks, ndjson_objects
from ._records import UnreadableRecord


__all__ = [
    "Auth0Identity",
    "Auth0User",
    "UsersFile",
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
    return NormalizedEmail(normalize_identifier(email))


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


def json_text(value: Any) -> str | None:
    """A JSON string or number as text; ``None`` for ``""`` or another type.

    (GitHub's user ids are numbers.)
    """
    if type(value) is str:
        return value or None
    if type(value) is int:  # GitHub's numeric ids
        return str(value)
    return None


def _bool(value: Any) -> bool:
    return value is True or value == "true"


#: Booleans the mapping uses: JSON true or false, the strings "true" or "false" (the job's CSV),
#: or null / missing (false); :func:`parse_user` reports any other value.
_BOOLEANS = ("email_verified", "blocked")
_TEXT = ("true", "false")


@frozen
class Auth0User:
    """A validated Auth0 user from the export job.

    Only ``user_id`` is required; every other field may be missing, since the
    export job exports only the fields it was asked for. Most properties read
    :attr:`raw` on demand, so a user costs little until it is mapped. Build one
    with :func:`parse_user`.

    Attributes:
        user_id: ``provider|id``, e.g. ``auth0|60425dc43519d90068f82973``.
        line: Where the record is in its file (1-based).
        provider: The part of ``user_id`` before the first ``|``.
        raw: The record exactly as exported, so that nothing is lost.
        email: The email address, trimmed (``None`` when missing or empty).
        normalized_email: The email as Ory compares identifiers.
        database_ids: The ids of the user's database identities (the primary one
            and linked ones): the keys of the password-hash join.

    .. versionadded:: 0.1.0
    """

    user_id: str
    line: int
    provider: str
    raw: Mapping[str, Any] = field(factory=dict, repr=False, eq=False, hash=False)
    email: str | None = None
    normalized_email: NormalizedEmail | None = field(init=False, repr=False, eq=False)
    database_ids: tuple[str, ...] = field(init=False, repr=False, eq=False)

    @normalized_email.default
    def _normalize(self) -> NormalizedEmail | None:
        return normalize_email(self.email) if self.email else None

    @database_ids.default
    def _find_database_ids(self) -> tuple[str, ...]:
        ids = [self.user_id.partition("|")[2]] if self.provider == DATABASE_PROVIDER else []
        for entry in self.raw.get("identities") or ():
            if entry.get("provider") == DATABASE_PROVIDER:
                local = json_text(entry.get("user_id"))
                if local is not None and local not in ids:
                    ids.append(local)
        return tuple(ids)

    @property
    def email_verified(self) -> bool:
        """Auth0's ``email_verified``."""
        return _bool(self.raw.get("email_verified"))

    @property
    def blocked(self) -> bool:
        """Auth0's ``blocked``."""
        return _bool(self.raw.get("blocked"))

    @property
    def created_at(self) -> str | None:
        """When the user was created (ISO 8601)."""
        return json_text(self.raw.get("created_at"))

    @property
    def last_password_reset(self) -> str | None:
        """When the password was last reset (ISO 8601)."""
        return json_text(self.raw.get("last_password_reset"))

    @functools.cached_property
    def identities(self) -> tuple[Auth0Identity, ...]:
        """Primary and linked identities (the primary derived from ``user_id`` if missing)."""
        identities = []
        for n, entry in enumerate(self.raw.get("identities") or ()):
            provider, user_id = json_text(entry.get("provider")), json_text(entry.get("user_id"))
            if provider is None or user_id is None:
                if n:
                    continue
                # e.g. the job's CSV with only identities[0].connection: it is the primary one.
                provider, user_id = self.provider, self.local_id
            identities.append(
                Auth0Identity(
                    provider=provider,
                    user_id=user_id,
                    connection=json_text(entry.get("connection")),
                    is_social=_bool(entry.get("isSocial")),
                )
            )
        local = self.local_id
        if not any(i.provider == self.provider and i.user_id == local for i in identities):
            identities.insert(0, Auth0Identity(provider=self.provider, user_id=local))
        return tuple(identities)

    @property
    def local_id(self) -> str:
        """The part of ``user_id`` after the first ``|`` (``samlp|conn|id`` → ``conn|id``)."""
        return self.user_id.partition("|")[2]

    @property
    def connections(self) -> tuple[str, ...]:
        """The names of every connection the user has an identity in, primary first."""
        return tuple(dict.fromkeys(i.connection for i in self.identities if i.connection))


def parse_user(raw: Mapping[str, Any], line: int = 0) -> Auth0User | UnreadableRecord:
    """Validate one exported Auth0 user.

    Args:
        raw: The record as exported (JSON object).
        line: Its line number, for error reports.

    Returns:
        The user, or an :class:`UnreadableRecord` saying why it cannot be used.

    .. versionadded:: 0.1.0
    """
    get = raw.get
    user_id = get("user_id")
    if type(user_id) is not str or not user_id.strip():
        return UnreadableRecord("users", line, None, "no user_id")
    user_id = user_id.strip()
    provider, sep, local = user_id.partition("|")
    if not sep or not provider or not local:
        return UnreadableRecord("users", line, user_id, "user_id is not of the form provider|id")
    if "\0" in user_id:
        escaped = user_id.replace("\0", "\\x00")
        return UnreadableRecord("users", line, escaped, "user_id holds a NUL character")
    email = get("email")
    if email is not None and type(email) is not str:
        return UnreadableRecord("users", line, user_id, "email is not a string")
    if email and "\0" in email:
        return UnreadableRecord("users", line, user_id, "email holds a NUL character")
    # The usual case first (JSON booleans or missing, an object or missing), the rest in full.
    verified, blocked = get("email_verified"), get("blocked")
    if not (type(verified) is bool or verified is None) or not (
        type(blocked) is bool or blocked is None
    ):
        for key, value in zip(_BOOLEANS, (verified, blocked), strict=True):
            if value is not None and type(value) is not bool and value not in _TEXT:
                return UnreadableRecord("users", line, user_id, f"{key} is not true or false")
    user_metadata = get("user_metadata")
    if (
        type(user_metadata) is not dict
        and user_metadata is not None
        and not isinstance(user_metadata, Mapping)
    ):
        return UnreadableRecord("users", line, user_id, "user_metadata is not an object")
    identities = get("identities")
    if identities is not None:
        if type(identities) is not list:
            return UnreadableRecord("users", line, user_id, "identities is not a list")
        for entry in identities:
            if type(entry) is not dict and not isinstance(entry, Mapping):
                return UnreadableRecord(
                    "users", line, user_id, "an identities entry is not an object"
                )
            entry_provider, entry_id = entry.get("provider"), entry.get("user_id")
            if (
                type(entry_provider) is str
                and type(entry_id) is str
                and entry_provider
                and entry_id
            ):
                continue  # the usual case: both present
            # An entry with neither (the job's CSV exports only the asked-for columns, e.g.
            # identities[0].connection) describes the primary identity; one of the two is a defect.
            if (json_text(entry_provider) is not None) != (json_text(entry_id) is not None):
                return UnreadableRecord(
                    "users", line, user_id, "an identities entry lacks provider or user_id"
                )
    return Auth0User(user_id, line, provider, raw, email.strip() or None if email else None)


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
    return iter_records(f, "users", parse_user, strict=strict, allow_csv=True)


@frozen
class UsersFile:
    """A user export that :func:`~auth0_ory_migrate.plan_migration` can read twice, fast.

    The planner reads the users twice (first only to find shared emails). Given a
    ``UsersFile``, its first pass skips building :class:`Auth0User` records, which
    makes planning a big export markedly faster. The file is opened by *opener*
    (e.g. ``lambda: open(path, "rb")``) for each pass and closed after it.

    Attributes:
        opener: Returns the export opened in binary mode (or a context manager
            giving it) each time it is called.
        strict: Raise on the first malformed record (see :func:`read_users`).

    .. versionadded:: 0.1.0
    """

    opener: Callable[[], AbstractContextManager[IO[bytes]]] = field(repr=False)
    strict: bool = False

    def __iter__(self) -> Iterator[Auth0User | UnreadableRecord]:
        with self.opener() as f:
            yield from read_users(f, strict=self.strict)

    def identity_keys(self) -> Iterator[tuple[str, NormalizedEmail | None]]:
        """``(user_id, normalized email)`` of every record with a usable user id.

        Malformed records are left out (they show up when the users are read); a
        record that is unreadable for another reason may be included, which only
        delays the planning of the users sharing its email, never changes it.
        """
        for raw in self._objects():
            user_id = raw.get("user_id")
            if type(user_id) is not str or "|" not in user_id:
                continue
            email = raw.get("email")
            email = email.strip() if type(email) is str else None
            yield user_id.strip(), normalize_email(email) if email else None

    def _objects(self) -> Iterator[dict[str, Any]]:
        """Every record that is a JSON object, fast: no line numbers, nothing about the others."""
        with self.opener() as f:
            blocks = ndjson_blocks(f, "users", allow_csv=True)
            if blocks is not None:
                yield from ndjson_objects(blocks)
                return
        with self.opener() as f:  # a JSON array or CSV
            for item in iter_raw_records(f, "users", allow_csv=True):
                if type(item) is not UnreadableRecord:
                    yield item[1]  # type: ignore[index]
