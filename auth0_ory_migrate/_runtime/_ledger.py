"""The import's state directory: what happened to every user, safe against any crash.

Layout of the state directory (default ``.auth0-ory-migrate/``, mode 0700):

``state.json``
    Which input the state belongs to (its SHA-256). A different input under the same
    directory is refused: the ledger would be meaningless for it.
``ledger.ndjson``
    Append-only, one JSON object a line, fsynced after every batch:

    - ``{"external_id", "status", "identity_id", "reason", "at"}``: an outcome, status
      ``created`` | ``exists`` | ``adopted`` | ``uncertain`` | ``failed`` (or
      ``deleted``, written by ``undo``). The last line of a user wins. (Ledgers written
      before ``adopted`` and ``uncertain`` existed read as they always did.)
    - ``{"attempt": [external ids], "at"}``: written before a user is sent, so that
      after a crash an identity found on Ory can be told apart from one that was there
      before (see :func:`auth0_ory_migrate._core._importing.resolve_conflict`), and so
      that ``undo`` can check that what it deletes was not created before this tool first
      sent the user (the earliest attempt since the user's last deletion).

    A line cut short by a crash is dropped when the ledger is opened again.
    - ``{"sync": external_id, "op", "status": "sending" | "done" | "failed",
      "identity_id", ...}``: a ``sync`` operation (:func:`~auth0_ory_migrate.sync_identities`),
      written (fsynced) before it is sent and again once Ory answered. ``sending`` carries
      the ``digests`` the identity will have; ``done`` makes them the user's record (and
      ``at`` its ``written_at``); ``failed`` carries Ory's reason. A ``sending`` line with
      no answer after it is an operation in doubt: the next sync looks at Ory before
      sending it again.

    An outcome of a user in Ory that this import wrote (``created``) carries ``digests``:
    the keyed digests of the sections of the identity body sent
    (:func:`~auth0_ory_migrate.section_digests`), never the body or a secret, so that
    ``sync`` knows what Ory was given. They are one string: ``|``-separated in
    :data:`~auth0_ory_migrate.SYNC_SECTIONS` order, an empty section's digest (the same
    for everyone) left out; with them, ``fingerprint``: the body's
    :func:`~auth0_ory_migrate.body_fingerprint` (a ``done`` sync line too, when the record's
    digests are the body's), ``sync``'s fast path; and, when the body came from a plan made
    with ``sources=True``, ``source`` (a keyed digest of its
    :class:`~auth0_ory_migrate.SourceMark`: what the body was mapped from) and ``counts``
    (its :class:`~auth0_ory_migrate.IdentityCounts`), ``sync``'s faster path: a user whose
    inputs did not change is not mapped again. ``exists``, ``adopted`` and ``uncertain``
    carry none (Ory's identity was not, or may not have been, made from this body: ``sync`` compares
    the export with Ory itself for them).
``sync.key``
    32 random bytes (mode 0600, made once, on first use, never through a symbolic link):
    the key of those digests, so that the ledger's digests say nothing of a password hash
    without it.
``identity-ids.csv``
    ``auth0_user_id,ory_identity_id`` for every user in Ory, rewritten from the ledger at
    the end of each run, for the caller's own databases.
``lock``
    Held (``flock``) while a run uses the directory: two runs never share one (mode 0600).

The directory must belong to the user running the tool and be writable by no one else
(a directory others can write to lets them put a symbolic link where a state file goes);
state files are never opened through a symbolic link. A full or read-only file system
is a :class:`~auth0_ory_migrate.exceptions.LedgerError` naming the file: what was
recorded before stays, and the same run again carries on where it stopped.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import functools
import hashlib
import importlib.metadata
import io
import os
import secrets
import stat
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from attrs import define, evolve, field

from .._core import _json
from .._core._importing import IN_ORY, ImportOutcome, UndoTarget
from .._core._source import IdentityCounts, SourceMark
from .._core._sync import (
    SYNC_SECTIONS,
    ImportedRecord,
    SyncSection,
    body_fingerprint,
    identity_sections,
    keyed_digest,
    line_fingerprint,
    section_digests,
)
from ..exceptions import ConfigurationError, LedgerError, OutputFileError
from ._files import private_file


__all__ = ["DEFAULT_STATE_DIR", "ImportedRecords", "Ledger", "SeenMarks", "file_digest"]

#: The state directory used when none is given.
DEFAULT_STATE_DIR = ".auth0-ory-migrate"

STATE_FILE = "state.json"
LEDGER_FILE = "ledger.ndjson"
MAPPING_FILE = "identity-ids.csv"
LOCK_FILE = "lock"
KEY_FILE = "sync.key"
_KEY_BYTES = 32
_FORMAT = 1
_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_UNDOABLE = ("created", "adopted", "uncertain")


def _oserror(what: Path, e: OSError) -> LedgerError:
    """A state file that cannot be opened or written, said in one line."""
    if e.errno == errno.ELOOP:
        return LedgerError(
            f"{str(what)!r} is a symbolic link: a state file is never opened through one "
            "(remove it, or use another --state-dir)"
        )
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason += " (the file system is full: make room, then run the same command again)"
    elif e.errno == errno.EROFS:
        reason += " (use a writable --state-dir, then run the same command again)"
    return LedgerError(f"cannot write the state file {str(what)!r}: {reason}")


def _check_directory(path: Path) -> None:
    """Refuse a state directory that someone else could slip a file or a link into."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise LedgerError(f"cannot use the state directory {str(path)!r}: {e.strerror}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise LedgerError(f"the state directory {str(path)!r} is not a directory")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise LedgerError(
            f"the state directory {str(path)!r} belongs to another user (uid {st.st_uid}): "
            "not used (use a directory of your own as --state-dir)"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LedgerError(
            f"the state directory {str(path)!r} is writable by others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): not used (chmod 700 it, or use another "
            "--state-dir)"
        )


def _open_state_file(path: Path, flags: int, *, create: bool = False) -> int:
    """Open a state file without following a symbolic link; new files are made 0600 (O_EXCL).

    Raises:
        OSError: As ``open(2)`` says (``ELOOP`` for a symbolic link).
    """
    base = flags | _NOFOLLOW | _CLOEXEC
    if create:
        try:
            return os.open(path, base | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
    fd = os.open(path, base)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"belongs to another user (uid {st.st_uid})")
    except BaseException:
        os.close(fd)
        raise
    return fd


_LINKS = ("oidc", "saml")
_SECTION_INDEX = {section: i for i, section in enumerate(SYNC_SECTIONS)}


class PackedDigests(Mapping[SyncSection, str]):
    """A record's section digests as the ledger keeps them: one string, read on access.

    ``|``-separated, in :data:`~auth0_ory_migrate.SYNC_SECTIONS` order, with the digest of an
    empty section (the same for every user) left out: a third of a dict's size, in the
    ledger file and in memory (a million records for ``plan_sync``).
    """

    __slots__ = ("_null", "_packed")

    def __init__(self, packed: str, null: str) -> None:
        self._packed = packed
        self._null = null

    def __getitem__(self, section: SyncSection) -> str:
        index = _SECTION_INDEX[section]
        parts = self._packed.split("|")
        value = parts[index] if index < len(parts) else ""
        return value if value or section in _LINKS else self._null

    def __iter__(self) -> Iterator[SyncSection]:
        return iter(SYNC_SECTIONS)

    def __len__(self) -> int:
        return len(SYNC_SECTIONS)

    def __repr__(self) -> str:
        return f"PackedDigests({self._packed!r})"


#: The digests' format: bump it whenever ``identity_sections`` or ``section_digests`` change
#: what they compute (a test pins the digests of a fixed body). Digests of another format
#: read back as none: ``sync`` then compares those users with Ory itself instead of taking
#: every one of them for changed.
DIGESTS_FORMAT = "d1:"


def _pack_digests(digests: Mapping[Any, str], null: str) -> str:
    parts = []
    for section in SYNC_SECTIONS:
        value = str(digests.get(section, ""))
        parts.append("" if value == null and section not in _LINKS else value)
    return DIGESTS_FORMAT + "|".join(parts)


def _read_digests(value: object, null: str) -> Mapping[SyncSection, str] | None:
    if isinstance(value, str):
        if not value.startswith(DIGESTS_FORMAT):
            return None  # another version's digests: compare with Ory instead
        return PackedDigests(value[len(DIGESTS_FORMAT) :], null)
    if isinstance(value, Mapping):  # (written as an object: read as well)
        return {cast("SyncSection", str(k)): str(v) for k, v in value.items()}
    return None


#: An index value: where the line is (8 bytes, big-endian); then, for a body of ours, its
#: ``fingerprint`` (16 bytes), or, for a body with a source, the ``source`` (16 bytes) and the
#: number of its ``counts`` in the index's table (2 bytes). (Not both: the whole Auth0 record
#: is in the body, so a user whose source changed has a new body too, bar a hash file or
#: options changed; the record's line still has the fingerprint, for plan_sync.)
_AT, _WITH_SOURCE = 8, 26
_MAX_COUNTS = 1 << 16


@functools.cache
def _source_prefix() -> bytes:
    """What a source's keyed digest starts with: this library's version and its mapping code.

    The code is the pure core's source files (a digest of them): a build whose mapping
    differs, even under the same version number (an editable install), has other sources.
    """
    try:
        version = importlib.metadata.version("auth0-ory-migrate")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        version = "unknown"
    code = hashlib.blake2b(digest_size=16)
    try:
        for path in sorted(Path(_json.__file__).parent.glob("*.py")):
            code.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:  # pragma: no cover - files not on disk (a zip): the version alone
        code.update(b"?")
    return f"source/{version}/{code.hexdigest()}/".encode()


def _source_mac(digest: bytes, counts: bytes, key: bytes) -> bytes:
    """The keyed digest the ledger keeps of a :class:`SourceMark` (16 bytes).

    Of its digest and of its counts (:meth:`IdentityCounts.to_json`, as JSON): counts edited
    in the ledger do not match.
    """
    return keyed_digest(_source_prefix() + digest + counts, key)


def _counts_json(counts: IdentityCounts) -> bytes:
    return _json.dumps(counts.to_json())


def _hex16(value: object) -> bytes | None:
    """16 bytes from 32 hex characters; None for anything else."""
    if type(value) is not str or len(value) != 32:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _follow_takeover(
    latest: dict[str, UndoTarget | None],
    owners: Mapping[str, str],
    sync: str,
    entry: Mapping[str, Any],
) -> None:
    """Follow a ``sync`` update that gave an imported identity a new external id (a merge).

    The identity is found under that id from now on (*owners*: identity id -> external id).
    """
    identity_id = entry.get("identity_id")
    if (
        entry.get("status") != "done"
        or entry.get("op") not in ("update", "conflict")
        or not isinstance(identity_id, str)
        or latest.get(sync) is not None
    ):
        return
    owner = owners.get(identity_id)
    target = latest.get(owner) if owner is not None else None
    if owner is not None and target is not None and target.identity_id == identity_id:
        latest[owner] = None
        latest[sync] = evolve(target, external_id=sync)


class ImportedRecords(Mapping[str, ImportedRecord]):
    """:meth:`Ledger.imported_records`: each user's record, read from the ledger on demand.

    Holds an index only (per user: where the line of the record is in the ledger, and the
    16 bytes of its ``fingerprint``), a few times smaller than the records: a sync of a
    million users reads again only the few that changed. The ledger is append-only, so the
    places stay good while the ledger is written to.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._null = ""
        self._key = b""
        #: external id -> the line's offset (8 bytes, big-endian) + the fingerprint and the
        #: source, if any (see _WITH_SOURCE)
        self._index: dict[str, bytes] = {}
        #: the distinct ``counts`` of the records with a source (and their JSON), and their numbers
        self._counts: list[tuple[IdentityCounts, bytes]] = []
        self._counts_numbers: dict[tuple[Any, ...], bytes] = {}
        #: records made of two lines (a sync line naming no identity): the identity id of
        #: the line before, and where the sync line is (rare)
        self._whole: dict[str, tuple[str | None, int]] = {}
        #: how far the ledger was read
        self._end = 0

    def _keyed(self, null: str, key: bytes) -> ImportedRecords:
        self._null, self._key = null, key
        return self

    def _read_from(self, start: int) -> None:
        """Read the complete lines of the ledger from offset *start* (where the index stopped)."""
        try:
            fd = _open_state_file(self._path, os.O_RDONLY)
        except OSError as e:
            raise _oserror(self._path, e) from e
        add, loads = self._add, _json.loads
        at = start
        with os.fdopen(fd, "rb") as f:
            f.seek(start)
            for line in f:
                if not line.endswith(b"\n"):
                    break
                entry = loads(line)
                if isinstance(entry, dict):
                    add(at, entry)
                at += len(line)
        self._end = at

    def _add(self, where: int, entry: dict[str, Any]) -> None:
        """Index the ledger line at offset *where* (*entry*, parsed)."""
        index, whole = self._index, self._whole
        get = entry.get
        external_id = get("external_id")
        if type(external_id) is str:  # an outcome (the most lines, by far)
            status = get("status")
            if status in IN_ORY:
                if whole:
                    whole.pop(external_id, None)
                index[external_id] = self._value(where, entry, status == "created")
            elif status in ("failed", "deleted"):
                index.pop(external_id, None)
                whole.pop(external_id, None)
            return
        sync = get("sync")
        if not isinstance(sync, str):
            return
        if get("status") != "done":
            return
        named = get("identity_id")
        if (
            sync not in index
            and sync not in whole
            and not (isinstance(named, str) and named and get("op") in ("update", "conflict"))
        ):  # (an update of a user not imported: one who took over a merged user's identity)
            return
        if get("op") == "remove":
            index.pop(sync, None)
            whole.pop(sync, None)
            return
        if not (isinstance(named, str) and named):
            before = self._identity_id(sync)
            index.pop(sync, None)
            whole[sync] = (before, where)
            return
        whole.pop(sync, None)
        index[sync] = self._value(where, entry, True)

    def _value(self, where: int, entry: Mapping[str, Any], ours: bool) -> bytes:
        """Where the line is, and its fingerprint when it is one of a body of ours."""
        if not ours:
            return where.to_bytes(8, "big")
        return self._record_value(where, entry)

    def _record_value(self, where: int, entry: Mapping[str, Any]) -> bytes:
        """An index value: where the line is, its fingerprint and its source (when ours)."""
        place = where.to_bytes(8, "big")
        get = entry.get
        digests = get("digests")
        if not (
            type(digests) is str
            and digests.startswith(DIGESTS_FORMAT)
            and type(get("identity_id")) is str
        ):
            return place
        fingerprint = get("fingerprint")
        source = get("source")
        if source is not None and type(fingerprint) is str and len(fingerprint) == 32:
            source_mac, number = _hex16(source), self._counts_number(get("counts"))
            if source_mac is not None and number is not None:
                return place + source_mac + number
        fingerprint = _hex16(fingerprint)
        return place if fingerprint is None else place + fingerprint

    def _counts_number(self, value: object) -> bytes | None:
        """The number (2 bytes) of the ``counts`` *value* in the table; None if damaged or full."""
        if type(value) is not list or len(value) != 5:
            return None
        password, social, connections, blocked, totp = value
        if type(connections) is not list:
            return None
        try:
            key = (password, social, blocked, totp, *connections)
            number = self._counts_numbers.get(key)
        except TypeError:  # (something unhashable: a damaged line)
            return None
        if number is None:
            counts = IdentityCounts.from_json(value)
            if counts is None or len(self._counts) >= _MAX_COUNTS:
                return None
            number = self._counts_numbers[key] = len(self._counts).to_bytes(2, "big")
            self._counts.append((counts, _counts_json(counts)))
        return number

    def _entry(self, where: int) -> dict[str, Any]:
        try:
            fd = _open_state_file(self._path, os.O_RDONLY)
        except OSError as e:
            raise _oserror(self._path, e) from e
        with os.fdopen(fd, "rb") as f:
            f.seek(where)
            entry = _json.loads(f.readline())
        return entry if isinstance(entry, dict) else {}

    def _identity_id(self, external_id: str) -> str | None:
        """The identity id of the user's record so far (read back from its line)."""
        whole = self._whole.get(external_id)
        if whole is not None:
            return whole[0]
        found = self._entry(int.from_bytes(self._index[external_id][:8], "big")).get("identity_id")
        return found if isinstance(found, str) else None

    def _record(
        self, external_id: str, entry: Mapping[str, Any], identity_id: str | None = None
    ) -> ImportedRecord:
        found = entry.get("identity_id")
        fingerprint = entry.get("fingerprint")
        if entry.get("sync") is not None:
            if isinstance(found, str) and found:
                identity_id = found
            digests = _read_digests(entry.get("digests"), self._null)
            at = _seconds(entry.get("at"))
            return ImportedRecord(
                external_id,
                identity_id,
                digests,
                at,
                fingerprint if isinstance(fingerprint, str) and digests is not None else None,
            )
        identity_id = found if isinstance(found, str) else None
        if entry.get("status") == "created":
            digests = _read_digests(entry.get("digests"), self._null)
            at = _seconds(entry.get("at"))
        else:
            digests, at, fingerprint = None, None, None
        return ImportedRecord(
            external_id,
            identity_id,
            digests,
            at,
            fingerprint if isinstance(fingerprint, str) and digests is not None else None,
        )

    def __getitem__(self, external_id: str) -> ImportedRecord:
        whole = self._whole.get(external_id)
        if whole is not None:
            return self._record(external_id, self._entry(whole[1]), whole[0])
        value = self._index[external_id]
        return self._record(external_id, self._entry(int.from_bytes(value[:8], "big")))

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index or external_id in self._whole

    def __iter__(self) -> Iterator[str]:
        yield from self._index
        yield from self._whole

    def __len__(self) -> int:
        return len(self._index) + len(self._whole)

    def seen_marks(self) -> SeenMarks:
        """A set of users of these records, a bit each: the users a new export still has.

        What :func:`~auth0_ory_migrate.plan_sync` keeps of each user seen (instead of a
        machine word per user): only users of these records are kept, each exactly (by its
        record's line in the ledger).

        .. versionadded:: 0.1.0
        """
        return SeenMarks(self)

    def is_unchanged(self, external_id: str, line: bytes) -> bool:
        """Whether *line* (an identities-file line) is the very body last written for the user.

        Its :func:`~auth0_ory_migrate.body_fingerprint` is the record's (one recorded with
        the record's digests): no section can differ. False when not known. (For a record
        with a source, whose fingerprint the index does not hold, its line is read: ask
        :meth:`unchanged_source` first.)

        .. versionadded:: 0.1.0
        """
        value = self._index.get(external_id)
        if value is None or len(value) <= _AT:
            return False
        if len(value) == _WITH_SOURCE:
            fingerprint = _hex16(self._entry(int.from_bytes(value[:_AT], "big")).get("fingerprint"))
        else:
            fingerprint = value[_AT:]
        return fingerprint == line_fingerprint(line, self._key)

    def has_source(self, external_id: str) -> bool:
        """Whether the user's record has a source (see :meth:`unchanged_source`).

        .. versionadded:: 0.1.0
        """
        value = self._index.get(external_id)
        return value is not None and len(value) == _WITH_SOURCE

    def unchanged_source(self, external_id: str, digest: bytes) -> IdentityCounts | None:
        """The user's counts when *digest* is the record's source: then nothing changed.

        *digest*: the :class:`~auth0_ory_migrate.SourceMark` digest of the user's inputs
        now. The record's ``source`` (recorded with its digests and fingerprint: the body
        written was mapped from these very inputs) says so; None when it does not, or the
        record has no source.

        .. versionadded:: 0.1.0
        """
        value = self._index.get(external_id)
        if value is None or len(value) != _WITH_SOURCE:
            return None
        counts, text = self._counts[int.from_bytes(value[-2:], "big")]
        if value[_AT:-2] != _source_mac(digest, text, self._key):
            return None
        return counts


#: A record's place in its bit set: its line's offset in the ledger over this (a line that
#: makes a record is longer than this many bytes: no two share a bit).
_MARK_SHIFT = 4
_offset_of = struct.Struct(">Q").unpack_from


class SeenMarks:
    """:meth:`ImportedRecords.seen_marks`: a bit per ledger line that makes a record.

    Users without a record are not kept (a new export's other users): only whether a user
    of the records was seen is ever asked.

    .. versionadded:: 0.1.0
    """

    def __init__(self, records: ImportedRecords) -> None:
        self._index = records._index
        self._whole = records._whole
        self._bits = bytearray((records._end >> _MARK_SHIFT >> 3) + 1)

    def _where(self, user_id: object) -> int | None:
        value = self._index.get(user_id)  # type: ignore[call-overload]
        if value is not None:
            return cast("int", _offset_of(value)[0]) >> _MARK_SHIFT
        whole = self._whole.get(user_id)  # type: ignore[call-overload]
        return whole[1] >> _MARK_SHIFT if whole is not None else None

    def add(self, user_id: str | None) -> None:
        """Mark *user_id* seen (nothing when it has no record)."""
        bit = self._where(user_id)
        if bit is not None:
            byte = bit >> 3
            if byte >= len(self._bits):  # (a record read after the marks were made)
                self._bits.extend(bytes(byte + 1 - len(self._bits)))
            self._bits[byte] |= 1 << (bit & 7)

    def update(self, user_ids: Iterable[str | None]) -> None:
        """Mark each of *user_ids* seen."""
        get, whole, bits, offset_of = self._index.get, self._whole, self._bits, _offset_of
        size = len(bits)
        late: list[str | None] = []  # (records read after the marks were made, of two lines)
        for user_id in user_ids:
            value = get(user_id)  # type: ignore[arg-type]
            if value is None:
                if whole and user_id in whole:
                    late.append(user_id)
                continue
            bit = offset_of(value)[0] >> _MARK_SHIFT
            if bit >> 3 < size:
                bits[bit >> 3] |= 1 << (bit & 7)
            else:
                late.append(user_id)
        for user_id in late:
            self.add(user_id)

    def unseen(self, records: Iterable[str]) -> Iterator[str]:
        """The users of the records not marked, in the records' order.

        *records*: the records the marks were made of (their own index is read: a bit test
        per record, no lookup).
        """
        bits, size, offset_of = self._bits, len(self._bits), _offset_of
        for external_id, value in self._index.items():
            bit = offset_of(value)[0] >> _MARK_SHIFT
            byte = bit >> 3
            if byte >= size or not (bits[byte] >> (bit & 7)) & 1:
                yield external_id
        for external_id in self._whole:
            if external_id not in self:
                yield external_id

    def __contains__(self, user_id: object) -> bool:
        bit = self._where(user_id)
        if bit is None:
            return False
        byte = bit >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (bit & 7)))


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's content, hex, read in bounded memory.

    .. versionadded:: 0.1.0
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@define
class Ledger:
    """An open state directory: the users already dealt with, and a place to record more.

    Open it with :meth:`open` (for an import) or :meth:`open_existing` (for ``undo``), and
    close it (or use it as a context manager) to release the directory's lock.

    Attributes:
        state_dir: The directory.
        input_digest: SHA-256 of the input the state belongs to.
        input_name: What the input was called when the state was created.

    .. versionadded:: 0.1.0
    """

    state_dir: Path
    input_digest: str | None
    input_name: str
    _file: IO[bytes] = field(repr=False)
    _lock: IO[bytes] = field(repr=False)
    _done: set[str] = field(factory=set, repr=False)
    _failed: dict[str, str] = field(factory=dict, repr=False)
    _attempts: dict[str, float] = field(factory=dict, repr=False)
    _end: int = field(default=0, repr=False)
    _key: bytes | None = field(default=None, repr=False)
    _null: str | None = field(default=None, repr=False)
    #: Sync operations sent and not answered yet, by external id: their ``sending`` line.
    _sync_pending: dict[str, dict[str, Any]] = field(factory=dict, repr=False)
    #: The records indexed at opening (``open_existing(index_records=True)``), until asked for.
    _records_index: ImportedRecords | None = field(default=None, repr=False)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        input_digest: str,
        input_name: str = "",
    ) -> Ledger:
        """Open (or create) the state for an import of the input with *input_digest*.

        Args:
            state_dir: The state directory (created with mode 0700 when missing).
            input_digest: SHA-256 of the input (:func:`file_digest`, or any stable
                digest of what is being imported).
            input_name: A name for the input, shown when another input is refused.

        Raises:
            LedgerError: The directory belongs to another input, is in use by another
                run, or its ledger is damaged.

        .. versionadded:: 0.1.0
        """
        path = Path(state_dir)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise LedgerError(f"cannot create the state directory {str(path)!r}: {e}") from e
        _check_directory(path)
        lock = cls._take_lock(path)
        try:
            state = cls._read_state(path)
            if state is None:
                state = {
                    "format": _FORMAT,
                    "input": {"sha256": input_digest, "name": input_name},
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                try:
                    with private_file(path / STATE_FILE) as f:
                        f.write(_json.dumps(state) + b"\n")
                except OutputFileError as e:
                    raise LedgerError(f"cannot write the state file {e.path!r}: {e.reason}") from e
                except OSError as e:
                    raise _oserror(path / STATE_FILE, e) from e
            recorded = state.get("input", {})
            if recorded.get("sha256") != input_digest:
                theirs = str(recorded.get("sha256"))[:12]
                raise LedgerError(
                    f"the state directory {str(path)!r} belongs to another input "
                    f"({recorded.get('name') or 'unnamed'}, sha256 {theirs}…); "
                    f"this input ({input_name or 'unnamed'}) has sha256 {input_digest[:12]}…. "
                    "Use another --state-dir for it, or remove the directory to start over "
                    "(its ledger is what `undo` needs)"
                )
            return cls._load(path, recorded.get("sha256"), recorded.get("name") or "", lock)
        except BaseException:
            lock.close()
            raise

    @classmethod
    def open_existing(
        cls, state_dir: str | os.PathLike[str], *, index_records: bool = False
    ) -> Ledger:
        """Open the state an earlier import left, whatever its input (for ``undo``).

        Args:
            state_dir: The state directory.
            index_records: Index the records (:meth:`imported_records`) as the ledger is
                read at opening, for ``sync``: the first :meth:`imported_records` then reads
                only what was written since (the ledger is read once instead of twice).

        Raises:
            LedgerError: There is no import state in the directory, or it is in use.

        .. versionadded:: 0.1.0
        """
        path = Path(state_dir)
        if not (path / STATE_FILE).exists() and not (path / STATE_FILE).is_symlink():
            raise LedgerError(f"no import state in {str(path)!r} (was anything imported with it?)")
        _check_directory(path)
        lock = cls._take_lock(path)
        try:
            state = cls._read_state(path) or {}
            recorded = state.get("input", {})
            return cls._load(
                path,
                recorded.get("sha256"),
                recorded.get("name") or "",
                lock,
                index_records=index_records,
            )
        except BaseException:
            lock.close()
            raise

    @staticmethod
    def _take_lock(path: Path) -> IO[bytes]:
        try:
            fd = _open_state_file(path / LOCK_FILE, os.O_RDWR, create=True)
            if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        except OSError as e:
            raise _oserror(path / LOCK_FILE, e) from e
        lock = os.fdopen(fd, "r+b", buffering=0)
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            lock.close()
            raise LedgerError(
                f"the state directory {str(path)!r} is in use by another run; "
                "wait for it to finish, or use another --state-dir"
            ) from e
        return lock

    @staticmethod
    def _read_state(path: Path) -> dict[str, Any] | None:
        try:
            fd = _open_state_file(path / STATE_FILE, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise _oserror(path / STATE_FILE, e) from e
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        try:
            state = _json.loads(raw)
        except ValueError as e:
            raise LedgerError(f"{str(path / STATE_FILE)!r} is damaged (not JSON)") from e
        if not isinstance(state, dict):
            raise LedgerError(f"{str(path / STATE_FILE)!r} is damaged (not a JSON object)")
        return state

    @classmethod
    def _load(
        cls,
        path: Path,
        digest: str | None,
        name: str,
        lock: IO[bytes],
        *,
        index_records: bool = False,
    ) -> Ledger:
        ledger_path = path / LEDGER_FILE
        try:
            fd = _open_state_file(ledger_path, os.O_RDWR | os.O_APPEND, create=True)
        except OSError as e:
            raise _oserror(ledger_path, e) from e
        f = os.fdopen(fd, "r+b", buffering=0)
        try:
            self = cls(path, digest, name, f, lock)
            if index_records:
                self._records_index = ImportedRecords(self.ledger_path)
            self._replay(f)
        except BaseException:
            f.close()
            raise
        return self

    def _replay(self, f: IO[bytes]) -> None:
        index = self._records_index
        good_end = 0
        line_no = 0
        loads, apply = _json.loads, self._apply
        add = index._add if index is not None else None
        # The import's lines (a user created, with its digests: nearly all of a big ledger)
        # take a path of their own: what _add and _apply do with them, without the calls.
        records = index._index if index is not None else None
        record_value = index._record_value if index is not None else None
        whole = index._whole if index is not None else None
        done, failed, attempts = self._done, self._failed, self._attempts
        with os.fdopen(os.dup(f.fileno()), "rb") as reader:
            reader.seek(0)
            for line in reader:
                line_no += 1
                if not line.endswith(b"\n"):
                    break  # cut short by a crash: dropped below
                try:
                    entry = loads(line)
                except ValueError as e:
                    raise LedgerError(
                        f"{str(self.state_dir / LEDGER_FILE)!r} line {line_no} is damaged"
                    ) from e
                if (
                    type(entry) is dict
                    and type(external_id := entry.get("external_id")) is str
                    and entry.get("status") == "created"
                    and "sync" not in entry
                    and "attempt" not in entry
                ):
                    if records is not None and record_value is not None:
                        if whole:
                            whole.pop(external_id, None)
                        records[external_id] = record_value(good_end, entry)
                    done.add(external_id)
                    if failed:
                        failed.pop(external_id, None)
                    if attempts:
                        attempts.pop(external_id, None)
                elif isinstance(entry, dict):
                    if add is not None:
                        add(good_end, entry)
                    apply(entry)
                good_end += len(line)
        size = os.fstat(f.fileno()).st_size
        self._end = good_end
        if index is not None:
            index._end = good_end
        if size != good_end:
            try:
                os.ftruncate(f.fileno(), good_end)
                os.fsync(f.fileno())
            except OSError as e:
                raise _oserror(self.ledger_path, e) from e

    def _apply(self, entry: dict[str, Any]) -> None:
        sync = entry.get("sync")
        if isinstance(sync, str):
            self._apply_sync(sync, entry)
            return
        # Attempts are only read back from the file: those of the current run are the
        # engine's to track.
        attempt = entry.get("attempt")
        if isinstance(attempt, list):
            at = float(entry.get("at") or 0.0)
            for external_id in attempt:
                self._attempts.setdefault(str(external_id), at)
            return
        external_id = entry.get("external_id")
        status = entry.get("status")
        if not isinstance(external_id, str):
            return
        if status in IN_ORY:
            self._done.add(external_id)
            self._failed.pop(external_id, None)
            self._attempts.pop(external_id, None)
        elif status == "failed":
            self._done.discard(external_id)
            self._failed[external_id] = str(entry.get("reason") or "")
        elif status == "deleted":
            self._done.discard(external_id)
            self._failed.pop(external_id, None)
            self._attempts.pop(external_id, None)

    def _apply_sync(self, external_id: str, entry: dict[str, Any]) -> None:
        status = entry.get("status")
        if status == "sending":
            self._sync_pending[external_id] = entry
            return
        self._sync_pending.pop(external_id, None)
        if status == "done" and entry.get("action") == "delete":
            self._done.discard(external_id)
            self._failed.pop(external_id, None)

    # -- queries ----------------------------------------------------------------------------

    @property
    def ledger_path(self) -> Path:
        """The NDJSON ledger file.

        .. versionadded:: 0.1.0
        """
        return self.state_dir / LEDGER_FILE

    @property
    def mapping_path(self) -> Path:
        """The ``auth0_user_id,ory_identity_id`` CSV file.

        .. versionadded:: 0.1.0
        """
        return self.state_dir / MAPPING_FILE

    def is_done(self, external_id: str) -> bool:
        """Whether the user is recorded as in Ory (created, exists, adopted, uncertain).

        .. versionadded:: 0.1.0
        """
        return external_id in self._done

    @property
    def done_count(self) -> int:
        """Users recorded as in Ory (created, exists, adopted, uncertain).

        .. versionadded:: 0.1.0
        """
        return len(self._done)

    @property
    def failed(self) -> dict[str, str]:
        """Users whose last outcome is ``failed``, with the reason (a copy).

        .. versionadded:: 0.1.0
        """
        return dict(self._failed)

    def unanswered_attempt(self, external_id: str) -> float | None:
        """When an earlier run first sent this user without learning that it arrived.

        Read from the ledger when it was opened: a run killed mid-request, or a request
        whose answer never came. ``None`` when no earlier run left the user in doubt.
        An identity with the user's external id created after that time was created by
        that attempt, and counts as created by this import; one created before is
        ``adopted`` or ``uncertain`` (see
        :func:`~auth0_ory_migrate._core._importing.resolve_conflict`).

        .. versionadded:: 0.1.0
        """
        return self._attempts.get(external_id)

    def _entries(self) -> Iterator[dict[str, Any]]:
        """The ledger's complete lines, read back from the file (never through a link)."""
        try:
            fd = _open_state_file(self.ledger_path, os.O_RDONLY)
        except OSError as e:
            raise _oserror(self.ledger_path, e) from e
        with os.fdopen(fd, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                entry = _json.loads(line)
                if isinstance(entry, dict):
                    yield entry

    def final_outcomes(self) -> Iterator[ImportOutcome]:
        """The last outcome of every user, read back from the file.

        Users whose last line is ``deleted`` (by ``undo``) are left out.

        .. versionadded:: 0.1.0
        """
        latest: dict[str, ImportOutcome | None] = {}
        for entry in self._entries():
            external_id = entry.get("external_id")
            if not isinstance(external_id, str):
                continue
            status = entry.get("status")
            if status in IN_ORY or status == "failed":
                latest[external_id] = ImportOutcome(
                    external_id, status, entry.get("identity_id"), entry.get("reason")
                )
            elif status == "deleted":
                latest[external_id] = None
        for outcome in latest.values():
            if outcome is not None:
                yield outcome

    def created_identities(self) -> list[tuple[str, str]]:
        """``(external_id, identity_id)`` of every identity this state's imports created.

        Users found already present (``exists``, ``adopted``) or that may have been
        (``uncertain``) are not in it: see :meth:`undo_targets` for what ``undo`` uses.

        .. versionadded:: 0.1.0
        """
        return [
            (o.external_id, o.identity_id)
            for o in self.final_outcomes()
            if o.status == "created" and o.identity_id
        ]

    def undo_targets(self) -> list[UndoTarget]:
        """Every identity ``undo`` has to consider: created, adopted or uncertain.

        Each with when this tool first sent the user (the earliest ``attempt`` line since
        the user's last deletion), for :func:`~auth0_ory_migrate.undo_import` to check that
        it does not delete an identity that was in Ory before.

        .. versionadded:: 0.1.0
        """
        first: dict[str, float] = {}
        latest: dict[str, UndoTarget | None] = {}
        owners: dict[str, str] = {}
        for entry in self._entries():
            attempt = entry.get("attempt")
            if isinstance(attempt, list):
                at = entry.get("at")
                if isinstance(at, (int, float)):
                    for external_id in attempt:
                        first.setdefault(str(external_id), float(at))
                continue
            sync = entry.get("sync")
            if isinstance(sync, str):
                _follow_takeover(latest, owners, sync, entry)
                continue
            external_id = entry.get("external_id")
            if not isinstance(external_id, str):
                continue
            status = entry.get("status")
            identity_id = entry.get("identity_id")
            if status in _UNDOABLE and isinstance(identity_id, str) and identity_id:
                latest[external_id] = UndoTarget(
                    external_id, identity_id, status, first.get(external_id)
                )
                owners[identity_id] = external_id
            elif status == "deleted":
                latest[external_id] = None
                first.pop(external_id, None)
            elif status in IN_ORY or status == "failed":
                latest[external_id] = None
        return [t for t in latest.values() if t is not None]

    def imported_records(self) -> ImportedRecords:
        """What Ory was given for every user in it, by external id (for ``plan_sync``).

        Read back from the ledger: each user recorded as in Ory (``created``, ``exists``,
        ``adopted``, ``uncertain``) with its identity id, the digests of what this tool
        last wrote (the import's body, then each completed ``sync`` update) and when Ory
        answered that write. ``digests`` is ``None`` when Ory's identity was not made
        from a body of ours (``exists``, ``adopted``, ``uncertain``) or was imported
        before digests were recorded: ``sync`` then compares with Ory itself. Users
        deleted (``undo``, ``sync`` with ``delete``), deactivated by ``sync`` or whose
        last outcome is ``failed`` are left out.

        The mapping keeps an index (each user's id, where the record's line is, and its
        ``fingerprint``): a record is read from the ledger file when asked for.

        Raises:
            LedgerError: The ledger cannot be read.

        .. versionadded:: 0.1.0
        """
        index, self._records_index = self._records_index, None
        if index is None:
            index = ImportedRecords(self.ledger_path)
        index._read_from(index._end)  # (the lines since the index was made at opening)
        return index._keyed(self._null_digest(), self.sync_key())

    def sync_pending(self, external_id: str) -> Mapping[SyncSection, str] | None:
        """The digests an earlier ``sync`` was writing for this user when it stopped.

        An operation recorded as ``sending`` with no answer after it (the run was killed,
        or the answer was lost): Ory may or may not have done it. ``None`` when no
        operation of the user is in doubt.

        .. versionadded:: 0.1.0
        """
        entry = self._sync_pending.get(external_id)
        if entry is None:
            return None
        return _read_digests(entry.get("digests"), self._null_digest()) or {}

    def pending_sync(self) -> list[Mapping[str, Any]]:
        """Every ``sync`` operation in doubt: its ``sending`` line, with no answer after it.

        Each with ``sync`` (the external id), ``op``, ``identity_id``, ``fields`` and
        ``digests`` (what the record becomes once it is done).

        .. versionadded:: 0.1.0
        """
        null = self._null_digest()
        return [
            {**entry, "digests": _read_digests(entry.get("digests"), null)}
            for entry in self._sync_pending.values()
        ]

    def sync_key(self) -> bytes:
        """The state directory's key for the digests of what was imported (``sync.key``).

        Made on first use: 32 random bytes, mode 0600, written whole (never through a
        symbolic link); read back afterwards, and never replaced: every digest of the
        ledger was made with it.

        Raises:
            LedgerError: The key file cannot be made or read, is a symbolic link, belongs
                to another user or is damaged.

        .. versionadded:: 0.1.0
        """
        if self._key is not None:
            return self._key
        path = self.state_dir / KEY_FILE
        if not path.exists() and not path.is_symlink():
            try:
                with private_file(path) as f:
                    f.write(secrets.token_bytes(_KEY_BYTES))
            except OutputFileError as e:
                raise LedgerError(f"cannot write the state file {e.path!r}: {e.reason}") from e
            except ConfigurationError as e:
                raise _oserror(path, OSError(errno.ELOOP, str(e))) from e
            except OSError as e:
                raise _oserror(path, e) from e
        try:
            fd = _open_state_file(path, os.O_RDONLY)
        except OSError as e:
            raise _oserror(path, e) from e
        with os.fdopen(fd, "rb") as f:
            if stat.S_IMODE(os.fstat(f.fileno()).st_mode) & 0o077:
                raise LedgerError(
                    f"the key file {str(path)!r} can be read by others: not used "
                    "(chmod 600 it, or use another --state-dir)"
                )
            key = f.read(_KEY_BYTES + 1)
        if len(key) != _KEY_BYTES:
            raise LedgerError(
                f"the key file {str(path)!r} is damaged ({len(key)} bytes, not {_KEY_BYTES}); "
                "the digests of this state directory cannot be checked without it"
            )
        self._key = key
        return key

    def _null_digest(self) -> str:
        """The digest of an empty section under this directory's key (left out when packed)."""
        if self._null is None:
            self._null = section_digests({}, self.sync_key())["traits"]
        return self._null

    def digests_of(self, body: Mapping[str, Any]) -> dict[SyncSection, str]:
        """The keyed digests of *body*'s sections (:func:`~auth0_ory_migrate.section_digests`).

        .. versionadded:: 0.1.0
        """
        return dict(section_digests(identity_sections(body), self.sync_key()))

    # -- recording --------------------------------------------------------------------------

    def note_attempt(self, external_ids: Iterable[str], *, at: float | None = None) -> None:
        """Record that these users are about to be sent (before the request goes out).

        A later run learns from it which users an interrupted run may have created
        (:meth:`unanswered_attempt`), and ``undo`` when the user was first sent. Handed to
        the OS, not fsynced: a process crash loses nothing; the next :meth:`record` fsyncs
        it.

        Raises:
            LedgerError: The ledger cannot be written (full or read-only file system):
                the users must not be sent.

        .. versionadded:: 0.1.0
        """
        ids = list(external_ids)
        if not ids:
            return
        when = time.time() if at is None else at
        self._write(_json.dumps({"attempt": ids, "at": when}) + b"\n", sync=False)

    def record(
        self,
        outcomes: Iterable[ImportOutcome],
        *,
        bodies: Mapping[str, Mapping[str, Any]] | None = None,
        sources: Mapping[str, SourceMark] | None = None,
    ) -> None:
        """Append outcomes and fsync, so that they survive any crash from now on.

        Args:
            outcomes: What became of the users.
            bodies: The bodies sent, by external id: a ``created`` outcome whose body is
                in it is recorded with the body's digests (:meth:`digests_of`), for
                ``sync``.
            sources: What those bodies were mapped from
                (:attr:`PlannedIdentity.source <auth0_ory_migrate.PlannedIdentity.source>`),
                by external id: recorded with the digests (keyed), so that ``sync`` skips
                the users whose inputs did not change.

        Raises:
            LedgerError: The ledger cannot be written (full or read-only file system);
                nothing of these outcomes is left in it.

        .. versionadded:: 0.1.0
        """
        entries = []
        for outcome in outcomes:
            entry = outcome.to_dict()
            body = bodies.get(outcome.external_id) if bodies else None
            if body is not None and outcome.status == "created":
                entry["digests"] = _pack_digests(self.digests_of(body), self._null_digest())
                entry["fingerprint"] = body_fingerprint(body, self.sync_key())
                source = sources.get(outcome.external_id) if sources else None
                if source is not None:
                    entry.update(self._source_fields(source))
            entries.append(entry)
        self._append(entries)

    def _source_fields(self, source: SourceMark) -> dict[str, Any]:
        """A record's ``source`` and ``counts`` fields for *source* (keyed: nothing in clear)."""
        counts = source.counts
        return {
            "source": _source_mac(source.digest, _counts_json(counts), self.sync_key()).hex(),
            "counts": counts.to_json(),
        }

    def record_sync(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append ``sync`` operation lines (``{"sync": external_id, "op", "status"}``), fsynced.

        ``sending`` before an operation is sent, ``done`` (with the user's new
        ``digests``) or ``failed`` (with ``reason``) once Ory answered; a ``done``
        ``remove`` with ``"action": "delete"`` also records the user as deleted. Never a
        body or a secret: only digests.

        Raises:
            LedgerError: The ledger cannot be written: nothing of these lines is left in it,
                and the operations must not be sent.

        .. versionadded:: 0.1.0
        """
        lines: list[dict[str, Any]] = []
        for entry in entries:
            line = dict(entry)
            if isinstance(line.get("digests"), Mapping):
                line["digests"] = _pack_digests(line["digests"], self._null_digest())
            lines.append(line)
            if line.get("status") == "done" and line.get("action") == "delete":
                lines.append(
                    {
                        "external_id": line["sync"],
                        "status": "deleted",
                        "identity_id": line.get("identity_id"),
                        "reason": None,
                    }
                )
        self._append(lines)

    def record_deletions(self, deleted: Iterable[tuple[str, str | None]]) -> None:
        """Record identities ``undo`` deleted (``(external_id, identity_id)`` pairs), fsynced.

        A later import with this state creates those users again.

        .. versionadded:: 0.1.0
        """
        self._append(
            {
                "external_id": external_id,
                "status": "deleted",
                "identity_id": identity_id,
                "reason": None,
            }
            for external_id, identity_id in deleted
        )

    def _append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Append *entries* to the ledger, fsynced, then apply them to the in-memory state."""
        now = time.time()
        applied = []
        lines = []
        for entry in entries:
            entry["at"] = now
            lines.append(_json.dumps(entry) + b"\n")
            applied.append(entry)
        if not lines:
            return
        self._write(b"".join(lines), sync=True)
        for entry in applied:
            self._apply(entry)

    def _write(self, data: bytes, *, sync: bool) -> None:
        """Append whole lines, or nothing: a partial write is cut off again."""
        fd = self._file.fileno()
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._end)
            raise _oserror(self.ledger_path, e) from e
        self._end += len(data)

    def write_mapping(self) -> Path:
        """Rewrite ``identity-ids.csv`` from the ledger (atomically) and return its path.

        .. versionadded:: 0.1.0
        """
        try:
            with private_file(self.mapping_path) as f:
                text = io.TextIOWrapper(f, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(["auth0_user_id", "ory_identity_id"])
                for outcome in self.final_outcomes():
                    if outcome.identity_id and outcome.status in IN_ORY:
                        writer.writerow([outcome.external_id, outcome.identity_id])
                text.flush()
                text.detach()
        except OutputFileError as e:
            raise LedgerError(f"cannot write the state file {e.path!r}: {e.reason}") from e
        except OSError as e:
            raise _oserror(self.mapping_path, e) from e
        return self.mapping_path

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the ledger and release the directory.

        .. versionadded:: 0.1.0
        """
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._lock.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
