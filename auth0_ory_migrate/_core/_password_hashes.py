"""The password-hash export Auth0 support sends, and the index that joins it to users (pure).

The format is not published by Auth0; we accept every variant seen in the
wild: ``_id``/``_ID`` as ``{"$oid": ...}`` or a plain string, ``alt_id``,
``password_set_date`` as ``{"$date": ...}`` or a string, the email at the root
or in ``identifiers[]``, one object per line or one JSON array.
"""

from __future__ import annotations

import codecs
import datetime as dt
import math
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Literal, TypeAlias

from attrs import field, frozen

from ..exceptions import CustomHashError
from . import _json
from ._custom_hashes import convert_custom_password_hash
from ._read import (
    RawRecord,
    _blocks,
    _detect,
    _file_errors,
    _open_binary,
    decode_ndjson_line,
    iter_raw_records,
)
from ._records import Source, UnreadableRecord
from ._users import PASSWORDLESS_PROVIDERS, NormalizedEmail, normalize_email


__all__ = [
    "NO_PASSWORD",
    "HashUses",
    "IndexedHash",
    "PasswordHashIndex",
    "PasswordHashRecord",
    "UnusedHashReason",
    "UnusedPasswordHash",
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
            :data:`NO_PASSWORD` for a record without any hash (a user who never
            set a password): it is counted, not indexed.
        connection: The record's ``connection``, if any (``sms`` and ``email``
            records belong to ``sms|...`` and ``email|...`` users).
        email_verified: Whether a record without an id says its email is
            verified (``"email_verified": true``, the JSON boolean only): a
            condition of joining it by email. Always false for records with an id.

    .. versionadded:: 0.1.0
    """

    line: int
    ids: tuple[str, ...]
    email: str | None
    password_hash: str = field(repr=_masked)
    password_set_date: str | None = None
    problem: str | None = None
    connection: str | None = None
    email_verified: bool = False

    @property
    def user_id(self) -> str | None:
        """The Auth0 user id the record names: ``auth0|`` + its first id, or its connection's."""
        return _user_label(self.ids[0] if self.ids else None, self.connection)


#: :attr:`PasswordHashRecord.problem` of a record without any hash (no ``passwordHash``).
NO_PASSWORD = "no passwordHash (the user has no password)"

#: Why a record of the hash file was not used: its user is not in the users file
#: (``no_such_user``), not a database user (``not_a_database_user``), another
#: record for the same id won (``duplicate``), the user reset the password after
#: the export (``stale``), Ory cannot verify the hash (``unusable``), the user was
#: not imported or merged into another identity (``not_imported``), the record
#: has no hash (``no_password``), or the record has no user id and its email
#: may not join it (``email_not_joined``: not verified in both files, or not
#: unique in both).
UnusedHashReason: TypeAlias = Literal[
    "no_such_user",
    "not_a_database_user",
    "duplicate",
    "stale",
    "unusable",
    "not_imported",
    "no_password",
    "email_not_joined",
]


@frozen
class UnusedPasswordHash:
    """A record of the hash file that gave no user a password, and why (never the hash).

    Attributes:
        line: Where the record is in the hash file.
        user_id: The Auth0 user id it names (``None`` for a record with only an email).
        reason: Why it was not used.
        detail: More about why, for people (e.g. which duplicate won).

    .. versionadded:: 0.1.0
    """

    line: int
    user_id: str | None
    reason: UnusedHashReason
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict for reports."""
        return {
            "line": self.line,
            "auth0_user_id": self.user_id,
            "reason": self.reason,
            "detail": self.detail,
        }


def _user_label(local_id: str | None, connection: str | None) -> str | None:
    if local_id is None:
        return None
    provider = connection if connection in PASSWORDLESS_PROVIDERS else "auth0"
    return f"{provider}|{local_id}"


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
            return inner  # the usual shape, fast (an "auth0|" prefix is taken off by the caller)
    if isinstance(value, Mapping):
        value = value.get(key)
        if isinstance(value, Mapping) and "$numberLong" in value:  # {"$date": {"$numberLong": ms}}
            value = _number_long(value["$numberLong"])
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and key == "$date":
        try:
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError) as e:  # NaN, or beyond years 1-9999
            raise _UnreadableDateError(_NO_MOMENT) from e
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class _UnreadableDateError(ValueError):
    """A ``password_set_date`` that is no moment: the record is reported, not read."""


_NO_MOMENT = (
    "password_set_date is not a moment (want milliseconds since 1970 within years 1-9999, "
    "or an ISO 8601 date)"
)


def _number_long(value: Any) -> int:
    """``{"$numberLong": "1614962116775"}``'s value: an integer, as a string or a number."""
    if type(value) is int:
        return value
    if type(value) is str and value.strip().lstrip("-").isdigit() and len(value) <= _DIGITS:
        return int(value)
    raise _UnreadableDateError(_NO_MOMENT)


#: A $numberLong is a 64-bit integer: at most 19 digits and a sign (longer is no date).
_DIGITS = 20


#: An ``_id`` that is already an Auth0 user id (other tools write them so): the prefix is dropped.
_DATABASE_PREFIX = "auth0|"


def _record_email(raw: Mapping[str, Any]) -> str | None:
    email = raw.get("email")
    if type(email) is str and email.strip():
        return email.strip()
    identifiers = raw.get("identifiers")
    if not isinstance(identifiers, (list, tuple)):  # (absent, or not a list: no email there)
        return None
    for ident in identifiers:
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
            ids.append(oid.removeprefix(_DATABASE_PREFIX) if oid[0] == "a" else oid)
    alt_id = _extended_str(raw.get("alt_id"), "$oid")
    if alt_id:
        ids.append(alt_id.removeprefix(_DATABASE_PREFIX))
    if "" in ids:  # "auth0|" alone
        ids = [i for i in ids if i]
    email = _record_email(raw)
    if not ids and not email:
        return UnreadableRecord("password_hashes", line, None, "neither _id nor email")
    password_hash = raw.get("passwordHash", raw.get("password_hash"))
    problem = None
    if not isinstance(password_hash, str) or not password_hash.strip():
        connection = raw.get("connection")
        connection = connection if type(connection) is str else None
        user_hint = _user_label(ids[0] if ids else None, connection)
        custom = raw.get("custom_password_hash")
        if custom is None:
            if password_hash is not None and not isinstance(password_hash, str):
                reason = "passwordHash is not a string"
                return UnreadableRecord("password_hashes", line, user_hint, reason)
            return PasswordHashRecord(
                line=line,
                ids=tuple(dict.fromkeys(ids)),
                email=email,
                password_hash="",
                problem=NO_PASSWORD,
                connection=connection,
            )
        try:
            conversion = convert_custom_password_hash(custom)
        except CustomHashError as e:
            return UnreadableRecord("password_hashes", line, user_hint, str(e))
        password_hash, problem = conversion.ory_hash or "", conversion.reason
    try:
        set_date = _extended_str(raw.get("password_set_date"), "$date")
    except _UnreadableDateError as e:
        return UnreadableRecord("password_hashes", line, f"auth0|{ids[0]}" if ids else None, str(e))
    return PasswordHashRecord(
        line=line,
        ids=(ids[0],) if len(ids) == 1 else tuple(dict.fromkeys(ids)),
        email=email,
        password_hash=password_hash.strip(),
        password_set_date=set_date,
        problem=problem,
        email_verified=not ids and raw.get("email_verified") is True,
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
    # Only looked into, never written out: no nesting or number-range check (a side file).
    return _HashRecords(f, strict=strict)


class _HashRecords(Iterator[PasswordHashRecord | UnreadableRecord]):
    """What :func:`read_password_hashes` returns: the records, parsed one by one as they are read.

    :func:`index_password_hashes` reads the file itself instead (:meth:`take`), to
    build only what it keeps of the usual record.
    """

    __slots__ = ("_file", "_raw", "_strict")

    def __init__(self, f: IO[bytes], *, strict: bool) -> None:
        self._file: IO[bytes] | None = f
        self._raw: Iterator[RawRecord | UnreadableRecord] | None = None
        self._strict = strict

    def __next__(self) -> PasswordHashRecord | UnreadableRecord:
        if self._raw is None:
            if self._file is None:
                raise StopIteration
            self._raw = iter_raw_records(self._file, "password_hashes", check=False)
        record = _record_of(next(self._raw))
        if self._strict and isinstance(record, UnreadableRecord):
            self._raw = iter(())  # over, as a generator is once it raised
            raise record.to_error()
        return record

    def take(self) -> tuple[IO[bytes] | None, Iterator[RawRecord | UnreadableRecord], bool]:
        """The file when no record was read yet (else ``None``), the records not read, *strict*.

        They are the caller's then: this iterator is over.
        """
        f, raw = (self._file, iter(())) if self._raw is None else (None, self._raw)
        self._file, self._raw = None, iter(())
        return f, raw, self._strict


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
        total: Records read (readable ones, those without a hash included).
        duplicates: Records for an id or email already seen (the newest hash wins;
            the report's ``unused_password_hashes`` says which won and why).
        unreadable: Records that could not be used.
        without_password: Records without any hash (``no passwordHash``: users
            who never set a password), labelled with their real connection.

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
    without_password: tuple[UnusedPasswordHash, ...] = field(default=(), repr=False)
    _lines: array[int] = field(factory=lambda: array("q"), repr=False, alias="lines")
    # entry n that lost to another record for its id: (its user id, why it lost)
    _superseded: dict[int, tuple[str | None, str]] = field(
        factory=dict, repr=False, alias="superseded"
    )
    # entry n (an id-less record) that its email may not join, and why
    _email_refused: dict[int, str] = field(factory=dict, repr=False, alias="email_refused")

    @property
    def by_email(self) -> bool:
        """Whether the index holds records without an id (found by email)."""
        return bool(self._by_email)

    def find_by_email(self, email: NormalizedEmail) -> int:
        """The entry of the id-less record with *email*, ``-1`` for none (see :meth:`find`)."""
        return self._by_email.get(email, -1)

    def email_problem(self, n: int) -> str | None:
        """Why id-less entry *n* may not be joined by its email, from the hash file alone.

        Its email is not marked verified, or another id-less record has it too.
        """
        return self._email_refused.get(n)

    def line(self, n: int) -> int:
        """The line in the hash file of entry *n*."""
        return self._lines[n]

    @property
    def entries(self) -> int:
        """How many hashes the index holds (duplicates that lost included)."""
        return len(self._ends)

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

    def _unused(self, uses: HashUses) -> list[UnusedPasswordHash]:
        """Every record no user took its password from, in file order, with why (never the hash).

        Args:
            uses: The entries users found, and why those found gave no password
                (the planner's :class:`HashUses`); every other entry lost to a
                duplicate or has no user.
        """
        flags = uses.dense(len(self._ends))
        out = list(self.without_password)
        if flags.count(_FOUND) == len(flags):
            return out
        # The first id of each entry not used (one pass; a slot per entry, no set or dict).
        ids: list[str | None] = [None] * len(flags)
        for key, n in self._by_id.items():
            if flags[n] != _FOUND and ids[n] is None:
                ids[n] = key
        lines, superseded, refused = self._lines, self._superseded, self._email_refused
        for n, bits in enumerate(flags):
            if bits == _FOUND:
                continue  # used
            lost = superseded.get(n)
            if lost is not None:
                out.append(UnusedPasswordHash(lines[n], lost[0], "duplicate", lost[1]))
                continue
            why = bits & _WHY
            reason, detail = _UNUSED[(why & -why).bit_length() - 1] if why else _NO_SUCH_USER
            if detail == _EMAIL_RULE:  # the hash file's side: which case, from the index
                detail = f"{_EMAIL_RULE}: {refused.get(n, '')}"
            out.append(UnusedPasswordHash(lines[n], _user_label(ids[n], None), reason, detail))
        out.sort(key=lambda u: u.line)
        return out

    def entry(self, n: int) -> IndexedHash:
        """Entry *n* (from :meth:`find`)."""
        start = self._ends[n - 1] if n else 0
        set_at = self._set_at[n]
        return IndexedHash(
            self._hashes[start : self._ends[n]].decode(),
            None if math.isnan(set_at) else set_at,
            self._problems.get(n),
        )


#: Why an id-less record was not joined by its email: the rule (then the case).
_EMAIL_RULE = (
    "no user id, and a record is joined by email only when the email is verified in both "
    "files and belongs to one user and one record"
)

#: Why an entry a user found gave no password, with the detail for people: bit k of an
#: entry's byte in :class:`HashUses` is ``_UNUSED[k]``.
_UNUSED: tuple[tuple[UnusedHashReason, str], ...] = (
    ("stale", "the user reset the password after the export: the hook is used"),
    ("unusable", "Ory cannot verify this hash: the hook is used (see the user's note)"),
    ("not_imported", "its user was not imported, or was merged into another identity"),
    ("not_a_database_user", "the user with this id is not a database user (no password)"),
    ("email_not_joined", f"{_EMAIL_RULE}: the email is not verified in the users file"),
    ("email_not_joined", f"{_EMAIL_RULE}: several users have this email"),
    ("email_not_joined", _EMAIL_RULE),  # the case is the index's (email_problem)
)
_NO_SUCH_USER: tuple[UnusedHashReason, str] = (
    "no_such_user",
    "no user in the users file has this id",
)
#: The *why* of :meth:`HashUses.not_used` for the cases of ``email_not_joined``: the
#: users file's side, or the hash file's (:meth:`PasswordHashIndex.email_problem`).
EmailWhy: TypeAlias = Literal["", "user_not_verified", "several_users", "hash_file"]
#: The bit of each reason (and case of ``email_not_joined``) in :class:`HashUses`.
_REASON_BITS: dict[tuple[UnusedHashReason, EmailWhy], int] = {
    ("stale", ""): 1 << 0,
    ("unusable", ""): 1 << 1,
    ("not_imported", ""): 1 << 2,
    ("not_a_database_user", ""): 1 << 3,
    ("email_not_joined", "user_not_verified"): 1 << 4,
    ("email_not_joined", "several_users"): 1 << 5,
    ("email_not_joined", "hash_file"): 1 << 6,
}
#: An entry's byte in :class:`HashUses`: a database user found it (bit 7); why it
#: gave no password (bits 0-6, bit k for ``_UNUSED[k]``; the lowest set one is reported).
_FOUND = 0x80
_WHY = 0x7F
#: A byte translation: 1 where the entry was found.
_IS_FOUND = bytes(1 if b & _FOUND else 0 for b in range(256))


class HashUses:
    """The hash entries users found, and why those found gave no password: a byte per entry.

    The planner's record (:meth:`PasswordHashIndex.find` numbers the entries). Made
    with the index's number of entries, it is dense (a ``bytearray``: a few hundred
    KB for a million hashes, at the end of a run as during it); made without, it is
    sparse (the entries touched only: what a worker sends back for one block of
    users, cheap to pickle). :meth:`update` merges one into another.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_flags",)

    def __init__(self, entries: int | None = None) -> None:
        self._flags: bytearray | defaultdict[int, int] = (
            defaultdict(int) if entries is None else bytearray(entries)
        )

    def __getstate__(self) -> bytearray | defaultdict[int, int]:
        return self._flags

    def __setstate__(self, state: bytearray | defaultdict[int, int]) -> None:
        self._flags = state

    def found(self, n: int) -> None:
        """A database user found entry *n*."""
        self._flags[n] |= _FOUND

    def not_used(self, n: int, reason: UnusedHashReason, why: EmailWhy = "") -> None:
        """Entry *n* gave no password, for *reason* (*why*: which case of ``email_not_joined``)."""
        self._flags[n] |= _REASON_BITS[reason, why]

    def update(self, other: HashUses) -> None:
        """Add what *other* holds (a worker's block, say)."""
        flags, theirs = self._flags, other._flags
        for n, bits in theirs.items() if isinstance(theirs, dict) else enumerate(theirs):
            if bits:
                flags[n] |= bits

    def dense(self, entries: int) -> bytearray | bytes:
        """A byte per entry, for an index of *entries* entries."""
        flags = self._flags
        if isinstance(flags, bytearray) and len(flags) == entries:
            return flags
        out = bytearray(entries)
        for n, bits in flags.items() if isinstance(flags, dict) else enumerate(flags):
            out[n] |= bits
        return out

    @property
    def found_count(self) -> int:
        """How many different entries database users found."""
        flags = self._flags
        if isinstance(flags, dict):
            return sum(1 for bits in flags.values() if bits & _FOUND)
        return flags.translate(_IS_FOUND).count(1)


def index_password_hashes(
    records: Iterable[PasswordHashRecord | UnreadableRecord],
) -> PasswordHashIndex:
    """Index password-hash records for the join.

    Joining is by id (``$oid``/``alt_id`` = the part of ``user_id`` after
    ``auth0|``); email is used only for records that carry no id.

    .. versionadded:: 0.1.0
    """
    index = _IndexBuilder()
    if isinstance(records, _HashRecords):  # straight from the file: the fast way
        f, raw, strict = records.take()
        if f is not None:
            index.add_file(f, strict=strict)
        index.add_raw(raw, strict=strict)
    else:
        add = index.add
        for record in records:
            add(record)
    return index.build()


class _IndexBuilder:
    """A :class:`PasswordHashIndex` being built, record by record (in file order)."""

    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.by_email: dict[NormalizedEmail, int] = {}
        self.hashes = bytearray()
        self.ends = array("q")
        self.set_ats = array("d")
        self.problems: dict[int, str] = {}
        self.unreadable: list[UnreadableRecord] = []
        self.without_password: list[UnusedPasswordHash] = []
        self.lines = array("q")
        self.superseded: dict[int, tuple[str | None, str]] = {}
        self.email_refused: dict[int, str] = {}
        self.total = 0
        self.duplicates = 0

    def _newer(self, old: int | None) -> bool:
        """Whether the entry just added wins over entry *old*: the newest hash; a tie, the later."""
        if old is None:
            return True
        new_at, old_at = self.set_ats[-1], self.set_ats[old]
        return (0.0 if math.isnan(new_at) else new_at) >= (0.0 if math.isnan(old_at) else old_at)

    def _lost(self, loser: int, winner: int, user_id: str | None) -> None:
        won_at, lost_at = self.set_ats[winner], self.set_ats[loser]
        why = (
            "newer password_set_date"
            if (0.0 if math.isnan(won_at) else won_at) > (0.0 if math.isnan(lost_at) else lost_at)
            else "later in the file (same or no password_set_date)"
        )
        self.superseded[loser] = (
            user_id,
            f"the record on line {self.lines[winner]} is used: {why}",
        )

    def add(self, record: PasswordHashRecord | UnreadableRecord) -> None:
        """Index one record (any record: what :func:`parse_password_hash` returns)."""
        if isinstance(record, UnreadableRecord):
            self.unreadable.append(record)
            return
        self.total += 1
        if record.problem == NO_PASSWORD and not record.password_hash:
            self.without_password.append(
                UnusedPasswordHash(record.line, record.user_id, "no_password", NO_PASSWORD)
            )
            return
        if not record.ids and not record.email:
            return
        newer, lines, superseded = self._newer, self.lines, self.superseded
        n = len(self.ends)
        self.hashes += record.password_hash.encode()
        self.ends.append(len(self.hashes))
        lines.append(record.line)
        set_at = to_epoch(record.password_set_date)
        self.set_ats.append(_NAN if set_at is None else set_at)
        if record.problem is not None:
            self.problems[n] = record.problem
        if record.ids:
            by_id = self.by_id
            old = by_id.get(record.ids[0])
            if old is not None:
                self.duplicates += 1
                winner = n if newer(old) else old
                self._lost(old if winner == n else n, winner, f"auth0|{record.ids[0]}")
            for key in record.ids:
                if newer(by_id.get(key)):
                    by_id[key] = n
        else:
            key_email = normalize_email(record.email)  # type: ignore[arg-type]
            old = self.by_email.get(key_email)
            if not record.email_verified:
                self.email_refused[n] = "the email is not verified in the hash file"
            if old is not None:  # neither may join by email: it is not unique
                self.duplicates += 1
                winner = n if newer(old) else old
                self.email_refused[winner] = (
                    f"the record on line {lines[old if winner == n else n]} has this email too; "
                    "neither is joined"
                )
                superseded[old if winner == n else n] = (
                    None,
                    f"{_EMAIL_RULE}: the record on line {lines[winner]} has this email too; "
                    "neither is joined",
                )
            if newer(old):
                self.by_email[key_email] = n

    def add_raw(self, items: Iterable[RawRecord | UnreadableRecord], *, strict: bool) -> None:
        """Index raw records as :func:`read_password_hashes` reads them (*strict*: see there)."""
        for item in items:
            record = _record_of(item)
            if strict and isinstance(record, UnreadableRecord):
                raise record.to_error()
            self.add(record)

    def add_file(self, f: IO[bytes], *, strict: bool) -> None:
        """Index a hash file, as :func:`read_password_hashes` reads it (*strict*: see there)."""
        source: Source = "password_hashes"
        with _file_errors(source):  # as iter_raw_records
            binary = _open_binary(f, source)
            if _detect(binary, allow_csv=False) != "ndjson":
                # A JSON array (or no JSON: the error): *binary* is the file's text with its
                # head checked (gzip undone, and then no gzip), so the reader finds the same.
                self.add_raw(iter_raw_records(binary, source, check=False), strict=strict)
                return
            for start, block in _blocks(binary, source):
                self._add_block(start, block, strict=strict)

    def _add_block(self, start: int, block: bytes, *, strict: bool) -> None:
        """Index the lines of an NDJSON block whose first line is line *start* (the hot loop).

        The usual record (one id, a hash, maybe a date; the id not seen before) is
        indexed here at once, from the raw dict: what :func:`parse_password_hash`
        and :meth:`add` would make of it, without the record in between (about half
        the time of the whole file). Every other line goes the way of
        :func:`read_password_hashes`: a line that is no JSON object is read again by
        ``decode_ndjson_line`` (which says why), and every other
        record is validated by :func:`parse_password_hash` (*strict*: an unreadable
        one raises) and indexed by :meth:`add`.
        """
        by_id, hashes, epochs, loads = self.by_id, self.hashes, _EPOCHS, _json.loads
        end, line_at, date_at = self.ends.append, self.lines.append, self.set_ats.append
        n, nan, prefix, total = len(self.ends), _NAN, _DATABASE_PREFIX, 0
        lines = block.split(b"\n")
        if start == 1:
            lines[0] = lines[0].removeprefix(codecs.BOM_UTF8)
        for number, text in enumerate(lines, start):
            text = text.strip()  # as ndjson_lines
            if not text:
                continue  # a blank line
            try:
                raw = loads(text)
            except (ValueError, RecursionError):
                raw = None
            if type(raw) is dict:
                key = raw.get("_id")
                if key is None and "_id" not in raw:
                    key = raw.get("_ID")
                if type(key) is dict:
                    key = key.get("$oid")
                value = raw.get("passwordHash")
                if value is None and "passwordHash" not in raw:
                    value = raw.get("password_hash")
                date = raw.get("password_set_date")
                if type(date) is dict:
                    date = date.get("$date")
                if (
                    type(key) is str
                    and type(value) is str
                    and (date is None or type(date) is str)
                    and (key := key.strip().removeprefix(prefix))
                    and (value := value.strip())
                    and key not in by_id
                    and raw.get("alt_id") is None
                    and ("identifiers" not in raw or _has_root_email(raw))
                ):
                    # parse_password_hash's record (one id, no problem), as add indexes it.
                    hashes += value.encode()
                    end(len(hashes))
                    line_at(number)
                    if date and (date := date.strip()):
                        at = epochs.get(date)
                        if at is None:
                            at = to_epoch(date)
                        date_at(nan if at is None else at)
                    else:
                        date_at(nan)
                    by_id[key] = n
                    n += 1
                    total += 1
                    continue
                record: PasswordHashRecord | UnreadableRecord = parse_password_hash(raw, number)
            else:  # read again, to say why
                record = _record_of(
                    decode_ndjson_line(number, text, "password_hashes", check=False)
                )
            if strict and isinstance(record, UnreadableRecord):
                raise record.to_error()
            self.total += total
            total = 0
            self.add(record)
            n = len(self.ends)
        self.total += total

    def build(self) -> PasswordHashIndex:
        """The index of the records added."""
        return PasswordHashIndex(
            by_id=self.by_id,
            by_email=self.by_email,
            hashes=bytes(self.hashes),
            ends=self.ends,
            set_at=self.set_ats,
            problems=self.problems,
            total=self.total,
            duplicates=self.duplicates,
            unreadable=tuple(self.unreadable),
            without_password=tuple(self.without_password),
            lines=self.lines,
            superseded=self.superseded,
            email_refused=self.email_refused,
        )


_NAN = float("nan")


def _record_of(item: RawRecord | UnreadableRecord) -> PasswordHashRecord | UnreadableRecord:
    """What :func:`parse_password_hash` makes of a raw record (an unreadable one as it is)."""
    return item if isinstance(item, UnreadableRecord) else parse_password_hash(item[1], item[0])


def _has_root_email(raw: Mapping[str, Any]) -> bool:
    """Whether *raw*'s email is at its root (then its ``identifiers`` are not looked at)."""
    email = raw.get("email")
    return type(email) is str and bool(email.strip())
