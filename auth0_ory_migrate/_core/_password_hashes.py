"""The password-hash export Auth0 support sends, and the index that joins it to users (pure).

The format is not published by Auth0; we accept every variant seen in the
wild: ``_id``/``_ID`` as ``{"$oid": ...}`` or a plain string, ``alt_id``,
``password_set_date`` as ``{"$date": ...}`` or a string, the email at the root
or in ``identifiers[]``, one object per line or one JSON array.
"""

from __future__ import annotations

import datetime as dt
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from attrs import field, frozen

from ..exceptions import CustomHashError
from ._custom_hashes import convert_custom_password_hash
from ._read import iter_records
from ._records import UnreadableRecord
from ._users import NormalizedEmail, normalize_email


__all__ = [
    "IndexedHash",
    "PasswordHashIndex",
    "PasswordHashRecord",
    "index_password_hashes",
    "parse_password_hash",
    "read_password_hashes",
    "to_epoch",
]


def _masked(_: object) -> str:
    return "'***'"


@frozen
class PasswordHashRecord:
    """One line of Auth0's password-hash export.

    Attributes:
        line: Where the record is in its file.
        ids: The database user ids it belongs to (``_id``'s ``$oid``, then ``alt_id``).
        email: The email on the record, if any (used only for records without an id).
        password_hash: The hash (hidden from ``repr``).
        password_set_date: When the password was set (ISO 8601), if known.
        problem: Why Ory cannot verify the hash (a ``custom_password_hash`` in a
            format Ory lacks); the user then needs the password-migration hook.

    .. versionadded:: 0.1.0
    """

    line: int
    ids: tuple[str, ...]
    email: str | None
    password_hash: str = field(repr=_masked)
    password_set_date: str | None = None
    problem: str | None = None


def to_epoch(value: str | None) -> float | None:
    """Seconds since the epoch for an ISO 8601 timestamp, or ``None`` when unreadable.

    .. versionadded:: 0.1.0
    """
    if not value:
        return None
    cached = _EPOCHS.get(value)
    if cached is not None:
        return cached
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    epoch = parsed.timestamp()
    if len(_EPOCHS) < _EPOCH_CACHE_SIZE:  # exports share few distinct dates; bounded anyway
        _EPOCHS[value] = epoch
    return epoch


_EPOCHS: dict[str, float] = {}
_EPOCH_CACHE_SIZE = 4096


def _extended_str(value: Any, key: str) -> str | None:
    """``{"$oid": "x"}`` / ``{"$date": "x"}`` / ``"x"`` → ``"x"``."""
    if value is None:
        return None
    if type(value) is dict:
        inner = value.get(key)
        if type(inner) is str and inner and not inner[0].isspace() and not inner[-1].isspace():
            return inner  # the usual shape, fast
    if isinstance(value, Mapping):
        value = value.get(key)
        if isinstance(value, Mapping) and "$numberLong" in value:  # {"$date": {"$numberLong": ms}}
            value = int(value["$numberLong"])
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and key == "$date":
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc).isoformat()
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _record_email(raw: Mapping[str, Any]) -> str | None:
    email = raw.get("email")
    if type(email) is str and email.strip():
        return email.strip()
    if "identifiers" not in raw:
        return None
    for ident in raw.get("identifiers") or ():
        if isinstance(ident, str) and "@" in ident:
            return ident.strip()
        if isinstance(ident, Mapping):
            value = ident.get("value") or ident.get("email")
            if isinstance(value, str) and "@" in value and ident.get("type", "email") == "email":
                return value.strip()
    return None


def parse_password_hash(
    raw: Mapping[str, Any], line: int = 0
) -> PasswordHashRecord | UnreadableRecord:
    """Validate one record of the password-hash export.

    .. versionadded:: 0.1.0
    """
    ids: list[str] = []
    id_value = raw.get("_id", raw.get("_ID"))
    if id_value is None:  # any other case of "_id"
        id_value = next((v for k, v in raw.items() if k.lower() == "_id"), None)
    if id_value is not None:
        oid = _extended_str(id_value, "$oid")
        if oid:
            ids.append(oid)
    alt_id = _extended_str(raw.get("alt_id"), "$oid")
    if alt_id:
        ids.append(alt_id)
    email = _record_email(raw)
    if not ids and not email:
        return UnreadableRecord("password_hashes", line, None, "neither _id nor email")
    password_hash = raw.get("passwordHash", raw.get("password_hash"))
    problem = None
    if not isinstance(password_hash, str) or not password_hash.strip():
        user_hint = f"auth0|{ids[0]}" if ids else None
        custom = raw.get("custom_password_hash")
        if custom is None:
            return UnreadableRecord("password_hashes", line, user_hint, "no passwordHash")
        try:
            conversion = convert_custom_password_hash(custom)
        except CustomHashError as e:
            return UnreadableRecord("password_hashes", line, user_hint, str(e))
        password_hash, problem = conversion.ory_hash or "", conversion.reason
    return PasswordHashRecord(
        line=line,
        ids=(ids[0],) if len(ids) == 1 else tuple(dict.fromkeys(ids)),
        email=email,
        password_hash=password_hash.strip(),
        password_set_date=_extended_str(raw.get("password_set_date"), "$date"),
        problem=problem,
    )


def read_password_hashes(
    f: IO[bytes], *, strict: bool = False
) -> Iterator[PasswordHashRecord | UnreadableRecord]:
    """Read Auth0's password-hash export, record by record.

    Args:
        f: The (decrypted) export, opened in binary mode; gzip is undone.
        strict: Raise on the first malformed record.

    Raises:
        InputFileError: The file is still PGP-encrypted, or not JSON.

    .. versionadded:: 0.1.0
    """
    return iter_records(f, "password_hashes", parse_password_hash, strict=strict)


@frozen
class IndexedHash:
    """What the index keeps of one user's password hash.

    Attributes:
        value: The hash (hidden from ``repr``); empty when :attr:`problem` is set.
        set_at: When the password was set, in seconds since the epoch, if known.
        problem: Why Ory cannot verify it, if so.

    .. versionadded:: 0.1.0
    """

    value: str = field(repr=_masked)
    set_at: float | None = None
    problem: str | None = None


@frozen
class PasswordHashIndex:
    """Password hashes keyed by Auth0 database user id (and by email for id-less records).

    Build it with :func:`index_password_hashes`. It keeps only the hash and its
    date per user, so memory grows with the number of hashes and nothing else,
    and packed: all the hashes in one buffer, the dates in an array (a few
    hundred bytes per hash; processes forked after it is built share it).

    Attributes:
        total: Records read (readable ones).
        duplicates: Records for an id or email already seen (the newest hash wins).
        unreadable: Records that could not be used.

    .. versionadded:: 0.1.0
    """

    _by_id: dict[str, int] = field(repr=False, alias="by_id")
    _by_email: dict[NormalizedEmail, int] = field(repr=False, alias="by_email")
    _hashes: bytes = field(repr=False, alias="hashes")  # every hash, UTF-8, one after another
    _ends: array[int] = field(repr=False, alias="ends")  # where entry n's hash ends in _hashes
    _set_at: array[float] = field(repr=False, alias="set_at")  # NaN: unknown
    _problems: dict[int, str] = field(repr=False, alias="problems")
    total: int = 0
    duplicates: int = 0
    unreadable: tuple[UnreadableRecord, ...] = ()

    @property
    def distinct(self) -> int:
        """How many different hashes the index holds (one per user it can match)."""
        return len(set(self._by_id.values())) + len(self._by_email)

    def lookup(
        self, database_ids: Iterable[str], email: NormalizedEmail | None
    ) -> IndexedHash | None:
        """Find a user's hash: by id first; by email only for id-less records."""
        n = self.find(database_ids, email)
        return None if n < 0 else self.entry(n)

    def find(self, database_ids: Iterable[str], email: NormalizedEmail | None) -> int:
        """The number of a user's entry (see :meth:`lookup`), ``-1`` for none.

        Whichever of a record's ids is used, the number is the same, so callers
        can count the distinct records matched.
        """
        by_id = self._by_id
        for user_id in database_ids:
            n = by_id.get(user_id)
            if n is not None:
                return n
        if email is not None and self._by_email:
            return self._by_email.get(email, -1)
        return -1

    def entry(self, n: int) -> IndexedHash:
        """Entry *n* (from :meth:`find`)."""
        start = self._ends[n - 1] if n else 0
        set_at = self._set_at[n]
        return IndexedHash(
            self._hashes[start : self._ends[n]].decode(),
            None if math.isnan(set_at) else set_at,
            self._problems.get(n),
        )


def index_password_hashes(
    records: Iterable[PasswordHashRecord | UnreadableRecord],
) -> PasswordHashIndex:
    """Index password-hash records for the join.

    Joining is by id (``$oid``/``alt_id`` = the part of ``user_id`` after
    ``auth0|``); email is used only for records that carry no id.

    .. versionadded:: 0.1.0
    """
    by_id: dict[str, int] = {}
    by_email: dict[NormalizedEmail, int] = {}
    hashes, ends, set_ats = bytearray(), array("q"), array("d")
    problems: dict[int, str] = {}
    unreadable: list[UnreadableRecord] = []
    total = duplicates = 0
    nan = float("nan")

    def newer(old: int | None) -> bool:  # the newest hash wins; a tie, the later record
        if old is None:
            return True
        new_at, old_at = set_ats[-1], set_ats[old]
        return (0.0 if math.isnan(new_at) else new_at) >= (0.0 if math.isnan(old_at) else old_at)

    for record in records:
        if isinstance(record, UnreadableRecord):
            unreadable.append(record)
            continue
        total += 1
        if not record.ids and not record.email:
            continue
        n = len(ends)
        hashes += record.password_hash.encode()
        ends.append(len(hashes))
        set_at = to_epoch(record.password_set_date)
        set_ats.append(nan if set_at is None else set_at)
        if record.problem is not None:
            problems[n] = record.problem
        if record.ids:
            if record.ids[0] in by_id:
                duplicates += 1
            for key in record.ids:
                if newer(by_id.get(key)):
                    by_id[key] = n
        else:
            key_email = normalize_email(record.email)  # type: ignore[arg-type]
            if key_email in by_email:
                duplicates += 1
            if newer(by_email.get(key_email)):
                by_email[key_email] = n
    return PasswordHashIndex(
        by_id=by_id,
        by_email=by_email,
        hashes=bytes(hashes),
        ends=ends,
        set_at=set_ats,
        problems=problems,
        total=total,
        duplicates=duplicates,
        unreadable=tuple(unreadable),
    )
